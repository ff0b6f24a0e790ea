/**
 * Fastify integration (Fastify 5): the same protection as `iam-node-sdk/express`, as a plugin.
 * A thin translator over the framework-neutral core in `core/http`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { iamPlugin, permissionRequired } from 'iam-node-sdk/fastify'
 *
 * const app = Fastify()
 * await app.register(iamPlugin, {
 *   baseUrl: 'https://demo.accelbyte.io/iam',
 *   clientId: '<Client ID>',
 *   clientSecret: '<Client Secret>',
 * })
 * app.get(
 *   '/protected',
 *   {
 *     preHandler: permissionRequired(
 *       { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *       { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
 *     ),
 *   },
 *   async () => 'You have authorized access!',
 * )
 * await app.listen({ port: 3000 }) // rejects when the IAM cannot be reached
 * ```
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

import type { IamClient } from '../core/client.js'
import { IamError, isIamError } from '../core/errors.js'
import { computeCorsHeaders, parseRouteCors } from '../core/http/cors.js'
import type { CorsHeaderValue } from '../core/http/cors.js'
import type { ResolvedHttpProtectionOptions } from '../core/http/options.js'
import { createRouteGuard } from '../core/http/pipeline.js'
import type { PermissionResources, RouteProtectionOptions } from '../core/http/pipeline.js'
import { HttpProtection } from '../core/http/protection.js'
import type { IamProtectionOptions } from '../core/http/protection.js'
import type { IamRequestContext } from '../core/http/request.js'
import { toHttpErrorResponse } from '../core/http/response.js'
import type { RequiredPermission } from '../core/types.js'
import {
  applyCors,
  corsRequestInfo,
  isDefaultErrorBody,
  toHttpRequest,
  withHeaders,
} from './translate.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated IAM context, set by `permissionRequired` / `tokenRequired`. */
    iam?: IamRequestContext
  }
  interface FastifyInstance {
    /** The IAM integration registered by `iamPlugin`. */
    iam: IamFastify
  }
}

export type { IamRequestContext, TokenSource } from '../core/http/request.js'
export type { HttpProtectionOptions, TokenLocation } from '../core/http/options.js'
export type { CorsHeaderValue, CorsOriginInput } from '../core/http/cors.js'
export type { PermissionResources, RouteProtectionOptions } from '../core/http/pipeline.js'
export { IamError, isIamError } from '../core/errors.js'

/** Options of {@link iamPlugin}: those of `iam-node-sdk/express`, plus `awaitReady`. */
export interface IamFastifyOptions extends IamProtectionOptions {
  /**
   * Wait in `onReady` for the token grant, JWKS and revocation list, so that `app.ready()` and
   * `app.listen()` reject when the IAM cannot be reached. `false`: the server starts at once and
   * protected routes wait for the IAM (up to `readyTimeoutMs`) or answer 503, as in Express.
   * Default `true`.
   */
  awaitReady?: boolean
}

/**
 * What the plugin decorates the instance with: `app.iam`.
 *
 * @example
 * ```ts
 * await app.ready()
 * const allowed = await app.iam.client.validatePermission(claims, { resource, action: 2 })
 * ```
 */
export interface IamFastify {
  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  readonly ready: Promise<void>
  /** The core client (`app.iam.client.validatePermission(...)`). */
  readonly client: IamClient
  /** The resolved HTTP options (frozen). */
  readonly options: ResolvedHttpProtectionOptions
  /**
   * A health (readiness) route handler: 200 with a JSON body per resource when the SDK can
   * decide requests, 503 with the same body when it cannot.
   *
   * @example
   * ```ts
   * app.get('/healthz/iam', app.iam.healthHandler())
   * ```
   */
  healthHandler(): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>
}

/**
 * A hook usable as a route's `onRequest` or `preHandler` (and, for `corsOptions`, as the handler
 * of an `OPTIONS` route).
 *
 * @example
 * ```ts
 * const hooks: IamHook[] = [permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}' })]
 * app.get('/ns/:namespace', { preHandler: hooks }, handler)
 * ```
 */
export type IamHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

class FastifyIam implements IamFastify {
  constructor(readonly protection: HttpProtection) {}
  get ready(): Promise<void> {
    return this.protection.ready
  }
  get client(): IamClient {
    return this.protection.client as IamClient
  }
  get options(): ResolvedHttpProtectionOptions {
    return this.protection.options
  }
  healthHandler() {
    return async (_request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = this.protection.health()
      return reply.code(status).header('cache-control', 'no-store').send(body)
    }
  }
}

function iamOf(request: FastifyRequest): FastifyIam | undefined {
  const iam = (request.server as { iam?: unknown }).iam
  return iam instanceof FastifyIam ? iam : undefined
}

/** Refusals thrown by this module, so that their default rendering can be replaced (see onSend). */
const refused = new WeakMap<FastifyRequest, IamError>()

