/**
 * Express integration (Express 4 and 5): the seed's Flask extension, as Express users expect it.
 * A translator over the adapter kit (`iam-node-sdk/http`): every decision is made there.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { IAM, permissionRequired } from 'iam-node-sdk/express'
 *
 * const app = express()
 * app.set('IAM_BASE_URL', 'https://demo.accelbyte.io/iam')
 * app.set('IAM_CLIENT_ID', '<Client ID>')
 * app.set('IAM_CLIENT_SECRET', '<Client Secret>')
 * const iam = new IAM(app)
 *
 * app.get('/protected',
 *   permissionRequired({ Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *                      { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }),
 *   (req, res) => res.send('You have authorized access!'))
 * ```
 * @packageDocumentation
 */
import type { Application, ErrorRequestHandler, Request, RequestHandler, Response } from 'express'

import {
  DeferredProtection,
  IamError,
  applyCorsHeaders,
  beforeWriteHead,
  computeCorsHeaders,
  createHttpRequest,
  createRouteCors,
  createRouteGuard,
  isIamError,
  nodeHeaderSink,
  requireContext,
  setRequestContext,
  toHttpErrorResponse,
  validateProtectionOptions,
} from '../core/http/index.js'
import type {
  CorsHeaderValue,
  CorsHeaders,
  CorsRequestInfo,
  CorsRouteOptions,
  HttpProtection,
  HttpRequest,
  IamClient,
  IamProtectionOptions,
  IamRequestContext,
  PermissionResources,
  RequiredPermission,
  ResolvedHttpProtectionOptions,
  RouteProtectionOptions,
} from '../core/http/index.js'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The validated IAM context, set by `permissionRequired` (absent on an optional route without a token). */
      iam?: IamRequestContext
    }
  }
}

export * from '../core/http/adapter-exports.js'

/** Options of {@link IAM}: the core client's options plus the HTTP protection options. */
export type IamExpressOptions = IamProtectionOptions

const APP_KEY = Symbol.for('iam-node-sdk/express')

/** Responses whose CORS a route's `corsOptions` decided (merged): the app-wide pass keeps off. */
const routeCorsApplied = new WeakSet<Response>()

interface IamHolder {
  [APP_KEY]?: IAM
  parent?: unknown
}

/** The {@link IAM} of an app or of the app it is mounted on (like Flask's `current_app`). */
function findIam(app: unknown): { iam: IAM; app: Application } | undefined {
  for (let a = app as IamHolder | undefined, depth = 0; a && depth < 32; depth++) {
    const iam = a[APP_KEY]
    if (iam !== undefined) return { iam, app: a as unknown as Application }
    a = a.parent as IamHolder | undefined
  }
  return undefined
}

function toHttpRequest(req: Request): HttpRequest {
  return createHttpRequest({
    method: req.method,
    headers: req.headers,
    host: () => req.hostname, // proxy-aware
    params: req.params,
    rawHeaders: req.rawHeaders,
    path: () => req.originalUrl,
    route: () => (req.route as { path?: unknown } | undefined)?.path?.toString(),
  })
}

/** Methods of the matched route, or of the `Allow` header Express sets on automatic OPTIONS. */
function corsInfo(req: Request, res: Response): CorsRequestInfo {
  const route = (req.route as { methods?: Record<string, boolean> } | undefined)?.methods
  let routeMethods = route && !route._all ? Object.keys(route).filter((m) => route[m]) : undefined
  const allow = res.getHeader('Allow')
  if (!routeMethods?.length && typeof allow === 'string' && allow !== '') {
    routeMethods = allow.split(',').map((m) => m.trim())
  }
  return {
    origin: req.headers.origin,
    requestHeaders: req.get('access-control-request-headers'),
    requestMethod: req.get('access-control-request-method'),
    routeMethods: routeMethods?.length ? routeMethods : undefined,
  }
}

function applyCors(res: Response, cors: CorsHeaders | undefined, override: boolean): void {
  if (cors !== undefined) applyCorsHeaders(cors, nodeHeaderSink(res), override)
}

