/**
 * Options of {@link IamClient}: types, defaults, validation, and the one place where environment
 * variables are read.
 */

/** RSA signature algorithms a token may be signed with. `none` and HMAC are never accepted. */
export type RsaAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512'

const RSA_ALGORITHMS: readonly RsaAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
]

/** Where the SDK writes what it has to say. Each method is optional; missing ones stay silent. */
export interface IamLogger {
  debug?(message: string, details?: Record<string, unknown>): void
  info?(message: string, details?: Record<string, unknown>): void
  warn?(message: string, details?: Record<string, unknown>): void
  error?(message: string, details?: Record<string, unknown>): void
}

/** Options of `new IamClient(options)`. Durations are milliseconds. */
export interface IamClientOptions {
  /** IAM base URL including `/iam`, e.g. `https://demo.accelbyte.io/iam`. Required. */
  baseUrl: string
  /** OAuth client ID of this service. Required. */
  clientId: string
  /** OAuth client secret of this service. Required (may be empty for a public client). */
  clientSecret: string
  /**
   * Base URL of the basic service (namespace contexts for the `{studio}-` rule).
   * Default: `baseUrl` with its trailing `/iam` replaced by `/basic`.
   */
  basicBaseUrl?: string
  /** How long fetched role permissions are reused, in ms. Default 60 000. */
  rolesCacheTtlMs?: number
  /** How long fetched client information is reused, in ms. Default 60 000. */
  clientInfoCacheTtlMs?: number
  /** How long a found namespace context is reused, in ms. Default 3 600 000 (1 h). */
  namespaceContextCacheTtlMs?: number
  /** How long a namespace reported as not found is remembered, in ms. Default 180 000 (3 min). */
  namespaceNotFoundCacheTtlMs?: number
  /** Entries each cache (roles, clients, namespace contexts, delegate tokens) holds at most. Default 1 000. */
  cacheMaxEntries?: number
  /** Interval between JWKS refreshes, in ms. Default 60 000. */
  jwksRefreshIntervalMs?: number
  /** Interval between revocation list refreshes, in ms. Default 60 000. */
  revocationListRefreshIntervalMs?: number
  /**
   * Minimum time between two JWKS fetches caused by a token with an unknown `kid`, counted from
   * the last fetch of any kind, in ms. Default 5 000.
   */
  jwksRefetchCooldownMs?: number
  /** Leeway applied to `exp` and `nbf`, in ms. Default 60 000 (as the Go SDK). 0 is valid. */
  clockToleranceMs?: number
  /** Signature algorithms accepted on access tokens. Default `['RS256']`. */
  algorithms?: readonly RsaAlgorithm[]
  /** Timeout of one HTTP attempt to the IAM, in ms. Default 5 000. */
  requestTimeoutMs?: number
  /**
   * Total time, retries included, that a call made on a request's path (role, client information,
   * namespace context, verify, grants) may spend on the IAM, in ms. Default 5 000.
   */
  requestBudgetMs?: number
  /** Longest wait between two background retries after a failed refresh, in ms. Default 30 000. */
  backgroundRetryMaxDelayMs?: number
  /** Validated tokens remembered so that a repeated token skips signature checks. Default 10 000; 0 disables. */
  verifiedTokenCacheSize?: number
  /** `fetch` implementation used for every IAM call. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch
  /** Logger for background failures and warnings. Default: `console` for warnings and errors. */
  logger?: IamLogger
  /** Clock returning epoch milliseconds. Default `Date.now`. For tests. */
  now?: () => number
}

/** Options after defaults were applied; frozen. */
export interface ResolvedIamClientOptions {
  readonly baseUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly basicBaseUrl: string
  readonly rolesCacheTtlMs: number
  readonly clientInfoCacheTtlMs: number
  readonly namespaceContextCacheTtlMs: number
  readonly namespaceNotFoundCacheTtlMs: number
  readonly cacheMaxEntries: number
  readonly jwksRefreshIntervalMs: number
  readonly revocationListRefreshIntervalMs: number
  readonly jwksRefetchCooldownMs: number
  readonly clockToleranceMs: number
  readonly algorithms: readonly RsaAlgorithm[]
  readonly requestTimeoutMs: number
  readonly requestBudgetMs: number
  readonly backgroundRetryMaxDelayMs: number
  readonly verifiedTokenCacheSize: number
  readonly fetch: typeof globalThis.fetch
  readonly logger: IamLogger
  readonly now: () => number
}

