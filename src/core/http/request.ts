/**
 * The framework-neutral request shape the HTTP protection core reads. Each adapter (Express,
 * Fastify, fetch) builds one with {@link createHttpRequest} from its own request object.
 */
import { parseCookie } from 'cookie'

import type { JwtClaims } from '../types.js'

/** Where the token of a request was found. */
export type TokenSource = 'header' | 'cookie'

/**
 * The validated IAM context of a request: `req.iam` in Express, `request.iam` in Fastify, and
 * the equivalent in fetch handlers.
 */
export interface IamRequestContext {
  /** Claims of the validated access token. */
  readonly claims: JwtClaims
  /** The raw access token (JWS compact form). */
  readonly token: string
  /** Where the token was found. */
  readonly tokenLocation: TokenSource
}

/** What the core needs to know about a request; every field is read lazily by the core. */
export interface HttpRequest {
  /** Upper-case HTTP method. */
  readonly method: string
  /** One header value (case-insensitive name); repeated headers joined with `, `. */
  header(name: string): string | undefined
  /** Cookies of the `Cookie` header (parsed once, on first access). */
  readonly cookies: Readonly<Record<string, string | undefined>>
  /** Host the request was addressed to (`Host`, or the proxy's forwarded host); may carry a port. */
  readonly host: string | undefined
  /** The `Origin` header. */
  readonly origin: string | undefined
  /** The `Referer` header. */
  readonly referer: string | undefined
  /** Route parameters matched by the framework (`/users/:userId`). */
  readonly params: Readonly<Record<string, string | undefined>>
}

/** Input of {@link createHttpRequest}. */
export interface HttpRequestInit {
  method: string
  /** Header getter (case-insensitive) or a Node-style header record (lower-case names). */
  headers:
    | ((name: string) => string | string[] | undefined | null)
    | Readonly<Record<string, string | string[] | undefined>>
  /**
   * Host override (e.g. the framework's proxy-aware host), or a function read on first use;
   * defaults to the `Host` header.
   */
  host?: string | (() => string | undefined) | undefined
  /** Route parameters. */
  params?: Readonly<Record<string, unknown>> | undefined
  /** Already-parsed cookies (e.g. from a cookie middleware); otherwise the header is parsed. */
  cookies?: Readonly<Record<string, unknown>> | undefined
}

function flatten(value: string | string[] | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

function stringRecord(
  input: Readonly<Record<string, unknown>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = Object.create(null)
  if (input === undefined || input === null || typeof input !== 'object') return out
  for (const [key, value] of Object.entries(input)) {
    // Only string values count: a parsed-cookie middleware may hold JSON cookies as objects.
    if (typeof value === 'string') out[key] = value
  }
  return out
}

/**
 * Builds the neutral request shape. Cookies are parsed only when the core asks for them.
 *
 * @example
 * ```ts
 * const request = createHttpRequest({
 *   method: req.method,
 *   headers: req.headers,
 *   params: req.params,
 * })
 * ```
 */
export function createHttpRequest(init: HttpRequestInit): HttpRequest {
  const source = init.headers
  const header =
    typeof source === 'function'
      ? (name: string) => flatten(source(name.toLowerCase()))
      : (name: string) => flatten(source[name.toLowerCase()])
  let cookies: Record<string, string | undefined> | undefined
  const params = stringRecord(init.params)
  return {
    method: init.method.toUpperCase(),
    header,
    get cookies() {
      if (cookies === undefined) {
        const given = init.cookies === undefined ? undefined : stringRecord(init.cookies)
        cookies = given ?? parseCookieHeader(header('cookie'))
      }
      return cookies
    },
    get host() {
      const host = typeof init.host === 'function' ? init.host() : init.host
      return host ?? header('host')
    },
    get origin() {
      return header('origin')
    },
    get referer() {
      return header('referer')
    },
    params,
  }
}

/** Parses a `Cookie` header into a null-prototype record; never throws. */
export function parseCookieHeader(value: string | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = Object.create(null)
  if (value === undefined || value === '') return out
  try {
    Object.assign(out, parseCookie(value))
  } catch {
    // A malformed Cookie header counts as no cookie at all.
  }
  return out
}
