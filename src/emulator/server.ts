/**
 * HTTP routing of the IAM emulator (plain `node:http`, no framework).
 *
 * ## IAM endpoints (byte-compatible with the real IAM; unknown headers such as B3 are ignored)
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
 * ## Emulator admin API (no auth: a loopback development tool)
 *
 * JSON in, JSON out; validation errors answer 400 `{"error":"..."}`. Requests carrying an
 * `Origin` header that is not a loopback origin are refused (403), so a web page cannot drive it.
 *
 * | method + path | body | answer |
 * |---|---|---|
 * | `GET /emulator` | | summary: URLs, default client, namespaces, clients, users, roles |
 * | `POST /emulator/tokens` | user claims (wire names) + `expiresIn` | `{"access_token"}` |
 * | `POST /emulator/tokens/client` | `{"clientId"?}` | `{"access_token"}` |
 * | `POST /emulator/users` | `createUser` input | 201 `{"userId"}` |
 * | `POST /emulator/roles` | `createRole` input | 201 `{"roleId"}` |
 * | `PUT /emulator/namespaces/{ns}/roleoverride/{roleId}` | `{"permissions":[...]}` | `{}` |
 * | `DELETE /emulator/namespaces/{ns}/roleoverride/{roleId}` | | `{}` |
 * | `POST /emulator/clients` | `createClient` input | 201 `{"clientId","clientSecret"}` |
 * | `POST /emulator/namespaces` | `createNamespace` input | 201 namespace context |
 * | `POST /emulator/revocations/tokens` | `{"token"}` | `{}` |
 * | `POST /emulator/revocations/users` | `{"userId"}` | `{"id","revoked_at"}` |
 * | `POST /emulator/keys/rotate` | `{"retireOld"?}` | `{"kid"}` |
 * | `GET /emulator/faults` | | `{endpoint: fault}` |
 * | `POST /emulator/faults` | `{"endpoint","status"?,"delayMs"?,"times"?}` | `{}` |
 * | `PUT /emulator/faults/{endpoint}` | `{"status"?,"delayMs"?,"times"?}` | `{}` |
 * | `DELETE /emulator/faults/{endpoint}` / `DELETE /emulator/faults` | | `{}` |
 * | `GET /emulator/requests` / `DELETE /emulator/requests` | | counts per endpoint / `{}` |
 *
 * @example
 * ```sh
 * curl -s -X POST localhost:4300/emulator/tokens -d '{"permissions":[{"Resource":"ADMIN","Action":2}]}'
 * curl -s -X PUT localhost:4300/emulator/faults/jwks -d '{"status":503,"times":2}'
 * curl -s localhost:4300/emulator/requests
 * ```
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { JwtBan } from '../index.js'
import {
  EMULATOR_ENDPOINTS,
  permits,
  randomHex,
  toResponseBan,
  toWirePermission,
  type EmulatorEndpoint,
  type EmulatorFault,
  type EmulatorState,
} from './state.js'
import type { Emulator } from './types.js'

const GRANT_CLIENT = 'client_credentials'
const GRANT_EXTEND = 'urn:ietf:params:oauth:grant-type:extend_client_credentials'
const GRANT_PASSWORD = 'password'
const GRANT_REFRESH = 'refresh_token'
const REFRESH_EXPIRES_IN = 86400
const MAX_BODY = 1 << 20

/** Raised inside handlers to answer with a given status and body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`)
  }
}

const unauthorized = (): HttpError =>
  new HttpError(401, { errorCode: 20001, errorMessage: 'unauthorized access' })
const forbidden = (): HttpError =>
  new HttpError(403, { errorCode: 20013, errorMessage: 'insufficient permissions' })
const oauthError = (status: number, error: string, description: string, headers = {}): HttpError =>
  new HttpError(status, { error, error_description: description }, headers)
const invalidClient = (): HttpError =>
  oauthError(401, 'invalid_client', 'client authentication failed', {
    'WWW-Authenticate': 'Basic realm="iam"',
  })

interface Request {
  req: IncomingMessage
  url: URL
  params: string[]
}

type Handler = (r: Request) => Promise<Reply>

interface Reply {
  status: number
  /** Serialized as JSON unless already a string. */
  body?: unknown
  headers?: Record<string, string>
}

interface Route {
  method: string
  pattern: RegExp
  endpoint?: EmulatorEndpoint
  handler: Handler
}

/** Endpoints answering OAuth-style errors (`{error, error_description}`). */
const OAUTH_STYLE: ReadonlySet<EmulatorEndpoint> = new Set(['token', 'verify', 'revoke'])