/**
 * Renders SDK errors as the wire JSON body (`{ errorCode, errorMessage }`) with their status and
 * `headers` (`WWW-Authenticate`); passes every other error on. {@link IAM} appends one to the app
 * by itself, after your routes and error handlers, so yours see an `IamError` first and may
 * reshape it (keep `err.headers`).
 */
export function iamErrorHandler(): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (!isIamError(err) || res.headersSent) return next(err)
    const { status, headers, body } = toHttpErrorResponse(err)
    res.status(status).set(headers).json(body)
  }
}

/**
 * The IAM integration of an Express app (Flask's `IAM` extension). Configuration: the options
 * object, then the app's `IAM_*` settings (`app.set('IAM_BASE_URL', ...)`), then environment
 * variables, then defaults. With an app given, it starts at once; `initApp(app)` later otherwise.
 */
export class IAM {
  readonly #options: IamExpressOptions
  readonly #deferred = new DeferredProtection()
  readonly #apps = new WeakSet<object>()
  readonly #handlerInstalled = new WeakSet<object>()

  /** Validates `options` (a `TypeError` names a bad one) and, given an app, starts. */
  constructor(app?: Application, options?: IamExpressOptions) {
    validateProtectionOptions(options)
    this.#options = { ...options }
    if (app !== undefined) void this.initApp(app)
  }

  /** Settles when the client token, JWKS and revocation list are loaded; rejects if it failed. */
  get ready(): Promise<void> {
    return this.#deferred.ready
  }

  /** Attaches the integration to `app` and starts the client on the first call. */
  initApp(app: Application): Promise<void> {
    if (typeof app !== 'function' || typeof (app as Partial<Application>).use !== 'function') {
      throw new TypeError('IAM.initApp(app) expects an Express application')
    }
    this.#deferred.create({
      options: this.#options,
      setting: (key) => app.get(key),
      settingKeys: () => Object.keys((app as { settings?: object }).settings ?? {}),
      env: process.env,
    })
    if (!this.#apps.has(app)) {
      this.#apps.add(app)
      ;(app as unknown as IamHolder)[APP_KEY] = this
      this.#errorHandlerOnFirstRequest(app)
      // A layer runs on every request (~4 µs on Express): only when app-wide CORS needs one, or
      // when the configuration is not known yet (a failed start tried again later).
      const protection = this.protection
      if (protection === undefined || protection.options.cors !== undefined) {
        app.use(this.#corsMiddleware())
      }
    }
    return this.ready
  }

  /** The core client (`iam.client.validatePermission(...)`). Throws before `initApp`. */
  get client(): IamClient {
    return this.#require().client as IamClient
  }

  /** The resolved HTTP options (frozen). Throws before `initApp`. */
  get options(): ResolvedHttpProtectionOptions {
    return this.#require().options
  }

  /** @internal The kit's protection (used by this module's middleware). */
  get protection(): HttpProtection | undefined {
    return this.#deferred.protection
  }

  #require(): HttpProtection {
    if (this.protection === undefined) {
      throw new TypeError('IAM is not initialised: call new IAM(app) or iam.initApp(app) first')
    }
    return this.protection
  }

  /** @internal Appends the error handler once, on the first request: after the app's own. */
  ensureErrorHandler(app: Application): void {
    if (this.#handlerInstalled.has(app)) return
    this.#handlerInstalled.add(app)
    app.use(iamErrorHandler())
  }

  /**
   * Appends the error handler when the app handles its first request (after the routes and
   * error handlers registered by then), through the app's own entry point, `app.handle`, which
   * Express calls for every request, mounted sub-apps included: no router layer for it.
   */
  #errorHandlerOnFirstRequest(app: Application): void {
    type Handle = (this: unknown, req: unknown, res: unknown, callback: unknown) => unknown
    const entry = app as unknown as { handle: Handle }
    const handle = entry.handle
    const ensure = () => this.ensureErrorHandler(app) // a WeakSet lookup once it is there
    entry.handle = function (req, res, callback) {
      ensure()
      return handle.call(this, req, res, callback)
    }
  }

  #corsMiddleware(): RequestHandler {
    return (req, res, next) => {
      const protection = this.protection
      if (protection?.options.cors !== undefined) {
        // When the headers go out: a route's own values win, and its methods are known by then.
        beforeWriteHead(res, () => {
          if (!routeCorsApplied.has(res)) applyCors(res, protection.cors(corsInfo(req, res)), false)
        })
      }
      next()
    }
  }

  /**
   * A health (readiness) endpoint: 200 with a JSON body per resource when the SDK can decide
   * requests, 503 with the same body when it cannot: `app.get('/healthz/iam', iam.healthHandler())`.
   */
  healthHandler(): RequestHandler {
    return (_req, res) => {
      const { status, body } = this.#require().health()
      res.status(status).set('Cache-Control', 'no-store').json(body)
    }
  }

  /** Stops the client's background work (when the integration built the client). */
  async close(): Promise<void> {
    await this.#deferred.close()
  }
}

