/**
 * In-memory state of the IAM emulator: namespaces, clients, roles, users, signing keys and
 * revocations, plus token minting and verification. (Faults and request counters are in
 * `faults.ts`.)
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import {
  SignJWT,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  base64url,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose'
import { BloomFilter, serializeRevocationList } from '../index.js'
import type {
  ClaimPermission,
  JwtBan,
  JwtClaims,
  NamespaceContext,
  WirePermission,
} from '../index.js'
import type {
  NamespaceType,
  ResolvedClient,
  ResolvedConfig,
  ResolvedNamespace,
  ResolvedRole,
  ResolvedUser,
} from './config.js'

/** Options of {@link EmulatorState.sign} (the `signToken` escape hatch). */
export interface SignTokenOptions {
  /**
   * `kid` header. Default the current signing key's ID; `null` omits the header (a token the
   * SDKs must reject); any other string is written as-is (an unknown kid).
   */
  kid?: string | null
  /**
   * JWS algorithm. `RS256` (default), `RS384`, `RS512`, `PS256`, `PS384`, `PS512` sign with the
   * current RSA key; `HS256`/`HS384`/`HS512` sign with `secret` (or random bytes); `none` produces
   * an unsecured JWT with an empty signature.
   */
  alg?: string
  /** HMAC secret for the `HS*` algorithms. */
  secret?: string | Uint8Array
  /** `typ` header; default `JWT`; `null` omits it. */
  typ?: string | null
}

interface SigningKey {
  kid: string
  publicKey: CryptoKey
  privateJwk: JWK
  publicJwk: JWK
  retired: boolean
  /** The private key imported per JWS algorithm (same RSA material). */
  byAlg: Map<string, Promise<CryptoKey>>
}

/** A client as the state holds it: its config plus the timestamps client information reports. */
export interface StoredClient extends ResolvedClient {
  createdAt: string
  modifiedAt: string
}

/** Outcome of {@link EmulatorState.verifyToken}. */
export type VerifyResult =
  { ok: true; claims: JwtClaims & JWTPayload; kid: string } | { ok: false; reason: string }

/** 32 random lowercase hex digits, the IAM's ID format. */
export function randomHex(): string {
  return randomBytes(16).toString('hex')
}

/** RFC 3339 UTC with nanosecond-style fractional seconds, as the IAM writes timestamps. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z')
}

/** camelCase → PascalCase permission (JWT casing). */
export function toClaimPermission(p: WirePermission): ClaimPermission {
  const out: ClaimPermission = { Resource: p.resource, Action: p.action }
  if (p.schedAction !== undefined) out.SchedAction = p.schedAction
  if (p.schedCron !== undefined) out.SchedCron = p.schedCron
  if (p.schedRange !== undefined) out.SchedRange = [...p.schedRange]
  return out
}

/** A permission read from a claim or a body in either casing, camelCased. */
export function toWirePermission(p: unknown): WirePermission | undefined {
  if (typeof p !== 'object' || p === null) return undefined
  const o = p as Record<string, unknown>
  const resource = o.resource ?? o.Resource
  const action = o.action ?? o.Action
  if (typeof resource !== 'string' || typeof action !== 'number') return undefined
  const out: WirePermission = { resource, action }
  const schedAction = o.schedAction ?? o.SchedAction
  const schedCron = o.schedCron ?? o.SchedCron
  const schedRange = o.schedRange ?? o.SchedRange
  if (typeof schedAction === 'number') out.schedAction = schedAction
  if (typeof schedCron === 'string') out.schedCron = schedCron
  if (Array.isArray(schedRange)) out.schedRange = schedRange.map(String)
  return out
}

/**
 * True when `granted` allows `required`: resources compared section by section (`:`), a granted
 * `*` section matches any one section and a trailing granted `*` matches the rest; actions by
 * bits. Deliberately small and independent of the SDK's evaluator (which the emulator tests).
 */
export function permits(
  granted: readonly WirePermission[],
  resource: string,
  action: number,
): boolean {
  const want = resource.split(':')
  return granted.some((g) => {
    if ((g.action & action) !== action) return false
    const have = g.resource.split(':')
    for (let i = 0; i < have.length; i++) {
      const h = have[i]!
      if (i >= want.length) return false
      if (h === '*' && i === have.length - 1) return true
      if (h !== '*' && h !== want[i]) return false
    }
    return have.length === want.length
  })
}

/** Constant-time string comparison for secrets. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Everything the emulator holds. Mutations go through methods so that derived data (the bloom
 * filter, the serialized revocation list) is rebuilt only when it changes.
 */
