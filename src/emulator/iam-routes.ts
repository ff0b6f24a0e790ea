/**
 * The emulated IAM endpoints, answering from the emulator's state, byte-compatible with the real
 * IAM (docs/iam-wire-protocol.md#1-endpoints). Unknown headers, such as B3 tracing, are ignored.
 *
 * | method + path | auth | endpoint name |
 * |---|---|---|
 * | `POST /iam/v3/oauth/token` (form) | Basic (public clients: `client_id` form field) | `token` |
 * | `GET /iam/v3/oauth/jwks` | Basic | `jwks` |
 * | `GET /iam/v3/oauth/revocationlist` | Basic | `revocationList` |
 * | `POST /iam/v3/oauth/verify` (form `token`) | Basic | `verify` |
 * | `POST /iam/v3/oauth/revoke` (form `token`) | Basic | `revoke` |
 * | `GET /iam/v3/admin/roles/{roleId}` | Bearer client token with `ADMIN:ROLE` 2 | `role` |
 * | `GET /iam/v3/admin/namespaces/{ns}/roleoverride/{roleId}/permissions` | same | `roleOverride` |
 * | `GET /iam/v3/admin/namespaces/{ns}/clients/{clientId}` | `ADMIN:NAMESPACE:{ns}:CLIENT` 2 | `clientInfo` |
 * | `GET /basic/v1/admin/namespaces/{ns}/context` | `ADMIN:NAMESPACE:*:NAMESPACE` 2 | `namespaceContext` |
 *
 * Token grants: `client_credentials`, `urn:ietf:params:oauth:grant-type:extend_client_credentials`
 * (+ `extendNamespace`), `password` (+ `username`, `password`), `refresh_token`.
 *
 * An endpoint is one entry of {@link IAM_ENDPOINTS} (its name, path, error style and handler);
 * its name is then counted, faultable and listed in {@link EMULATOR_ENDPOINTS}.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http'
import type { JwtBan } from '../index.js'
import { HttpError, readForm, type Reply, type Route, type RouteRequest } from './http.js'
import {
  permits,
  randomHex,
  toResponseBan,
  toWirePermission,
  type EmulatorState,
  type StoredClient,
} from './state.js'

/** The emulated endpoints, as named by `setFault` and `requestCount`. */
export type EmulatorEndpoint =
  | 'token'
  | 'jwks'
  | 'revocationList'
  | 'verify'
  | 'revoke'
  | 'role'
  | 'roleOverride'
  | 'clientInfo'
  | 'namespaceContext'

const GRANT_CLIENT = 'client_credentials'
const GRANT_EXTEND = 'urn:ietf:params:oauth:grant-type:extend_client_credentials'
const GRANT_PASSWORD = 'password'
const GRANT_REFRESH = 'refresh_token'
const REFRESH_EXPIRES_IN = 86400

/** The IAM's REST error body. */
interface IamErrorBody {
  errorCode: number
  errorMessage: string
}

const UNAUTHORIZED: IamErrorBody = { errorCode: 20001, errorMessage: 'unauthorized access' }
const FORBIDDEN: IamErrorBody = { errorCode: 20013, errorMessage: 'insufficient permissions' }
const ROLE_NOT_FOUND: IamErrorBody = { errorCode: 10456, errorMessage: 'role not found' }
const NAMESPACE_NOT_FOUND: IamErrorBody = {
  errorCode: 11337,
  errorMessage: 'Unable to get namespace context: Namespace not found',
}

const oauthError = (status: number, error: string, description: string, headers = {}): HttpError =>
  new HttpError(status, { error, error_description: description }, headers)
const invalidClient = (): HttpError =>
  oauthError(401, 'invalid_client', 'client authentication failed', {
    'WWW-Authenticate': 'Basic realm="iam"',
  })

/** One emulated endpoint. */
interface IamEndpoint {
  method: 'GET' | 'POST'
  pattern: RegExp
  /** How the endpoint writes errors: OAuth `{error, error_description}` or the IAM's REST body. */
  errors: 'oauth' | 'rest'
  /** The 404 body of an injected 404 fault (default `20008 not found`). */
  notFound?: IamErrorBody
  handler: (state: EmulatorState, request: RouteRequest) => Promise<Reply>
}

/** `Authorization: Basic` credentials, or undefined when absent or malformed. */
function basicCredentials(req: IncomingMessage): { id: string; secret: string } | undefined {
  const header = req.headers.authorization ?? ''
  const m = /^Basic\s+(\S+)\s*$/i.exec(header)
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return m ? m[1] : undefined
}

