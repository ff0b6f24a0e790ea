/**
 * Options of the HTTP protection layer: names, defaults (docs/iam-wire-protocol.md#51-settings), validation, and the
 * resolution "options, then `IAM_*` settings, then environment, then defaults" shared by every
 * framework adapter.
 */
import { CLIENT_OPTION_ENV, optionsFromEnv } from '../options.js'
import type { IamClientOptions } from '../options.js'
import { normalizeCorsList, normalizeCorsOrigin } from './cors.js'
import type { CorsOriginInput, CorsOriginRule, CorsPolicy } from './cors.js'

/**
 * Where a token is looked for, and where it was found: the request's header or its cookie. The
 * options also accept the seed's plural spellings (`'headers'`, `'cookies'`, as in
 * `IAM_TOKEN_LOCATIONS = ["headers", "cookies"]`).
 */
export type TokenLocation = 'header' | 'cookie'

/** A token location as the options accept it: singular, or the seed's plural. */
export type TokenLocationInput = TokenLocation | 'headers' | 'cookies'

/** Settings of the HTTP protection layer (the seed's `IAM_*` keys in camelCase). */
export interface HttpProtectionOptions {
  /** Where to look for the token, in order. Default `['header', 'cookie']` (the seed's `['headers', 'cookies']` is accepted). */
  tokenLocations?: readonly TokenLocationInput[]
  /** Header carrying the token. Default `'Authorization'`. */
  tokenHeaderName?: string
  /**
   * Scheme expected before the token in the header, compared case-insensitively. Default
   * `'Bearer'`; `''` means the header holds the bare token.
   */
  tokenHeaderType?: string
  /** Cookie carrying the token. Default `'access_token'`. */
  tokenCookieName?: string
  /**
   * `Path` to give the token cookie when your application sets it (the SDK only reads cookies,
   * and a request does not say a cookie's path). Default `'/'`.
   */
  tokenCookiePath?: string
  /** Check `Referer`/`Origin` against the client's redirect URIs for cookie tokens. Default `true`. */
  csrfProtection?: boolean
  /** Referer must be same-origin and under the redirect URI's path. Default `false`. */
  strictReferer?: boolean
  /** Referer may be a subdomain (dot boundary) of a redirect URI's host. Default `false`. */
  allowSubdomainReferer?: boolean
  /** The host's first label must be the token's namespace (404 / 20030 otherwise). Default `false`. */
  subdomainValidationEnable?: boolean
  /** Namespaces exempt from the subdomain check. Default `[]`. */
  subdomainValidationExcludedNamespaces?: readonly string[]
  /** Add CORS headers to every response. Default `false`. */
  corsEnable?: boolean
  /** Allowed origins: `'*'`, a comma-separated list, an array or a RegExp. Default `'*'`. */
  corsOrigin?: CorsOriginInput
  /** `Access-Control-Allow-Headers`: `'*'`, a comma-separated list or an array. Default `'*'`. */
  corsHeaders?: string | readonly string[]
  /** `Access-Control-Allow-Methods` (`'*'`: the matched route's methods). Default `'*'`. */
  corsMethods?: string | readonly string[]
  /** `Access-Control-Allow-Credentials: true`. Default `true`. */
  corsCredentials?: boolean
  /**
   * With `corsOrigin: '*'` and credentials, reflect any request `Origin`, so that every site can
   * send credentialed requests and read the answers. Unsafe: list the origins in `corsOrigin`
   * instead. Default `false` (`*` is sent, which browsers refuse for credentialed requests).
   */
  corsReflectAnyOriginUnsafe?: boolean
  /**
   * Milliseconds a request waits for initialisation (token grant, keys, revocation list) before
   * answering 503. Default `10000`.
   */
  readyTimeoutMs?: number
}

/** The HTTP options after defaults and validation (frozen). */
export interface ResolvedHttpProtectionOptions {
  readonly tokenLocations: readonly TokenLocation[]
  readonly tokenHeaderName: string
  readonly tokenHeaderType: string
  /** `tokenHeaderType` in lower case, for the token extraction's comparison. */
  readonly tokenHeaderTypeLower: string
  readonly tokenCookieName: string
  readonly tokenCookiePath: string
  readonly csrfProtection: boolean
  readonly strictReferer: boolean
  readonly allowSubdomainReferer: boolean
  readonly subdomainValidationEnable: boolean
  readonly subdomainValidationExcludedNamespaces: readonly string[]
  readonly corsEnable: boolean
  readonly corsOrigin: CorsOriginRule
  readonly corsHeaders: readonly string[]
  readonly corsMethods: readonly string[]
  readonly corsCredentials: boolean
  readonly corsReflectAnyOriginUnsafe: boolean
  readonly readyTimeoutMs: number
  /** The app-wide CORS policy, `undefined` when `corsEnable` is false. */
  readonly cors: CorsPolicy | undefined
}

