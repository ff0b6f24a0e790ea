/**
 * Fastify integration (Fastify 5): the same protection as `iam-node-sdk/express`, as a plugin.
 * A translator over the adapter kit (`iam-node-sdk/http`): every decision is made there.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { iamPlugin, permissionRequired } from 'iam-node-sdk/fastify'
 *
 * const app = Fastify()
 * await app.register(iamPlugin, { baseUrl: 'https://demo.accelbyte.io/iam', clientId, clientSecret })
 * app.get('/protected',
 *   { preHandler: permissionRequired({ Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *                                    { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }) },
 *   async () => 'You have authorized access!')
 * await app.listen({ port: 3000 }) // rejects when the IAM cannot be reached
 * ```
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

import {
  HttpProtection,
  IamError,
  applyCorsHeaders,
  computeCorsHeaders,
  createHttpRequest,
  createRouteCors,
  createRouteGuard,
  isPreflight,
  requireContext,
} from '../core/http/index.js'
import type {
  CorsHeaderValue,
  CorsHeaders,
  CorsRequestInfo,
  CorsRouteOptions,
  IamClient,
  IamProtectionOptions,
  IamRequestContext,
  PermissionResources,
  RequiredPermission,
  ResolvedHttpProtectionOptions,
  RouteProtectionOptions,
} from '../core/http/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated IAM context, set by `permissionRequired` (absent on an optional route without a token). */
    iam?: IamRequestContext
  }
  interface FastifyInstance {
    /** The IAM integration registered by `iamPlugin`. */
    iam: IamFastify
  }
}

export * from '../core/http/adapter-exports.js'

/** Options of {@link iamPlugin}: those of `iam-node-sdk/express`, plus `awaitReady`. */
export interface IamFastifyOptions extends IamProtectionOptions {
  /**
   * Wait in `onReady` for the token grant, JWKS and revocation list, so that `app.ready()` and
   * `app.listen()` reject when the IAM cannot be reached. `false`: start at once; protected
   * routes wait for the IAM (up to `readyTimeoutMs`) or answer 503. Default `true`.
   */
  awaitReady?: boolean
}

/** A hook usable as a route's `onRequest` or `preHandler` (and, for `corsOptions`, as a handler). */
export type IamHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

/**
 * `permissionRequired`'s hook: callback-style, so that Fastify moves on synchronously when the
 * answer is at hand (no promise on the hot path).
 */
export type IamGuardHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void

/** What the plugin decorates the instance with: `app.iam`. */
export class IamFastify {
  /** @internal */
  constructor(readonly protection: HttpProtection) {}
  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  get ready(): Promise<void> {
    return this.protection.ready
  }
  /** The core client (`app.iam.client.validatePermission(...)`). */
  get client(): IamClient {
    return this.protection.client as IamClient
  }
  /** The resolved HTTP options (frozen). */
  get options(): ResolvedHttpProtectionOptions {
    return this.protection.options
  }
  /** A health (readiness) handler: 200 or 503 with a JSON body per resource. */
  healthHandler(): IamHook {
    return async (_request, reply) => {
      const { status, body } = this.protection.health()
      return reply.code(status).header('cache-control', 'no-store').send(body)
    }
  }
}

function iamOf(request: FastifyRequest): IamFastify | undefined {
  const iam = (request.server as { iam?: unknown }).iam
  return iam instanceof IamFastify ? iam : undefined
}

function corsInfo(request: FastifyRequest, routeMethods?: string[]): CorsRequestInfo {
  const method = request.routeOptions.method as string | string[] | undefined
  const header = (name: string) => request.headers[name]?.toString()
  return {
    origin: request.headers.origin,
    requestHeaders: header('access-control-request-headers'),
    requestMethod: header('access-control-request-method'),
    routeMethods: routeMethods ?? (method === undefined ? undefined : [method].flat()),
  }
}

function applyCors(reply: FastifyReply, cors: CorsHeaders | undefined): void {
  if (cors === undefined) return
  applyCorsHeaders(
    cors,
    {
      has: (name) => reply.hasHeader(name),
      get: (name) => reply.getHeader(name)?.toString(),
      set: (name, value) => void reply.header(name, value),
    },
    true,
  )
}

/** Refusals thrown by this module, so that their default rendering can be replaced (see onSend). */
const refused = new WeakMap<FastifyRequest, IamError>()

/** True when `payload` is Fastify's default rendering of `error` (no handler reshaped it). */
function isDefaultErrorBody(payload: unknown, error: IamError, status: number): boolean {
  if (typeof payload !== 'string' || status !== error.status) return false
  try {
    const body = JSON.parse(payload) as Record<string, unknown>
    return body.statusCode === status && body.code === error.code && body.message === error.message
  } catch {
    return false
  }
}

const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** The methods that have a route for this URL's path (Fastify's own router answers). */
function methodsServing(app: FastifyInstance, url: string): string[] {
  const path = url.split('?', 1)[0] as string
  return ROUTE_METHODS.filter((method) => app.findRoute({ method, url: path }) !== null)
}