/**
 * Protects a route (Flask's `token_required`): a valid access token, and, given a permission,
 * that the token grants it. Placeholders (`{namespace}`) come from `resources` (an object, or a
 * function of the request), then from route parameters. Options: `csrfProtect`, `optional`,
 * `scopes`, `check`. The context is put on `req.iam`; refusals go to `next(err)` as an
 * `IamError` (with `status` and `headers`).
 *
 * @example
 * ```ts
 * app.get('/ns/:namespace/users/:userId',
 *   permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }),
 *   (req, res) => res.json(requireIam(req).claims))
 * ```
 */
export function permissionRequired(
  permission?: RequiredPermission | null,
  resources?: PermissionResources<Request> | null,
  options?: RouteProtectionOptions<Request>,
): RequestHandler {
  const guard = createRouteGuard<Request>(permission, resources, options)
  return (req, _res, next) => {
    const found = findIam(req.app)
    const protection = found?.iam.protection
    if (found === undefined || protection === undefined) {
      next(
        new IamError('ERR_IAM_NOT_READY', 'IAM is not initialised or not configured on this app'),
      )
      return
    }
    found.iam.ensureErrorHandler(found.app)
    // Synchronously when the answer is at hand: no promise, no microtask on the hot path.
    protection.authorizeCallback(guard, toHttpRequest(req), req, (error, context) => {
      if (error !== undefined) return next(error)
      // Express makes `req.app.request` the prototype of each request: see setRequestContext.
      if (context !== undefined)
        setRequestContext(req, context, (req.app as { request?: object }).request)
      next()
    })
  }
}

/** The seed's name for {@link permissionRequired}. */
export const tokenRequired = permissionRequired

/**
 * The validated context of a protected request, typed (no `req.iam!`); `ERR_IAM_INTERNAL` when
 * the route is not protected (or optional without a token).
 *
 * @example
 * ```ts
 * app.get('/me', permissionRequired(), (req, res) => res.json({ sub: requireIam(req).claims.sub }))
 * ```
 */
export function requireIam(req: Request): IamRequestContext {
  return requireContext(req.iam)
}

/**
 * Per-route CORS headers (Flask's `cors_options`), overriding the app-wide ones. Use it on the
 * route's methods and on its `OPTIONS`, where it answers the preflight (200, empty body, no
 * authentication).
 *
 * @example
 * ```ts
 * const cors = corsOptions({ 'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os'] })
 * app.options('/cors', cors)
 * app.get('/cors', cors, (req, res) => res.send('You access a CORS page!'))
 * ```
 */
export function corsOptions(
  headers?: Readonly<Record<string, CorsHeaderValue>>,
  options?: CorsRouteOptions,
): RequestHandler {
  const route = createRouteCors(headers, options)
  return (req, res, next) => {
    const info = corsInfo(req, res)
    const protection = findIam(req.app)?.iam.protection
    routeCorsApplied.add(res)
    applyCors(
      res,
      protection ? protection.cors(info, route.policy) : computeCorsHeaders(route.policy, info),
      true,
    )
    if (route.preflight && req.method === 'OPTIONS') {
      res.status(200).end()
      return
    }
    next()
  }
}
