/**
 * Express integration (Express 4 and 5): the seed's Flask extension, as Express users expect it.
 * A thin translator over the framework-neutral core in `core/http`.
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
 * await iam.ready
 *
 * app.get('/protected',
 *   permissionRequired({ Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *                      { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
 *                      { csrfProtect: true }),
 *   (req, res) => res.send('You have authorized access!'))
 * ```
 * @packageDocumentation
 */
import type { Application, ErrorRequestHandler, Request, RequestHandler } from 'express'

import type { IamClient } from '../core/client.js'
import { IamError, isIamError } from '../core/errors.js'
import type { IamRequestContext } from '../core/http/request.js'
import type { RequiredPermission } from '../core/types.js'
import { HttpProtection, validateProtectionOptions } from '../core/http/protection.js'
import type { IamProtectionOptions } from '../core/http/protection.js'
import { createRouteGuard } from '../core/http/pipeline.js'
import type { PermissionResources, RouteProtectionOptions } from '../core/http/pipeline.js'
import type { ResolvedHttpProtectionOptions } from '../core/http/options.js'
import { toHttpErrorResponse } from '../core/http/response.js'
import { computeCorsHeaders, parseRouteCors } from '../core/http/cors.js'
import type { CorsHeaderValue } from '../core/http/cors.js'
import { applyCors, corsRequestInfo, onHeaders, toHttpRequest } from './translate.js'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The validated IAM context, set by `permissionRequired` / `tokenRequired`. */
      iam?: IamRequestContext
    }
  }
}

export type { IamRequestContext, TokenSource } from '../core/http/request.js'
export type { HttpProtectionOptions, TokenLocation } from '../core/http/options.js'
export type { CorsHeaderValue, CorsOriginInput } from '../core/http/cors.js'
export type { PermissionResources, RouteProtectionOptions } from '../core/http/pipeline.js'
export { IamError, isIamError } from '../core/errors.js'

/** Options of {@link IAM}: the core client's options plus the HTTP protection options. */
export type IamExpressOptions = IamProtectionOptions

const APP_KEY = Symbol.for('iam-node-sdk/express')

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

/**
 * Renders SDK errors as the wire JSON body (`{ errorCode, errorMessage }`) with their status and
 * `WWW-Authenticate` header; passes every other error on. {@link IAM} appends one to the app by
 * itself; use this only to place it explicitly.
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
 * variables, then defaults.
 *
 * @example
 * ```ts
 * // factory pattern
 * const iam = new IAM()
 * function createApp() {
 *   const app = express()
 *   app.set('IAM_BASE_URL', process.env.IAM_BASE_URL)
 *   iam.initApp(app)
 *   return app
 * }
 * ```
 */
export class IAM {
  readonly #options: IamExpressOptions
  #protection: HttpProtection | undefined
  #ready!: Promise<void>
  #settle!: { resolve: () => void; reject: (error: unknown) => void }
  #failed = false
  readonly #apps = new WeakSet<object>()
  readonly #handlerInstalled = new WeakSet<object>()

  /**
   * Validates `options` (a `TypeError` names a bad one) and, given an app, starts
   * initialisation (see {@link IAM.initApp}).
   */
  constructor(app?: Application, options?: IamExpressOptions) {
    validateProtectionOptions(options)
    this.#options = { ...options }
    this.#newReady()
    if (app !== undefined) void this.initApp(app)
  }

