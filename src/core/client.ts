/**
 * The framework-free IAM client: everything the Python and Go IAM SDKs do, with caches that
 * expire, single-flight fetches and timers that never keep a process alive. With a `cacheStore`,
 * what one replica learns from the IAM is shared with the others (see shared-cache.ts).
 */
import { createHash } from 'node:crypto'

import { IamError } from './errors.js'
import { IamTransport, parseJsonBody, unexpectedStatus, type IamCall } from './iam-transport.js'
import { parseJwks, type KeySet } from './jwks.js'
import {
  resolveClientOptions,
  type IamClientOptions,
  type ResolvedIamClientOptions,
} from './options.js'
import {
  evaluatePermission,
  grantedByTokenPermissions,
  normalizeRequiredPermission,
  substitutePlaceholders,
  type PermissionDecision,
  type PermissionSources,
} from './permission.js'
import { readWirePermission } from './permission/fields.js'
import {
  snapshotKeySet,
  snapshotRevocationList,
  type KeySetSnapshot,
  type RevocationListSnapshot,
} from './inspect.js'
import { RemoteResource, type FetchReason, type ResourceHealth } from './remote-resource.js'
import type { CacheStaleness } from './cache.js'
import {
  SharedCache,
  type EntryCodec,
  type SharedCacheHealth,
  type Snapshot,
} from './shared-cache.js'
import { parseRevocationList, type RevocationList } from './revocation-list.js'
import { TokenVerifier } from './token-verifier.js'
import { TtlCache } from './cache.js'
import { RateLimitedLog } from './log.js'
import { IamMetrics } from './metrics.js'
import type { CacheName } from './metrics.js'
import type {
  ClientInformation,
  JwtClaims,
  NamespaceContext,
  RequiredPermission,
  TokenResponse,
  WirePermission,
} from './types.js'

// Shared settled answers: a promise that is already resolved can be handed to any caller.
const RESOLVED_TRUE = Promise.resolve(true)
const RESOLVED_FALSE = Promise.resolve(false)

/** Health of the client and of each background resource. */
export interface IamHealthReport {
  /** Same as {@link IamClient.healthCheck}. */
  healthy: boolean
  clientToken: ResourceHealth & { expiresAt: number | undefined }
  jwks: ResourceHealth & { keyIds: string[] }
  revocationList: ResourceHealth & { revokedUsers: number }
  /**
   * The caches of IAM answers (role permissions, role overrides, client information, namespace
   * contexts): how many entries are served past their TTL because the IAM is unreachable.
   */
  caches: Record<
    'roles' | 'roleOverrides' | 'clientInformation' | 'namespaceContexts',
    CacheStaleness
  >
  /**
   * The store shared by replicas (the `cacheStore` option): whether it is configured and used
   * right now, its last failure, and how many calls fell back to memory and the IAM. A failing
   * store does not make the client unhealthy: requests are decided without it.
   */
  sharedCache: SharedCacheHealth
}

interface GrantedToken {
  accessToken: string
  expiresInSeconds: number
  receivedAt: number
}

/** A shared snapshot older than its interval is refreshed, but never sooner than this, in ms. */
const MIN_SHARED_REFRESH_MS = 250
/** A shared snapshot stays in the store for this many refresh intervals. */
const SNAPSHOT_TTL_INTERVALS = 3
/** A lock of the shared store outlives the longest IAM call (the request budget) by this, in ms. */
const LOCK_MARGIN_MS = 1_000

const NO_SHARED_CACHE: SharedCacheHealth = Object.freeze({
  configured: false,
  available: false,
  lastError: undefined,
  lastErrorAt: undefined,
  fallbacks: 0,
})

const TOKEN_REFRESH_RATIO = 0.8
/** A broken IAM answering a tiny `expires_in` must not make the client grant in a loop. */
const MIN_TOKEN_REFRESH_MS = 1_000

/** Only the IAM being unreachable (timeouts, connection errors, 5xx) lets a cache serve stale. */
const isOutage = (error: unknown): boolean =>
  error instanceof IamError && error.code === 'ERR_IAM_UNAVAILABLE'

/**
 * A value put into an IAM URL path segment, encoded; `undefined` when it cannot name anything
 * (empty, `.`, `..`, a slash), so that the caller answers "not found" without asking the IAM.
 */
function pathSegment(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '' || value === '.' || value === '..') return undefined
  if (/[/\\]/.test(value)) return undefined
  return encodeURIComponent(value)
}

/**
 * Client of an AccelByte-style IAM.
 *
 * @example
 * ```ts
 * import { IamClient, Action } from 'iam-node-sdk'
 *
 * const iam = new IamClient({ baseUrl: 'http://127.0.0.1:4300/iam', clientId, clientSecret })
 * await iam.clientTokenGrant()
 * await iam.startLocalValidation()
 * const claims = await iam.validateAndParseClaims(accessToken)
 * const allowed = await iam.validatePermission(
 *   claims,
 *   { resource: 'NAMESPACE:{namespace}:USER:{userId}', action: Action.Update },
 *   { '{namespace}': 'sample-namespace', '{userId}': claims.sub ?? '' },
 * )
 * await iam.close()
 * ```
 */
export class IamClient {
  /** The options in force, defaults applied; frozen. */
  readonly options: ResolvedIamClientOptions

