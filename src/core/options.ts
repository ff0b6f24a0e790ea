/**
 * Options of {@link IamClient}: one table ({@link CLIENT_OPTIONS}) from which validation, the
 * environment parser and the README's options table are all derived, and the one place where
 * environment variables are read.
 */
import { assertKnownKeys } from './config-check.js'
import type { MeterProvider } from '@opentelemetry/api'

import type { IamLogger } from './log.js'
import { MAX_TIMER_DELAY_MS } from './scheduler.js'
import { CACHE_STORE_METHODS, type CacheStore } from './store.js'

export type { IamLogger } from './log.js'

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
  /**
   * How long an expired role, role override, client information or namespace context entry is
   * still served while the IAM is unreachable (timeouts, connection errors, 5xx), in ms. Refreshes
   * go on in the background meanwhile. An answer that says "no" (404, 403) is never replaced by a
   * stale "yes". Default 600 000 (10 min); 0 turns it off.
   */
  staleIfErrorMs?: number
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
  /**
   * Accepted `iss` values: a token with another (or no) `iss` is `ERR_IAM_TOKEN_ISSUER`. Default:
   * not checked, as in the Python and Go SDKs.
   */
  issuer?: string | readonly string[]
  /** Timeout of one HTTP attempt to the IAM, in ms. Default 5 000. */
  requestTimeoutMs?: number
  /**
   * Total time that one call to the IAM may take, retries, a client-token refresh and the retry
   * after it included, in ms. Default 5 000.
   */
  requestBudgetMs?: number
  /** Longest wait between two background retries after a failed refresh, in ms. Default 30 000. */
  backgroundRetryMaxDelayMs?: number
  /**
   * Largest IAM response body read, in bytes; a longer one ends the read early with
   * `ERR_IAM_BAD_RESPONSE`. Default 33 554 432 (32 MiB: room for a large revocation list).
   */
  maxResponseBytes?: number
  /**
   * Validated tokens remembered so that a repeated token skips signature checks (a token is kept
   * from its second validation on). Default 10 000; 0 disables.
   */
  verifiedTokenCacheSize?: number
  /** `fetch` implementation used for every IAM call. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch
  /**
   * Where the SDK logs: pino, bunyan and Fastify's `app.log` fit as they are. Default: warnings
   * and errors to `console`.
   */
  logger?: IamLogger
  /**
   * OpenTelemetry meter provider for the SDK's metrics. Default: the global one
   * (`metrics.setGlobalMeterProvider`), a no-op until the application installs an SDK.
   */
  meterProvider?: MeterProvider
  /**
   * A store shared by the replicas of the service (e.g. `RedisCacheStore` from
   * `iam-node-sdk/redis`), below the in-memory caches: role permissions, role overrides, client
   * information, namespace contexts, the JWKS and the revocation list are shared, so the fleet
   * asks the IAM about once per TTL or interval. Default: none (each process caches in memory).
   * The store is opened on first use and released by {@link IamClient.close}.
   */
  cacheStore?: CacheStore
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
  readonly staleIfErrorMs: number
  readonly cacheMaxEntries: number
  readonly jwksRefreshIntervalMs: number
  readonly revocationListRefreshIntervalMs: number
  readonly jwksRefetchCooldownMs: number
  readonly clockToleranceMs: number
  readonly algorithms: readonly RsaAlgorithm[]
  /** Accepted issuers; `undefined` when `iss` is not checked. */
  readonly issuer: readonly string[] | undefined
  readonly requestTimeoutMs: number
  readonly requestBudgetMs: number
  readonly backgroundRetryMaxDelayMs: number
  readonly maxResponseBytes: number
  readonly verifiedTokenCacheSize: number
  readonly fetch: typeof globalThis.fetch
  readonly logger: IamLogger
  readonly meterProvider: MeterProvider | undefined
  readonly cacheStore: CacheStore | undefined
  readonly now: () => number
}

/** How an option's value is read and checked. */
export type ClientOptionKind =
  | 'url'
  | 'id'
  | 'secret'
  | 'duration'
  | 'count'
  | 'algorithms'
  | 'issuer'
  | 'function'
  | 'logger'
  | 'meterProvider'
  | 'object'

/** One row of {@link CLIENT_OPTIONS}. */
export interface ClientOptionSpec {
  readonly name: keyof IamClientOptions
  /** Environment variable (and `IAM_*` app setting) that supplies it; none for code-only options. */
  readonly env: string | undefined
  readonly kind: ClientOptionKind
  /** Whether it must be given (in code, settings or the environment). */
  readonly required?: boolean
  /** Default value (`undefined`: none, or derived as `description` says). */
  readonly default?: unknown
  /** Smallest accepted value (durations and counts). */
  readonly min?: number
  /** Largest accepted value (durations and counts). */
  readonly max?: number
  /** Unit, for the docs. */
  readonly unit?: 'ms' | 'bytes' | 'entries' | 'tokens'
  /** Methods an `object` option must have. */
  readonly methods?: readonly string[]
  /** One line for the docs. */
  readonly description: string
}