/** Default values of every optional option. */
export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  rolesCacheTtlMs: 60_000,
  clientInfoCacheTtlMs: 60_000,
  namespaceContextCacheTtlMs: 3_600_000,
  namespaceNotFoundCacheTtlMs: 180_000,
  cacheMaxEntries: 1_000,
  jwksRefreshIntervalMs: 60_000,
  revocationListRefreshIntervalMs: 60_000,
  jwksRefetchCooldownMs: 5_000,
  clockToleranceMs: 60_000,
  algorithms: Object.freeze(['RS256']) as readonly RsaAlgorithm[],
  requestTimeoutMs: 5_000,
  requestBudgetMs: 5_000,
  backgroundRetryMaxDelayMs: 30_000,
  verifiedTokenCacheSize: 10_000,
})

const consoleLogger: IamLogger = {
  warn: (message, details) => console.warn(`[iam-node-sdk] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[iam-node-sdk] ${message}`, details ?? ''),
}

function fail(option: string, expected: string, value: unknown): never {
  throw new TypeError(`IamClient option "${option}" must be ${expected}, got ${describe(value)}`)
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)
  if (value === null) return 'null'
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object'
  return String(value)
}

function url(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') fail(option, 'a non-empty URL string', value)
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    return fail(option, 'an absolute http(s) URL', value)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(option, 'an absolute http(s) URL', value)
  }
  return value.replace(/\/+$/, '')
}

function duration(option: string, value: unknown, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0)
  ) {
    fail(
      option,
      allowZero ? 'a finite number of milliseconds >= 0' : 'a finite number of milliseconds > 0',
      value,
    )
  }
  return value
}

function count(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(option, `an integer >= ${min}`, value)
  }
  return value
}

/** Derives the basic-service URL from the IAM base URL (`…/iam` → `…/basic`). */
export function defaultBasicBaseUrl(baseUrl: string): string {
  return baseUrl.endsWith('/iam')
    ? baseUrl.slice(0, -4) + '/basic'
    : new URL('/basic', baseUrl).href
}

/**
 * Applies defaults and validates every option once. Throws a `TypeError` naming the bad option.
 *
 * @example
 * ```ts
 * const resolved = resolveClientOptions({ baseUrl: 'http://127.0.0.1:4300/iam', clientId: 'id', clientSecret: 's' })
 * resolved.rolesCacheTtlMs // 60000
 * ```
 */
export function resolveClientOptions(options: IamClientOptions): ResolvedIamClientOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  const baseUrl = url('baseUrl', options.baseUrl)
  if (typeof options.clientId !== 'string' || options.clientId === '') {
    fail('clientId', 'a non-empty string', options.clientId)
  }
  if (typeof options.clientSecret !== 'string')
    fail('clientSecret', 'a string', options.clientSecret)
  const d = DEFAULT_CLIENT_OPTIONS
  const algorithms = options.algorithms ?? d.algorithms
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a) => RSA_ALGORITHMS.includes(a as RsaAlgorithm))
  ) {
    fail('algorithms', `a non-empty list of ${RSA_ALGORITHMS.join(', ')}`, algorithms)
  }
  const fetchImpl = options.fetch ?? globalThis.fetch
  if (typeof fetchImpl !== 'function') fail('fetch', 'a function', fetchImpl)
  const now = options.now ?? Date.now
  if (typeof now !== 'function') fail('now', 'a function returning epoch milliseconds', now)
  const logger = options.logger ?? consoleLogger
  if (logger === null || typeof logger !== 'object') fail('logger', 'an object', logger)
  return Object.freeze({
    baseUrl,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    basicBaseUrl:
      options.basicBaseUrl === undefined
        ? defaultBasicBaseUrl(baseUrl)
        : url('basicBaseUrl', options.basicBaseUrl),
    rolesCacheTtlMs: duration('rolesCacheTtlMs', options.rolesCacheTtlMs, d.rolesCacheTtlMs, true),
    clientInfoCacheTtlMs: duration(
      'clientInfoCacheTtlMs',
      options.clientInfoCacheTtlMs,
      d.clientInfoCacheTtlMs,
      true,
    ),
    namespaceContextCacheTtlMs: duration(
      'namespaceContextCacheTtlMs',
      options.namespaceContextCacheTtlMs,
      d.namespaceContextCacheTtlMs,
      true,
    ),
    namespaceNotFoundCacheTtlMs: duration(
      'namespaceNotFoundCacheTtlMs',
      options.namespaceNotFoundCacheTtlMs,
      d.namespaceNotFoundCacheTtlMs,
      true,
    ),
    cacheMaxEntries: count('cacheMaxEntries', options.cacheMaxEntries, d.cacheMaxEntries, 1),
    jwksRefreshIntervalMs: duration(
      'jwksRefreshIntervalMs',
      options.jwksRefreshIntervalMs,
      d.jwksRefreshIntervalMs,
      false,
    ),
    revocationListRefreshIntervalMs: duration(
      'revocationListRefreshIntervalMs',
      options.revocationListRefreshIntervalMs,
      d.revocationListRefreshIntervalMs,
      false,
    ),
    jwksRefetchCooldownMs: duration(
      'jwksRefetchCooldownMs',
      options.jwksRefetchCooldownMs,
      d.jwksRefetchCooldownMs,
      true,
    ),
    clockToleranceMs: duration(
      'clockToleranceMs',
      options.clockToleranceMs,
      d.clockToleranceMs,
      true,
    ),
    algorithms: Object.freeze([...algorithms]),
    requestTimeoutMs: duration(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      d.requestTimeoutMs,
      false,
    ),
    requestBudgetMs: duration('requestBudgetMs', options.requestBudgetMs, d.requestBudgetMs, false),
    backgroundRetryMaxDelayMs: duration(
      'backgroundRetryMaxDelayMs',
      options.backgroundRetryMaxDelayMs,
      d.backgroundRetryMaxDelayMs,
      false,
    ),
    verifiedTokenCacheSize: count(
      'verifiedTokenCacheSize',
      options.verifiedTokenCacheSize,
      d.verifiedTokenCacheSize,
      0,
    ),
    fetch: fetchImpl,
    logger,
    now,
  })
}