/** Checks a Bearer client token and one permission, as the real IAM's admin endpoints do. */
async function requireClient(
  state: EmulatorState,
  req: IncomingMessage,
  resource: string,
  action: number,
): Promise<void> {
  const token = bearerToken(req)
  if (token === undefined) throw new HttpError(401, UNAUTHORIZED)
  const result = await state.verifyToken(token)
  if (!result.ok) throw new HttpError(401, UNAUTHORIZED)
  // Admin endpoints are called with the service's client token; a user token is not enough.
  if (typeof result.claims.sub === 'string' && result.claims.sub !== '') {
    throw new HttpError(403, FORBIDDEN)
  }
  const granted = Array.isArray(result.claims.permissions)
    ? result.claims.permissions.flatMap((p) => toWirePermission(p) ?? [])
    : []
  if (!permits(granted, resource, action)) throw new HttpError(403, FORBIDDEN)
}

/** Client authentication of the OAuth endpoints (Basic; the token endpoint also reads the form). */
function requireBasicClient(
  state: EmulatorState,
  req: IncomingMessage,
  form?: URLSearchParams,
): StoredClient {
  const creds = basicCredentials(req)
  if (creds) {
    const client = state.authenticateClient(creds.id, creds.secret)
    if (!client) throw invalidClient()
    return client
  }
  const id = form?.get('client_id')
  if (form && id) {
    const client = state.authenticateClient(id, form.get('client_secret') ?? '')
    if (client) return client
  }
  throw invalidClient()
}

/** Basic client authentication answering the IAM's REST error (JWKS, revocation list). */
function requireBasicRest(state: EmulatorState, req: IncomingMessage): void {
  const creds = basicCredentials(req)
  if (!creds || !state.authenticateClient(creds.id, creds.secret)) {
    throw new HttpError(401, UNAUTHORIZED, { 'WWW-Authenticate': 'Basic realm="iam"' })
  }
}

/** `oauthmodel.TokenResponseV3` built from a token's claims. */
function tokenResponse(
  token: string,
  claims: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  const exp = typeof claims.exp === 'number' ? claims.exp : now
  const body: Record<string, unknown> = {
    access_token: token,
    bans: Array.isArray(claims.bans) ? (claims.bans as JwtBan[]).map(toResponseBan) : [],
    display_name: typeof claims.display_name === 'string' ? claims.display_name : '',
    // The token's lifetime from its issue, as the IAM says it: counting from `now` gave 0 for a
    // one-second token signed just before a second's boundary.
    expires_in: Math.max(0, exp - (typeof claims.iat === 'number' ? claims.iat : now)),
    is_comply: claims.is_comply !== false,
    jflgs: typeof claims.jflgs === 'number' ? claims.jflgs : 0,
    namespace: claims.namespace ?? '',
  }
  if (Array.isArray(claims.namespace_roles)) body.namespace_roles = claims.namespace_roles
  body.permissions = Array.isArray(claims.permissions)
    ? claims.permissions.flatMap((p) => toWirePermission(p) ?? [])
    : []
  if (Array.isArray(claims.roles)) body.roles = claims.roles
  body.scope = typeof claims.scope === 'string' ? claims.scope : ''
  body.token_type = 'Bearer'
  if (typeof claims.sub === 'string') body.user_id = claims.sub
  return { ...body, ...extra }
}

async function grant(state: EmulatorState, { req }: RouteRequest): Promise<Reply> {
  const form = await readForm(req)
  const client = requireBasicClient(state, req, form)
  const grantType = form.get('grant_type')
  const confidential = client.clientSecret !== ''
  switch (grantType) {
    case GRANT_CLIENT: {
      if (!confidential) {
        throw oauthError(
          400,
          'unauthorized_client',
          'a public client cannot use client_credentials',
        )
      }
      const claims = state.clientClaims(client)
      const token = await state.sign(claims)
      return { status: 200, body: tokenResponse(token, claims) }
    }
    case GRANT_EXTEND: {
      const target = form.get('extendNamespace') ?? ''
      if (target === '') throw oauthError(400, 'invalid_request', 'extendNamespace is required')
      const own = state.namespaceType(client.namespace)
      if (!confidential || (own !== 'Publisher' && own !== 'Studio')) {
        throw oauthError(
          400,
          'unauthorized_client',
          'only a confidential client of a publisher or studio namespace can extend',
        )
      }
      const type = state.namespaceType(target)
      if (type !== 'Game') {
        throw oauthError(
          400,
          'invalid_request',
          type === undefined
            ? `namespace ${target} not found`
            : `namespace ${target} is not a game namespace`,
        )
      }
      const claims = state.delegateClaims(client, target)
      const token = await state.sign(claims)
      return { status: 200, body: tokenResponse(token, claims) }
    }
    case GRANT_PASSWORD: {
      const username = form.get('username') ?? ''
      const password = form.get('password') ?? ''
      if (username === '' || password === '') {
        throw oauthError(400, 'invalid_request', 'username and password are required')
      }
      const user = state.authenticateUser(username, password)
      if (!user) throw oauthError(400, 'invalid_grant', 'invalid username or password')
      return userGrant(state, user.userId, client.clientId)
    }
    case GRANT_REFRESH: {
      const refresh = form.get('refresh_token') ?? ''
      const entry = state.refreshTokens.get(refresh)
      state.refreshTokens.delete(refresh)
      if (!entry || entry.clientId !== client.clientId || entry.expiresAtMs < Date.now()) {
        throw oauthError(400, 'invalid_grant', 'refresh token is invalid or expired')
      }
      if (!state.users.has(entry.userId)) throw oauthError(400, 'invalid_grant', 'user not found')
      return userGrant(state, entry.userId, client.clientId)
    }
    case null:
      throw oauthError(400, 'invalid_request', 'grant_type is required')
    default:
      throw oauthError(400, 'unsupported_grant_type', `unsupported grant_type ${grantType}`)
  }
}