const MAX_COUNT = Number.MAX_SAFE_INTEGER

/**
 * Every client option: its environment variable, kind, unit, default and bounds. Validation,
 * {@link optionsFromEnv} and the README's options table are derived from it.
 */
export const CLIENT_OPTIONS: readonly ClientOptionSpec[] = Object.freeze(
  (
    [
      {
        name: 'baseUrl',
        env: 'IAM_BASE_URL',
        kind: 'url',
        required: true,
        description: 'IAM base URL including `/iam`.',
      },
      {
        name: 'clientId',
        env: 'IAM_CLIENT_ID',
        kind: 'id',
        required: true,
        description: 'OAuth client ID of this service.',
      },
      {
        name: 'clientSecret',
        env: 'IAM_CLIENT_SECRET',
        kind: 'secret',
        required: true,
        description: 'OAuth client secret (may be empty for a public client).',
      },
      {
        name: 'basicBaseUrl',
        env: 'IAM_BASIC_BASE_URL',
        kind: 'url',
        description:
          'Basic service base URL (namespace contexts). Default: `baseUrl` with `/iam` → `/basic`.',
      },
      {
        name: 'rolesCacheTtlMs',
        env: 'IAM_ROLES_CACHE_TTL_MS',
        kind: 'duration',
        default: 60_000,
        min: 0,
        unit: 'ms',
        description: 'How long role and role-override permissions are reused.',
      },
      {
        name: 'clientInfoCacheTtlMs',
        env: 'IAM_CLIENT_INFO_CACHE_TTL_MS',
        kind: 'duration',
        default: 60_000,
        min: 0,
        unit: 'ms',
        description: 'How long client information (CSRF redirect URIs, audience) is reused.',
      },
      {
        name: 'namespaceContextCacheTtlMs',
        env: 'IAM_NAMESPACE_CONTEXT_CACHE_TTL_MS',
        kind: 'duration',
        default: 3_600_000,
        min: 0,
        unit: 'ms',
        description: 'How long a found namespace context is reused.',
      },
      {
        name: 'namespaceNotFoundCacheTtlMs',
        env: 'IAM_NAMESPACE_NOT_FOUND_CACHE_TTL_MS',
        kind: 'duration',
        default: 180_000,
        min: 0,
        unit: 'ms',
        description: 'How long a namespace reported as not found is remembered.',
      },
      {
        name: 'staleIfErrorMs',
        env: 'IAM_STALE_IF_ERROR_MS',
        kind: 'duration',
        default: 600_000,
        min: 0,
        unit: 'ms',
        description:
          'How long expired role, role-override, client and namespace entries are served while the IAM is unreachable; 0 turns it off.',
      },
      {
        name: 'cacheMaxEntries',
        env: 'IAM_CACHE_MAX_ENTRIES',
        kind: 'count',
        default: 1_000,
        min: 1,
        unit: 'entries',
        description: 'Entries each cache holds at most (least recently used dropped first).',
      },
      {
        name: 'jwksRefreshIntervalMs',
        env: 'IAM_JWKS_REFRESH_INTERVAL_MS',
        kind: 'duration',
        default: 60_000,
        min: 1,
        unit: 'ms',
        description: 'Interval between JWKS refreshes.',
      },
      {
        name: 'revocationListRefreshIntervalMs',
        env: 'IAM_REVOCATION_LIST_REFRESH_INTERVAL_MS',
        kind: 'duration',
        default: 60_000,
        min: 1,
        unit: 'ms',
        description: 'Interval between revocation list refreshes.',
      },
      {
        name: 'jwksRefetchCooldownMs',
        env: 'IAM_JWKS_REFETCH_COOLDOWN_MS',
        kind: 'duration',
        default: 5_000,
        min: 0,
        unit: 'ms',
        description: 'Least time between two JWKS fetches caused by an unknown `kid`.',
      },
      {
        name: 'clockToleranceMs',
        env: 'IAM_CLOCK_TOLERANCE_MS',
        kind: 'duration',
        default: 60_000,
        min: 0,
        unit: 'ms',
        description: 'Leeway applied to `exp` and `nbf`.',
      },
      {
        name: 'algorithms',
        env: 'IAM_ALGORITHMS',
        kind: 'algorithms',
        default: Object.freeze(['RS256']),
        description: `Accepted token signature algorithms (${RSA_ALGORITHMS.join(', ')}).`,
      },
      {
        name: 'issuer',
        env: 'IAM_ISSUER',
        kind: 'issuer',
        description:
          'Accepted `iss` values (a string or a list); a token with another is refused. Default: not checked.',
      },
      {
        name: 'requestTimeoutMs',
        env: 'IAM_REQUEST_TIMEOUT_MS',
        kind: 'duration',
        default: 5_000,
        min: 1,
        unit: 'ms',
        description: 'Timeout of one HTTP attempt to the IAM.',
      },
      {
        name: 'requestBudgetMs',
        env: 'IAM_REQUEST_BUDGET_MS',
        kind: 'duration',
        default: 5_000,
        min: 1,
        unit: 'ms',
        description:
          'Total time of one IAM call: retries, a client-token refresh and the retry after it included.',
      },
      {
        name: 'backgroundRetryMaxDelayMs',
        env: 'IAM_BACKGROUND_RETRY_MAX_DELAY_MS',
        kind: 'duration',
        default: 30_000,
        min: 1,
        unit: 'ms',
        description: 'Longest wait between two retries of a failed background refresh.',
      },
      {
        name: 'maxResponseBytes',
        env: 'IAM_MAX_RESPONSE_BYTES',
        kind: 'count',
        default: 32 * 1024 * 1024,
        min: 1024,
        unit: 'bytes',
        description: 'Largest IAM response body read; a longer one is `ERR_IAM_BAD_RESPONSE`.',
      },
      {
        name: 'verifiedTokenCacheSize',
        env: 'IAM_VERIFIED_TOKEN_CACHE_SIZE',
        kind: 'count',
        default: 10_000,
        min: 0,
        unit: 'tokens',
        description:
          'Validated tokens remembered, from their second validation on (then a repeated token skips the signature check); 0 disables.',
      },
      {
        name: 'fetch',
        env: undefined,
        kind: 'function',
        description: '`fetch` used for every IAM call. Default `globalThis.fetch`.',
      },
      {
        name: 'logger',
        env: undefined,
        kind: 'logger',
        description:
          'Logger (pino, bunyan, Fastify `app.log`). Default: warnings and errors to `console`.',
      },
      {
        name: 'meterProvider',
        env: undefined,
        kind: 'meterProvider',
        description: 'OpenTelemetry MeterProvider for the metrics. Default: the global one.',
      },
      {
        name: 'cacheStore',
        env: undefined,
        kind: 'object',
        methods: CACHE_STORE_METHODS,
        description:
          'Store shared by replicas below the memory caches (`RedisCacheStore` of `iam-node-sdk/redis`). Default: none, memory only.',
      },
      {
        name: 'now',
        env: undefined,
        kind: 'function',
        description: 'Clock in epoch ms. Default `Date.now`. For tests.',
      },
    ] satisfies ClientOptionSpec[]
  ).map((spec) => Object.freeze(spec)),
)