/** The error body an injected fault answers with, in the endpoint's own error style. */
function faultBody(endpoint: EmulatorEndpoint, status: number): unknown {
  if (OAUTH_STYLE.has(endpoint)) {
    const error =
      status === 400
        ? 'invalid_request'
        : status === 401
          ? 'invalid_client'
          : status === 403
            ? 'access_denied'
            : status === 429
              ? 'too_many_requests'
              : status === 503
                ? 'temporarily_unavailable'
                : 'server_error'
    return { error, error_description: `emulator fault: HTTP ${status}` }
  }
  if (status === 401) return { errorCode: 20001, errorMessage: 'unauthorized access' }
  if (status === 403) return { errorCode: 20013, errorMessage: 'insufficient permissions' }
  if (status === 404) {
    if (endpoint === 'role' || endpoint === 'roleOverride') {
      return { errorCode: 10456, errorMessage: 'role not found' }
    }
    if (endpoint === 'clientInfo') return { errorCode: 10365, errorMessage: 'client not found' }
    if (endpoint === 'namespaceContext') {
      return {
        errorCode: 11337,
        errorMessage: 'Unable to get namespace context: Namespace not found',
      }
    }
    return { errorCode: 20008, errorMessage: 'not found' }
  }
  if (status === 429) return { errorCode: 20007, errorMessage: 'too many requests' }
  if (status === 400) return { errorCode: 20002, errorMessage: 'validation error' }
  return { errorCode: 20000, errorMessage: 'internal server error' }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new HttpError(413, { error: 'request body too large' })
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The form fields of a request; a non-form body yields no fields (as the real IAM). */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req)
  const type = (req.headers['content-type'] ?? '').toLowerCase()
  if (type !== '' && !type.startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams()
  }
  return new URLSearchParams(body)
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = (await readBody(req)).trim()
  if (body === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new HttpError(400, { error: 'body is not valid JSON' })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, { error: 'body must be a JSON object' })
  }
  return parsed as Record<string, unknown>
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

function isLoopbackOrigin(origin: string): boolean {
  try {
    const host = new URL(origin).hostname
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
  } catch {
    return false
  }
}

/** Waits that `close()` can cut short, so a delay fault never holds the process open. */
class Delays {
  private readonly pending = new Set<() => void>()
  closed = false

  wait(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.pending.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.pending.add(done)
    })
  }

  close(): void {
    this.closed = true
    for (const done of [...this.pending]) done()
  }
}

/** The emulator's HTTP server and a way to stop what is in flight. */
export interface EmulatorServer {
  server: Server
  /** Resolves pending delay faults (their requests are then dropped). */
  abortDelays(): void
}

/**
 * Builds the HTTP server over a state and the emulator's programmatic API (the admin API calls
 * the same methods, so both validate alike).
 */