/** Defaults of docs/iam-wire-protocol.md#51-settings (plus `readyTimeoutMs`). */
export const HTTP_PROTECTION_DEFAULTS = Object.freeze({
  tokenLocations: Object.freeze(['header', 'cookie'] as TokenLocation[]),
  tokenHeaderName: 'Authorization',
  tokenHeaderType: 'Bearer',
  tokenCookieName: 'access_token',
  tokenCookiePath: '/',
  csrfProtection: true,
  strictReferer: false,
  allowSubdomainReferer: false,
  subdomainValidationEnable: false,
  subdomainValidationExcludedNamespaces: Object.freeze([] as string[]),
  corsEnable: false,
  corsOrigin: '*',
  corsHeaders: '*',
  corsMethods: '*',
  corsCredentials: true,
  corsReflectAnyOriginUnsafe: false,
  readyTimeoutMs: 10_000,
} satisfies Required<HttpProtectionOptions>)

type Kind = 'boolean' | 'string' | 'list' | 'locations' | 'cors-origin' | 'cors-list' | 'ms'

/** Each HTTP option: its `IAM_*` setting / environment key and how its value is read. */
const HTTP_KEYS: Readonly<Record<keyof HttpProtectionOptions, { key: string; kind: Kind }>> = {
  tokenLocations: { key: 'IAM_TOKEN_LOCATIONS', kind: 'locations' },
  tokenHeaderName: { key: 'IAM_TOKEN_HEADER_NAME', kind: 'string' },
  tokenHeaderType: { key: 'IAM_TOKEN_HEADER_TYPE', kind: 'string' },
  tokenCookieName: { key: 'IAM_TOKEN_COOKIE_NAME', kind: 'string' },
  tokenCookiePath: { key: 'IAM_TOKEN_COOKIE_PATH', kind: 'string' },
  csrfProtection: { key: 'IAM_CSRF_PROTECTION', kind: 'boolean' },
  strictReferer: { key: 'IAM_STRICT_REFERER', kind: 'boolean' },
  allowSubdomainReferer: { key: 'IAM_ALLOW_SUBDOMAIN_REFERER', kind: 'boolean' },
  subdomainValidationEnable: { key: 'IAM_SUBDOMAIN_VALIDATION_ENABLE', kind: 'boolean' },
  subdomainValidationExcludedNamespaces: {
    key: 'IAM_SUBDOMAIN_VALIDATION_EXCLUDED_NAMESPACES',
    kind: 'list',
  },
  corsEnable: { key: 'IAM_CORS_ENABLE', kind: 'boolean' },
  corsOrigin: { key: 'IAM_CORS_ORIGIN', kind: 'cors-origin' },
  corsHeaders: { key: 'IAM_CORS_HEADERS', kind: 'cors-list' },
  corsMethods: { key: 'IAM_CORS_METHODS', kind: 'cors-list' },
  corsCredentials: { key: 'IAM_CORS_CREDENTIALS', kind: 'boolean' },
  corsReflectAnyOriginUnsafe: { key: 'IAM_CORS_REFLECT_ANY_ORIGIN_UNSAFE', kind: 'boolean' },
  readyTimeoutMs: { key: 'IAM_READY_TIMEOUT_MS', kind: 'ms' },
}

/** The `IAM_*` setting / environment key of each HTTP option. */
export const HTTP_SETTING_KEYS: Readonly<Record<keyof HttpProtectionOptions, string>> =
  Object.freeze(
    Object.fromEntries(Object.entries(HTTP_KEYS).map(([name, { key }]) => [name, key])) as Record<
      keyof HttpProtectionOptions,
      string
    >,
  )

/** Names of the HTTP options (to split a combined options object). */
export const HTTP_OPTION_NAMES: readonly (keyof HttpProtectionOptions)[] = Object.freeze(
  Object.keys(HTTP_KEYS) as (keyof HttpProtectionOptions)[],
)

const TCHAR = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Each accepted spelling of a token location (the seed's plurals included). */
const LOCATION_SPELLINGS: Readonly<Record<string, TokenLocation>> = Object.freeze(
  Object.assign(Object.create(null), {
    header: 'header',
    headers: 'header',
    cookie: 'cookie',
    cookies: 'cookie',
  }),
)

function fail(name: string, what: string): never {
  throw new TypeError(`IAM option ${name} must be ${what}`)
}

/** `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off` (settings and environment hold strings). */
function parseBooleanText(value: string, name: string): boolean {
  const v = value.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(v)) return true
  if (['false', '0', 'no', 'off', ''].includes(v)) return false
  return fail(name, 'a boolean (true or false)')
}

