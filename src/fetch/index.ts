/**
 * Fetch-standard integration: the same protection as `iam-node-sdk/express`, for handlers that
 * take a web `Request` and return a `Response` (Next.js route handlers, Bun, Deno, ...). A
 * translator over the adapter kit (`iam-node-sdk/http`): every decision is made there.
 *
 * @example
 * ```ts
 * import { createIam } from 'iam-node-sdk/fetch'
 *
 * const iam = createIam({ baseUrl: 'https://demo.accelbyte.io/iam', clientId, clientSecret })
 * export const GET = iam.protect(
 *   (request) => Response.json({ user: request.iam.claims.sub }),
 *   { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *   { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
 * )
 * ```
 * @packageDocumentation
 */
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
  IamClient,
  IamProtectionOptions,
  IamRequestContext,
  PermissionResources,
  RequiredPermission,
  ResolvedHttpProtectionOptions,
  RouteGuard,
  RouteProtectionOptions,
} from '../core/http/index.js'

export * from '../core/http/adapter-exports.js'

/** Options of {@link createIam}: those of `iam-node-sdk/express`, plus `env`. */
export interface IamFetchOptions extends IamProtectionOptions {
  /** Where `IAM_*` fallbacks are read. Default `process.env` where it exists. */
  env?: Readonly<Record<string, string | undefined>>
}

/** Route parameters, for placeholders such as `{userId}`. */
export type RouteParams = Readonly<Record<string, string | undefined>>

/** A request that passed {@link FetchIam.protect}: the validated context is `request.iam`. */
export type IamRequest = Request & { readonly iam: IamRequestContext }

/** A request that passed an optional {@link FetchIam.protect}: `request.iam` when it had a token. */
export type OptionalIamRequest = Request & { readonly iam?: IamRequestContext }

/**
 * The check of {@link FetchIam.permissionRequired}: the validated context (`undefined` on an
 * optional route without a token), or the error `Response`.
 */
export type IamCheck<Context = IamRequestContext> = (
  request: Request,
  params?: RouteParams,
) => Promise<Context | Response>

/** Options of {@link FetchIam.protect}. */
export interface ProtectOptions<Args extends unknown[]> extends RouteProtectionOptions<Request> {
  /** Route parameters of the request, from the handler's other arguments (a router's match). */
  params?: (request: Request, ...args: Args) => RouteParams | Promise<RouteParams>
  /** Methods the handler serves, for `Access-Control-Allow-Methods`. Default: the request's. */
  methods?: readonly string[]
}

/** Options of {@link FetchIam.corsOptions}. */
export interface CorsWrapOptions extends CorsRouteOptions {
  /**
   * Methods the handler serves, for `Access-Control-Allow-Methods`. Default: the request's.
   * Given, a preflight the handler answers 404 is answered (the handler serves this path).
   */
  methods?: readonly string[]
}

type Handler<R, Args extends unknown[]> = (
  request: R,
  ...args: Args
) => Response | Promise<Response>

/** What {@link createIam} returns. */
export interface FetchIam {
  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  readonly ready: Promise<void>
  /** The core client. */
  readonly client: IamClient
  /** The resolved HTTP options (frozen). */
  readonly options: ResolvedHttpProtectionOptions
  /** A check (Flask's `token_required`): the context, or the error `Response` (with CORS). */
  permissionRequired(
    permission: RequiredPermission | null | undefined,
    resources: PermissionResources<Request> | null | undefined,
    options: RouteProtectionOptions<Request> & { optional: true },
  ): IamCheck<IamRequestContext | undefined>
  permissionRequired(
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Request> | null,
    options?: RouteProtectionOptions<Request>,
  ): IamCheck
  /** The seed's name for {@link FetchIam.permissionRequired}. */
  tokenRequired: FetchIam['permissionRequired']
  /**
   * Wraps a handler: checks the request, puts the context on `request.iam`, applies app-wide
   * CORS and answers its preflight. Other arguments are passed through.
   */
  protect<Args extends unknown[]>(
    handler: Handler<OptionalIamRequest, Args>,
    permission: RequiredPermission | null | undefined,
    resources: PermissionResources<Request> | null | undefined,
    options: ProtectOptions<Args> & { optional: true },
  ): (request: Request, ...args: Args) => Promise<Response>
  protect<Args extends unknown[]>(
    handler: Handler<IamRequest, Args>,
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Request> | null,
    options?: ProtectOptions<Args>,
  ): (request: Request, ...args: Args) => Promise<Response>
  // Otherwise `params` types the other arguments (a handler may leave them out).
  protect<Args extends unknown[], H extends Handler<IamRequest, Args>>(
    handler: H,
    permission: RequiredPermission | null | undefined,
    resources: PermissionResources<Request> | null | undefined,
    options: ProtectOptions<Args> & Required<Pick<ProtectOptions<Args>, 'params'>>,
  ): (request: Request, ...args: Args) => Promise<Response>
  protect<Args extends unknown[], H extends Handler<OptionalIamRequest, Args>>(
    handler: H,
    permission: RequiredPermission | null | undefined,
    resources: PermissionResources<Request> | null | undefined,
    options: ProtectOptions<Args> &
      Required<Pick<ProtectOptions<Args>, 'params'>> & { optional: true },
  ): (request: Request, ...args: Args) => Promise<Response>
  /**
   * Wraps a handler with CORS (Flask's `cors_options`): app-wide values, overridden by `headers`;
   * answers `OPTIONS` itself (200, empty body). Without `headers`, app-wide CORS only.
   */
  corsOptions<Args extends unknown[]>(
    handler: Handler<Request, Args>,
    headers?: Readonly<Record<string, CorsHeaderValue>>,
    options?: CorsWrapOptions,
  ): (request: Request, ...args: Args) => Promise<Response>
  /** A health (readiness) handler: 200 or 503 with a JSON body per resource. */
  healthHandler(): (request?: Request) => Response
  /** Stops the client's background work (when the integration built the client). */
  close(): Promise<void>
}