async function userGrant(state: EmulatorState, userId: string, clientId: string): Promise<Reply> {
  const user = state.users.get(userId)!
  const claims = state.userClaims(user, clientId)
  const token = await state.sign(claims)
  const refresh = randomHex()
  state.refreshTokens.set(refresh, {
    userId,
    clientId,
    expiresAtMs: Date.now() + REFRESH_EXPIRES_IN * 1000,
  })
  return {
    status: 200,
    body: tokenResponse(token, claims, {
      refresh_token: refresh,
      refresh_expires_in: REFRESH_EXPIRES_IN,
    }),
  }
}

async function verify(state: EmulatorState, { req }: RouteRequest): Promise<Reply> {
  const form = await readForm(req)
  requireBasicClient(state, req)
  const token = form.get('token') ?? ''
  if (token === '') throw oauthError(400, 'invalid_request', 'token is required')
  const result = await state.verifyToken(token)
  if (!result.ok) throw oauthError(400, 'invalid_token', 'Access Token not exist or expired')
  return { status: 200, body: tokenResponse(token, result.claims) }
}

async function revoke(state: EmulatorState, { req }: RouteRequest): Promise<Reply> {
  const form = await readForm(req)
  requireBasicClient(state, req)
  const token = form.get('token') ?? ''
  if (token === '') throw oauthError(400, 'invalid_request', 'token is required')
  state.revokeToken(token)
  return { status: 200 }
}

async function role(state: EmulatorState, { req, params }: RouteRequest): Promise<Reply> {
  await requireClient(state, req, 'ADMIN:ROLE', 2)
  const found = state.roles.get(params[0]!)
  if (!found) throw new HttpError(404, ROLE_NOT_FOUND)
  return {
    status: 200,
    body: {
      roleId: found.roleId,
      roleName: found.roleName,
      isWildcard: found.isWildcard,
      adminRole: found.adminRole,
      permissions: found.permissions,
    },
  }
}

async function roleOverride(state: EmulatorState, { req, params }: RouteRequest): Promise<Reply> {
  await requireClient(state, req, 'ADMIN:ROLE', 2)
  const perms = state.rolePermissionsIn(params[0]!, params[1]!)
  if (!perms) throw new HttpError(404, ROLE_NOT_FOUND)
  return {
    status: 200,
    body: {
      // `accountcommon.Permission`: PascalCase, every field present.
      permissions: perms.map((p) => ({
        Resource: p.resource,
        Action: p.action,
        SchedAction: p.schedAction ?? 0,
        SchedCron: p.schedCron ?? '',
        SchedRange: p.schedRange ?? [],
      })),
    },
  }
}

async function clientInfo(state: EmulatorState, { req, params }: RouteRequest): Promise<Reply> {
  const [namespace, clientId] = params as [string, string]
  await requireClient(state, req, `ADMIN:NAMESPACE:${namespace}:CLIENT`, 2)
  const c = state.clients.get(clientId)
  if (!c || c.namespace !== namespace) {
    throw new HttpError(404, {
      errorCode: 10365,
      errorMessage: `client with id ${clientId} in namespace ${namespace} was not found`,
    })
  }
  return {
    status: 200,
    body: {
      audiences: c.audiences,
      baseUri: c.baseUri,
      clientId: c.clientId,
      clientName: c.clientName,
      clientPermissions: c.permissions,
      clientPlatform: '',
      createdAt: c.createdAt,
      description: c.description,
      modifiedAt: c.modifiedAt,
      namespace: c.namespace,
      oauthClientType: c.clientSecret === '' ? 'Public' : 'Confidential',
      redirectUri: c.redirectUris.join(','),
      scopes: c.scopes,
      skipLoginQueue: false,
      twoFactorEnabled: false,
    },
  }
}

async function namespaceContext(
  state: EmulatorState,
  { req, params }: RouteRequest,
): Promise<Reply> {
  await requireClient(state, req, 'ADMIN:NAMESPACE:*:NAMESPACE', 2)
  const context = state.namespaceContext(params[0]!)
  if (!context) throw new HttpError(404, NAMESPACE_NOT_FOUND)
  return { status: 200, body: context }
}

