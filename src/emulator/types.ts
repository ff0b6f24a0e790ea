/**
 * Public types of the IAM emulator.
 *
 * @module
 */
import type { JwtClaims, NamespaceContext } from '../index.js'
import type {
  ClientConfig,
  EmulatorConfig,
  NamespaceConfig,
  PermissionInput,
  RoleConfig,
  UserConfig,
} from './config.js'
import type { EmulatorFault } from './faults.js'
import type { EmulatorEndpoint } from './iam-routes.js'
import type { SignTokenOptions } from './state.js'

/** Options of `startEmulator`. */
export interface StartEmulatorOptions {
  /** TCP port; `0` (default) picks a free ephemeral port. */
  port?: number
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string
  /** What to seed the emulator with. Default {@link demoConfig}. */
  config?: EmulatorConfig
}

/**
 * Claims of a token minted by `issueUserToken`, with their wire names. Everything is optional;
 * `expiresIn` (seconds) sets `exp` relative to `iat`. `exp`, `iat` and `nbf` may be in the past
 * or the future to make expired or not-yet-valid tokens.
 */
export type UserTokenClaims = Partial<JwtClaims> & {
  /** Lifetime in seconds from `iat` (default `userTokenExpiresIn`); ignored when `exp` is given. */
  expiresIn?: number
}

/** Input of `createRole`. */
export type CreateRoleInput = Omit<RoleConfig, 'roleId'> & {
  /** Default 32 random hex digits. */
  roleId?: string
}

/** Input of `createClient`. */
export type CreateClientInput = Omit<ClientConfig, 'clientId' | 'clientSecret'> & {
  /** Default 32 random hex digits. */
  clientId?: string
  /**
   * Default 32 random hex digits (a confidential client). Pass `''` for a public client.
   */
  clientSecret?: string
}

/** Input of `createNamespace`. */
export type CreateNamespaceInput = NamespaceConfig

/** Input of `createUser`. */
export type CreateUserInput = UserConfig

/** A seeded user as the CLI and `GET /emulator` list it. */
export interface EmulatorUserInfo {
  userId: string
  username: string
  password: string
  namespace: string
}

/** What `GET /emulator` and {@link Emulator.info} report. */
export interface EmulatorInfo {
  url: string
  baseUrl: string
  basicBaseUrl: string
  issuer: string
  clientId: string
  clientSecret: string
  namespace: string
  publisherNamespace: string
  currentKid: string
  namespaces: NamespaceContext[]
  clients: { clientId: string; namespace: string; type: 'Confidential' | 'Public' }[]
  users: EmulatorUserInfo[]
  roles: string[]
}

/**
 * A running IAM emulator: a real HTTP server plus methods to shape its state.
 *
 * @example
 * ```ts
 * const iam = await startEmulator()
 * const token = await iam.issueUserToken({
 *   permissions: [{ Resource: `NAMESPACE:${iam.namespace}:USER:*`, Action: 2 }],
 * })
 * await iam.revokeToken(token)
 * await iam.close()
 * ```
 */
export interface Emulator {
  /** Origin, e.g. `http://127.0.0.1:4300`. */
  readonly url: string
  /** IAM base URL (`{url}/iam`), what the SDK's `baseUrl` option takes. */
  readonly baseUrl: string
  /** Basic service base URL (`{url}/basic`). */
  readonly basicBaseUrl: string
  /** TCP port the server listens on. */
  readonly port: number
  /** `iss` claim of issued tokens. */
  readonly issuer: string
  /**
   * ID of the default confidential client: lives in a Publisher namespace, holds `ADMIN:ROLE`,
   * `ADMIN:NAMESPACE:*:CLIENT` and `ADMIN:NAMESPACE:*:NAMESPACE` read, may extend into any Game
   * namespace (with the built-in config).
   */
  readonly clientId: string
  /** Secret of the default client. */
  readonly clientSecret: string
  /** The default Game namespace (where users live unless told otherwise). */
  readonly namespace: string
  /** Namespace of the default client. */
  readonly publisherNamespace: string
  /** ID of the key new tokens are signed with. */
  readonly currentKid: string

  /**
   * Mints a user access token signed by the current key. Defaults: `namespace` the default
   * namespace, `client_id` the default client, `sub` 32 random hex digits, `iat` now, `exp`
   * `iat + expiresIn` (default `userTokenExpiresIn`), empty `permissions`/`roles`/
   * `namespace_roles`/`bans`, `jflgs` 1, `is_comply` true, random `jti`, `iss` the issuer.
   * Any other claim given (e.g. `aud`, `subs`, `country`) is added as-is.
   */
  issueUserToken(claims?: UserTokenClaims): Promise<string>
  /** Mints a client-credentials token, exactly as the token endpoint would (default client). */
  issueClientToken(clientId?: string): Promise<string>
  /**
   * Test-only escape hatch: signs `payload` exactly as given (no defaults), e.g. a token without
   * `exp`, with an `HS256` or `none` header, without `kid` or with an unknown one.
   */
  signToken(payload: Record<string, unknown>, options?: SignTokenOptions): Promise<string>