/** A list from text: a JSON array (`["headers","cookies"]`) or comma-separated words. */
function parseListText(value: string, name: string): string[] {
  const v = value.trim()
  if (v.startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(v)
    } catch {
      return fail(name, 'a JSON array of strings or a comma-separated list')
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      return fail(name, 'a JSON array of strings or a comma-separated list')
    }
    return parsed
  }
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
}

/**
 * Reads one value. `fromText` is true for settings and environment variables, whose values may
 * be strings standing for booleans, lists and numbers; options objects must use real types.
 */
function readValue(kind: Kind, value: unknown, name: string, fromText: boolean): unknown {
  const text = fromText && typeof value === 'string'
  switch (kind) {
    case 'boolean':
      if (typeof value === 'boolean') return value
      if (text) return parseBooleanText(value, name)
      return fail(name, 'a boolean')
    case 'string':
      if (typeof value === 'string') return value
      return fail(name, 'a string')
    case 'list': {
      const list = text ? parseListText(value, name) : value
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
        return fail(name, 'an array of strings')
      }
      return Object.freeze(list.map((x: string) => x.trim()).filter((x: string) => x !== ''))
    }
    case 'locations': {
      const list = text ? parseListText(value, name) : value
      if (!Array.isArray(list) || list.length === 0) {
        return fail(name, "a non-empty array of 'header' and 'cookie'")
      }
      const out = list.map((x: unknown) => LOCATION_SPELLINGS[x as string])
      const bad = list.find((_: unknown, i: number) => out[i] === undefined)
      if (bad !== undefined) {
        return fail(name, `a list of 'header' and 'cookie' (got ${JSON.stringify(bad)})`)
      }
      return Object.freeze([...new Set(out as TokenLocation[])])
    }
    case 'cors-origin':
      if (text && (value as string).trim().startsWith('[')) {
        return normalizeCorsOrigin(parseListText(value as string, name), name)
      }
      return normalizeCorsOrigin(value, name)
    case 'cors-list':
      if (text && (value as string).trim().startsWith('[')) {
        return normalizeCorsList(parseListText(value as string, name), name)
      }
      return normalizeCorsList(value, name)
    case 'ms': {
      const n = text && (value as string).trim() !== '' ? Number(value) : value
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 2_147_483_647) {
        return fail(name, 'a number of milliseconds between 0 and 2147483647')
      }
      return n
    }
  }
}

/** Sources of configuration, highest precedence first. */
export interface ConfigSources {
  /** The options object given in code (camelCase names). */
  options?: object | undefined
  /** The framework's `IAM_*` settings (`app.get(key)` in Express); `undefined` when unset. */
  setting?: ((key: string) => unknown) | undefined
  /** Environment variables (`IAM_*` keys); pass `process.env` explicitly. */
  env?: Readonly<Record<string, string | undefined>> | undefined
}

/** Picks the first defined source for one key; tells the name to use in error messages. */
function pick(
  sources: ConfigSources,
  name: string,
  key: string,
): { value: unknown; label: string; fromText: boolean } | undefined {
  const option = (sources.options as Record<string, unknown> | undefined)?.[name]
  if (option !== undefined) return { value: option, label: `"${name}"`, fromText: false }
  const setting = sources.setting?.(key)
  if (setting !== undefined && setting !== null) {
    return { value: setting, label: `setting ${key}`, fromText: true }
  }
  const env = sources.env?.[key]
  if (env !== undefined && env !== '') {
    return { value: env, label: `environment variable ${key}`, fromText: true }
  }
  return undefined
}

/**
 * Validates a combined options object's HTTP options (types only; defaults are not applied):
 * throws a `TypeError` naming the first bad option. Call it at construction.
 */
export function validateHttpProtectionOptions(options: unknown): void {
  if (options === undefined) return
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail('options', 'an object')
  }
  resolveHttpProtectionOptions({ options })
}

/**
 * Resolves the HTTP options: options, then settings, then environment, then defaults;
 * validates each value and throws a `TypeError` naming the bad option or key.
 *
 * @example
 * ```ts
 * const http = resolveHttpProtectionOptions({
 *   options: { strictReferer: true },
 *   setting: (key) => app.get(key),
 *   env: process.env,
 * })
 * ```
 */