/**
 * Creates the integration and starts the client. Options: the core client's and the HTTP
 * options, then `IAM_*` environment variables, then defaults. Requests that arrive before the
 * start completes wait for it (up to `readyTimeoutMs`).
 *
 * @example
 * ```ts
 * const iam = createIam() // IAM_BASE_URL, IAM_CLIENT_ID, IAM_CLIENT_SECRET from the environment
 * const check = iam.permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' })
 * const result = await check(request, { namespace: 'ns', userId: 'u1' })
 * if (result instanceof Response) return result // 401 / 403 / ... with the wire body
 * ```
 */
export function createIam(options: IamFetchOptions = {}): FetchIam {
  const { env, ...rest } = options
  const protection = HttpProtection.create({
    options: rest,
    env: env ?? (globalThis as { process?: { env?: Record<string, string> } }).process?.env,
  })
  // A route's CORS policy (from `corsOptions`), seen by a `protect` inside it, so that both apply
  // the same merged values and a handler's own headers win, as in Express.
  const routeCors = new WeakMap<Request, CorsPolicy>()
  const corsOf = (request: Request, route?: CorsPolicy, methods?: readonly string[]) => {
    route ??= routeCors.get(request)
    if (route === undefined && protection.options.cors === undefined) return undefined
    return protection.cors(webCorsInfo(request, methods), route)
  }
  // A tagged result: `instanceof Response` is not reliable where a server replaces the global
  // `Response` (as @hono/node-server does), and a Response must never pass for a context.
  type Decision = { context: IamRequestContext | undefined } | { refusal: Response }
  const authorize = (
    guard: RouteGuard<Request>,
    request: Request,
    params: RouteParams | (() => RouteParams | Promise<RouteParams>) | undefined,
    cors: () => CorsHeaders | undefined,
  ): Decision | Promise<Decision> => {
    const refuse = (error: unknown): Decision => ({ refusal: errorResponse(error, cors()) })
    try {
      if (typeof params === 'function') {
        return Promise.resolve(params()).then((p) => authorize(guard, request, p, cors), refuse)
      }
      const http = createHttpRequest({
        method: request.method,
        headers: (name) => request.headers.get(name),
        host: () => request.headers.get('host') ?? URL.parse(request.url)?.host,
        params,
        path: () => URL.parse(request.url)?.pathname,
      })
      // At once when the answer is at hand (a token seen before): no promise to wait for.
      const found = protection.decide(guard, http, request)
      return found instanceof Promise
        ? found.then((context) => ({ context }), refuse)
        : { context: found }
    } catch (error) {
      return refuse(error)
    }
  }
  const permissionRequired = (
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Request> | null,
    opts?: RouteProtectionOptions<Request>,
  ): IamCheck<IamRequestContext | undefined> => {
    const guard = createRouteGuard<Request>(permission, resources, opts)
    return async (request, params) => {
      const result = await authorize(guard, request, params, () => corsOf(request))
      return 'context' in result ? result.context : result.refusal
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
    permissionRequired: permissionRequired as FetchIam['permissionRequired'],
    tokenRequired: permissionRequired as FetchIam['permissionRequired'],
    protect(
      handler: Handler<IamRequest, unknown[]>,
      permission?: RequiredPermission | null,
      resources?: PermissionResources<Request> | null,
      opts?: ProtectOptions<unknown[]>,
    ) {
      const { params, methods, ...routeOptions } = opts ?? {}
      const guard = createRouteGuard<Request>(permission, resources, routeOptions)
      if (params !== undefined && typeof params !== 'function') {
        throw new TypeError('protect option params must be a function')
      }
      return async (request: Request, ...args: unknown[]) => {
        const cors = corsOf(request, undefined, methods)
        if (cors !== undefined && request.method === 'OPTIONS') return preflightResponse(cors)
        const found = params && (() => params(request, ...args))
        const decided = authorize(guard, request, found, () => cors)
        const result = decided instanceof Promise ? await decided : decided
        if (!('context' in result)) return result.refusal
        if (result.context !== undefined) {
          ;(request as { iam?: IamRequestContext }).iam = result.context
        }
        return withCors(await handler(request as IamRequest, ...args), cors, false)
      }
    },
    corsOptions(handler, headers, opts = {}) {
      const { policy, preflight } = createRouteCors(headers, opts)
      const route = headers === undefined ? undefined : policy
      return async (request, ...args) => {
        const cors = corsOf(request, route, opts.methods)
        if (cors === undefined) return handler(request, ...args)
        const answersPreflight = preflight && request.method === 'OPTIONS'
        if (answersPreflight && route !== undefined) return preflightResponse(cors)
        if (route !== undefined) routeCors.set(request, route)
        const response = await handler(request, ...args)
        // App-wide only (around a whole router): the router's own OPTIONS answer wins; a CORS
        // preflight to a path it serves with other methods (405, or `methods` given) is answered
        // here, as Express does; a path nothing serves stays a 404.
        const served =
          response.status === 405 || (opts.methods !== undefined && response.status === 404)
        if (
          answersPreflight &&
          served &&
          isPreflight(
            request.method,
            request.headers.get('access-control-request-method') ?? undefined,
          )
        ) {
          await response.body?.cancel()
          return preflightResponse(cors)
        }
        // Values the handler set itself win, as in Express (an inner protect used the same policy).
        return withCors(response, cors, false)
      }
    },
    healthHandler: () => () => healthWebResponse(protection.health()),
    close: () => protection.close(),
  }
}
