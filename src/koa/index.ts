/**
 * Koa integration (Koa 2 and 3): the same protection as `iam-node-sdk/express`, as Koa
 * middleware. A translator over the adapter kit (`iam-node-sdk/http`): every decision is made
 * there. Route parameters come from the router (`ctx.params`, as `@koa/router` sets them).
 *
 * @example
 * ```ts
 * import Koa from 'koa'
 * import Router from '@koa/router'
 * import { createIam } from 'iam-node-sdk/koa'
 *
 * const iam = createIam({ baseUrl: 'https://demo.accelbyte.io/iam', clientId, clientSecret })
 * const app = new Koa()
 * const router = new Router()
 * app.use(iam.middleware())
 * router.get('/protected',
 *   iam.permissionRequired({ Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *                          { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }),
 *   (ctx) => { ctx.body = 'You have authorized access!' })
 * app.use(router.routes()).use(router.allowedMethods())
 * ```
 * @packageDocumentation
 */
import type { Middleware, ParameterizedContext } from 'koa'

import {
  HttpProtection,
  applyCorsHeaders,
  createHttpRequest,
  createRouteCors,
  createRouteGuard,
  isIamError,
  isPreflight,
  requireContext,
  toHttpErrorResponse,
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

declare module 'koa' {
  interface DefaultState {
    /** The validated IAM context, set by `permissionRequired` (absent on an optional route without a token). */
    iam?: IamRequestContext
  }
}

export * from '../core/http/adapter-exports.js'
export type { IamErrorBody, IamErrorHeaders } from '../core/http/index.js'

/**
 * Options of {@link createIam}: those of `iam-node-sdk/express` (core client + HTTP options).
 *
 * @example
 * ```ts
 * const options: IamKoaOptions = { baseUrl, clientId, clientSecret, corsEnable: true }
 * ```
 */
export type IamKoaOptions = IamProtectionOptions

/**
 * The Koa context the route options' functions (`resources`, `check`) receive.
 *
 * @example
 * ```ts
 * const tenant = (ctx: IamKoaContext) => ({ '{namespace}': ctx.get('x-namespace') })
 * ```
 */
export type IamKoaContext = ParameterizedContext

/**
 * The state `permissionRequired` fills, for apps that type theirs.
 *
 * @example
 * ```ts
 * interface AppState extends IamState { requestId: string }
 * const router = new Router<AppState>()
 * ```
 */
export interface IamState {
  iam?: IamRequestContext
}

/** Headers that describe the request's CORS answer: kept on an error answer. */
const CORS_HEADER = /^(access-control-|vary$)/i

/** Methods the router serves on this path: `@koa/router`'s matched layers, else `Allow`. */
function routeMethods(ctx: ParameterizedContext): string[] | undefined {
  const methods = new Set<string>()
  const matched = (ctx as { matched?: unknown }).matched
  if (Array.isArray(matched)) {
    for (const layer of matched as { methods?: unknown }[]) {
      if (Array.isArray(layer?.methods)) for (const m of layer.methods) methods.add(String(m))
    }
  }
  if (methods.size === 0) {
    const allow = ctx.res.getHeader('Allow')?.toString() ?? ''
    for (const m of allow.split(',')) if (m.trim()) methods.add(m.trim())
  }
  return methods.size > 0 ? [...methods] : undefined
}

function corsInfo(ctx: ParameterizedContext, methods: string[] | undefined): CorsRequestInfo {
  const header = (name: string) => ctx.get(name) || undefined
  return {
    origin: header('origin'),
    requestHeaders: header('access-control-request-headers'),
    requestMethod: header('access-control-request-method'),
    routeMethods: methods,
  }
}

function applyCors(ctx: ParameterizedContext, cors: CorsHeaders | undefined, override: boolean) {
  if (cors === undefined) return
  const sink = {
    has: (name: string) => ctx.res.hasHeader(name),
    get: (name: string) => ctx.res.getHeader(name)?.toString(),
    set: (name: string, value: string) => ctx.set(name, value),
  }
  applyCorsHeaders(cors, sink, override)
}

/** Requests whose route set its own CORS headers (the merged policy): the app-wide pass skips them. */
const routeCorsApplied = new WeakSet<object>()

/** An empty 200 (a preflight's answer); `null` first, or Koa would make it a 204. */
function answerEmpty(ctx: ParameterizedContext): void {
  ctx.body = null
  ctx.status = 200
}

/**
 * `ctx.onerror` of the requests the integration sees: an `IamError` nobody reshaped is answered
 * with its status, `headers` and the wire JSON (Koa's own would render text and drop the CORS
 * headers); any other error goes to the app's (or Koa's) `onerror`, keeping the CORS headers.
 */
function onerror(this: ParameterizedContext, error: Error | null): void {
  if (error == null) return // Koa calls it when the response finishes
  const cors: Record<string, string> = {}
  for (const name of this.res.getHeaderNames()) {
    if (CORS_HEADER.test(name)) cors[name] = String(this.res.getHeader(name))
  }
  if (!isIamError(error) || this.headerSent || !this.writable) {
    if (error instanceof Error && Object.keys(cors).length > 0 && !isIamError(error)) {
      const own = (error as { headers?: object }).headers
      Object.assign(error, { headers: { ...cors, ...own } }) // as @koa/cors does
    }
    return (Object.getPrototypeOf(this) as ParameterizedContext).onerror.call(this, error)
  }
  this.app.emit('error', error, this)
  for (const name of this.res.getHeaderNames()) this.res.removeHeader(name)
  const { status, headers, body } = toHttpErrorResponse(error)
  this.set({ ...cors, ...headers })
  this.type = 'json'
  this.status = status
  const text = JSON.stringify(body)
  this.length = Buffer.byteLength(text)
  this.res.end(text)
}

/**
 * The integration {@link createIam} returns: middleware factories, `ready`, `client`, `close()`.
 *
 * @example
 * ```ts
 * const iam: KoaIam = createIam()
 * app.use(iam.middleware())
 * router.get('/me', iam.tokenRequired(), (ctx) => { ctx.body = requireIam(ctx).claims })
 * ```
 */
export class KoaIam {
  readonly #protection: HttpProtection

  /** @internal Use {@link createIam}. */
  constructor(protection: HttpProtection) {
    this.#protection = protection
  }

  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  get ready(): Promise<void> {
    return this.#protection.ready
  }

  /** The core client (`iam.client.validatePermission(...)`). */
  get client(): IamClient {
    return this.#protection.client as IamClient
  }

  /** The resolved HTTP options (frozen). */
  get options(): ResolvedHttpProtectionOptions {
    return this.#protection.options
  }

  /**
   * The app-wide middleware, to `app.use` first: answers with the wire JSON an `IamError` that
   * nobody reshaped, adds the app-wide CORS headers (`corsEnable`) to every answer, and answers
   * the CORS preflight of a path the router serves with other methods.
   *
   * @example
   * ```ts
   * app.use(iam.middleware())
   * app.use(router.routes()).use(router.allowedMethods())
   * ```
   */
  middleware(): Middleware {
    const protection = this.#protection
    return async function iamMiddleware(ctx, next) {
      ctx.onerror = onerror
      if (protection.options.cors === undefined) return next()
      let failed = true
      try {
        await next()
        failed = false
      } finally {
        const methods = routeMethods(ctx)
        const preflight = isPreflight(ctx.method, ctx.get('access-control-request-method'))
        if (!failed && preflight && ctx.status === 404 && ctx.body == null && methods) {
          answerEmpty(ctx)
        }
        // After the router: its methods are known, and a handler's own values win.
        if (!routeCorsApplied.has(ctx)) {
          applyCors(ctx, protection.cors(corsInfo(ctx, methods)), false)
        }
      }
    }
  }

  /**
   * Protects a route (Flask's `token_required`): a valid access token and, given a permission,
   * that the token grants it; placeholders from `resources`, then `ctx.params`. Options:
   * `csrfProtect`, `optional`, `scopes`, `check`. The context is put on `ctx.state.iam`; a refusal
   * is thrown as an `IamError` (with `status`, `expose` and `headers`) to your error handling.
   *
   * @example
   * ```ts
   * router.get('/ns/:namespace/users/:userId',
   *   iam.permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }),
   *   (ctx) => { ctx.body = requireIam(ctx).claims })
   * ```
   */
  permissionRequired(
    permission?: RequiredPermission | null,
    resources?: PermissionResources<IamKoaContext> | null,
    options?: RouteProtectionOptions<IamKoaContext>,
  ): Middleware {
    const guard = createRouteGuard<IamKoaContext>(permission, resources, options)
    const protection = this.#protection
    return async function iamPermissionRequired(ctx, next) {
      const route = ctx as { routerPath?: unknown; _matchedRoute?: unknown; params?: unknown }
      const request = createHttpRequest({
        method: ctx.method,
        headers: ctx.headers,
        host: () => ctx.host, // proxy-aware with app.proxy
        params: route.params as Record<string, unknown> | undefined,
        rawHeaders: ctx.req.rawHeaders,
        path: () => ctx.originalUrl,
        route: () => String(route.routerPath ?? route._matchedRoute ?? '') || undefined,
      })
      let context: IamRequestContext | undefined
      try {
        // Without waiting when the answer is at hand (no promise on the hot path).
        const found = protection.decide(guard, request, ctx)
        context = found instanceof Promise ? await found : found
      } catch (error) {
        ctx.onerror = onerror // the wire JSON also without iam.middleware()
        throw error
      }
      if (context !== undefined) ctx.state.iam = context
      await next()
    }
  }

  /**
   * The seed's name for {@link KoaIam.permissionRequired}.
   *
   * @example
   * ```ts
   * router.get('/me', iam.tokenRequired(), (ctx) => { ctx.body = ctx.state.iam?.claims.sub })
   * ```
   */
  tokenRequired(
    permission?: RequiredPermission | null,
    resources?: PermissionResources<IamKoaContext> | null,
    options?: RouteProtectionOptions<IamKoaContext>,
  ): Middleware {
    return this.permissionRequired(permission, resources, options)
  }

  /**
   * Per-route CORS headers (Flask's `cors_options`), overriding the app-wide ones. Mount it on
   * the route's methods and on its `OPTIONS`, where it answers the preflight (200, empty body, no
   * authentication) unless `preflight: false`.
   *
   * @example
   * ```ts
   * const cors = iam.corsOptions({ 'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os'] })
   * router.options('/cors', cors)
   * router.get('/cors', cors, (ctx) => { ctx.body = 'You access a CORS page!' })
   * ```
   */
  corsOptions(
    headers?: Readonly<Record<string, CorsHeaderValue>>,
    options?: CorsRouteOptions,
  ): Middleware {
    const route = createRouteCors(headers, options)
    const protection = this.#protection
    return async function iamCorsOptions(ctx, next) {
      applyCors(ctx, protection.cors(corsInfo(ctx, routeMethods(ctx)), route.policy), true)
      routeCorsApplied.add(ctx)
      if (route.preflight && ctx.method === 'OPTIONS') return answerEmpty(ctx)
      await next()
    }
  }

  /**
   * A health (readiness) endpoint: 200 with a JSON body per resource when the SDK can decide
   * requests, 503 with the same body when it cannot.
   *
   * @example
   * ```ts
   * router.get('/healthz/iam', iam.healthHandler())
   * ```
   */
  healthHandler(): Middleware {
    const protection = this.#protection
    return function iamHealth(ctx) {
      const { status, body } = protection.health()
      ctx.status = status
      ctx.set('Cache-Control', 'no-store')
      ctx.body = body
    }
  }

  /** Stops the client's background work (when the integration built the client). */
  close(): Promise<void> {
    return this.#protection.close()
  }
}

/**
 * Creates the integration and starts the client. Options: the core client's and the HTTP
 * options, then `IAM_*` environment variables, then defaults; a bad or missing one throws a
 * `TypeError` naming it. Requests that arrive before the start completes wait for it (up to
 * `readyTimeoutMs`).
 *
 * @example
 * ```ts
 * const iam = createIam() // IAM_BASE_URL, IAM_CLIENT_ID, IAM_CLIENT_SECRET from the environment
 * app.use(iam.middleware())
 * ```
 */
export function createIam(options?: IamKoaOptions): KoaIam {
  return new KoaIam(HttpProtection.create({ options, env: process.env }))
}

/**
 * The validated context of a protected request, typed (no `ctx.state.iam!`); `ERR_IAM_INTERNAL`
 * when the route is not protected (or optional without a token).
 *
 * @example
 * ```ts
 * router.get('/me', iam.tokenRequired(), (ctx) => { ctx.body = { sub: requireIam(ctx).claims.sub } })
 * ```
 */
export function requireIam(ctx: { state: { iam?: IamRequestContext } }): IamRequestContext {
  return requireContext(ctx.state.iam)
}