export function createEmulatorServer(state: EmulatorState, api: Emulator): EmulatorServer {
  const delays = new Delays()

  /** Checks a Bearer client token and one permission, as the real IAM's admin endpoints do. */
  async function requireClient(
    req: IncomingMessage,
    resource: string,
    action: number,
  ): Promise<void> {
    const token = bearerToken(req)
    if (token === undefined) throw unauthorized()
    const result = await state.verifyToken(token)
    if (!result.ok) throw unauthorized()
    // Admin endpoints are called with the service's client token; a user token is not enough.
    if (typeof result.claims.sub === 'string' && result.claims.sub !== '') throw forbidden()
    const granted = Array.isArray(result.claims.permissions)
      ? result.claims.permissions.flatMap((p) => toWirePermission(p) ?? [])
      : []
    if (!permits(granted, resource, action)) throw forbidden()
  }

  /** Client authentication of the OAuth endpoints (Basic; the token endpoint also reads the form). */
  function requireBasicClient(req: IncomingMessage, form?: URLSearchParams) {
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

  function requireBasicV3(req: IncomingMessage): void {
    const creds = basicCredentials(req)
    if (!creds || !state.authenticateClient(creds.id, creds.secret)) {
      throw new HttpError(
        401,
        { errorCode: 20001, errorMessage: 'unauthorized access' },
        {
          'WWW-Authenticate': 'Basic realm="iam"',
        },
      )
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
      expires_in: Math.max(0, exp - now),
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

  async function grant(r: Request): Promise<Reply> {
    const form = await readForm(r.req)
    const client = requireBasicClient(r.req, form)
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
        return userGrant(user.userId, client.clientId)
      }
      case GRANT_REFRESH: {
        const refresh = form.get('refresh_token') ?? ''
        const entry = state.refreshTokens.get(refresh)
        state.refreshTokens.delete(refresh)
        if (!entry || entry.clientId !== client.clientId || entry.expiresAtMs < Date.now()) {
          throw oauthError(400, 'invalid_grant', 'refresh token is invalid or expired')
        }
        if (!state.users.has(entry.userId)) throw oauthError(400, 'invalid_grant', 'user not found')
        return userGrant(entry.userId, client.clientId)
      }
      case null:
        throw oauthError(400, 'invalid_request', 'grant_type is required')
      default:
        throw oauthError(400, 'unsupported_grant_type', `unsupported grant_type ${grantType}`)
    }
  }

  async function userGrant(userId: string, clientId: string): Promise<Reply> {
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

  const iam: Route[] = [
    {
      method: 'POST',
      pattern: /^\/iam\/v3\/oauth\/token$/,
      endpoint: 'token',
      handler: grant,
    },
    {
      method: 'GET',
      pattern: /^\/iam\/v3\/oauth\/jwks$/,
      endpoint: 'jwks',
      handler: async ({ req }) => {
        requireBasicV3(req)
        return { status: 200, body: state.jwks() }
      },
    },
    {
      method: 'GET',
      pattern: /^\/iam\/v3\/oauth\/revocationlist$/,
      endpoint: 'revocationList',
      handler: async ({ req }) => {
        requireBasicV3(req)
        return { status: 200, body: state.revocationList() }
      },
    },
    {
      method: 'POST',
      pattern: /^\/iam\/v3\/oauth\/verify$/,
      endpoint: 'verify',
      handler: async ({ req }) => {
        const form = await readForm(req)
        requireBasicClient(req)
        const token = form.get('token') ?? ''
        if (token === '') throw oauthError(400, 'invalid_request', 'token is required')
        const result = await state.verifyToken(token)
        if (!result.ok) {
          throw oauthError(400, 'invalid_token', 'Access Token not exist or expired')
        }
        return { status: 200, body: tokenResponse(token, result.claims) }
      },
    },
    {
      method: 'POST',
      pattern: /^\/iam\/v3\/oauth\/revoke$/,
      endpoint: 'revoke',
      handler: async ({ req }) => {
        const form = await readForm(req)
        requireBasicClient(req)
        const token = form.get('token') ?? ''
        if (token === '') throw oauthError(400, 'invalid_request', 'token is required')
        state.revokeToken(token)
        return { status: 200 }
      },
    },
    {
      method: 'GET',
      // An empty role ID is routed too: the Python SDK asks for `/roles/` (reference 1.6).
      pattern: /^\/iam\/v3\/admin\/roles\/([^/]*)$/,
      endpoint: 'role',
      handler: async ({ req, params }) => {
        await requireClient(req, 'ADMIN:ROLE', 2)
        const role = state.roles.get(params[0]!)
        if (!role) throw new HttpError(404, { errorCode: 10456, errorMessage: 'role not found' })
        return {
          status: 200,
          body: {
            roleId: role.roleId,
            roleName: role.roleName,
            isWildcard: role.isWildcard,
            adminRole: role.adminRole,
            permissions: role.permissions,
          },
        }
      },
    },
    {
      method: 'GET',
      pattern: /^\/iam\/v3\/admin\/namespaces\/([^/]+)\/roleoverride\/([^/]*)\/permissions$/,
      endpoint: 'roleOverride',
      handler: async ({ req, params }) => {
        await requireClient(req, 'ADMIN:ROLE', 2)
        const perms = state.rolePermissionsIn(params[0]!, params[1]!)
        if (!perms) throw new HttpError(404, { errorCode: 10456, errorMessage: 'role not found' })
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
      },
    },
    {
      method: 'GET',
      pattern: /^\/iam\/v3\/admin\/namespaces\/([^/]+)\/clients\/([^/]+)$/,
      endpoint: 'clientInfo',
      handler: async ({ req, params }) => {
        const [namespace, clientId] = params as [string, string]
        await requireClient(req, `ADMIN:NAMESPACE:${namespace}:CLIENT`, 2)
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
      },
    },
    {
      method: 'GET',
      pattern: /^\/basic\/v1\/admin\/namespaces\/([^/]+)\/context$/,
      endpoint: 'namespaceContext',
      handler: async ({ req, params }) => {
        await requireClient(req, 'ADMIN:NAMESPACE:*:NAMESPACE', 2)
        const context = state.namespaceContext(params[0]!)
        if (!context) {
          throw new HttpError(404, {
            errorCode: 11337,
            errorMessage: 'Unable to get namespace context: Namespace not found',
          })
        }
        return { status: 200, body: context }
      },
    },
  ]

  const ok = (body: unknown = {}, status = 200): Reply => ({ status, body })
  /** Runs a programmatic method; its TypeErrors (validation) become 400s. */
  async function call<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof TypeError) throw new HttpError(400, { error: err.message })
      throw err
    }
  }
  const endpointParam = (name: string): EmulatorEndpoint => {
    if (!EMULATOR_ENDPOINTS.includes(name as EmulatorEndpoint)) {
      throw new HttpError(404, {
        error: `unknown endpoint ${JSON.stringify(name)}; one of ${EMULATOR_ENDPOINTS.join(', ')}`,
      })
    }
    return name as EmulatorEndpoint
  }
  const faultOf = (body: Record<string, unknown>): EmulatorFault => {
    const fault: EmulatorFault = {}
    for (const key of ['status', 'delayMs', 'times'] as const) {
      const v = body[key]
      if (v === undefined) continue
      if (typeof v !== 'number') throw new HttpError(400, { error: `${key} must be a number` })
      fault[key] = v
    }
    return fault
  }

  const admin: Route[] = [
    { method: 'GET', pattern: /^\/emulator\/?$/, handler: async () => ok(api.info()) },
    {
      method: 'POST',
      pattern: /^\/emulator\/tokens$/,
      handler: async ({ req }) => {
        const claims = await readJson(req)
        return ok({ access_token: await call(() => api.issueUserToken(claims)) })
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/tokens\/client$/,
      handler: async ({ req }) => {
        const { clientId } = await readJson(req)
        if (clientId !== undefined && typeof clientId !== 'string') {
          throw new HttpError(400, { error: 'clientId must be a string' })
        }
        return ok({ access_token: await call(() => api.issueClientToken(clientId)) })
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/users$/,
      handler: async ({ req }) => {
        const body = await readJson(req)
        return ok({ userId: await call(() => api.createUser(body as never)) }, 201)
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/roles$/,
      handler: async ({ req }) => {
        const body = await readJson(req)
        return ok({ roleId: await call(() => api.createRole(body as never)) }, 201)
      },
    },
    {
      method: 'PUT',
      pattern: /^\/emulator\/namespaces\/([^/]+)\/roleoverride\/([^/]+)$/,
      handler: async ({ req, params }) => {
        const { permissions } = await readJson(req)
        if (!Array.isArray(permissions)) {
          throw new HttpError(400, { error: 'permissions must be an array' })
        }
        await call(() => api.setRoleOverride(params[0]!, params[1]!, permissions))
        return ok()
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/emulator\/namespaces\/([^/]+)\/roleoverride\/([^/]+)$/,
      handler: async ({ params }) => {
        await api.setRoleOverride(params[0]!, params[1]!, null)
        return ok()
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/clients$/,
      handler: async ({ req }) => {
        const body = await readJson(req)
        return ok(await call(() => api.createClient(body as never)), 201)
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/namespaces$/,
      handler: async ({ req }) => {
        const body = await readJson(req)
        return ok(await call(() => api.createNamespace(body as never)), 201)
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/revocations\/tokens$/,
      handler: async ({ req }) => {
        const { token } = await readJson(req)
        if (typeof token !== 'string' || token === '') {
          throw new HttpError(400, { error: 'token must be a non-empty string' })
        }
        await api.revokeToken(token)
        return ok()
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/revocations\/users$/,
      handler: async ({ req }) => {
        const { userId } = await readJson(req)
        if (typeof userId !== 'string' || userId === '') {
          throw new HttpError(400, { error: 'userId must be a non-empty string' })
        }
        return ok({ id: userId, revoked_at: await api.revokeUser(userId) })
      },
    },
    {
      method: 'POST',
      pattern: /^\/emulator\/keys\/rotate$/,
      handler: async ({ req }) => {
        const { retireOld } = await readJson(req)
        if (retireOld !== undefined && typeof retireOld !== 'boolean') {
          throw new HttpError(400, { error: 'retireOld must be a boolean' })
        }
        return ok({ kid: await api.rotateKeys({ retireOld: retireOld === true }) })
      },
    },
    { method: 'GET', pattern: /^\/emulator\/faults$/, handler: async () => ok(state.faultList()) },
    {
      method: 'POST',
      pattern: /^\/emulator\/faults$/,
      handler: async ({ req }) => {
        const body = await readJson(req)
        const endpoint = endpointParam(String(body.endpoint))
        await call(() => api.setFault(endpoint, faultOf(body)))
        return ok()
      },
    },
    {
      method: 'PUT',
      pattern: /^\/emulator\/faults\/([^/]+)$/,
      handler: async ({ req, params }) => {
        const endpoint = endpointParam(params[0]!)
        const body = await readJson(req)
        await call(() => api.setFault(endpoint, faultOf(body)))
        return ok()
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/emulator\/faults\/([^/]+)$/,
      handler: async ({ params }) => {
        api.setFault(endpointParam(params[0]!), null)
        return ok()
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/emulator\/faults$/,
      handler: async () => {
        for (const e of EMULATOR_ENDPOINTS) api.setFault(e, null)
        return ok()
      },
    },
    {
      method: 'GET',
      pattern: /^\/emulator\/requests$/,
      handler: async () => ok(state.requestCounts()),
    },
    {
      method: 'DELETE',
      pattern: /^\/emulator\/requests$/,
      handler: async () => {
        api.resetRequestCounts()
        return ok()
      },
    },
  ]

  const routes = [...iam, ...admin]

  function send(
    res: ServerResponse,
    reply: Reply,
    extraHeaders: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return
    const body =
      reply.body === undefined
        ? ''
        : typeof reply.body === 'string'
          ? reply.body
          : JSON.stringify(reply.body)
    const headers: Record<string, string | number> = { ...extraHeaders, ...reply.headers }
    if (body !== '') headers['Content-Type'] = 'application/json'
    headers['Content-Length'] = Buffer.byteLength(body)
    res.writeHead(reply.status, headers)
    res.end(body)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator')
    const path = url.pathname
    const isAdmin = path === '/emulator' || path.startsWith('/emulator/')
    const origin = req.headers.origin
    // CORS for the IAM paths only, so a browser app can call them directly; never for /emulator.
    const cors: Record<string, string> =
      !isAdmin && origin ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {}
    if (isAdmin && origin !== undefined && !isLoopbackOrigin(origin)) {
      return send(res, { status: 403, body: { error: 'cross-origin requests are refused' } })
    }
    if (req.method === 'OPTIONS' && !isAdmin) {
      return send(
        res,
        { status: 204 },
        {
          ...cors,
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers':
            req.headers['access-control-request-headers'] ?? 'Authorization, Content-Type',
          'Access-Control-Max-Age': '600',
        },
      )
    }
    const onPath = routes.filter((r) => r.pattern.test(path))
    if (onPath.length === 0) {
      return send(res, { status: 404, body: { errorCode: 20008, errorMessage: 'not found' } }, cors)
    }
    const route = onPath.find((r) => r.method === req.method)
    if (!route) {
      const allow = [...new Set(onPath.map((r) => r.method))].join(', ')
      return send(
        res,
        {
          status: 405,
          body: { errorCode: 20000, errorMessage: 'method not allowed' },
          headers: { Allow: allow },
        },
        cors,
      )
    }
    let params: string[]
    try {
      params = route.pattern
        .exec(path)!
        .slice(1)
        .map((p) => decodeURIComponent(p))
    } catch {
      return send(
        res,
        { status: 400, body: { errorCode: 20002, errorMessage: 'malformed path' } },
        cors,
      )
    }
    if (route.endpoint) {
      const fault = state.arrive(route.endpoint)
      if (fault) {
        await delays.wait(fault.delayMs)
        if (delays.closed) return void res.destroy()
        if (fault.status !== undefined) {
          req.resume()
          return send(
            res,
            {
              status: fault.status,
              body: faultBody(route.endpoint, fault.status),
              headers: { 'X-Emulator-Fault': 'injected' },
            },
            cors,
          )
        }
      }
    }
    let reply: Reply
    try {
      reply = await route.handler({ req, url, params })
    } catch (err) {
      if (err instanceof HttpError) {
        reply = { status: err.status, body: err.body, headers: err.headers }
      } else {
        reply = {
          status: 500,
          body: route.endpoint
            ? { errorCode: 20000, errorMessage: 'internal server error' }
            : { error: err instanceof Error ? err.message : String(err) },
        }
      }
    }
    req.resume()
    send(res, reply, cors)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  return { server, abortDelays: () => delays.close() }
}