export class EmulatorState {
  issuer = ''
  readonly clientTokenExpiresIn: number
  readonly userTokenExpiresIn: number
  readonly defaultClientId: string
  readonly defaultNamespace: string

  readonly namespaces = new Map<string, ResolvedNamespace>()
  readonly clients = new Map<string, StoredClient>()
  readonly roles = new Map<string, ResolvedRole>()
  /** namespace → roleId → permissions. */
  readonly roleOverrides = new Map<string, Map<string, WirePermission[]>>()
  readonly users = new Map<string, ResolvedUser>()
  readonly refreshTokens = new Map<
    string,
    { userId: string; clientId: string; expiresAtMs: number }
  >()

  private keys: SigningKey[] = []
  private readonly revokedTokens = new Set<string>()
  private readonly revokedUsers = new Map<string, number>()
  private revocationJson: string | undefined

  private constructor(config: ResolvedConfig) {
    this.clientTokenExpiresIn = config.clientTokenExpiresIn
    this.userTokenExpiresIn = config.userTokenExpiresIn
    this.defaultClientId = config.defaultClientId
    this.defaultNamespace = config.defaultNamespace
    const now = rfc3339(Date.now())
    for (const ns of config.namespaces) this.namespaces.set(ns.namespace, ns)
    for (const c of config.clients)
      this.clients.set(c.clientId, { ...c, createdAt: now, modifiedAt: now })
    for (const r of config.roles) this.roles.set(r.roleId, r)
    for (const o of config.roleOverrides) this.setRoleOverride(o.namespace, o.roleId, o.permissions)
    for (const u of config.users) this.users.set(u.userId, u)
  }

  /** Builds the state and its first signing key. */
  static async create(config: ResolvedConfig): Promise<EmulatorState> {
    const state = new EmulatorState(config)
    await state.rotateKeys(false)
    return state
  }

  // --- keys -------------------------------------------------------------------------------

