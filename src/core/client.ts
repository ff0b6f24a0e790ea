/**
 * The framework-free IAM client: everything the Python and Go IAM SDKs do, with caches that
 * expire, single-flight fetches and timers that never keep a process alive.
 */
import { IamError } from './errors.js'
import { IamHttp, parseJsonBody, unexpectedStatus, type IamRequest } from './iam-http.js'
import { parseJwks, type KeySet } from './jwks.js'
import {
  resolveClientOptions,
  type IamClientOptions,
  type ResolvedIamClientOptions,
} from './options.js'
import {
  evaluatePermission,
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
import { RemoteResource, type ResourceHealth } from './remote-resource.js'
import { parseRevocationList, type RevocationList } from './revocation-list.js'
import { TokenVerifier } from './token-verifier.js'
import { TtlCache } from './cache.js'
import type {
  ClientInformation,
  JwtClaims,
  NamespaceContext,
  RequiredPermission,
  TokenResponse,
  WirePermission,
} from './types.js'

/** Health of the client and of each background resource. */
export interface IamHealthReport {
  /** Same as {@link IamClient.healthCheck}. */
  healthy: boolean
  clientToken: ResourceHealth & { expiresAt: number | undefined }
  jwks: ResourceHealth & { keyIds: string[] }
  revocationList: ResourceHealth & { revokedUsers: number }
}

interface GrantedToken {
  accessToken: string
  expiresInSeconds: number
  receivedAt: number
}

const TOKEN_REFRESH_RATIO = 0.8
const FIRST_RETRY_DELAY_MS = 1_000

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

  readonly #http: IamHttp
  readonly #verifier: TokenVerifier
  readonly #jwks: RemoteResource<KeySet>
  readonly #revocation: RemoteResource<RevocationList>
  readonly #roles: TtlCache<readonly WirePermission[]>
  readonly #roleOverrides: TtlCache<readonly WirePermission[]>
  readonly #clients: TtlCache<ClientInformation>
  readonly #namespaces: TtlCache<NamespaceContext | null>
  readonly #delegateTokens: TtlCache<GrantedToken>
  readonly #permissionSources: PermissionSources
  #revocationVersion = 0
  #token: GrantedToken | undefined
  #grantInFlight: Promise<void> | undefined
  #tokenTimer: NodeJS.Timeout | undefined
  #tokenRefreshActive = false
  #tokenFailures = 0
  #tokenLastSuccessAt: number | undefined
  #tokenLastErrorAt: number | undefined
  #tokenLastError: string | undefined
  #localValidationStarted = false
  #closed = false

  /** Validates the options (a `TypeError` naming a bad one); does no I/O. */
  constructor(options: IamClientOptions) {
    this.options = resolveClientOptions(options)
    const o = this.options
    this.#http = new IamHttp(o)
    this.#http.setBearerSource({
      current: () => this.clientToken(),
      refresh: () => this.clientTokenGrant(),
    })
    const cache = <V>(ttlMs: number) =>
      new TtlCache<V>({ maxEntries: o.cacheMaxEntries, ttlMs, now: o.now })
    this.#roles = cache(o.rolesCacheTtlMs)
    this.#roleOverrides = cache(o.rolesCacheTtlMs)
    this.#clients = cache(o.clientInfoCacheTtlMs)
    this.#namespaces = cache(o.namespaceContextCacheTtlMs)
    this.#delegateTokens = cache(0)
    this.#jwks = new RemoteResource({
      name: 'JWKS',
      fetch: () => this.#fetchJwks(),
      intervalMs: o.jwksRefreshIntervalMs,
      retryMaxDelayMs: o.backgroundRetryMaxDelayMs,
      now: o.now,
      logger: o.logger,
    })
    this.#revocation = new RemoteResource({
      name: 'revocation list',
      fetch: () => this.#fetchRevocationList(),
      onValue: () => {
        this.#revocationVersion++
      },
      intervalMs: o.revocationListRefreshIntervalMs,
      retryMaxDelayMs: o.backgroundRetryMaxDelayMs,
      now: o.now,
      logger: o.logger,
    })
    this.#verifier = new TokenVerifier(
      {
        algorithms: o.algorithms,
        clockToleranceMs: o.clockToleranceMs,
        cacheSize: o.verifiedTokenCacheSize,
        now: o.now,
      },
      {
        keySet: () => this.#jwks.value,
        revocationList: () => this.#revocation.value,
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
    if (this.#grantInFlight) return this.#grantInFlight
    this.#tokenRefreshActive = true
    const grant = this.#grant({ grant_type: 'client_credentials' }, 'token grant')
      .then((token) => {
        this.#token = token
        this.#tokenFailures = 0
        this.#tokenLastSuccessAt = this.options.now()
        this.#tokenLastError = undefined
        this.#scheduleTokenRefresh(token.expiresInSeconds * 1000 * TOKEN_REFRESH_RATIO)
      })
      .catch((error: unknown) => {
        this.#tokenFailures++
        this.#tokenLastErrorAt = this.options.now()
        this.#tokenLastError = (error as Error).message
        throw error
      })
      .finally(() => {
        this.#grantInFlight = undefined
      })
    this.#grantInFlight = grant
    return grant
  }

  /** The current client token, or `''` before the first grant. */
  clientToken(): string {
    return this.#token?.accessToken ?? ''
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

  #scheduleTokenRefresh(delayMs: number): void {
    if (this.#closed) return
    if (this.#tokenTimer) clearTimeout(this.#tokenTimer)
    this.#tokenTimer = setTimeout(
      () => {
        this.#tokenTimer = undefined
        this.clientTokenGrant().catch((error: unknown) => {
          const delay = Math.min(
            this.options.backgroundRetryMaxDelayMs,
            FIRST_RETRY_DELAY_MS * 2 ** (this.#tokenFailures - 1),
          )
          this.options.logger.warn?.(
            `refreshing the client token failed; retrying in ${delay} ms`,
            {
              error: (error as Error).message,
            },
          )
          this.#scheduleTokenRefresh(delay)
        })
      },
      Math.max(1, delayMs),
    )
    this.#tokenTimer.unref()
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
    await Promise.all([
      this.#jwks.value === undefined || !this.#jwks.started ? this.#jwks.start() : undefined,
      this.#revocation.value === undefined || !this.#revocation.started
        ? this.#revocation.start()
        : undefined,
    ])
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

  // ---------------------------------------------------------------- access decisions

  /**
   * Whether the claims grant `required` (reference algorithm: claim permissions, then namespace
   * roles, then roles). `resources` maps placeholders such as `{namespace}` to values; every
   * occurrence is replaced and the caller's object is left untouched.
   * Throws `ERR_IAM_INVALID_PERMISSION` for a malformed `required`, and IAM errors when role or
   * namespace information cannot be fetched.
   */
  async validatePermission(
    claims: JwtClaims,
    required: RequiredPermission,
    resources?: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    if (claims === null || typeof claims !== 'object') return false
    const decision = await evaluatePermission(claims, required, resources, this.#permissionSources)
    return decision.allowed
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
    return this.#roles.getOrLoad(roleId, async () => {
      const response = await this.#request({
        endpoint: 'role',
        method: 'GET',
        url: `${this.options.baseUrl}/v3/admin/roles/${encodeURIComponent(roleId)}`,
        auth: 'bearer',
      })
      if (response.status === 404) return Object.freeze([])
      if (response.status !== 200) throw roleError('role', response)
      return readPermissions('role', parseJsonBody('role', response))
    })
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
    return this.#roleOverrides.getOrLoad(`${namespace}:${roleId}`, async () => {
      const response = await this.#request({
        endpoint: 'role override',
        method: 'GET',
        url: `${this.options.baseUrl}/v3/admin/namespaces/${encodeURIComponent(namespace)}/roleoverride/${encodeURIComponent(roleId)}/permissions`,
        auth: 'bearer',
      })
      if (response.status === 404) return Object.freeze([])
      if (response.status !== 200) throw roleError('role override', response)
      return readPermissions('role override', parseJsonBody('role override', response))
    })
  }

  /**
   * Information about an OAuth client (`GET /v3/admin/namespaces/{namespace}/clients/{clientId}`),
   * cached per `namespace:clientId` for `clientInfoCacheTtlMs`. Throws `ERR_IAM_NOT_FOUND` for an
   * unknown client, `ERR_IAM_CLIENT_FORBIDDEN` when this service may not read clients.
   */
  getClientInformation(namespace: string, clientId: string): Promise<ClientInformation> {
    this.#assertOpen()
    return this.#clients.getOrLoad(`${namespace}:${clientId}`, async () => {
      const response = await this.#request({
        endpoint: 'client information',
        method: 'GET',
        url: `${this.options.baseUrl}/v3/admin/namespaces/${encodeURIComponent(namespace)}/clients/${encodeURIComponent(clientId)}`,
        auth: 'bearer',
      })
      if (response.status === 404) {
        throw new IamError(
          'ERR_IAM_NOT_FOUND',
          `client "${clientId}" not found in namespace "${namespace}"`,
          {
            iamStatus: 404,
          },
        )
      }
      if (response.status !== 200) throw unexpectedStatus('client information', response)
      const body = parseJsonBody('client information', response)
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM client information: body is not an object')
      }
      const info = body as Record<string, unknown>
      return Object.freeze({
        ...info,
        clientId: str(info.clientId ?? info.clientID),
        clientName: str(info.clientName),
        namespace: str(info.namespace),
        redirectUri: str(info.redirectUri),
        baseUri: str(info.baseUri),
      }) as ClientInformation
    })
  }

  /**
   * Namespace context from the basic service
   * (`GET {basicBaseUrl}/v1/admin/namespaces/{namespace}/context?activeOnly=true`), or `null`
   * when the namespace does not exist. Found contexts are cached `namespaceContextCacheTtlMs`,
   * not-found answers `namespaceNotFoundCacheTtlMs`.
   */
  getNamespaceContext(namespace: string): Promise<NamespaceContext | null> {
    this.#assertOpen()
    return this.#namespaces.getOrLoad(
      namespace,
      async () => {
        const response = await this.#request({
          endpoint: 'namespace context',
          method: 'GET',
          url: `${this.options.basicBaseUrl}/v1/admin/namespaces/${encodeURIComponent(namespace)}/context?activeOnly=true`,
          auth: 'bearer',
        })
        if (response.status === 404) return null
        if (response.status !== 200) throw unexpectedStatus('namespace context', response)
        const body = parseJsonBody('namespace context', response) as Record<string, unknown> | null
        if (body === null || typeof body !== 'object') {
          throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM namespace context: body is not an object')
        }
        return Object.freeze({
          namespace: str(body.namespace),
          type: str(body.type),
          studioNamespace: str(body.studioNamespace),
          publisherNamespace: str(body.publisherNamespace),
        })
      },
      (context) =>
        context === null
          ? this.options.namespaceNotFoundCacheTtlMs
          : this.options.namespaceContextCacheTtlMs,
    )
  }

  // ---------------------------------------------------------------- health and lifecycle

  /**
   * `false` when the last attempt of any started background job (client token refresh, JWKS,
   * revocation list) failed; `true` otherwise, including before anything was started.
   */
  healthCheck(): boolean {
    return this.health().healthy
  }

  /** Per background resource: loaded, last success, last error, age of the value served. */
  health(): IamHealthReport {
    const now = this.options.now()
    const tokenFailing = this.#tokenRefreshActive && this.#tokenLastError !== undefined
    const jwks = this.#jwks.health()
    const revocation = this.#revocation.health()
    return {
      healthy: !tokenFailing && !jwks.failing && !revocation.failing,
      clientToken: {
        loaded: this.#token !== undefined,
        lastSuccessAt: this.#tokenLastSuccessAt,
        lastErrorAt: this.#tokenLastErrorAt,
        lastError: this.#tokenLastError,
        ageMs: this.#token ? now - this.#token.receivedAt : undefined,
        failing: tokenFailing,
        expiresAt: this.#token
          ? this.#token.receivedAt + this.#token.expiresInSeconds * 1000
          : undefined,
      },
      jwks: { ...jwks, keyIds: [...(this.#jwks.value?.keys.keys() ?? [])] },
      revocationList: {
        ...revocation,
        revokedUsers: this.#revocation.value?.revokedUsers.size ?? 0,
      },
    }
  }

  /** Stops every background timer and forgets cached data. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#tokenTimer) clearTimeout(this.#tokenTimer)
    this.#tokenTimer = undefined
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
    return keys === undefined ? undefined : snapshotKeySet(keys)
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
    return list === undefined ? undefined : snapshotRevocationList(list)
  }

  // ---------------------------------------------------------------- internals

  #assertOpen(): void {
    if (this.#closed) throw new IamError('ERR_IAM_CLOSED', 'this IamClient was closed')
  }

  #request(request: Omit<IamRequest, 'budgetMs'>): ReturnType<IamHttp['send']> {
    return this.#http.send({ ...request, budgetMs: this.options.requestBudgetMs })
  }

  async #fetchJwks(): Promise<KeySet> {
    const response = await this.#request({
      endpoint: 'jwks',
      method: 'GET',
      url: `${this.options.baseUrl}/v3/oauth/jwks`,
      auth: 'basic',
    })
    if (response.status !== 200) throw unexpectedStatus('jwks', response)
    const keys = parseJwks(parseJsonBody('jwks', response), this.options.logger)
    const previous = this.#jwks.value
    // Keep the same object when nothing changed, so verified tokens stay cached.
    return previous !== undefined && previous.fingerprint === keys.fingerprint ? previous : keys
  }

  async #fetchRevocationList(): Promise<RevocationList> {
    const response = await this.#request({
      endpoint: 'revocation list',
      method: 'GET',
      url: `${this.options.baseUrl}/v3/oauth/revocationlist`,
      auth: 'basic',
    })
    if (response.status !== 200) throw unexpectedStatus('revocation list', response)
    return parseRevocationList(response.text)
  }
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
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
