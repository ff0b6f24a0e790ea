/**
 * Hono integration (Hono 4, on any runtime; on `@hono/node-server` the headers are read from
 * Node's request, no web `Headers` built). A translator over the adapter kit
 * (`iam-node-sdk/http`): every decision is made there.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { createIam } from 'iam-node-sdk/hono'
 *
 * const iam = createIam({ baseUrl: 'https://demo.accelbyte.io/iam', clientId, clientSecret })
 * const app = new Hono()
 * app.get('/ns/:namespace/users/:userId',
 *   iam.permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }),
 *   (c) => c.json({ sub: c.var.iam.claims.sub }))
 * ```
 * @packageDocumentation
 */
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'

import {
  HttpProtection,
  createHttpRequest,
  createRouteCors,
  createRouteGuard,
  errorResponse,
  healthWebResponse,
  isPreflight,
  preflightResponse,
  webCorsInfo,
  withCors,
} from '../core/http/index.js'
import type {
  CorsHeaderValue,
  CorsHeaders,
  CorsPolicy,
  CorsRouteOptions,
  HttpRequest,
  IamClient,
  IamError,
  IamProtectionOptions,
  IamRequestContext,
  PermissionResources,
  RequiredPermission,
  ResolvedHttpProtectionOptions,
  RouteProtectionOptions,
} from '../core/http/index.js'

export * from '../core/http/adapter-exports.js'

/** The environment a protected handler sees: `c.var.iam` typed. */
export type IamEnv = { Variables: { iam: IamRequestContext } }
/** The environment of an optional route: `c.var.iam` when the request had a token. */
export type OptionalIamEnv = { Variables: { iam: IamRequestContext | undefined } }

/** Options of {@link createIam}: those of `iam-node-sdk/express`, plus `env`. */
export interface IamHonoOptions extends IamProtectionOptions {
  /** Where `IAM_*` fallbacks are read. Default `process.env` where it exists. */
  env?: Readonly<Record<string, string | undefined>>
}

/**
 * A refusal, thrown so that `app.onError` sees it: an `HTTPException` whose response is the wire
 * answer (status, `WWW-Authenticate`, JSON body) and whose `cause` is the `IamError`.
 */
export class IamHttpException extends HTTPException {
  constructor(
    readonly iamError: IamError,
    cors?: CorsHeaders,
  ) {
    super(iamError.status as 401, {
      res: errorResponse(iamError, cors),
      message: iamError.message,
      cause: iamError,
    })
  }
}

/** What {@link createIam} returns. */
export interface HonoIam {
  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  readonly ready: Promise<void>
  readonly client: IamClient
  readonly options: ResolvedHttpProtectionOptions
  /**
   * App-wide CORS (`corsEnable`) and its preflights; given the app, a preflight to a path that
   * other methods serve is answered (as Express does), one nothing serves stays a 404.
   */
  middleware(options?: { app?: Hono<never> | Hono }): MiddlewareHandler
  /** Protects a route (Flask's `token_required`); the context is `c.var.iam`. */
  permissionRequired(
    permission: RequiredPermission | null | undefined,
    resources: PermissionResources<Context> | null | undefined,
    options: RouteProtectionOptions<Context> & { optional: true },
  ): MiddlewareHandler<OptionalIamEnv>
  permissionRequired(
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Context> | null,
    options?: RouteProtectionOptions<Context>,
  ): MiddlewareHandler<IamEnv>
  tokenRequired: HonoIam['permissionRequired']
  /** Per-route CORS (Flask's `cors_options`); on `OPTIONS` it answers the preflight itself. */
  corsOptions(
    headers?: Readonly<Record<string, CorsHeaderValue>>,
    options?: CorsRouteOptions,
  ): MiddlewareHandler
  /** A health (readiness) handler: 200 or 503 with a JSON body per resource. */
  healthHandler(): (c: Context) => Response
  close(): Promise<void>
}

interface NodeIncoming {
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
}

/** Node's request on `@hono/node-server` (`c.env.incoming`), else `undefined`. */
function incomingOf(c: Context): NodeIncoming | undefined {
  const incoming = (c.env as { incoming?: Partial<NodeIncoming> } | undefined)?.incoming
  return incoming?.headers !== undefined && Array.isArray(incoming.rawHeaders)
    ? (incoming as NodeIncoming)
    : undefined
}