/** Environment variable → option name, for {@link optionsFromEnv}. */
export const CLIENT_OPTION_ENV: Readonly<Record<string, keyof IamClientOptions>> = Object.freeze({
  IAM_BASE_URL: 'baseUrl',
  IAM_CLIENT_ID: 'clientId',
  IAM_CLIENT_SECRET: 'clientSecret',
  IAM_BASIC_BASE_URL: 'basicBaseUrl',
  IAM_ROLES_CACHE_TTL_MS: 'rolesCacheTtlMs',
  IAM_CLIENT_INFO_CACHE_TTL_MS: 'clientInfoCacheTtlMs',
  IAM_NAMESPACE_CONTEXT_CACHE_TTL_MS: 'namespaceContextCacheTtlMs',
  IAM_NAMESPACE_NOT_FOUND_CACHE_TTL_MS: 'namespaceNotFoundCacheTtlMs',
  IAM_CACHE_MAX_ENTRIES: 'cacheMaxEntries',
  IAM_JWKS_REFRESH_INTERVAL_MS: 'jwksRefreshIntervalMs',
  IAM_REVOCATION_LIST_REFRESH_INTERVAL_MS: 'revocationListRefreshIntervalMs',
  IAM_JWKS_REFETCH_COOLDOWN_MS: 'jwksRefetchCooldownMs',
  IAM_CLOCK_TOLERANCE_MS: 'clockToleranceMs',
  IAM_ALGORITHMS: 'algorithms',
  IAM_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  IAM_REQUEST_BUDGET_MS: 'requestBudgetMs',
  IAM_BACKGROUND_RETRY_MAX_DELAY_MS: 'backgroundRetryMaxDelayMs',
  IAM_VERIFIED_TOKEN_CACHE_SIZE: 'verifiedTokenCacheSize',
})

const STRING_OPTIONS = new Set<keyof IamClientOptions>([
  'baseUrl',
  'clientId',
  'clientSecret',
  'basicBaseUrl',
])

/**
 * Reads client options from environment variables: the only place the SDK reads the environment.
 * Unset or empty variables are left out. Numbers must be plain decimal numbers (a `TypeError`
 * naming the variable otherwise); `IAM_ALGORITHMS` is a comma-separated list.
 *
 * | variable | option |
 * |---|---|
 * | `IAM_BASE_URL`, `IAM_CLIENT_ID`, `IAM_CLIENT_SECRET` | `baseUrl`, `clientId`, `clientSecret` |
 * | `IAM_BASIC_BASE_URL` | `basicBaseUrl` |
 * | `IAM_ROLES_CACHE_TTL_MS`, `IAM_JWKS_REFRESH_INTERVAL_MS`, … | the option of the same name |
 *
 * @example
 * ```ts
 * const client = new IamClient({ ...optionsFromEnv(), clockToleranceMs: 0 })
 * ```
 */
export function optionsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Partial<IamClientOptions> {
  const out: Record<string, unknown> = {}
  for (const [variable, option] of Object.entries(CLIENT_OPTION_ENV)) {
    const raw = env[variable]
    if (raw === undefined || raw === '') continue
    if (STRING_OPTIONS.has(option)) out[option] = raw
    else if (option === 'algorithms')
      out[option] = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    else {
      const value = Number(raw.trim())
      if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || !Number.isFinite(value)) {
        throw new TypeError(
          `environment variable ${variable} must be a number, got ${JSON.stringify(raw)}`,
        )
      }
      out[option] = value
    }
  }
  return out as Partial<IamClientOptions>
}