const SPEC_BY_NAME: ReadonlyMap<string, ClientOptionSpec> = new Map(
  CLIENT_OPTIONS.map((spec) => [spec.name, spec]),
)

/** Names of every client option. */
export const CLIENT_OPTION_NAMES: readonly string[] = Object.freeze(
  CLIENT_OPTIONS.map((s) => s.name),
)

/** Default values of every optional option that has one. */
export const DEFAULT_CLIENT_OPTIONS = Object.freeze(
  Object.fromEntries(
    CLIENT_OPTIONS.filter((s) => s.default !== undefined).map((s) => [s.name, s.default]),
  ),
) as Readonly<{
  rolesCacheTtlMs: number
  clientInfoCacheTtlMs: number
  namespaceContextCacheTtlMs: number
  namespaceNotFoundCacheTtlMs: number
  staleIfErrorMs: number
  cacheMaxEntries: number
  jwksRefreshIntervalMs: number
  revocationListRefreshIntervalMs: number
  jwksRefetchCooldownMs: number
  clockToleranceMs: number
  algorithms: readonly RsaAlgorithm[]
  requestTimeoutMs: number
  requestBudgetMs: number
  backgroundRetryMaxDelayMs: number
  maxResponseBytes: number
  verifiedTokenCacheSize: number
}>

const consoleLogger: IamLogger = {
  warn: (details, message) => console.warn(`[iam-node-sdk] ${message}`, details),
  error: (details, message) => console.error(`[iam-node-sdk] ${message}`, details),
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

function readUrl(option: string, value: unknown): string {
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

function readNumber(spec: ClientOptionSpec, value: unknown): number {
  const min = spec.min ?? 0
  if (spec.kind === 'duration') {
    const max = spec.max ?? MAX_TIMER_DELAY_MS
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      const low = min === 0 ? '>= 0' : `>= ${min}`
      fail(spec.name, `a number of milliseconds ${low} and at most ${max} (about 24.8 days)`, value)
    }
    return value
  }
  const max = spec.max ?? MAX_COUNT
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(spec.name, `an integer >= ${min}`, value)
  }
  return value
}