  readonly #http: IamTransport
  readonly #metrics: IamMetrics
  readonly #verifier: TokenVerifier
  readonly #jwks: RemoteResource<Snapshot<KeySet>>
  readonly #revocation: RemoteResource<Snapshot<RevocationList>>
  /** The level shared by replicas, when a `cacheStore` is configured. */
  readonly #shared: SharedCache | undefined
  readonly #roles: TtlCache<readonly WirePermission[]>
  readonly #roleOverrides: TtlCache<readonly WirePermission[]>
  readonly #clients: TtlCache<ClientInformation>
  readonly #namespaces: TtlCache<NamespaceContext | null>
  readonly #delegateTokens: TtlCache<GrantedToken>
  readonly #permissionSources: PermissionSources
  readonly #token: RemoteResource<GrantedToken>
  #revocationVersion = 0
  /** Key ids already warned about (weak or broken keys), so a refresh does not repeat it. */
  readonly #warnedKeys = new Set<string>()
  #localValidationStarted = false
  #closed = false

  /** Validates the options (a `TypeError` naming a bad one); does no I/O. */
  constructor(options: IamClientOptions) {
    this.options = resolveClientOptions(options)
    const o = this.options
    this.#metrics = new IamMetrics(o.meterProvider, () => [
      ['client_token', this.#token.health().ageMs],
      ['jwks', this.#jwks.health().ageMs],
      ['revocation_list', this.#revocation.health().ageMs],
    ])
    this.#http = new IamTransport(o, this.#metrics)
    this.#shared =
      o.cacheStore === undefined
        ? undefined
        : new SharedCache({
            store: o.cacheStore,
            scope: sharedScope(o),
            secret: o.clientSecret,
            lockTtlMs: o.requestBudgetMs + LOCK_MARGIN_MS,
            waitMs: o.requestBudgetMs,
            now: o.now,
            logger: o.logger,
          })
    this.#http.setBearerSource({
      current: () => this.clientToken(),
      refresh: () => this.clientTokenGrant(),
    })
    const cache = <V>(
      ttlMs: number,
      name: CacheName | undefined,
      staleIfErrorMs = o.staleIfErrorMs,
    ) =>
      new TtlCache<V>({
        maxEntries: o.cacheMaxEntries,
        ttlMs,
        now: o.now,
        staleIfErrorMs,
        isOutage,
        retryMaxDelayMs: o.backgroundRetryMaxDelayMs,
        onLookup: name === undefined ? undefined : this.#metrics.cacheLookups(name),
        onStale: name === undefined ? undefined : staleWarning(name),
      })
    // Serving stale is worth a warning, once a minute per cache while it lasts.
    const staleWarning = (name: CacheName) => {
      const log = new RateLimitedLog(60_000, o.now)
      return (error: unknown) =>
        log.maybe(() =>
          o.logger.warn?.(
            { err: error, cache: name, staleIfErrorMs: o.staleIfErrorMs },
            `the IAM is unreachable: serving cached ${name.replaceAll('_', ' ')} past their TTL (for up to ${o.staleIfErrorMs} ms)`,
          ),
        )
    }
    this.#roles = cache(o.rolesCacheTtlMs, 'roles')
    this.#roleOverrides = cache(o.rolesCacheTtlMs, 'role_overrides')
    this.#clients = cache(o.clientInfoCacheTtlMs, 'client_information')
    this.#namespaces = cache(o.namespaceContextCacheTtlMs, 'namespace_contexts')
    // A delegate token is a credential with an expiry: never served stale.
    this.#delegateTokens = cache(0, undefined, 0)
    this.#token = new RemoteResource({
      name: 'client token',
      fetch: () => this.#grant({ grant_type: 'client_credentials' }, 'token grant'),
      refreshAfterMs: (token) =>
        Math.max(MIN_TOKEN_REFRESH_MS, token.expiresInSeconds * 1000 * TOKEN_REFRESH_RATIO),
      expiresAt: (token) => token.receivedAt + token.expiresInSeconds * 1000,
      retryMaxDelayMs: o.backgroundRetryMaxDelayMs,
      now: o.now,
      logger: o.logger,
    })
    // Shared snapshots: the next refresh is due when the snapshot (maybe another replica's) is one
    // interval old, so the fleet refreshes together, once.
    const refreshAfter = (intervalMs: number) =>
      this.#shared === undefined
        ? intervalMs
        : (snapshot: Snapshot<unknown>) =>
            Math.max(
              Math.min(MIN_SHARED_REFRESH_MS, intervalMs),
              intervalMs - Math.max(0, o.now() - snapshot.fetchedAt),
            )
    const fetchedAt = this.#shared === undefined ? undefined : (s: Snapshot<unknown>) => s.fetchedAt
    this.#jwks = new RemoteResource<Snapshot<KeySet>>({
      name: 'JWKS',
      fetch: (reason) => this.#loadJwks(reason),
      refreshAfterMs: refreshAfter(o.jwksRefreshIntervalMs),
      fetchedAt,
      retryMaxDelayMs: o.backgroundRetryMaxDelayMs,
      now: o.now,
      logger: o.logger,
    })
    this.#revocation = new RemoteResource<Snapshot<RevocationList>>({
      name: 'revocation list',
      fetch: (reason) => this.#loadRevocationList(reason),
      onValue: () => {
        this.#revocationVersion++
      },
      refreshAfterMs: refreshAfter(o.revocationListRefreshIntervalMs),
      fetchedAt,
      retryMaxDelayMs: o.backgroundRetryMaxDelayMs,
      now: o.now,
      logger: o.logger,
    })
    this.#verifier = new TokenVerifier(
      {
        algorithms: o.algorithms,
        issuer: o.issuer,
        clockToleranceMs: o.clockToleranceMs,
        cacheSize: o.verifiedTokenCacheSize,
        now: o.now,
      },
      {
        keySet: () => this.#jwks.value?.value,
        revocationList: () => this.#revocation.value?.value,
        revocationVersion: () => this.#revocationVersion,
        refetchKeysForUnknownKid: () => this.#jwks.refreshIfOlderThan(o.jwksRefetchCooldownMs),
      },
    )
    this.#permissionSources = {
      getRolePermissions: (roleId) => this.getRolePermissions(roleId),
      getRoleOverridePermissions: (namespace, roleId) =>
        this.getRoleOverridePermissions(namespace, roleId),
      getNamespaceContext: (namespace) => this.getNamespaceContext(namespace),
      now: o.now,
    }
  }

  // ---------------------------------------------------------------- client token

  /**
   * Grants this service its client token (`client_credentials`) and keeps it fresh in the
   * background at 0.8 of its lifetime. Concurrent calls share one grant.
   * Throws `ERR_IAM_CLIENT_UNAUTHORIZED` for wrong credentials, `ERR_IAM_UNAVAILABLE` when the IAM
   * cannot be reached within the request budget.
   */
  clientTokenGrant(): Promise<void> {
    this.#assertOpen()
    // The shared store connects while the token is granted.
    this.#shared?.open()
    return this.#token.start().then(() => undefined)
  }

  /** The current client token, or `''` before the first grant. */
  clientToken(): string {
    return this.#token.value?.accessToken ?? ''
  }

  /**
   * A delegate token for `extendNamespace` (the `extend_client_credentials` grant), cached for
   * 0.8 of its lifetime; concurrent calls for one namespace share one grant.
   */
  delegateToken(extendNamespace: string): Promise<string> {
    this.#assertOpen()
    if (typeof extendNamespace !== 'string' || extendNamespace === '') {
      return Promise.reject(
        new TypeError('delegateToken(extendNamespace): a non-empty namespace is required'),
      )
    }
    return this.#delegateTokens
      .getOrLoad(
        extendNamespace,
        () =>
          this.#grant(
            {
              grant_type: 'urn:ietf:params:oauth:grant-type:extend_client_credentials',
              extendNamespace,
            },
            'delegate token grant',
          ),
        (token) => token.expiresInSeconds * 1000 * TOKEN_REFRESH_RATIO,
      )
      .then((token) => token.accessToken)
  }

  async #grant(form: Record<string, string>, endpoint: string): Promise<GrantedToken> {
    const response = await this.#request({
      endpoint,
      method: 'POST',
      url: `${this.options.baseUrl}/v3/oauth/token`,
      auth: 'basic',
      form,
    })
    if (response.status !== 200 && response.status !== 201)
      throw unexpectedStatus(endpoint, response)
    const body = parseJsonBody(endpoint, response) as Partial<TokenResponse> | null
    const accessToken = body?.access_token
    const expiresIn = body?.expires_in
    if (
      typeof accessToken !== 'string' ||
      accessToken === '' ||
      typeof expiresIn !== 'number' ||
      !(expiresIn > 0)
    ) {
      throw new IamError(
        'ERR_IAM_BAD_RESPONSE',
        `IAM ${endpoint}: body lacks access_token or expires_in`,
      )
    }
    return { accessToken, expiresInSeconds: expiresIn, receivedAt: this.options.now() }
  }

  // ---------------------------------------------------------------- token validation

  /**
   * Asks the IAM whether a token is valid (`POST /v3/oauth/verify`). `false` for an invalid,
   * expired or revoked token; throws only when the IAM cannot answer (or rejects this client).
   */
  async validateAccessToken(token: string): Promise<boolean> {
    this.#assertOpen()
    if (typeof token !== 'string' || token === '') return false
    const response = await this.#request({
      endpoint: 'verify',
      method: 'POST',
      url: `${this.options.baseUrl}/v3/oauth/verify`,
      auth: 'basic',
      form: { token },
    })
    if (response.status === 200) return true
    if (response.status === 401) throw unexpectedStatus('verify', response)
    return false
  }

  /**
   * Loads the JWKS and the revocation list and refreshes both in the background
   * (`jwksRefreshIntervalMs`, `revocationListRefreshIntervalMs`). Rejects when either first load
   * fails; background refreshes keep trying, and validation works as soon as both are loaded.
   */
  async startLocalValidation(): Promise<void> {
    this.#assertOpen()
    this.#localValidationStarted = true
    this.#subscribeSnapshots()
    await Promise.all([
      this.#jwks.value === undefined || !this.#jwks.started ? this.#jwks.start() : undefined,
      this.#revocation.value === undefined || !this.#revocation.started
        ? this.#revocation.start()
        : undefined,
    ])
  }

  /**
   * Reloads the key set and the revocation list now (joining a refresh already in flight), for
   * tests and for an admin hook that must make a revocation count at once. Rejects when either
   * reload fails (the last good values keep serving).
   *
   * @example
   * ```ts
   * app.post('/admin/iam/refresh', async (_req, res) => { await iam.client.refresh(); res.sendStatus(204) })
   * ```
   */
  async refresh(): Promise<void> {
    this.#assertOpen()
    if (!this.#localValidationStarted) {
      throw new IamError(
        'ERR_IAM_LOCAL_VALIDATION_NOT_STARTED',
        'call startLocalValidation() before refresh()',
      )
    }
    await Promise.all([this.#jwks.refresh(), this.#revocation.refresh()])
  }

  /**
   * Validates an access token locally and returns its claims (wire names, deep-frozen).
   * Does no I/O when the token's key is known. Throws an `IamError`:
   * `ERR_IAM_TOKEN_MALFORMED`, `ERR_IAM_TOKEN_KEY_UNKNOWN`, `ERR_IAM_TOKEN_ALGORITHM`,
   * `ERR_IAM_TOKEN_SIGNATURE`, `ERR_IAM_TOKEN_EXPIRED`, `ERR_IAM_TOKEN_NOT_YET_VALID`,
   * `ERR_IAM_USER_REVOKED`, `ERR_IAM_TOKEN_REVOKED`, `ERR_IAM_LOCAL_VALIDATION_NOT_STARTED`,
   * `ERR_IAM_NOT_READY` (started, but the IAM has not answered yet) or `ERR_IAM_CLOSED`.
   */
  validateAndParseClaims(token: string): Promise<JwtClaims> {
    if (this.#closed) {
      return Promise.reject(new IamError('ERR_IAM_CLOSED', 'this IamClient was closed'))
    }
    if (!this.#localValidationStarted) {
      return Promise.reject(
        new IamError(
          'ERR_IAM_LOCAL_VALIDATION_NOT_STARTED',
          'call startLocalValidation() before validateAndParseClaims()',
        ),
      )
    }
    return this.#verifier.verify(token)
  }

  /**
   * The claims of a token this client validated before, without waiting (the hot path of the
   * framework integrations); `undefined` when it has to be validated in full
   * ({@link validateAndParseClaims}). Throws what a cache hit can find: expired, revoked.
   */
  validateCachedClaims(token: string): JwtClaims | undefined {
    if (this.#closed || !this.#localValidationStarted) return undefined
    return this.#verifier.verifyCached(token)
  }

  /**
   * {@link validateAndParseClaims} without waiting, when no I/O is needed: the claims of a token
   * validated before or validated now in full; `undefined` when its key is not in the key set
   * yet (key rotation: {@link validateAndParseClaims} refetches it), when the key set and
   * revocation list are not loaded, or before {@link startLocalValidation} / after `close()`.
   * Throws the same refusals as {@link validateAndParseClaims}.
   *
   * @example
   * ```ts
   * const claims = iam.validateClaimsSync(token) ?? (await iam.validateAndParseClaims(token))
   * ```
   */
  validateClaimsSync(token: string): JwtClaims | undefined {
    if (this.#closed || !this.#localValidationStarted) return undefined
    return this.#verifier.verifyNow(token)
  }

  /**
   * Whether the token's own permissions grant `required` (resource with placeholders already
   * substituted), decided without waiting. `false` means "ask {@link validatePermission}": a
   * role may still allow.
   */
  grantedByTokenPermissions(
    claims: JwtClaims,
    required: { resource: string; action: number },
  ): boolean {
    return grantedByTokenPermissions(claims, required.resource, required.action, this.options.now())
  }

  // ---------------------------------------------------------------- access decisions

  /**
   * Whether the claims grant `required` (docs/iam-wire-protocol.md#31-decision-order: claim permissions, then namespace
   * roles, then roles). `resources` maps placeholders such as `{namespace}` to values; every
   * occurrence is replaced and the caller's object is left untouched.
   * Throws `ERR_IAM_INVALID_PERMISSION` for a malformed `required`, and IAM errors when role or
   * namespace information cannot be fetched.
   */
  validatePermission(
    claims: JwtClaims,
    required: RequiredPermission,
    resources?: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    if (claims === null || typeof claims !== 'object') return RESOLVED_FALSE
    // A grant among the token's own permissions answers without building a decision: the
    // common case, and the one callers run per request.
    try {
      const { resource, action } = normalizeRequiredPermission(required)
      const substituted = substitutePlaceholders(resource, resources)
      if (grantedByTokenPermissions(claims, substituted, action, this.options.now()))
        return RESOLVED_TRUE
    } catch (error) {
      return Promise.reject(error)
    }
    return evaluatePermission(claims, required, resources, this.#permissionSources).then(
      (decision) => decision.allowed,
    )
  }

  /** Like {@link validatePermission}, with the grant that allowed access and every step looked at. */
  explainPermission(
    claims: JwtClaims,
    required: RequiredPermission,
    resources?: Readonly<Record<string, string>>,
  ): Promise<PermissionDecision> {
    return evaluatePermission(claims, required, resources, this.#permissionSources, {
      explain: true,
    })
  }

  /** Whether `roleId` is among the token's (deprecated) global `roles`. */
  validateRole(roleId: string, claims: JwtClaims): boolean {
    return Array.isArray(claims?.roles) && claims.roles.includes(roleId)
  }

  /** Throws `ERR_IAM_INSUFFICIENT_SCOPE` unless `scope` is one of the token's space-separated scopes. */
  validateScope(claims: JwtClaims, scope: string): void {
    const scopes = typeof claims?.scope === 'string' ? claims.scope.split(' ') : []
    if (!scopes.includes(scope)) {
      throw new IamError('ERR_IAM_INSUFFICIENT_SCOPE', `token lacks scope "${scope}"`)
    }
  }

  /**
   * When the token has an `aud` claim, requires that it contains this client's `baseUri`
   * (fetched from the IAM for the token's namespace); throws `ERR_IAM_INVALID_AUDIENCE`
   * otherwise. A token without `aud` passes, as in the Go SDK.
   */
  async validateAudience(claims: JwtClaims): Promise<void> {
    if (claims === null || typeof claims !== 'object') {
      throw new IamError('ERR_IAM_INVALID_AUDIENCE', 'no claims to check the audience of')
    }
    if (claims.aud === undefined) return
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
    const info = await this.getClientInformation(claims.namespace, this.options.clientId)
    if (!audiences.includes(info.baseUri)) {
      throw new IamError(
        'ERR_IAM_INVALID_AUDIENCE',
        `token audience does not include "${info.baseUri}"`,
      )
    }
  }

  /** Whether the token carries a ban of `banType`. */
  hasBan(claims: JwtClaims, banType: string): boolean {
    return Array.isArray(claims?.bans) && claims.bans.some((ban) => ban.Ban === banType)
  }

  /** Whether the user's email is verified (`jflgs` bit 1). */
  userEmailVerificationStatus(claims: JwtClaims): boolean {
    return ((claims?.jflgs ?? 0) & 1) === 1
  }

  /** Whether the user's phone is verified (`jflgs` bit 2). */
  userPhoneVerificationStatus(claims: JwtClaims): boolean {
    return ((claims?.jflgs ?? 0) & 2) === 2
  }

  /** Whether the user is anonymous (`jflgs` bit 4). */
  userAnonymousStatus(claims: JwtClaims): boolean {
    return ((claims?.jflgs ?? 0) & 4) === 4
  }

  /**
   * Whether the token's user has `subscription`. A token without `subs` is not restricted
   * (subscribed to everything); `subs: []` has none. Names compare case-insensitively.
   */
  isSubscribed(claims: JwtClaims, subscription: string): boolean {
    const subs = claims?.subs
    if (subs === undefined || subs === null) return true
    const wanted = subscription.toLowerCase()
    return subs.some((s) => typeof s === 'string' && s.toLowerCase() === wanted)
  }

  // ---------------------------------------------------------------- IAM lookups (cached)

  /**
   * Permissions of a role (`GET /v3/admin/roles/{roleId}`), cached for `rolesCacheTtlMs`.
   * An unknown role has no permissions (`[]`). Throws `ERR_IAM_CLIENT_FORBIDDEN` when this
   * service's client may not read roles (it needs `ADMIN:ROLE` action 2).
   */
  getRolePermissions(roleId: string): Promise<readonly WirePermission[]> {
    this.#assertOpen()
    const role = pathSegment(roleId)
    if (role === undefined) return Promise.resolve(NO_PERMISSIONS)
    return this.#cached(
      this.#roles,
      roleId,
      ['role', roleId],
      permissionsCodec('role'),
      async () => {
        const response = await this.#request({
          endpoint: 'role',
          method: 'GET',
          url: `${this.options.baseUrl}/v3/admin/roles/${role}`,
          auth: 'bearer',
        })
        if (response.status === 404) return NO_PERMISSIONS
        if (response.status !== 200) throw roleError('role', response)
        return readPermissions('role', parseJsonBody('role', response))
      },
      () => this.options.rolesCacheTtlMs,
    )
  }

  /**
   * Permissions of a role as overridden in a namespace
   * (`GET /v3/admin/namespaces/{namespace}/roleoverride/{roleId}/permissions`), cached like roles.
   * Used for the default user role, as the Go SDK does.
   */
  getRoleOverridePermissions(
    namespace: string,
    roleId: string,
  ): Promise<readonly WirePermission[]> {
    this.#assertOpen()
    const ns = pathSegment(namespace)
    const role = pathSegment(roleId)
    if (ns === undefined || role === undefined) return Promise.resolve(NO_PERMISSIONS)
    return this.#cached(
      this.#roleOverrides,
      `${namespace}:${roleId}`,
      ['role-override', namespace, roleId],
      permissionsCodec('role override'),
      async () => {
        const response = await this.#request({
          endpoint: 'role override',
          method: 'GET',
          url: `${this.options.baseUrl}/v3/admin/namespaces/${ns}/roleoverride/${role}/permissions`,
          auth: 'bearer',
        })
        if (response.status === 404) return NO_PERMISSIONS
        if (response.status !== 200) throw roleError('role override', response)
        return readPermissions('role override', parseJsonBody('role override', response))
      },
      () => this.options.rolesCacheTtlMs,
    )
  }

  /**
   * Information about an OAuth client (`GET /v3/admin/namespaces/{namespace}/clients/{clientId}`),
   * cached per `namespace:clientId` for `clientInfoCacheTtlMs`. Throws `ERR_IAM_NOT_FOUND` for an
   * unknown client, `ERR_IAM_CLIENT_FORBIDDEN` when this service may not read clients.
   */
  getClientInformation(namespace: string, clientId: string): Promise<ClientInformation> {
    this.#assertOpen()
    const ns = pathSegment(namespace)
    const id = pathSegment(clientId)
    const notFound = () =>
      new IamError(
        'ERR_IAM_NOT_FOUND',
        `client ${JSON.stringify(clientId)} not found in namespace ${JSON.stringify(namespace)}`,
        { iamStatus: 404 },
      )
    if (ns === undefined || id === undefined) return Promise.reject(notFound())
    return this.#cached(
      this.#clients,
      `${namespace}:${clientId}`,
      ['client-information', namespace, clientId],
      CLIENT_INFORMATION_CODEC,
      async () => {
        const response = await this.#request({
          endpoint: 'client information',
          method: 'GET',
          url: `${this.options.baseUrl}/v3/admin/namespaces/${ns}/clients/${id}`,
          auth: 'bearer',
        })
        if (response.status === 404) throw notFound()
        if (response.status !== 200) throw unexpectedStatus('client information', response)
        return readClientInformation(parseJsonBody('client information', response))
      },
      () => this.options.clientInfoCacheTtlMs,
    )
  }

  /**
   * Namespace context from the basic service
   * (`GET {basicBaseUrl}/v1/admin/namespaces/{namespace}/context?activeOnly=true`), or `null`
   * when the namespace does not exist. Found contexts are cached `namespaceContextCacheTtlMs`,
   * not-found answers `namespaceNotFoundCacheTtlMs`.
   */
  getNamespaceContext(namespace: string): Promise<NamespaceContext | null> {
    this.#assertOpen()
    const ns = pathSegment(namespace)
    if (ns === undefined) return Promise.resolve(null)
    return this.#cached(
      this.#namespaces,
      namespace,
      ['namespace-context', namespace],
      NAMESPACE_CONTEXT_CODEC,
      async () => {
        const response = await this.#request({
          endpoint: 'namespace context',
          method: 'GET',
          url: `${this.options.basicBaseUrl}/v1/admin/namespaces/${ns}/context?activeOnly=true`,
          auth: 'bearer',
        })
        if (response.status === 404) return null
        if (response.status !== 200) throw unexpectedStatus('namespace context', response)
        const body = parseJsonBody('namespace context', response) as Record<string, unknown> | null
        if (body === null || typeof body !== 'object') {
          throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM namespace context: body is not an object')
        }
        return readNamespaceContext(body)
      },
      (context) =>
        context === null
          ? this.options.namespaceNotFoundCacheTtlMs
          : this.options.namespaceContextCacheTtlMs,
    )
  }

  // ---------------------------------------------------------------- health and lifecycle

  /**
   * `true` when the client can decide requests on its own: the client token, the key set and
   * the revocation list are loaded and the last refresh of none of them failed. `false` before
   * they have loaded (or when local validation was never started).
   */
  healthCheck(): boolean {
    return this.health().healthy
  }

  /**
   * Per background resource: loaded, last success, last error, age of the value served, whether
   * it is served stale; and how many cached IAM answers are served stale during an outage.
   */
  health(): IamHealthReport {
    const token = this.#token.value
    const clientToken = this.#token.health()
    const jwks = this.#jwks.health()
    const revocation = this.#revocation.health()
    const resources = [clientToken, jwks, revocation]
    return {
      healthy: resources.every((r) => r.loaded && !r.failing),
      clientToken: {
        ...clientToken,
        expiresAt: token ? token.receivedAt + token.expiresInSeconds * 1000 : undefined,
      },
      jwks: { ...jwks, keyIds: [...(this.#jwks.value?.value.keys.keys() ?? [])] },
      revocationList: {
        ...revocation,
        revokedUsers: this.#revocation.value?.value.revokedUsers.size ?? 0,
      },
      caches: {
        roles: this.#roles.staleness(),
        roleOverrides: this.#roleOverrides.staleness(),
        clientInformation: this.#clients.staleness(),
        namespaceContexts: this.#namespaces.staleness(),
      },
      sharedCache: this.#shared?.health() ?? NO_SHARED_CACHE,
    }
  }

  /**
   * Stops every background timer and forgets cached data; with a `cacheStore`, stops listening
   * to it and releases it (a store closes the connections it made once no client uses it). Safe
   * to call twice.
   */
  async close(): Promise<void> {
    const wasClosed = this.#closed
    this.#closed = true
    this.#metrics.close()
    this.#token.close()
    this.#jwks.close()
    this.#revocation.close()
    this.#verifier.clear()
    for (const c of [
      this.#roles,
      this.#roleOverrides,
      this.#clients,
      this.#namespaces,
      this.#delegateTokens,
    ]) {
      c.clear()
    }
    if (!wasClosed) await this.#shared?.close()
  }

  // ---------------------------------------------------------------- inspection (read-only)

  /**
   * The JWKS this client validates tokens with: key IDs, declared algorithm, modulus size.
   * A frozen copy; `undefined` until the first load ({@link startLocalValidation}).
   *
   * @example
   * ```ts
   * await iam.startLocalValidation()
   * for (const key of iam.keySetSnapshot()?.keys ?? []) console.log(key.kid, key.alg, key.modulusBits)
   * ```
   */
  keySetSnapshot(): KeySetSnapshot | undefined {
    const keys = this.#jwks.value
    return keys === undefined ? undefined : snapshotKeySet(keys.value)
  }

  /**
   * The revocation list this client checks tokens against: filter size and false-positive rate,
   * revoked users, and a copy of the filter to test tokens with. A frozen copy; `undefined` until
   * the first load ({@link startLocalValidation}).
   *
   * @example
   * ```ts
   * await iam.startLocalValidation()
   * const list = iam.revocationListSnapshot()
   * list?.filter.mightContain(token) // true: revoked (or a false positive)
   * ```
   */
  revocationListSnapshot(): RevocationListSnapshot | undefined {
    const list = this.#revocation.value
    return list === undefined ? undefined : snapshotRevocationList(list.value)
  }

  // ---------------------------------------------------------------- internals

  #assertOpen(): void {
    if (this.#closed) throw new IamError('ERR_IAM_CLOSED', 'this IamClient was closed')
  }

  #request(request: Omit<IamCall, 'budgetMs'>): ReturnType<IamTransport['send']> {
    return this.#http.send({ ...request, budgetMs: this.options.requestBudgetMs })
  }

  /**
   * A cached IAM answer: from memory, else (with a shared store) from the store or the IAM under
   * the store's lock, else from the IAM. A TTL of 0 keeps the answer out of both levels.
   */
  #cached<V>(
    cache: TtlCache<V>,
    key: string,
    sharedKey: readonly string[],
    codec: EntryCodec<V>,
    load: () => Promise<V>,
    ttlFor: (value: V) => number,
  ): Promise<V> {
    const shared = this.#shared
    const [kind, ...parts] = sharedKey as [string, ...string[]]
    // Nothing would be written: waiting on other replicas' locks would only add latency.
    if (shared === undefined || this.#longestTtl(kind) === 0) {
      return cache.getOrLoad(key, load, ttlFor)
    }
    return cache.getOrLoadEntry(key, () =>
      shared.loadEntry(shared.key(kind, ...parts), codec, load, ttlFor),
    )
  }

  /** The longest TTL an entry of `kind` can have, in ms. */
  #longestTtl(kind: string): number {
    const o = this.options
    if (kind === 'client-information') return o.clientInfoCacheTtlMs
    if (kind === 'namespace-context') {
      return Math.max(o.namespaceContextCacheTtlMs, o.namespaceNotFoundCacheTtlMs)
    }
    return o.rolesCacheTtlMs
  }

  /**
   * The oldest fetch a shared snapshot may come from, for a fetch started for `reason` while the
   * snapshot fetched at `current` is served: an explicit refresh wants what the IAM says now; an
   * unknown key takes any snapshot newer than the one served, and otherwise respects the cooldown
   * fleet-wide; the first load and the timer take one that is less than an interval old.
   */
  #minFetchedAt(reason: FetchReason, intervalMs: number, current: number | undefined): number {
    const now = this.options.now()
    switch (reason) {
      case 'refresh':
        return now
      case 'cooldown':
        return Math.min(now - this.options.jwksRefetchCooldownMs, (current ?? -Infinity) + 1)
      default:
        return now - intervalMs
    }
  }

  #snapshotTtl(intervalMs: number): number {
    return Math.min(MAX_STORE_TTL_MS, intervalMs * SNAPSHOT_TTL_INTERVALS)
  }

  async #loadJwks(reason: FetchReason): Promise<Snapshot<KeySet>> {
    const parse = (raw: string) => this.#parseJwks(raw)
    const fetchRaw = () => this.#fetchJwksBody()
    if (this.#shared === undefined) {
      const fetchedAt = this.options.now()
      return { value: parse(await fetchRaw()), fetchedAt }
    }
    const interval = this.options.jwksRefreshIntervalMs
    return this.#shared.loadSnapshot(
      'jwks',
      parse,
      fetchRaw,
      this.#minFetchedAt(reason, interval, this.#jwks.value?.fetchedAt),
      this.#snapshotTtl(interval),
    )
  }

  async #loadRevocationList(reason: FetchReason): Promise<Snapshot<RevocationList>> {
    const fetchRaw = () => this.#fetchRevocationListBody()
    if (this.#shared === undefined) {
      const fetchedAt = this.options.now()
      return { value: parseRevocationList(await fetchRaw()), fetchedAt }
    }
    const interval = this.options.revocationListRefreshIntervalMs
    return this.#shared.loadSnapshot(
      'revocation-list',
      parseRevocationList,
      fetchRaw,
      this.#minFetchedAt(reason, interval, this.#revocation.value?.fetchedAt),
      this.#snapshotTtl(interval),
    )
  }

  /** Adopts the newer JWKS and revocation list snapshots other replicas announce. */
  #subscribeSnapshots(): void {
    const shared = this.#shared
    if (shared === undefined) return
    shared.subscribeSnapshots('jwks', {
      parse: (raw) => this.#parseJwks(raw),
      current: () => this.#jwks.value?.fetchedAt,
      offer: (snapshot) => this.#jwks.offer(snapshot),
    })
    shared.subscribeSnapshots('revocation-list', {
      parse: parseRevocationList,
      current: () => this.#revocation.value?.fetchedAt,
      offer: (snapshot) => this.#revocation.offer(snapshot),
    })
  }

  /** The JWKS body exactly as the IAM sent it. */
  async #fetchJwksBody(): Promise<string> {
    const response = await this.#request({
      endpoint: 'jwks',
      method: 'GET',
      url: `${this.options.baseUrl}/v3/oauth/jwks`,
      auth: 'basic',
    })
    if (response.status !== 200) throw unexpectedStatus('jwks', response)
    return response.text
  }

  #parseJwks(raw: string): KeySet {
    const body = parseJsonBody('jwks', { status: 200, text: raw })
    const keys = parseJwks(body, this.options.logger, this.#warnedKeys)
    const previous = this.#jwks.value?.value
    // Keep the same object when nothing changed, so verified tokens stay cached.
    return previous !== undefined && previous.fingerprint === keys.fingerprint ? previous : keys
  }

  /** The revocation list body exactly as the IAM sent it (its 64-bit words are parsed losslessly). */
  async #fetchRevocationListBody(): Promise<string> {
    const response = await this.#request({
      endpoint: 'revocation list',
      method: 'GET',
      url: `${this.options.baseUrl}/v3/oauth/revocationlist`,
      auth: 'basic',
    })
    if (response.status !== 200) throw unexpectedStatus('revocation list', response)
    return response.text
  }
}