const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** The methods that have a route for this URL's path (Fastify's own router answers). */
function methodsServing(app: FastifyInstance, url: string): string[] {
  const query = url.indexOf('?')
  const path = query < 0 ? url : url.slice(0, query)
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
  // The application's logger by default (pino: the SDK's `(details, message)` shape).
  const protection = HttpProtection.create({
    options: { ...rest, logger: rest.logger ?? app.log },
    env: process.env,
  })
  app.decorate('iam', new FastifyIam(protection))
  app.decorateRequest('iam', undefined)
  app.addHook('onClose', async () => protection.close())
  if (awaitReady) app.addHook('onReady', async () => protection.ready)
  // Refusals are thrown, so the application's error handler sees them first and may reshape
  // them; when none does, Fastify's default body is replaced by the wire body.
  app.addHook('onSend', (request, reply, payload, done) => {
    const error = refused.get(request)
    if (error === undefined || !isDefaultErrorBody(payload, error, reply.statusCode)) {
      done(null, payload)
    } else done(null, JSON.stringify(toHttpErrorResponse(error).body))
  })
  if (protection.options.cors === undefined) return
  app.addHook('onRequest', (request, reply, done) => {
    const preflight =
      request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined
    // Fastify has no automatic OPTIONS route: answer the preflight of a path served by other
    // methods, listing them, as Express does; a path nothing serves stays a 404.
    const pathMethods = preflight && request.is404 ? methodsServing(app, request.url) : undefined
    const info = corsRequestInfo(request)
    const cors = protection.cors(pathMethods ? { ...info, routeMethods: pathMethods } : info)
    if (cors !== undefined) applyCors(reply, cors, true)
    if (pathMethods !== undefined && pathMethods.length > 0) reply.code(200).send()
    else done()
  })
}

/**
 * The IAM plugin (Flask's `IAM` extension, Express's `new IAM(app)`). Options: the core client's
 * (`baseUrl`, `clientId`, `clientSecret`, ...) and the HTTP options (`csrfProtection`,
 * `corsEnable`, ...), then `IAM_*` environment variables, then defaults. Decorates the instance
 * with `app.iam`, starts the client at registration, waits for it in `onReady` (see
 * `awaitReady`) and closes it in `onClose`. Register it at the root.
 *
 * @example
 * ```ts
 * await app.register(iamPlugin, { csrfProtection: true, corsEnable: true })
 * await app.ready() // IAM_BASE_URL, IAM_CLIENT_ID, IAM_CLIENT_SECRET from the environment
 * ```
 */
export const iamPlugin = fp(plugin, { name: 'iam-node-sdk', fastify: '5.x' })

/**
 * Protects a route (Flask's `token_required`): a `preHandler` that requires a valid access token
 * and, given a permission, that the token grants it. Placeholders (`{namespace}`) take their
 * values from `resources` (an object, or a function of the request), then from
 * `request.params`. The validated context is put on `request.iam`; a refusal is thrown as an
 * `IamError` (with `statusCode` and `headers`) to Fastify's error handling.
 *
 * @example
 * ```ts
 * app.get(
 *   '/ns/:namespace/users/:userId',
 *   { preHandler: permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }) },
 *   async (request) => request.iam?.claims,
 * )
 * ```
 */
export function permissionRequired(
  permission?: RequiredPermission | null,
  resources?: PermissionResources<FastifyRequest> | null,
  options?: RouteProtectionOptions,
): IamHook {
  const guard = createRouteGuard<FastifyRequest>(permission, resources, options)
  return async function iamPermissionRequired(request, reply) {
    if (reply.sent) return // a preflight answered by corsOptions earlier in the chain
    try {
      const iam = iamOf(request)
      if (iam === undefined) {
        throw new IamError('ERR_IAM_NOT_READY', 'IAM is not initialised: register iamPlugin')
      }
      request.iam = await iam.protection.authorize(guard, toHttpRequest(request), request)
    } catch (error) {
      const refusal = withHeaders(
        isIamError(error)
          ? error
          : new IamError('ERR_IAM_INTERNAL', 'unexpected error', { cause: error }),
      )
      refused.set(request, refusal)
      throw refusal
    }
  }
}

/**
 * The seed's name for {@link permissionRequired}.
 *
 * @example
 * ```ts
 * app.get('/me', { preHandler: tokenRequired() }, async (request) => request.iam?.claims.sub)
 * ```
 */
export const tokenRequired = permissionRequired

/** Options of {@link corsOptions}. */
export interface CorsRouteOptions {
  /** Answer `OPTIONS` requests (200, empty body) without running anything after. Default true. */
  preflight?: boolean
}

/**
 * Per-route CORS headers (Flask's `cors_options`), overriding the app-wide ones. Use it as the
 * route's `onRequest` hook, and as the handler of its `OPTIONS` route, where it answers the
 * preflight itself (200, empty body, no authentication).
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
  options: CorsRouteOptions = {},
): IamHook {
  const route = parseRouteCors(headers)
  const preflight = options.preflight ?? true
  if (typeof preflight !== 'boolean')
    throw new TypeError('corsOptions option preflight must be a boolean')
  return async function iamCorsOptions(request, reply) {
    const info = corsRequestInfo(request)
    const protection = iamOf(request)?.protection
    const cors = protection ? protection.cors(info, route) : computeCorsHeaders(route, info)
    if (cors !== undefined) applyCors(reply, cors, true)
    if (preflight && request.method === 'OPTIONS') return reply.code(200).send()
    return undefined
  }
}