  #newReady(): void {
    this.#ready = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }))
    this.#ready.catch(() => {})
  }

  /**
   * Settles when the client token is granted and the JWKS and revocation list are loaded; rejects
   * with a `TypeError` naming missing settings, or with the error that prevented the start.
   */
  get ready(): Promise<void> {
    return this.#ready
  }

  /**
   * Attaches the integration to `app` (readiness, app-wide CORS, error rendering) and starts the
   * client on the first call. Returns {@link IAM.ready}.
   */
  initApp(app: Application): Promise<void> {
    if (typeof app !== 'function' || typeof (app as Partial<Application>).use !== 'function') {
      throw new TypeError('IAM.initApp(app) expects an Express application')
    }
    if (this.#protection === undefined) {
      if (this.#failed) this.#newReady() // a later initApp with fixed settings tries again
      try {
        this.#protection = HttpProtection.create({
          options: this.#options,
          setting: (key) => app.get(key),
          settingKeys: () => Object.keys((app as { settings?: object }).settings ?? {}),
          env: process.env,
        })
        this.#protection.ready.then(this.#settle.resolve, this.#settle.reject)
      } catch (error) {
        this.#failed = true
        this.#settle.reject(error)
      }
    }
    if (!this.#apps.has(app)) {
      this.#apps.add(app)
      ;(app as unknown as IamHolder)[APP_KEY] = this
      app.use(this.#firstMiddleware(app))
    }
    return this.#ready
  }

  /** The core client (`iam.client.validatePermission(...)`). Throws before `initApp`. */
  get client(): IamClient {
    return this.#require().client as IamClient
  }

  /** The resolved HTTP options (frozen). Throws before `initApp`. */
  get options(): ResolvedHttpProtectionOptions {
    return this.#require().options
  }

  /** @internal The core protection (used by the middleware of this module). */
  get protection(): HttpProtection | undefined {
    return this.#protection
  }

  #require(): HttpProtection {
    if (this.#protection === undefined) {
      throw new TypeError('IAM is not initialised: call new IAM(app) or iam.initApp(app) first')
    }
    return this.#protection
  }

  /**
   * Appends the IAM error handler to the end of `app`'s stack, once. Done on the first request
   * (not at `initApp`), so that it comes after the app's routes and own error handlers.
   * @internal
   */
  ensureErrorHandler(app: Application): void {
    if (this.#handlerInstalled.has(app)) return
    this.#handlerInstalled.add(app)
    app.use(iamErrorHandler())
  }

  #firstMiddleware(app: Application): RequestHandler {
    return (req, res, next) => {
      this.ensureErrorHandler(app)
      const protection = this.#protection
      if (protection?.options.cors !== undefined) {
        // App-wide CORS is applied when the headers go out, so a route's own values win and the
        // route's methods are known by then.
        onHeaders(res, () => {
          const cors = protection.cors(corsRequestInfo(req, res))
          if (cors !== undefined) applyCors(res, cors, false)
        })
      }
      next()
    }
  }

  /**
   * A health (readiness) endpoint: 200 with a JSON body per resource (loaded, age, last error,
   * serving stale) when the SDK can decide requests, 503 with the same body when it cannot.
   *
   * @example
   * ```ts
   * app.get('/healthz/iam', iam.healthHandler())
   * ```
   */
  healthHandler(): RequestHandler {
    return (_req, res) => {
      const protection = this.#protection
      if (protection === undefined) {
        res.status(503).json({ status: 'not_ready', reason: 'IAM is not initialised' })
        return
      }
      const { status, body } = protection.health()
      res.status(status).set('Cache-Control', 'no-store').json(body)
    }
  }

  /** Stops the client's background work (when the integration built the client). */
  async close(): Promise<void> {
    await this.#protection?.close()
  }
}

/**
 * Protects a route (Flask's `token_required`): requires a valid access token, and, given a
 * permission, that the token grants it. Placeholders (`{namespace}`) take their values from
 * `resources` (an object, or a function of the request), then from route parameters
 * (`/ns/:namespace`). `csrfProtect` overrides `csrfProtection` for this route. The validated
 * context is put on `req.iam`; refusals go to `next(err)` as an `IamError`.
 *
 * @example
 * ```ts
 * app.get('/ns/:namespace/users/:userId',
 *   permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }),
 *   (req, res) => res.json(req.iam?.claims))
 * ```
 */
export function permissionRequired(
  permission?: RequiredPermission | null,
  resources?: PermissionResources<Request> | null,
  options?: RouteProtectionOptions,
): RequestHandler {
  const guard = createRouteGuard<Request>(permission, resources, options)
  return (req, _res, next) => {
    const found = findIam(req.app)
    if (found !== undefined) found.iam.ensureErrorHandler(found.app)
    const protection = found?.iam.protection
    if (protection === undefined) {
      next(
        new IamError('ERR_IAM_NOT_READY', 'IAM is not initialised or not configured on this app'),
      )
      return
    }
    protection.authorize(guard, toHttpRequest(req), req).then(
      (context) => {
        req.iam = context
        next()
      },
      (error: unknown) => next(isIamError(error) ? error : wrapUnexpected(error)),
    )
  }
}

/** The seed's name for {@link permissionRequired}. */
export const tokenRequired = permissionRequired

/** An unexpected failure inside the SDK: answered 500 / 20000, the cause kept for logs. */
function wrapUnexpected(error: unknown): IamError {
  return new IamError('ERR_IAM_INTERNAL', 'unexpected error', { cause: error })
}

/** Options of {@link corsOptions}. */
export interface CorsRouteOptions {
  /** Answer `OPTIONS` requests (200, empty body) without running anything after. Default true. */
  preflight?: boolean
}

/**
 * Per-route CORS headers (Flask's `cors_options`), overriding the app-wide ones. Use it on the
 * route's methods and on its `OPTIONS`, where it answers the preflight itself (200, empty body,
 * no authentication).
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
  options: CorsRouteOptions = {},
): RequestHandler {
  const route = parseRouteCors(headers)
  const preflight = options.preflight ?? true
  if (typeof preflight !== 'boolean')
    throw new TypeError('corsOptions option preflight must be a boolean')
  return (req, res, next) => {
    const info = corsRequestInfo(req, res)
    const protection = findIam(req.app)?.iam.protection
    const cors = protection ? protection.cors(info, route) : computeCorsHeaders(route, info)
    if (cors !== undefined) applyCors(res, cors, true)
    if (preflight && req.method === 'OPTIONS') {
      res.status(200).end()
      return
    }
    next()
  }
}
