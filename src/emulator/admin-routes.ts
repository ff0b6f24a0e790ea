/**
 * The emulator's admin API (`/emulator/...`): the {@link Emulator} methods over HTTP, for
 * scripting a running emulator with `curl`. No auth: a loopback development tool (requests with
 * a non-loopback `Origin` are refused, so a web page cannot drive it).
 *
 * JSON in (whatever the content type, so `curl -d` works), JSON out; validation errors answer
 * 400 `{"error":"..."}`, an unknown endpoint name 404 `{"error":"..."}`.
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
 * | `POST /emulator/faults` | `{"endpoint", ...fault}` | `{}` |
 * | `PUT /emulator/faults/{endpoint}` | fault | `{}` |
 * | `DELETE /emulator/faults/{endpoint}` / `DELETE /emulator/faults` | | `{}` |
 * | `GET /emulator/requests` / `DELETE /emulator/requests` | | counts per endpoint / `{}` |
 * | `GET /emulator/streams` | | bytes written by each endpoint's last streamed answer |
 *
 * A fault is `{"status"?, "delayMs"?, "times"?, "body"?, "streamBytes"?, "hang"?}`, as
 * `setFault` takes it (see `faults.ts`); `"body"` may be any JSON value, `null` included.
 *
 * @example
 * ```sh
 * curl -s -X POST localhost:4300/emulator/tokens -d '{"permissions":[{"Resource":"ADMIN","Action":2}]}'
 * curl -s -X PUT localhost:4300/emulator/faults/jwks -d '{"status":503,"times":2}'
 * curl -s -X PUT localhost:4300/emulator/faults/clientInfo -d '{"body":{"redirectUri":null}}'
 * curl -s localhost:4300/emulator/requests
 * ```
 * @module
 */
import type { EmulatorFault } from './faults.js'
import { HttpError, readJson, type Reply, type Route } from './http.js'
import { EMULATOR_ENDPOINTS, type EmulatorEndpoint } from './iam-routes.js'
import type { Emulator } from './types.js'

const ok = (body: unknown = {}, status = 200): Reply => ({ status, body })

/** Runs an emulator method; its TypeErrors (validation) become 400s. */
async function call<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof TypeError) throw new HttpError(400, { error: err.message })
    throw err
  }
}

function endpointParam(name: string): EmulatorEndpoint {
  if (!EMULATOR_ENDPOINTS.includes(name as EmulatorEndpoint)) {
    throw new HttpError(404, {
      error: `unknown endpoint ${JSON.stringify(name)}; one of ${EMULATOR_ENDPOINTS.join(', ')}`,
    })
  }
  return name as EmulatorEndpoint
}

/** The fault fields of a request body, type-checked (`setFault` checks their values). */
function faultOf(body: Record<string, unknown>): EmulatorFault {
  const fault: EmulatorFault = {}
  for (const key of ['status', 'delayMs', 'times', 'streamBytes'] as const) {
    const v = body[key]
    if (v === undefined) continue
    if (typeof v !== 'number') throw new HttpError(400, { error: `${key} must be a number` })
    fault[key] = v
  }
  if (body.hang !== undefined) {
    if (typeof body.hang !== 'boolean')
      throw new HttpError(400, { error: 'hang must be a boolean' })
    fault.hang = body.hang
  }
  if ('body' in body) fault.body = body.body
  return fault
}

/** One value per endpoint, in wire order. */
function perEndpoint<T>(value: (endpoint: EmulatorEndpoint) => T): Record<EmulatorEndpoint, T> {
  return Object.fromEntries(EMULATOR_ENDPOINTS.map((e) => [e, value(e)])) as Record<
    EmulatorEndpoint,
    T
  >
}

/** The admin API over the emulator's public methods. */
export function adminRoutes(api: Emulator): Route[] {
  return [
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
    { method: 'GET', pattern: /^\/emulator\/faults$/, handler: async () => ok(api.faults()) },
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
      handler: async () => ok(perEndpoint((e) => api.requestCount(e))),
    },
    {
      method: 'DELETE',
      pattern: /^\/emulator\/requests$/,
      handler: async () => {
        api.resetRequestCounts()
        return ok()
      },
    },
    {
      method: 'GET',
      pattern: /^\/emulator\/streams$/,
      handler: async () => ok(perEndpoint((e) => api.streamedBytes(e))),
    },
  ]
}
