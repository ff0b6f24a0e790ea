/**
 * The answer of a health (readiness) endpoint: 200 when the SDK can decide requests on its own,
 * 503 when it cannot, with the same JSON body either way, one entry per background resource.
 */
import type { IamHealthReport } from '../client.js'
import type { ResourceHealth } from '../remote-resource.js'

/** What a health endpoint says about one background resource. */
export interface ResourceStatus {
  /** Whether a value was ever loaded. */
  readonly loaded: boolean
  /** Age of the value being served, in ms (`null` before the first load). */
  readonly ageMs: number | null
  /** Whether the last refresh failed while an older value is being served. */
  readonly servingStale: boolean
  /** Message of the last failure (`null` once a refresh succeeds). */
  readonly lastError: string | null
}

/** The JSON body of a health endpoint. */
export interface HealthBody {
  /** `ready` (200) when the SDK can decide requests; `not_ready` (503) otherwise. */
  readonly status: 'ready' | 'not_ready'
  /** Why not ready, when it is not (e.g. `the key set has not loaded`). */
  readonly reason?: string
  readonly resources: {
    readonly clientToken: ResourceStatus
    readonly jwks: ResourceStatus
    readonly revocationList: ResourceStatus
  }
  /** Cached IAM answers served past their TTL because the IAM is unreachable. */
  readonly staleCacheEntries: number
  /**
   * The shared cache (`cacheStore`, e.g. Redis), when one is configured: whether it is used right
   * now. Unavailable is not "not ready": each replica falls back to its memory and the IAM.
   */
  readonly sharedCache?: { readonly available: boolean; readonly lastError: string | null }
}

/** A health answer: the HTTP status and the body. */
export interface HealthResponse {
  readonly status: 200 | 503
  readonly body: HealthBody
}

function resource(r: ResourceHealth): ResourceStatus {
  return {
    loaded: r.loaded,
    ageMs: r.ageMs ?? null,
    servingStale: r.servingStale,
    lastError: r.lastError ?? null,
  }
}

/**
 * The health answer for a client's report: ready when the client token, the key set and the
 * revocation list have loaded (a stale value still decides, and says so), not ready before, and
 * after `close()`.
 *
 * @example
 * ```ts
 * const { status, body } = healthResponse(client.health(), false)
 * res.status(status).json(body)
 * ```
 */
export function healthResponse(
  report: IamHealthReport | undefined,
  closed: boolean,
): HealthResponse {
  const empty: ResourceHealth = {
    loaded: false,
    lastSuccessAt: undefined,
    lastErrorAt: undefined,
    lastError: undefined,
    ageMs: undefined,
    failing: false,
    servingStale: false,
  }
  const resources = {
    clientToken: resource(report?.clientToken ?? empty),
    jwks: resource(report?.jwks ?? empty),
    revocationList: resource(report?.revocationList ?? empty),
  }
  const staleCacheEntries = Object.values(report?.caches ?? {}).reduce(
    (sum, cache) => sum + cache.staleEntries,
    0,
  )
  let reason: string | undefined
  if (closed) reason = 'the IAM integration was closed'
  else if (!resources.clientToken.loaded) reason = 'the client token has not been granted'
  else if (!resources.jwks.loaded) reason = 'the key set (JWKS) has not loaded'
  else if (!resources.revocationList.loaded) reason = 'the revocation list has not loaded'
  const shared = report?.sharedCache
  const sharedCache =
    shared?.configured === true
      ? { sharedCache: { available: shared.available, lastError: shared.lastError ?? null } }
      : {}
  const body: HealthBody =
    reason === undefined
      ? { status: 'ready', resources, staleCacheEntries, ...sharedCache }
      : { status: 'not_ready', reason, resources, staleCacheEntries, ...sharedCache }
  return { status: reason === undefined ? 200 : 503, body }
}