/** Longest TTL written to the store, in ms (the longest delay a timer honours). */
const MAX_STORE_TTL_MS = 2_147_483_647

/**
 * The scope of this client's keys in a shared store, `<iam>:<clientId>`: `<iam>` is the first 16
 * hex digits of the SHA-256 of the IAM and basic-service base URLs.
 */
function sharedScope(o: ResolvedIamClientOptions): string {
  const iam = createHash('sha256')
    .update(`${o.baseUrl}\n${o.basicBaseUrl}`)
    .digest('hex')
    .slice(0, 16)
  return `${iam}:${encodeURIComponent(o.clientId)}`
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

const NO_PERMISSIONS: readonly WirePermission[] = Object.freeze([])

/** Role permissions in the store: the list, read back as strictly as from the IAM. */
function permissionsCodec(endpoint: string): EntryCodec<readonly WirePermission[]> {
  return {
    encode: (permissions) => permissions,
    decode: (json) => readPermissions(endpoint, { permissions: json }),
  }
}

/** Client information in the store, without any field that names a secret. */
const CLIENT_INFORMATION_CODEC: EntryCodec<ClientInformation> = {
  encode: (info) =>
    Object.fromEntries(Object.entries(info).filter(([field]) => !/secret/i.test(field))),
  decode: (json) => readClientInformation(json),
}

/** A namespace context in the store; `null` (not found) is shared too. */
const NAMESPACE_CONTEXT_CODEC: EntryCodec<NamespaceContext | null> = {
  encode: (context) => context,
  decode: (json) => {
    if (json === null) return null
    if (typeof json !== 'object' || Array.isArray(json)) {
      throw new IamError('ERR_IAM_BAD_RESPONSE', 'namespace context: not an object')
    }
    return readNamespaceContext(json as Record<string, unknown>)
  },
}

function readNamespaceContext(body: Record<string, unknown>): NamespaceContext {
  return Object.freeze({
    namespace: str(body.namespace),
    type: str(body.type),
    studioNamespace: str(body.studioNamespace),
    publisherNamespace: str(body.publisherNamespace),
  })
}

/**
 * Client information from its body. `redirectUri` decides CSRF, so only a string is taken: a
 * missing or mistyped one is `ERR_IAM_BAD_RESPONSE`, never "no redirect URI registered".
 */
function readClientInformation(body: unknown): ClientInformation {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM client information: body is not an object')
  }
  const info = body as Record<string, unknown>
  if (typeof info.redirectUri !== 'string') {
    throw new IamError(
      'ERR_IAM_BAD_RESPONSE',
      'IAM client information: "redirectUri" is missing or not a string',
    )
  }
  if (info.baseUri !== undefined && info.baseUri !== null && typeof info.baseUri !== 'string') {
    throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM client information: "baseUri" is not a string')
  }
  return Object.freeze({
    ...info,
    clientId: str(info.clientId ?? info.clientID),
    clientName: str(info.clientName),
    namespace: str(info.namespace),
    redirectUri: info.redirectUri,
    baseUri: str(info.baseUri),
  }) as ClientInformation
}

function roleError(endpoint: string, response: { status: number; text: string }): IamError {
  if (response.status === 403) {
    return new IamError(
      'ERR_IAM_CLIENT_FORBIDDEN',
      `IAM ${endpoint}: this service's client may not read roles (HTTP 403); grant it ADMIN:ROLE action 2 (read)`,
      { iamStatus: 403 },
    )
  }
  return unexpectedStatus(endpoint, response)
}

/** Reads `permissions` from a role or role-override body, in either key casing. */
function readPermissions(endpoint: string, body: unknown): readonly WirePermission[] {
  const record = body as Record<string, unknown> | null
  const list = record?.permissions ?? record?.Permissions
  if (list === null || list === undefined) return Object.freeze([])
  if (!Array.isArray(list)) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', `IAM ${endpoint}: "permissions" is not an array`)
  }
  const out: WirePermission[] = []
  for (const item of list as unknown[]) {
    const permission = readWirePermission(item)
    if (permission === undefined) {
      throw new IamError(
        'ERR_IAM_BAD_RESPONSE',
        `IAM ${endpoint}: a permission lacks resource or action`,
      )
    }
    out.push(permission)
  }
  return Object.freeze(out)
}