  /** Adds a new signing key (used for new tokens); retires the older ones when asked. */
  async rotateKeys(retireOld: boolean): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
    const kid = randomHex()
    const publicJwk = await exportJWK(publicKey)
    const privateJwk = await exportJWK(privateKey)
    if (retireOld) for (const k of this.keys) k.retired = true
    this.keys.push({
      kid,
      publicKey,
      privateJwk,
      publicJwk,
      retired: false,
      byAlg: new Map([['RS256', Promise.resolve(privateKey)]]),
    })
    return kid
  }

  /** ID of the key new tokens are signed with. */
  get currentKid(): string {
    return this.currentKey.kid
  }

  private get currentKey(): SigningKey {
    return this.keys[this.keys.length - 1]!
  }

  /** The JWKS body: every non-retired key, oldest first. */
  jwks(): { keys: Record<string, string>[] } {
    return {
      keys: this.keys
        .filter((k) => !k.retired)
        .map((k) => ({
          kty: 'RSA',
          use: 'sig',
          kid: k.kid,
          n: String(k.publicJwk.n),
          e: String(k.publicJwk.e),
          alg: 'RS256',
        })),
    }
  }

  /** Signs a raw payload; see {@link SignTokenOptions}. */
  async sign(payload: Record<string, unknown>, options: SignTokenOptions = {}): Promise<string> {
    const alg = options.alg ?? 'RS256'
    const key = this.currentKey
    const header: Record<string, unknown> = { alg }
    const kid = options.kid === undefined ? key.kid : options.kid
    if (kid !== null) header.kid = kid
    const typ = options.typ === undefined ? 'JWT' : options.typ
    if (typ !== null) header.typ = typ
    if (alg === 'none') {
      const enc = (v: unknown): string => base64url.encode(JSON.stringify(v))
      return `${enc(header)}.${enc(payload)}.`
    }
    let signingKey: CryptoKey | Uint8Array
    if (/^HS(256|384|512)$/.test(alg)) {
      const s = options.secret ?? randomBytes(32)
      signingKey = typeof s === 'string' ? new TextEncoder().encode(s) : s
    } else if (/^(RS|PS)(256|384|512)$/.test(alg)) {
      let imported = key.byAlg.get(alg)
      if (!imported) {
        imported = importJWK({ ...key.privateJwk, alg }, alg) as Promise<CryptoKey>
        key.byAlg.set(alg, imported)
      }
      signingKey = await imported
    } else {
      throw new TypeError(`signToken: unsupported alg ${JSON.stringify(alg)}`)
    }
    return new SignJWT(payload as JWTPayload)
      .setProtectedHeader(header as { alg: string })
      .sign(signingKey)
  }

  // --- tokens -----------------------------------------------------------------------------

  private baseClaims(expiresIn: number): Record<string, unknown> {
    const iat = Math.floor(Date.now() / 1000)
    return { iss: this.issuer, iat, exp: iat + expiresIn, jti: randomHex() }
  }

  /** Claims of a client-credentials token. */
  clientClaims(client: StoredClient): Record<string, unknown> {
    return {
      ...this.baseClaims(this.clientTokenExpiresIn),
      bans: [],
      client_id: client.clientId,
      display_name: '',
      is_comply: true,
      jflgs: 0,
      namespace: client.namespace,
      namespace_roles: [],
      permissions: client.permissions.map(toClaimPermission),
      roles: [],
      scope: client.scopes.join(' '),
    }
  }

  /** Claims of a delegate (extend) token: no roles, namespace roles or permissions. */
  delegateClaims(client: StoredClient, extendNamespace: string): Record<string, unknown> {
    return {
      ...this.baseClaims(this.clientTokenExpiresIn),
      bans: [],
      client_id: client.clientId,
      display_name: '',
      extend_namespace: extendNamespace,
      is_comply: true,
      jflgs: 0,
      namespace: client.namespace,
      scope: 'extend',
    }
  }

  /** Claims of a user token (password grant, refresh grant). */
  userClaims(
    user: ResolvedUser,
    clientId: string,
    expiresIn = this.userTokenExpiresIn,
  ): Record<string, unknown> {
    const claims: Record<string, unknown> = {
      ...this.baseClaims(expiresIn),
      bans: user.bans.map((b) => ({ ...b })),
      client_id: clientId,
      display_name: user.display_name,
      is_comply: user.is_comply,
      jflgs: user.jflgs,
      namespace: user.namespace,
      namespace_roles: user.namespace_roles.map((r) => ({ ...r })),
      permissions: user.permissions.map(toClaimPermission),
      roles: [...user.roles],
      scope:
        this.clients.get(clientId)?.scopes.join(' ') ??
        'account commerce social publishing analytics',
      sub: user.userId,
    }
    if (user.country !== undefined) claims.country = user.country
    if (user.subs !== undefined) claims.subs = [...user.subs]
    return claims
  }

  /**
   * Claims for `issueUserToken`: wire names, defaults for everything not given, `expiresIn`
   * (seconds) as a shortcut for `exp`. Explicit `exp`/`iat`/`nbf` win.
   */
  customUserClaims(input: Record<string, unknown>): Record<string, unknown> {
    const { expiresIn, ...given } = input
    const lifetime = typeof expiresIn === 'number' ? expiresIn : this.userTokenExpiresIn
    const base = this.baseClaims(lifetime)
    if (typeof given.iat === 'number' && given.exp === undefined) {
      base.exp = given.iat + lifetime
    }
    const client = this.clients.get(
      typeof given.client_id === 'string' ? given.client_id : this.defaultClientId,
    )
    return {
      ...base,
      bans: [],
      client_id: this.defaultClientId,
      display_name: '',
      is_comply: true,
      jflgs: 1,
      namespace: this.defaultNamespace,
      namespace_roles: [],
      permissions: [],
      roles: [],
      scope: client?.scopes.join(' ') ?? 'account commerce social publishing analytics',
      sub: randomHex(),
      ...given,
    }
  }

  /** Verifies a token as the real IAM's verify endpoint would. */
  async verifyToken(token: string): Promise<VerifyResult> {
    if (token === '') return { ok: false, reason: 'token is empty' }
    let kid = ''
    let claims: JwtClaims & JWTPayload
    try {
      const result = await jwtVerify(
        token,
        (header) => {
          const key = this.keys.find((k) => k.kid === header.kid && !k.retired)
          if (!key) throw new Error('unknown signing key')
          kid = key.kid
          return key.publicKey
        },
        { algorithms: ['RS256'], requiredClaims: ['exp'] },
      )
      claims = result.payload as JwtClaims & JWTPayload
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) }
    }
    if (this.revokedTokens.has(token)) return { ok: false, reason: 'token is revoked' }
    if (typeof claims.sub === 'string' && this.isUserRevoked(claims.sub, claims.iat)) {
      return { ok: false, reason: 'user (owner) of token is revoked' }
    }
    return { ok: true, claims, kid }
  }

  /** Same rule as the SDKs: revoked when floor(revoked_at seconds) >= iat. */
  private isUserRevoked(userId: string, iat: unknown): boolean {
    const at = this.revokedUsers.get(userId)
    if (at === undefined) return false
    return Math.floor(at / 1000) >= (typeof iat === 'number' ? iat : 0)
  }

  // --- clients, users ---------------------------------------------------------------------

  /** The client whose credentials these are, or undefined. Public clients have secret `''`. */
  authenticateClient(clientId: string, secret: string): StoredClient | undefined {
    const client = this.clients.get(clientId)
    if (!client) return undefined
    return sameSecret(client.clientSecret, secret) ? client : undefined
  }

  /** Adds (or replaces) a client; an unknown namespace is created as a Game namespace. */
  putClient(client: ResolvedClient): void {
    if (!this.namespaces.has(client.namespace)) {
      this.namespaces.set(client.namespace, {
        namespace: client.namespace,
        type: 'Game',
        studioNamespace: '',
        publisherNamespace: '',
      })
    }
    const now = rfc3339(Date.now())
    const prev = this.clients.get(client.clientId)
    this.clients.set(client.clientId, {
      ...client,
      createdAt: prev?.createdAt ?? now,
      modifiedAt: now,
    })
  }

  /** Adds (or replaces) a user. */
  putUser(user: ResolvedUser): void {
    for (const u of this.users.values()) {
      if (u.username === user.username && u.userId !== user.userId) {
        throw new TypeError(`createUser: username ${JSON.stringify(user.username)} is taken`)
      }
    }
    this.users.set(user.userId, user)
  }

  /** The user with these credentials, or undefined. */
  authenticateUser(username: string, password: string): ResolvedUser | undefined {
    for (const u of this.users.values()) {
      if (u.username === username) return sameSecret(u.password, password) ? u : undefined
    }
    return undefined
  }

  /** The basic service's namespace context. */
  namespaceContext(namespace: string): NamespaceContext | undefined {
    const ns = this.namespaces.get(namespace)
    if (!ns) return undefined
    return {
      namespace: ns.namespace,
      type: ns.type,
      studioNamespace: ns.studioNamespace,
      publisherNamespace: ns.publisherNamespace,
    }
  }

  /** Type of a namespace, or undefined when unknown. */
  namespaceType(namespace: string): NamespaceType | undefined {
    return this.namespaces.get(namespace)?.type
  }

  // --- roles ------------------------------------------------------------------------------

  /** Sets a namespace's override of a role's permissions; `null` removes it. */
  setRoleOverride(namespace: string, roleId: string, permissions: WirePermission[] | null): void {
    let byRole = this.roleOverrides.get(namespace)
    if (permissions === null) {
      byRole?.delete(roleId)
      return
    }
    if (!byRole) this.roleOverrides.set(namespace, (byRole = new Map()))
    byRole.set(
      roleId,
      permissions.map((p) => ({ ...p })),
    )
  }

  /** Permissions of a role in a namespace: its override there, else its own. */
  rolePermissionsIn(namespace: string, roleId: string): WirePermission[] | undefined {
    const role = this.roles.get(roleId)
    if (!role) return undefined
    return this.roleOverrides.get(namespace)?.get(roleId) ?? role.permissions
  }

  // --- revocation -------------------------------------------------------------------------

  /** Adds a token to the revocation list. */
  revokeToken(token: string): void {
    if (this.revokedTokens.has(token)) return
    this.revokedTokens.add(token)
    this.revocationJson = undefined
  }

  /** Revokes every token of a user issued up to now; returns the `revoked_at` timestamp (ms). */
  revokeUser(userId: string): number {
    const at = Date.now()
    this.revokedUsers.set(userId, at)
    this.revocationJson = undefined
    return at
  }

  /**
   * The revocation list body. The bloom filter is rebuilt from the revoked set whenever it
   * changed, sized so false positives are negligible in a test run (capacity ≥ 1000, fpp 0.001).
   */
  revocationList(): string {
    if (this.revocationJson !== undefined) return this.revocationJson
    const capacity = Math.max(1000, 2 * this.revokedTokens.size)
    const filter = BloomFilter.withCapacity(capacity, 0.001)
    for (const token of this.revokedTokens) filter.add(token)
    const json: string = serializeRevocationList({
      revokedTokens: filter,
      revokedUsers: [...this.revokedUsers].map(([id, revokedAtMs]) => ({ id, revokedAtMs })),
    })
    this.revocationJson = json
    return json
  }
}

/** JWT ban (PascalCase) → token response ban (`accountcommon.JWTBanV3`, camelCase). */
export function toResponseBan(b: JwtBan): Record<string, unknown> {
  const out: Record<string, unknown> = { ban: b.Ban }
  if (b.Enabled !== undefined) out.enabled = b.Enabled
  if (b.EndDate !== undefined) out.endDate = b.EndDate
  if (b.TargetedNamespace !== undefined) out.targetedNamespace = b.TargetedNamespace
  if (b.DisabledDate !== undefined) out.disabledDate = b.DisabledDate
  return out
}
