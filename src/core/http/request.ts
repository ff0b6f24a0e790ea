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

/** The neutral request; a class so that building one per request is cheap. */
/** Whether `a` equals `lower` (a lower-case name) compared case-insensitively, with no copy. */
function equalsIgnoreCase(a: string, lower: string): boolean {
  if (a.length !== lower.length) return false
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i)
    const t = lower.charCodeAt(i)
    if (c !== t && !(c >= 65 && c <= 90 && c + 32 === t)) return false
  }
  return true
}

/** `name` in lower case, without a copy when it already is (the common case). */
function lowerName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 65 && c <= 90) return name.toLowerCase()
  }
  return name
}

/**
 * The neutral request; a class so that building one per request is cheap. Everything but the
 * init is computed on first use: a request that only needs its token header pays for nothing else.
 */
class NeutralRequest implements HttpRequest {
  #cookies: Record<string, string | undefined> | undefined
  #params: Readonly<Record<string, string | undefined>> | undefined
  readonly #init: HttpRequestInit

  constructor(init: HttpRequestInit) {
    this.#init = init
  }

  get method(): string {
    return this.#init.method.toUpperCase()
  }

  get params(): Readonly<Record<string, string | undefined>> {
    return (this.#params ??= stringRecord(this.#init.params))
  }

  header(name: string): string | undefined {
    const source = this.#init.headers
    const key = lowerName(name)
    return flatten(typeof source === 'function' ? source(key) : source[key])
  }

  isRepeated(name: string): boolean {
    const raw = this.#init.rawHeaders
    if (raw === undefined) return false
    const lower = lowerName(name)
    let seen = 0
    for (let i = 0; i < raw.length; i += 2) {
      if (equalsIgnoreCase(raw[i] as string, lower) && ++seen > 1) return true
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
