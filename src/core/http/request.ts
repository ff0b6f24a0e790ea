/**
 * The framework-neutral request shape the HTTP protection core reads. Each adapter (Express,
 * Fastify, fetch) builds one with {@link createHttpRequest} from its own request object.
 */
import { parseCookie } from 'cookie'

import type { JwtClaims } from '../types.js'
import type { TokenLocation } from './options.js'

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
  readonly tokenLocation: TokenLocation
}

/** What the core needs to know about a request; every field is read lazily by the core. */
export interface HttpRequest {
  /** Upper-case HTTP method. */
  readonly method: string
  /** One header value (case-insensitive name); repeated headers joined with `, `. */
  header(name: string): string | undefined
  /**
   * Whether the request carried the header more than once (where the server keeps only one of
   * them, as Node does for `Authorization`). `false` when the adapter cannot tell.
   */
  isRepeated(name: string): boolean
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
  /** The request's path, without the query (for logs). */
  readonly path: string | undefined
  /** The matched route's pattern (`/users/:userId`), when the framework knows it (for logs). */
  readonly route: string | undefined
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
  /** The request path or URL (a query is cut off), or a function read on first use. */
  path?: string | (() => string | undefined) | undefined
  /** The matched route's pattern, or a function read on first use. */
  route?: string | (() => string | undefined) | undefined
  /**
   * The raw header list (`[name, value, name, value, …]`, Node's `req.rawHeaders`), so that a
   * header sent twice is seen even where the parsed record keeps one.
   */
  rawHeaders?: readonly string[] | undefined
}

function flatten(value: string | string[] | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze(Object.create(null))

function stringRecord(
  input: Readonly<Record<string, unknown>> | undefined,
): Record<string, string> {
  if (input === undefined || input === null || typeof input !== 'object') return EMPTY
  let out: Record<string, string> | undefined
  for (const key in input) {
    const value = input[key]
    // Only own string values count: a parsed-cookie middleware may hold JSON cookies as objects.
    if (typeof value !== 'string' || !Object.hasOwn(input, key)) continue
    out ??= Object.create(null) as Record<string, string>
    out[key] = value
  }
  return out ?? EMPTY
}

type HeaderGetter = (name: string) => string | undefined

/** The neutral request; a class so that building one per request is cheap. */
class NeutralRequest implements HttpRequest {
  readonly method: string
  readonly params: Readonly<Record<string, string | undefined>>
  readonly header: HeaderGetter
  #cookies: Record<string, string | undefined> | undefined
  readonly #init: HttpRequestInit

  constructor(init: HttpRequestInit) {
    this.#init = init
    this.method = init.method.toUpperCase()
    this.params = stringRecord(init.params)
    const source = init.headers
    this.header =
      typeof source === 'function'
        ? (name) => flatten(source(name.toLowerCase()))
        : (name) => flatten(source[name.toLowerCase()])
  }

  isRepeated(name: string): boolean {
    const raw = this.#init.rawHeaders
    if (raw === undefined) return false
    const lower = name.toLowerCase()
    let seen = 0
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i] as string
      // Length first: most headers are told apart without lower-casing.
      if (key.length === lower.length && key.toLowerCase() === lower && ++seen > 1) return true
    }
    return false
  }

  get cookies(): Readonly<Record<string, string | undefined>> {
    if (this.#cookies === undefined) {
      const given = this.#init.cookies
      this.#cookies =
        given === undefined ? parseCookieHeader(this.header('cookie')) : stringRecord(given)
    }
    return this.#cookies
  }

  get host(): string | undefined {
    const host = this.#init.host
    return (typeof host === 'function' ? host() : host) ?? this.header('host')
  }

  get origin(): string | undefined {
    return this.header('origin')
  }

  get path(): string | undefined {
    const path = this.#init.path
    const value = typeof path === 'function' ? path() : path
    if (value === undefined) return undefined
    const query = value.indexOf('?')
    return query < 0 ? value : value.slice(0, query)
  }

  get route(): string | undefined {
    const route = this.#init.route
    return typeof route === 'function' ? route() : route
  }

  get referer(): string | undefined {
    return this.header('referer')
  }
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
  return new NeutralRequest(init)
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
