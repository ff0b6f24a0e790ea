/**
 * CORS header computation, app-wide (`corsEnable`, `corsOrigin`, ...) and per route
 * (`corsOptions(headers)`), shared by every framework adapter.
 */

/** Allowed origins: `*`, one origin, a comma-separated list, an array or a RegExp. */
export type CorsOriginInput = string | readonly string[] | RegExp

/** A normalised origin rule. */
export type CorsOriginRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'list'; readonly origins: readonly string[] }
  | { readonly kind: 'regexp'; readonly regexp: RegExp }

/** A CORS policy; a field left `undefined` produces no header. */
export interface CorsPolicy {
  readonly origin?: CorsOriginRule | undefined
  /** Allowed request headers; `['*']` means any. */
  readonly headers?: readonly string[] | undefined
  /** Allowed methods; `['*']` means those of the matched route when known, else any. */
  readonly methods?: readonly string[] | undefined
  readonly credentials?: boolean | undefined
  /**
   * With origin `*` and credentials, reflect the request's `Origin` (any site can then read
   * credentialed answers). Otherwise `*` is sent as is, which browsers refuse for credentialed
   * requests.
   */
  readonly reflectAnyOrigin?: boolean | undefined
  /** Other `Access-Control-*` headers given per route (`Access-Control-Max-Age`...), verbatim. */
  readonly extra?: Readonly<Record<string, string>> | undefined
}

/** Header values accepted by `corsOptions(headers)` (lists are joined with `, `). */
export type CorsHeaderValue = string | number | boolean | RegExp | readonly string[]

/** What CORS computation needs from the request. */
export interface CorsRequestInfo {
  /** The `Origin` header. */
  readonly origin: string | undefined
  /** The `Access-Control-Request-Headers` header of a preflight. */
  readonly requestHeaders?: string | undefined
  /** The `Access-Control-Request-Method` header of a preflight. */
  readonly requestMethod?: string | undefined
  /** Methods of the matched route, when the framework knows them. */
  readonly routeMethods?: readonly string[] | undefined
}

/** Result of {@link computeCorsHeaders}. */
export interface CorsHeaders {
  /** Headers to set (names in canonical case). */
  readonly headers: Readonly<Record<string, string>>
  /** Request headers the answer depends on, to add to `Vary`. */
  readonly vary: readonly string[]
}

const ORIGIN_RE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+$/i

/** Only printable ASCII request values are ever reflected into a response header. */
function reflectable(value: string | undefined): value is string {
  return value !== undefined && value !== '' && value.length <= 4096 && /^[\x20-\x7e]+$/.test(value)
}

function fail(name: string, what: string): never {
  throw new TypeError(`IAM option ${name} must be ${what}`)
}

/** Canonical form of an origin for comparison: lower case, no trailing slash. */
function canonicalOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase()
}

/**
 * Normalises an origin setting; throws a `TypeError` naming `name` when it is not usable.
 *
 * @example
 * ```ts
 * normalizeCorsOrigin('https://a.example, https://b.example', 'corsOrigin')
 * // { kind: 'list', origins: ['https://a.example', 'https://b.example'] }
 * ```
 */
export function normalizeCorsOrigin(input: unknown, name: string): CorsOriginRule {
  if (input instanceof RegExp) {
    // Drop the stateful flags so that `test` gives the same answer on every request.
    return { kind: 'regexp', regexp: new RegExp(input.source, input.flags.replace(/[gy]/g, '')) }
  }
  let items: string[]
  if (typeof input === 'string') items = input.split(',')
  else if (Array.isArray(input) && input.every((x) => typeof x === 'string')) items = [...input]
  else fail(name, "'*', an origin, a comma-separated list, an array of origins or a RegExp")
  const origins = items.map((x) => x.trim()).filter((x) => x !== '')
  if (origins.length === 0) fail(name, 'a non-empty origin list')
  if (origins.includes('*')) return { kind: 'any' }
  for (const origin of origins) {
    if (!ORIGIN_RE.test(origin.replace(/\/+$/, ''))) {
      fail(name, `a list of origins like "https://app.example.com" (got ${JSON.stringify(origin)})`)
    }
  }
  return { kind: 'list', origins: Object.freeze(origins.map(canonicalOrigin)) }
}

/** Normalises a header or method list (`'*'`, `'a, b'` or `['a', 'b']`); `TypeError` naming `name`. */
export function normalizeCorsList(input: unknown, name: string): readonly string[] {
  let items: string[]
  if (typeof input === 'string') items = input.split(',')
  else if (Array.isArray(input) && input.every((x) => typeof x === 'string')) items = [...input]
  else fail(name, "'*', a comma-separated string or an array of strings")
  const out = items.map((x) => x.trim()).filter((x) => x !== '')
  for (const item of out) {
    if (item !== '*' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(item)) {
      fail(name, `a list of header or method names (got ${JSON.stringify(item)})`)
    }
  }
  if (out.length === 0) fail(name, 'a non-empty list')
  return Object.freeze(out.includes('*') ? ['*'] : out)
}