function toHttpRequest(c: Context): HttpRequest {
  const incoming = incomingOf(c)
  return createHttpRequest({
    method: c.req.method,
    // Node's parsed headers where there are some: no web `Headers` is built.
    headers: incoming?.headers ?? ((name) => c.req.raw.headers.get(name)),
    rawHeaders: incoming?.rawHeaders,
    host: () => c.req.header('host') ?? URL.parse(c.req.url)?.host,
    params: c.req.param(),
    path: () => c.req.path,
    route: () => c.req.routePath,
  })
}

/**
 * Replaces `c.res` only when headers could not be set in place: assigning rebuilds the response,
 * and on @hono/node-server that drops headers set on it since it was made.
 */
function setResponse(c: Context, response: Response): void {
  if (response !== c.res) c.res = response
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** Methods with a route (not a middleware) for `path` in `app`'s router. */
function methodsServing(app: Hono, path: string): string[] {
  return METHODS.filter((method) => {
    const [matched] = app.router.match(method, path) as unknown as [[[unknown, { method: string }]]]
    return matched.some(([entry]) => (entry as [unknown, { method: string }])[1]?.method === method)
  })
}

/**
 * Creates the integration and starts the client. Options: the core client's and the HTTP
 * options, then `IAM_*` environment variables, then defaults.
 *
 * @example
 * ```ts
 * const iam = createIam() // IAM_BASE_URL, IAM_CLIENT_ID, IAM_CLIENT_SECRET from the environment
 * app.use(iam.middleware({ app }))
 * app.onError((err, c) => (err instanceof IamHttpException ? err.getResponse() : c.text('oops', 500)))
 * ```
 */
export function createIam(options: IamHonoOptions = {}): HonoIam {
  const { env, ...rest } = options
  const protection = HttpProtection.create({
    options: rest,
    env: env ?? (globalThis as { process?: { env?: Record<string, string> } }).process?.env,
  })
  // A route's CORS policy, seen by the app-wide middleware and by refusals on the same request.
  const routeCors = new WeakMap<Request, CorsPolicy>()
  const corsOf = (c: Context, methods?: string[]) => {
    const route = routeCors.get(c.req.raw)
    if (route === undefined && protection.options.cors === undefined) return undefined
    return protection.cors(webCorsInfo(c.req.raw, methods), route)
  }
  const permissionRequired = (
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Context> | null,
    opts?: RouteProtectionOptions<Context>,
  ): MiddlewareHandler<OptionalIamEnv> => {
    const guard = createRouteGuard<Context>(permission, resources, opts)
    return async (c, next) => {
      try {
        // Without waiting when the answer is at hand (no promise on the hot path).
        const found = protection.decide(guard, toHttpRequest(c), c)
        c.set('iam', found instanceof Promise ? await found : found)
      } catch (error) {
        throw new IamHttpException(error as IamError, corsOf(c))
      }
      await next()
    }
  }
  return {
    get ready() {
      return protection.ready
    },
    get client() {
      return protection.client as IamClient
    },
    get options() {
      return protection.options
    },
    middleware: ({ app } = {}) =>
      async function iamMiddleware(c, next) {
        if (protection.options.cors === undefined) return next()
        const preflight = isPreflight(c.req.method, c.req.header('access-control-request-method'))
        await next()
        const served =
          preflight && c.res.status === 404 && app ? methodsServing(app as Hono, c.req.path) : []
        if (served.length > 0) c.res = preflightResponse(corsOf(c, served) as CorsHeaders)
        else setResponse(c, withCors(c.res, corsOf(c), false))
      },
    permissionRequired: permissionRequired as HonoIam['permissionRequired'],
    tokenRequired: permissionRequired as HonoIam['permissionRequired'],
    corsOptions(headers, opts) {
      const route = createRouteCors(headers, opts)
      return async function iamCorsOptions(c, next) {
        routeCors.set(c.req.raw, route.policy)
        const cors = protection.cors(webCorsInfo(c.req.raw), route.policy)
        if (route.preflight && c.req.method === 'OPTIONS')
          return preflightResponse(cors as CorsHeaders)
        await next()
        // Before the app-wide values, after the handler's own (which win, as in Express).
        setResponse(c, withCors(c.res, cors, false))
      }
    },
    healthHandler: () => () => healthWebResponse(protection.health()),
    close: () => protection.close(),
  }
}