const plugin: FastifyPluginAsync<IamFastifyOptions> = async (app, options) => {
  // Fastify's own registration options are not ours.
  const {
    awaitReady = true,
    prefix: _p,
    logLevel: _l,
    logSerializers: _s,
    ...rest
  } = options as IamFastifyOptions & {
    prefix?: unknown
    logLevel?: unknown
    logSerializers?: unknown
  }
  if (typeof awaitReady !== 'boolean')
    throw new TypeError('IAM option awaitReady must be a boolean')
  // Checked before the client starts, so that a second registration leaves nothing running.
  if (app.hasDecorator('iam')) throw new Error('iamPlugin is already registered on this instance')
  const protection = HttpProtection.create({
    // The application's logger by default (pino: the SDK's `(details, message)` shape).
    options: { ...rest, logger: rest.logger ?? app.log },
    env: process.env,
  })
  app.decorate('iam', new IamFastify(protection))
  app.decorateRequest('iam', undefined)
  app.addHook('onClose', async () => protection.close())
  if (awaitReady) app.addHook('onReady', async () => protection.ready)
  // Refusals are thrown, so the application's error handler sees them first and may reshape
  // them; when none does, Fastify's default body is replaced by the wire body.
  app.addHook('onSend', (request, reply, payload, done) => {
    const error = refused.get(request)
    if (error === undefined || !isDefaultErrorBody(payload, error, reply.statusCode)) {
      done(null, payload)
    } else done(null, JSON.stringify(error.body))
  })
  if (protection.options.cors === undefined) return
  app.addHook('onRequest', (request, reply, done) => {
    // Fastify has no automatic OPTIONS route: answer the preflight of a path served by other
    // methods, listing them, as Express does; a path nothing serves stays a 404.
    const preflight = isPreflight(request.method, corsInfo(request).requestMethod)
    const pathMethods = preflight && request.is404 ? methodsServing(app, request.url) : undefined
    applyCors(reply, protection.cors(corsInfo(request, pathMethods)))
    if (pathMethods !== undefined && pathMethods.length > 0) reply.code(200).send()
    else done()
  })
}

/**
 * The IAM plugin (Flask's `IAM` extension). Options: the core client's and the HTTP options,
 * then `IAM_*` environment variables, then defaults. Decorates the instance with `app.iam`,
 * starts the client at registration, waits for it in `onReady` (see `awaitReady`) and closes it
 * in `onClose`. Logs through `app.log` unless given a `logger`. Register it at the root.
 */
export const iamPlugin = fp(plugin, { name: 'iam-node-sdk', fastify: '5.x' })

/**
 * Protects a route (Flask's `token_required`): a `preHandler` requiring a valid access token
 * and, given a permission, that the token grants it; placeholders from `resources`, then
 * `request.params`. Options: `csrfProtect`, `optional`, `scopes`, `check`. The context is put on
 * `request.iam`; a refusal is thrown as an `IamError` (with `statusCode` and `headers`) to
 * Fastify's error handling.
 *
 * @example
 * ```ts
 * app.get('/ns/:namespace/users/:userId',
 *   { preHandler: permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }) },
 *   async (request) => requireIam(request).claims)
 * ```
 */
export function permissionRequired(
  permission?: RequiredPermission | null,
  resources?: PermissionResources<FastifyRequest> | null,
  options?: RouteProtectionOptions<FastifyRequest>,
): IamGuardHook {
  const guard = createRouteGuard<FastifyRequest>(permission, resources, options)
  return function iamPermissionRequired(request, reply, done) {
    if (reply.sent) return done() // a preflight answered by corsOptions earlier in the chain
    const iam = iamOf(request)
    if (iam === undefined) {
      const error = new IamError('ERR_IAM_NOT_READY', 'register iamPlugin first')
      refused.set(request, error)
      return done(error)
    }
    const http = createHttpRequest({
      method: request.method,
      headers: request.headers,
      host: () => request.host, // trustProxy-aware
      params: request.params as Record<string, unknown> | undefined,
      rawHeaders: request.raw.rawHeaders,
      path: () => request.url,
      route: () => request.routeOptions.url,
    })
    iam.protection.authorizeCallback(guard, http, request, (error, context) => {
      if (error !== undefined) {
        refused.set(request, error)
        return done(error)
      }
      if (context !== undefined) request.iam = context
      done()
    })
  }
}

/** The seed's name for {@link permissionRequired}. */
export const tokenRequired = permissionRequired

/**
 * The validated context of a protected request, typed (no `request.iam!`); `ERR_IAM_INTERNAL`
 * when the route is not protected (or optional without a token).
 */
export function requireIam(request: FastifyRequest): IamRequestContext {
  return requireContext(request.iam)
}

/**
 * Per-route CORS headers (Flask's `cors_options`), overriding the app-wide ones. Use it as the
 * route's `onRequest` hook, and as the handler of its `OPTIONS` route, where it answers the
 * preflight (200, empty body, no authentication).
 *
 * @example
 * ```ts
 * const cors = corsOptions({ 'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os'] })
 * app.options('/cors', cors)
 * app.get('/cors', { onRequest: cors }, async () => 'You access a CORS page!')
 * ```
 */
export function corsOptions(
  headers?: Readonly<Record<string, CorsHeaderValue>>,
  options?: CorsRouteOptions,
): IamHook {
  const route = createRouteCors(headers, options)
  return async function iamCorsOptions(request, reply) {
    const info = corsInfo(request)
    const protection = iamOf(request)?.protection
    // The route's merged answer replaces the app-wide one (which may allow what the route does not).
    for (const name of Object.keys(reply.getHeaders())) {
      if (name.startsWith('access-control-')) reply.removeHeader(name)
    }
    applyCors(
      reply,
      protection ? protection.cors(info, route.policy) : computeCorsHeaders(route.policy, info),
    )
    if (route.preflight && request.method === 'OPTIONS') return reply.code(200).send()
    return undefined
  }
}