export function resolveHttpProtectionOptions(
  sources: ConfigSources = {},
): ResolvedHttpProtectionOptions {
  const out: Record<string, unknown> = {}
  for (const [name, { key, kind }] of Object.entries(HTTP_KEYS)) {
    const found = pick(sources, name, key)
    const raw =
      found === undefined
        ? readValue(
            kind,
            HTTP_PROTECTION_DEFAULTS[name as keyof HttpProtectionOptions],
            name,
            false,
          )
        : readValue(kind, found.value, found.label, found.fromText)
    out[name] = raw
  }
  const r = out as Omit<ResolvedHttpProtectionOptions, 'cors'>
  if (!TCHAR.test(r.tokenHeaderName)) fail('tokenHeaderName', 'a header name')
  if (r.tokenHeaderType !== '' && !TCHAR.test(r.tokenHeaderType)) {
    fail('tokenHeaderType', "an authentication scheme like 'Bearer', or '' for a bare token")
  }
  if (!TCHAR.test(r.tokenCookieName)) fail('tokenCookieName', 'a cookie name')
  if (!r.tokenCookiePath.startsWith('/')) fail('tokenCookiePath', "a path starting with '/'")
  const cors: CorsPolicy | undefined = r.corsEnable
    ? Object.freeze({
        origin: r.corsOrigin,
        headers: r.corsHeaders,
        methods: r.corsMethods,
        credentials: r.corsCredentials,
        reflectAnyOrigin: r.corsReflectAnyOriginUnsafe,
      })
    : undefined
  return Object.freeze({ ...r, tokenHeaderTypeLower: r.tokenHeaderType.toLowerCase(), cors })
}

/** The three settings without which the client cannot start, with their setting keys. */
const REQUIRED_CLIENT_OPTIONS = [
  ['baseUrl', 'IAM_BASE_URL'],
  ['clientId', 'IAM_CLIENT_ID'],
  ['clientSecret', 'IAM_CLIENT_SECRET'],
] as const

/** Result of {@link resolveIamConfig}. */
export interface ResolvedIamConfig {
  /** Options for the core client (not yet validated: the client validates its own). */
  readonly client: IamClientOptions
  /** The HTTP protection options. */
  readonly http: ResolvedHttpProtectionOptions
}

/**
 * Reads the client's options from `IAM_*` settings: strings are parsed like environment
 * variables (by the core's {@link optionsFromEnv}); typed values (numbers, arrays) are kept.
 */
function clientOptionsFromSettings(setting: (key: string) => unknown): Record<string, unknown> {
  const text: Record<string, string> = {}
  const typed: Record<string, unknown> = {}
  for (const [key, option] of Object.entries(CLIENT_OPTION_ENV)) {
    const value = setting(key)
    if (value === undefined || value === null) continue
    if (typeof value === 'string') text[key] = value
    else typed[option] = value
  }
  let parsed: Record<string, unknown>
  try {
    parsed = optionsFromEnv(text)
  } catch (error) {
    // Same message, naming the setting rather than an environment variable.
    throw new TypeError((error as Error).message.replace('environment variable', 'setting'))
  }
  return { ...parsed, ...typed }
}

/**
 * Resolves a combined options object (client options + HTTP options) against `IAM_*` settings,
 * the environment and the defaults, in that order of precedence. A missing base URL or
 * credential throws a `TypeError` that names every missing one (setting and option names); a
 * bad HTTP option throws a `TypeError` naming it (client options are validated by the client).
 *
 * @example
 * ```ts
 * const { client, http } = resolveIamConfig({
 *   options: { csrfProtection: false },
 *   setting: (key) => app.get(key),
 *   env: process.env,
 * })
 * ```
 */
export function resolveIamConfig(sources: ConfigSources): ResolvedIamConfig {
  const http = resolveHttpProtectionOptions(sources)
  const fromOptions: Record<string, unknown> = {}
  for (const [name, value] of Object.entries((sources.options ?? {}) as Record<string, unknown>)) {
    if (!(HTTP_OPTION_NAMES as readonly string[]).includes(name) && value !== undefined) {
      fromOptions[name] = value
    }
  }
  const client: Record<string, unknown> = {
    ...(sources.env === undefined ? {} : optionsFromEnv(sources.env)),
    ...(sources.setting === undefined ? {} : clientOptionsFromSettings(sources.setting)),
    ...fromOptions,
  }
  const missing = REQUIRED_CLIENT_OPTIONS.filter(([name]) => {
    const value = client[name]
    // A public client may have an empty secret, but it must be given.
    return typeof value !== 'string' || (value === '' && name !== 'clientSecret')
  })
  if (missing.length > 0) {
    const names = missing.map(([name, key]) => `${key} (option ${name})`)
    throw new TypeError(`IAM configuration is missing ${names.join(', ')}`)
  }
  return Object.freeze({ client: client as unknown as IamClientOptions, http })
}