/** True when `origin` (the request's `Origin`) is allowed by `rule`. */
export function originAllowed(rule: CorsOriginRule, origin: string | undefined): boolean {
  if (rule.kind === 'any') return true
  if (origin === undefined || origin === '' || origin === 'null') return false
  if (rule.kind === 'regexp') return rule.regexp.test(origin)
  return rule.origins.includes(canonicalOrigin(origin))
}

const ROUTE_FIELDS: Readonly<Record<string, keyof CorsPolicy>> = {
  'access-control-allow-origin': 'origin',
  'access-control-allow-headers': 'headers',
  'access-control-allow-methods': 'methods',
  'access-control-allow-credentials': 'credentials',
}

function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-')
}

/**
 * Parses the headers given per route (`corsOptions({ 'Access-Control-Allow-Headers': [...] })`)
 * into a partial policy; throws a `TypeError` naming the bad header.
 */
export function parseRouteCors(headers: unknown): CorsPolicy {
  if (headers === undefined || headers === null) return {}
  if (typeof headers !== 'object' || Array.isArray(headers)) {
    fail('corsOptions(headers)', 'an object of Access-Control-* header names to values')
  }
  const policy: { -readonly [K in keyof CorsPolicy]: CorsPolicy[K] } = {}
  const extra: Record<string, string> = {}
  for (const [rawName, value] of Object.entries(headers as Record<string, unknown>)) {
    const name = rawName.toLowerCase()
    const label = `corsOptions header ${JSON.stringify(rawName)}`
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) fail(label, 'a valid header name')
    const field = ROUTE_FIELDS[name]
    if (field === 'origin') policy.origin = normalizeCorsOrigin(value, label)
    else if (field === 'headers') policy.headers = normalizeCorsList(value, label)
    else if (field === 'methods') policy.methods = normalizeCorsList(value, label)
    else if (field === 'credentials') {
      if (typeof value === 'boolean') policy.credentials = value
      else if (value === 'true' || value === 'false') policy.credentials = value === 'true'
      else fail(label, 'a boolean')
    } else if (typeof value === 'string' || typeof value === 'number') {
      const text = String(value)
      if (!/^[\t\x20-\x7e]*$/.test(text)) fail(label, 'printable ASCII')
      extra[canonicalHeaderName(name)] = text
    } else if (typeof value === 'boolean') extra[canonicalHeaderName(name)] = String(value)
    else if (Array.isArray(value) && value.every((x) => typeof x === 'string')) {
      extra[canonicalHeaderName(name)] = normalizeCorsList(value, label).join(', ')
    } else fail(label, 'a string, number, boolean or array of strings')
  }
  if (Object.keys(extra).length > 0) policy.extra = Object.freeze(extra)
  return Object.freeze(policy)
}

/** Per-route values override app-wide ones field by field (`app` is `undefined` when disabled). */
export function mergeCorsPolicies(app: CorsPolicy | undefined, route: CorsPolicy): CorsPolicy {
  if (app === undefined) return route
  return {
    origin: route.origin ?? app.origin,
    headers: route.headers ?? app.headers,
    methods: route.methods ?? app.methods,
    credentials: route.credentials ?? app.credentials,
    reflectAnyOrigin: app.reflectAnyOrigin,
    extra: { ...app.extra, ...route.extra },
  }
}

function routeMethodList(methods: readonly string[]): string[] {
  const out = new Set(methods.map((m) => m.toUpperCase()))
  if (out.has('GET')) out.add('HEAD')
  out.add('OPTIONS')
  return [...out]
}

/**
 * The CORS headers of one response.
 *
 * - Origin `*`: `*`, which browsers refuse on credentialed requests; the request's `Origin` is
 *   reflected (with `Vary: Origin`) only when credentials are allowed and `reflectAnyOrigin` is
 *   set (`corsReflectAnyOriginUnsafe`).
 * - Origin list or RegExp: only a matching request `Origin` is reflected; otherwise no CORS
 *   header at all (just `Vary: Origin`).
 * - Methods `*`: the matched route's methods (plus `HEAD` for `GET`, and `OPTIONS`) when known,
 *   and the method a preflight asks for.
 * - Headers `*` with credentials: the preflight's `Access-Control-Request-Headers` reflected.
 *
 * @example
 * ```ts
 * computeCorsHeaders({ origin: { kind: 'list', origins: ['https://a.example'] }, credentials: true },
 *                    { origin: 'https://a.example' })
 * // { headers: { 'Access-Control-Allow-Origin': 'https://a.example',
 * //              'Access-Control-Allow-Credentials': 'true' }, vary: ['Origin'] }
 * ```
 */