function readValue(spec: ClientOptionSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'url':
      return readUrl(spec.name, value)
    case 'id':
      if (typeof value !== 'string' || value === '') fail(spec.name, 'a non-empty string', value)
      return value
    case 'secret':
      if (typeof value !== 'string') fail(spec.name, 'a string', value)
      return value
    case 'duration':
    case 'count':
      return readNumber(spec, value)
    case 'algorithms':
      if (
        !Array.isArray(value) ||
        value.length === 0 ||
        !value.every((a) => RSA_ALGORITHMS.includes(a as RsaAlgorithm))
      ) {
        fail(spec.name, `a non-empty list of ${RSA_ALGORITHMS.join(', ')}`, value)
      }
      return Object.freeze([...new Set(value as RsaAlgorithm[])])
    case 'issuer': {
      const list = typeof value === 'string' ? [value] : value
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        !list.every((x) => typeof x === 'string' && x !== '')
      ) {
        fail(spec.name, 'a non-empty string or a non-empty list of them', value)
      }
      return Object.freeze([...list])
    }
    case 'function':
      if (typeof value !== 'function') fail(spec.name, 'a function', value)
      return value
    case 'logger':
      if (value === null || typeof value !== 'object') fail(spec.name, 'an object', value)
      return value
    case 'meterProvider':
      if (
        value === null ||
        typeof value !== 'object' ||
        typeof (value as { getMeter?: unknown }).getMeter !== 'function'
      ) {
        fail(spec.name, 'an OpenTelemetry MeterProvider (with getMeter)', value)
      }
      return value
    case 'object': {
      const methods = spec.methods ?? []
      if (
        value === null ||
        typeof value !== 'object' ||
        !methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
      ) {
        fail(spec.name, `an object with the methods ${methods.join(', ')}`, value)
      }
      return value
    }
  }
}

/** Derives the basic-service URL from the IAM base URL (`…/iam` → `…/basic`). */
export function defaultBasicBaseUrl(baseUrl: string): string {
  return baseUrl.endsWith('/iam')
    ? baseUrl.slice(0, -4) + '/basic'
    : new URL('/basic', baseUrl).href
}

/**
 * Applies defaults and validates every option once. Throws a `TypeError` naming the bad option,
 * or naming an unknown one and the known option it is nearest to.
 *
 * @example
 * ```ts
 * const resolved = resolveClientOptions({ baseUrl: 'http://127.0.0.1:4300/iam', clientId: 'id', clientSecret: 's' })
 * resolved.rolesCacheTtlMs // 60000
 * ```
 */
export function resolveClientOptions(options: IamClientOptions): ResolvedIamClientOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options)
  assertKnownKeys(options, CLIENT_OPTION_NAMES, 'IamClient option')
  const given = options as unknown as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const spec of CLIENT_OPTIONS) {
    const value = given[spec.name]
    if (value === undefined) {
      if (spec.required) readValue(spec, value) // throws, naming the option
      out[spec.name] = spec.default
    } else out[spec.name] = readValue(spec, value)
  }
  out.basicBaseUrl ??= defaultBasicBaseUrl(out.baseUrl as string)
  out.fetch ??= globalThis.fetch
  if (typeof out.fetch !== 'function') fail('fetch', 'a function', out.fetch)
  out.logger ??= consoleLogger
  out.now ??= Date.now
  return Object.freeze(out) as unknown as ResolvedIamClientOptions
}

/** Environment variable → option name, for {@link optionsFromEnv}. */
export const CLIENT_OPTION_ENV: Readonly<Record<string, keyof IamClientOptions>> = Object.freeze(
  Object.fromEntries(
    CLIENT_OPTIONS.filter((s) => s.env !== undefined).map((s) => [s.env as string, s.name]),
  ),
)

/** Parses one environment value of an option; a `TypeError` names the variable. */
function fromText(spec: ClientOptionSpec, variable: string, raw: string): unknown {
  switch (spec.kind) {
    case 'algorithms':
    case 'issuer':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    case 'duration':
    case 'count': {
      const value = Number(raw.trim())
      if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || !Number.isFinite(value)) {
        throw new TypeError(
          `environment variable ${variable} must be a number, got ${JSON.stringify(raw)}`,
        )
      }
      return value
    }
    default:
      return raw
  }
}

/**
 * Reads client options from environment variables: the only place the SDK reads the environment.
 * Unset or empty variables are left out. Numbers must be plain decimal numbers (a `TypeError`
 * naming the variable otherwise); `IAM_ALGORITHMS` and `IAM_ISSUER` are comma-separated lists.
 * The variable of each option is in {@link CLIENT_OPTIONS} (and the README's options table).
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
    out[option] = fromText(SPEC_BY_NAME.get(option) as ClientOptionSpec, variable, raw)
  }
  return out as Partial<IamClientOptions>
}