  /** Adds (or replaces) a role; returns its ID. */
  createRole(role: CreateRoleInput): Promise<string>
  /**
   * Overrides a role's permissions in one namespace (role override endpoint); `null` removes the
   * override so the endpoint answers with the role's own permissions again.
   */
  setRoleOverride(
    namespace: string,
    roleId: string,
    permissions: PermissionInput[] | null,
  ): Promise<void>
  /** Adds (or replaces) a client; an unknown namespace is created as type Game. */
  createClient(client: CreateClientInput): Promise<{ clientId: string; clientSecret: string }>
  /** Adds (or replaces) a namespace; returns its namespace context. */
  createNamespace(namespace: CreateNamespaceInput): Promise<NamespaceContext>
  /** Adds (or replaces) a user who can log in with the password grant; returns the user ID. */
  createUser(user: CreateUserInput): Promise<string>

  /** Puts a token into the revocation list (as `POST /iam/v3/oauth/revoke` does). */
  revokeToken(token: string): Promise<void>
  /**
   * Revokes every token of a user issued up to now (`revoked_at` = now); returns `revoked_at`
   * as written in the revocation list.
   */
  revokeUser(userId: string): Promise<string>
  /**
   * Adds a new signing key used for new tokens; returns its kid. Older keys stay in the JWKS
   * (tokens they signed stay valid) unless `retireOld`.
   */
  rotateKeys(options?: { retireOld?: boolean }): Promise<string>

  /**
   * Injects a fault into the next `fault.times` requests of `endpoint` (default: every request
   * until cleared), applied before authentication; `null` clears. After waiting `delayMs`, the
   * request gets the first that is set of: `hang` (no answer until the client gives up or
   * {@link Emulator.close}), `body` (this exact body, with `status` default 200), `streamBytes`
   * (a body of that many bytes, streamed as fast as the client reads), `status` (the endpoint's
   * JSON error body); with only `delayMs`, the normal answer, late.
   *
   * @throws TypeError naming the field, for an unknown endpoint or an invalid fault.
   * @example
   * ```ts
   * iam.setFault('jwks', { status: 503, times: 2 })
   * iam.setFault('clientInfo', { body: { redirectUri: 5 } }) // 200 with a mistyped field
   * iam.setFault('revocationList', { body: '{"revoked_tokens":' }) // broken JSON
   * iam.setFault('role', { hang: true })
   * iam.setFault('jwks', null)
   * ```
   */
  setFault(endpoint: EmulatorEndpoint, fault: EmulatorFault | null): void
  /**
   * The active faults by endpoint (also `GET /emulator/faults`): each with `delayMs`, the fields
   * it sets, and `times` = requests it still applies to (absent: until cleared).
   */
  faults(): Partial<Record<EmulatorEndpoint, EmulatorFault>>
  /** Requests received by `endpoint` (every request, including rejected and faulted ones). */
  requestCount(endpoint: EmulatorEndpoint): number
  /** Zeroes every request counter (and forgets the unmatched requests). */
  resetRequestCounts(): void
  /**
   * Requests to IAM paths that no emulated endpoint serves (the latest 100, oldest first), e.g. a
   * URL a client built from a value it should have refused: `[{ method: 'GET', path }]`.
   */
  unmatchedRequests(): { method: string; path: string }[]
  /**
   * Bytes the last `streamBytes` answer of `endpoint` has written so far (0 before any), also
   * listed by `GET /emulator/streams`. The emulator writes only as fast as the client reads, so
   * a client that stops reading early leaves this below `streamBytes`, above what it read by at
   * most the socket buffers (a few MiB on loopback): pick a `streamBytes` well above the
   * client's limit.
   *
   * @throws TypeError for an unknown endpoint.
   * @example
   * ```ts
   * iam.setFault('jwks', { streamBytes: 256 * 1024 * 1024, times: 1 })
   * // ... the client under test refuses the oversized JWKS ...
   * assert.ok((await iam.streamStopped('jwks')) < 256 * 1024 * 1024)
   * ```
   */
  streamedBytes(endpoint: EmulatorEndpoint): number
  /**
   * Waits until the last `streamBytes` answer of `endpoint` stopped (written in full, the client
   * gone, or {@link Emulator.close}) and resolves with the bytes it wrote; 0 at once when the
   * endpoint never streamed. A client that stops reading but keeps the connection open keeps
   * this pending.
   *
   * @throws TypeError for an unknown endpoint.
   * @example
   * ```ts
   * const written = await iam.streamStopped('revocationList')
   * ```
   */
  streamStopped(endpoint: EmulatorEndpoint): Promise<number>

  /** A summary of the emulator (also `GET /emulator`). */
  info(): EmulatorInfo
  /**
   * Stops the server, including keep-alive sockets and requests held by a fault (delayed,
   * hanging or streaming ones are dropped).
   */
  close(): Promise<void>
}