/** Every emulated endpoint, in wire order. */
const IAM_ENDPOINTS: Readonly<Record<EmulatorEndpoint, IamEndpoint>> = {
  token: { method: 'POST', pattern: /^\/iam\/v3\/oauth\/token$/, errors: 'oauth', handler: grant },
  jwks: {
    method: 'GET',
    pattern: /^\/iam\/v3\/oauth\/jwks$/,
    errors: 'rest',
    handler: async (state, { req }) => {
      requireBasicRest(state, req)
      return { status: 200, body: state.jwks() }
    },
  },
  revocationList: {
    method: 'GET',
    pattern: /^\/iam\/v3\/oauth\/revocationlist$/,
    errors: 'rest',
    handler: async (state, { req }) => {
      requireBasicRest(state, req)
      return { status: 200, body: state.revocationList() }
    },
  },
  verify: {
    method: 'POST',
    pattern: /^\/iam\/v3\/oauth\/verify$/,
    errors: 'oauth',
    handler: verify,
  },
  revoke: {
    method: 'POST',
    pattern: /^\/iam\/v3\/oauth\/revoke$/,
    errors: 'oauth',
    handler: revoke,
  },
  role: {
    method: 'GET',
    // An empty role ID is routed too: the Python SDK asks for `/roles/` (docs/iam-wire-protocol.md#16-role).
    pattern: /^\/iam\/v3\/admin\/roles\/([^/]*)$/,
    errors: 'rest',
    notFound: ROLE_NOT_FOUND,
    handler: role,
  },
  roleOverride: {
    method: 'GET',
    pattern: /^\/iam\/v3\/admin\/namespaces\/([^/]+)\/roleoverride\/([^/]*)\/permissions$/,
    errors: 'rest',
    notFound: ROLE_NOT_FOUND,
    handler: roleOverride,
  },
  clientInfo: {
    method: 'GET',
    pattern: /^\/iam\/v3\/admin\/namespaces\/([^/]+)\/clients\/([^/]+)$/,
    errors: 'rest',
    notFound: { errorCode: 10365, errorMessage: 'client not found' },
    handler: clientInfo,
  },
  namespaceContext: {
    method: 'GET',
    pattern: /^\/basic\/v1\/admin\/namespaces\/([^/]+)\/context$/,
    errors: 'rest',
    notFound: NAMESPACE_NOT_FOUND,
    handler: namespaceContext,
  },
}

/** Every {@link EmulatorEndpoint}, in wire order. */
export const EMULATOR_ENDPOINTS: readonly EmulatorEndpoint[] = Object.freeze(
  Object.keys(IAM_ENDPOINTS) as EmulatorEndpoint[],
)

/** OAuth error codes of injected error statuses. */
const OAUTH_FAULT_ERRORS: Readonly<Record<number, string>> = {
  400: 'invalid_request',
  401: 'invalid_client',
  403: 'access_denied',
  429: 'too_many_requests',
  503: 'temporarily_unavailable',
}

/** REST error bodies of injected error statuses (404 and the default aside). */
const REST_FAULT_ERRORS: Readonly<Record<number, IamErrorBody>> = {
  401: UNAUTHORIZED,
  403: FORBIDDEN,
  429: { errorCode: 20007, errorMessage: 'too many requests' },
  400: { errorCode: 20002, errorMessage: 'validation error' },
}

/** The error body an injected error status answers with, in the endpoint's own error style. */
function faultBody(endpoint: IamEndpoint, status: number): unknown {
  if (endpoint.errors === 'oauth') {
    const error = OAUTH_FAULT_ERRORS[status] ?? 'server_error'
    return { error, error_description: `emulator fault: HTTP ${status}` }
  }
  if (status === 404) return endpoint.notFound ?? { errorCode: 20008, errorMessage: 'not found' }
  return REST_FAULT_ERRORS[status] ?? { errorCode: 20000, errorMessage: 'internal server error' }
}

/** The routes of every emulated endpoint, answering from `state`. */
export function iamRoutes(state: EmulatorState): Route[] {
  return EMULATOR_ENDPOINTS.map((name) => {
    const endpoint = IAM_ENDPOINTS[name]
    return {
      method: endpoint.method,
      pattern: endpoint.pattern,
      endpoint: { name, faultBody: (status) => faultBody(endpoint, status) },
      handler: (request) =>
        endpoint.handler(state, request).catch((err: unknown) => {
          if (err instanceof HttpError) throw err
          // Unexpected failures answer the IAM's generic 500 (no details leak).
          throw new HttpError(500, { errorCode: 20000, errorMessage: 'internal server error' })
        }),
    }
  })
}