export function computeCorsHeaders(policy: CorsPolicy, request: CorsRequestInfo): CorsHeaders {
  const headers: Record<string, string> = {}
  const vary: string[] = []
  const credentials = policy.credentials === true
  const origin = request.origin
  if (policy.origin !== undefined) {
    if (policy.origin.kind === 'any') {
      if (credentials && policy.reflectAnyOrigin === true && reflectable(origin)) {
        headers['Access-Control-Allow-Origin'] = origin
        vary.push('Origin')
      } else headers['Access-Control-Allow-Origin'] = '*'
    } else {
      vary.push('Origin')
      if (!reflectable(origin) || !originAllowed(policy.origin, origin)) return { headers, vary }
      headers['Access-Control-Allow-Origin'] = origin
    }
  }
  if (policy.methods !== undefined) {
    if (policy.methods[0] === '*') {
      // `*`: the matched route's methods when known, plus the method a preflight asks for (any
      // method is allowed); a literal `*` otherwise (browsers ignore it on credentialed requests).
      const list =
        request.routeMethods !== undefined && request.routeMethods.length > 0
          ? routeMethodList(request.routeMethods)
          : []
      const asked = request.requestMethod?.trim().toUpperCase()
      if (reflectable(asked) && /^[A-Z]+$/.test(asked)) {
        vary.push('Access-Control-Request-Method')
        if (!list.includes(asked)) list.push(asked)
      }
      headers['Access-Control-Allow-Methods'] = list.length > 0 ? list.join(', ') : '*'
    } else headers['Access-Control-Allow-Methods'] = policy.methods.join(', ')
  }
  if (policy.headers !== undefined) {
    if (policy.headers[0] === '*' && credentials && reflectable(request.requestHeaders)) {
      headers['Access-Control-Allow-Headers'] = request.requestHeaders
      vary.push('Access-Control-Request-Headers')
    } else headers['Access-Control-Allow-Headers'] = policy.headers.join(', ')
  }
  if (policy.credentials !== undefined && credentials) {
    headers['Access-Control-Allow-Credentials'] = 'true'
  }
  if (policy.extra !== undefined) Object.assign(headers, policy.extra)
  return { headers, vary }
}

/** True when the policy lets any site read credentialed answers (worth a warning). */
export function corsAllowsAnyCredentialedOrigin(policy: CorsPolicy): boolean {
  return (
    policy.origin?.kind === 'any' && policy.credentials === true && policy.reflectAnyOrigin === true
  )
}

/** Merges `vary` into an existing `Vary` header value without duplicates. */
export function mergeVary(existing: string | undefined, vary: readonly string[]): string {
  const items = (existing ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
  if (items.includes('*')) return '*'
  const lower = new Set(items.map((x) => x.toLowerCase()))
  for (const v of vary) {
    if (lower.has(v.toLowerCase())) continue
    items.push(v)
    lower.add(v.toLowerCase())
  }
  return items.join(', ')
}

/** Options of a route's CORS (`corsOptions(headers, options)` on every adapter). */
export interface CorsRouteOptions {
  /** Answer `OPTIONS` requests (200, empty body) without running anything after. Default true. */
  preflight?: boolean
}

/** A route's CORS, validated once at route definition by {@link createRouteCors}. */
export interface RouteCors {
  /** The route's policy (overrides the app-wide one field by field). */
  readonly policy: CorsPolicy
  /** Whether the route answers `OPTIONS` itself. */
  readonly preflight: boolean
}

/**
 * Validates a route's CORS headers and options (a `TypeError` names the bad one).
 *
 * @example
 * ```ts
 * const cors = createRouteCors({ 'Access-Control-Allow-Headers': ['Device-Id'] }, { preflight: true })
 * ```
 */
export function createRouteCors(
  headers?: Readonly<Record<string, CorsHeaderValue>>,
  options: CorsRouteOptions = {},
): RouteCors {
  const preflight = options.preflight ?? true
  if (typeof preflight !== 'boolean') {
    throw new TypeError('corsOptions option preflight must be a boolean')
  }
  return Object.freeze({ policy: parseRouteCors(headers), preflight })
}

/** True for a CORS preflight: `OPTIONS` with `Access-Control-Request-Method`. */
export function isPreflight(method: string, requestMethod: string | undefined): boolean {
  return method === 'OPTIONS' && requestMethod !== undefined && requestMethod !== ''
}

/** Where CORS headers are written: a framework's response, reply or `Headers`. */
export interface HeaderSink {
  has(name: string): boolean
  get(name: string): string | undefined
  set(name: string, value: string): void
}

/**
 * Writes CORS headers into a response (`override`: a route's values replace those already set;
 * otherwise a handler's own win) and merges `Vary`.
 *
 * @example
 * ```ts
 * applyCorsHeaders(cors, { has: (n) => res.hasHeader(n), get: (n) => res.getHeader(n)?.toString(),
 *   set: (n, v) => res.setHeader(n, v) }, false)
 * ```
 */
export function applyCorsHeaders(cors: CorsHeaders, sink: HeaderSink, override: boolean): void {
  for (const name in cors.headers) {
    if (override || !sink.has(name)) sink.set(name, cors.headers[name] as string)
  }
  if (cors.vary.length > 0) sink.set('Vary', mergeVary(sink.get('vary'), cors.vary))
}
