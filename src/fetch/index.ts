/**
 * Fetch-standard integration: the same protection as `iam-node-sdk/express`, for handlers that
 * take a web `Request` and return a `Response` (Hono, Next.js route handlers, Bun, Deno, ...).
 * A thin translator over the framework-neutral core in `core/http`.
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
import type { IamClient } from '../core/client.js'
import { parseRouteCors } from '../core/http/cors.js'
import type { CorsHeaderValue, CorsHeaders, CorsPolicy } from '../core/http/cors.js'
import type { ResolvedHttpProtectionOptions } from '../core/http/options.js'
import { createRouteGuard } from '../core/http/pipeline.js'
import type {
  PermissionResources,
  RouteGuard,
  RouteProtectionOptions,
} from '../core/http/pipeline.js'
import { HttpProtection } from '../core/http/protection.js'
import type { IamProtectionOptions } from '../core/http/protection.js'
import type { IamRequestContext } from '../core/http/request.js'
import type { RequiredPermission } from '../core/types.js'
import {
  applyCors,
  errorResponse,
  isUnanswered,
  preflightResponse,
  toHttpRequest,
} from './translate.js'

export type { IamRequestContext, TokenSource } from '../core/http/request.js'
export type { HttpProtectionOptions, TokenLocation } from '../core/http/options.js'
export type { CorsHeaderValue, CorsOriginInput } from '../core/http/cors.js'
export type { PermissionResources, RouteProtectionOptions } from '../core/http/pipeline.js'
export { IamError, isIamError } from '../core/errors.js'

/** Options of {@link createIam}: those of `iam-node-sdk/express`, plus `env`. */
export interface IamFetchOptions extends IamProtectionOptions {
  /** Where `IAM_*` fallbacks are read. Default `process.env` where it exists. */
  env?: Readonly<Record<string, string | undefined>>
}

/** Route parameters, for placeholders such as `{userId}`. */
export type RouteParams = Readonly<Record<string, string | undefined>>

/**
 * A request that passed {@link FetchIam.protect}: the validated context is `request.iam`.
 *
 * @example
 * ```ts
 * const GET = iam.protect((request: IamRequest) => Response.json(request.iam.claims.sub))
 * ```
 */
export type IamRequest = Request & { readonly iam: IamRequestContext }

/**
 * The check of {@link FetchIam.permissionRequired}: the validated context or the error `Response`.
 *
 * @example
 * ```ts
 * const check: IamCheck = iam.permissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}' })
 * const result = await check(request, { namespace: 'my-namespace' })
 * if (result instanceof Response) return result
 * ```
 */
export type IamCheck = (
  request: Request,
  params?: RouteParams,
) => Promise<IamRequestContext | Response>

/**
 * Options of {@link FetchIam.protect}.
 *
 * @example
 * ```ts
 * iam.protect(handler, permission, undefined, {
 *   params: (_request, { params }: { params: Promise<{ userId: string }> }) => params,
 *   csrfProtect: true,
 * })
 * ```
 */
export interface ProtectOptions<Args extends unknown[]> extends RouteProtectionOptions {
  /** Route parameters of the request, from the handler's other arguments (a router's match). */
  params?: (request: Request, ...args: Args) => RouteParams | Promise<RouteParams>
  /** Methods the handler serves, for `Access-Control-Allow-Methods`. Default: the request's. */
  methods?: readonly string[]
}

/**
 * Options of {@link FetchIam.cors}.
 *
 * @example
 * ```ts
 * iam.cors(handler, { 'Access-Control-Allow-Headers': ['Device-Id'] }, { methods: ['GET'] })
 * ```
 */
export interface CorsWrapOptions {
  /** Answer `OPTIONS` requests (200, empty body) without calling the handler. Default true. */
  preflight?: boolean
  /**
   * Methods the handler serves, for `Access-Control-Allow-Methods`. Default: the request's.
   * Given, a preflight the handler answers 404 is answered (the handler serves this path).
   */
  methods?: readonly string[]
}

/** What {@link createIam} returns. */
export interface FetchIam {
  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  readonly ready: Promise<void>
  /** The core client. */
  readonly client: IamClient
  /** The resolved HTTP options (frozen). */
  readonly options: ResolvedHttpProtectionOptions
  /**
   * A check (Flask's `token_required`): resolves to the validated context, or to the error
   * `Response` (status, `{ errorCode, errorMessage }`, `WWW-Authenticate`, app-wide CORS).
   */
  permissionRequired(
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Request> | null,
    options?: RouteProtectionOptions,
  ): IamCheck
  /** The seed's name for {@link FetchIam.permissionRequired}. */
  tokenRequired: FetchIam['permissionRequired']
  /**
   * Wraps a handler: checks the request, puts the context on `request.iam`, applies app-wide
   * CORS and answers its preflight. Other arguments are passed through.
   */
  protect<Args extends unknown[]>(
    handler: (request: IamRequest, ...args: Args) => Response | Promise<Response>,
    permission?: RequiredPermission | null,
    resources?: PermissionResources<Request> | null,
    options?: ProtectOptions<Args>,
  ): (request: Request, ...args: Args) => Promise<Response>
  // Otherwise `params` types the other arguments (a handler may leave them out).
  protect<
    Args extends unknown[],
    Handler extends (request: IamRequest, ...args: Args) => Response | Promise<Response>,
  >(
    handler: Handler,
    permission: RequiredPermission | null | undefined,
    resources: PermissionResources<Request> | null | undefined,
    options: ProtectOptions<Args> & Required<Pick<ProtectOptions<Args>, 'params'>>,
  ): (request: Request, ...args: Args) => Promise<Response>
  /**
   * Wraps a handler with CORS (Flask's `cors_options`): app-wide values, overridden by `headers`;
   * answers `OPTIONS` itself (200, empty body). Without `headers`, app-wide CORS only.
   */
  cors<Args extends unknown[]>(
    handler: (request: Request, ...args: Args) => Response | Promise<Response>,
    headers?: Readonly<Record<string, CorsHeaderValue>>,
    options?: CorsWrapOptions,
  ): (request: Request, ...args: Args) => Promise<Response>
  /**
   * A health (readiness) handler: 200 with a JSON body per resource when the SDK can decide
   * requests, 503 with the same body when it cannot.
   */
  healthHandler(): (request?: Request) => Response
  /** Stops the client's background work (when the integration built the client). */
  close(): Promise<void>
}

/**
 * Creates the integration and starts the client (token grant, JWKS, revocation list). Options:
 * the core client's and the HTTP options, then `IAM_*` environment variables, then defaults.
 * Requests that arrive before the start completes wait for it (up to `readyTimeoutMs`).
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
  // A route's CORS policy (from `cors()`), seen by a `protect` inside it, so that both apply the
  // same merged values and a handler's own headers win, as in Express.
  const routeCors = new WeakMap<Request, CorsPolicy>()
  const corsOf = (
    request: Request,
    route: CorsPolicy | undefined = routeCors.get(request),
    methods?: readonly string[],
  ) => {
    if (route === undefined && protection.options.cors === undefined) return undefined
    const header = (name: string) => request.headers.get(name) ?? undefined
    const info = {
      origin: header('origin'),
      requestHeaders: header('access-control-request-headers'),
      requestMethod: header('access-control-request-method'),
      routeMethods: methods ?? (request.method === 'OPTIONS' ? undefined : [request.method]),
    }
    return route === undefined ? protection.cors(info) : protection.cors(info, route)
  }
  // A tagged result: `instanceof Response` is not reliable where a server replaces the global
  // `Response` (as @hono/node-server does), and a Response must never pass for a context.
  const authorize = async (
    guard: RouteGuard<Request>,
    request: Request,
    params: RouteParams | (() => RouteParams | Promise<RouteParams>) | undefined,
    cors: () => CorsHeaders | undefined,
  ): Promise<{ context: IamRequestContext } | { refusal: Response }> => {
    try {
      const given = typeof params === 'function' ? await params() : params
      return { context: await protection.authorize(guard, toHttpRequest(request, given), request) }
    } catch (error) {
      return { refusal: applyCors(errorResponse(error), cors(), false) }
    }
  }
  const permissionRequired: FetchIam['permissionRequired'] = (permission, resources, opts) => {
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
    permissionRequired,
    tokenRequired: permissionRequired,
    protect(
      handler: (request: IamRequest, ...args: unknown[]) => Response | Promise<Response>,
      permission?: RequiredPermission | null,
      resources?: PermissionResources<Request> | null,
      opts?: ProtectOptions<unknown[]>,
    ) {
      const guard = createRouteGuard<Request>(permission, resources, opts)
      const { params, methods } = opts ?? {}
      if (params !== undefined && typeof params !== 'function') {
        throw new TypeError('protect option params must be a function')
      }
      return async (request: Request, ...args: unknown[]) => {
        const cors = corsOf(request, undefined, methods)
        if (cors !== undefined && request.method === 'OPTIONS') return preflightResponse(cors)
        const found = params && (() => params(request, ...args))
        const result = await authorize(guard, request, found, () => cors)
        if (!('context' in result)) return result.refusal
        Object.defineProperty(request, 'iam', { value: result.context, configurable: true })
        return applyCors(await handler(request as IamRequest, ...args), cors, false)
      }
    },
    cors(handler, headers, opts = {}) {
      const route = headers === undefined ? undefined : parseRouteCors(headers)
      const preflight = opts.preflight ?? true
      if (typeof preflight !== 'boolean')
        throw new TypeError('cors option preflight must be a boolean')
      return async (request, ...args) => {
        const cors = corsOf(request, route, opts.methods)
        if (cors === undefined) return handler(request, ...args)
        const isPreflight = preflight && request.method === 'OPTIONS'
        if (isPreflight && route !== undefined) return preflightResponse(cors)
        if (route !== undefined) routeCors.set(request, route)
        const response = await handler(request, ...args)
        // App-wide only (e.g. around a whole router): a route's own OPTIONS answer wins; a CORS
        // preflight to a path served by other methods (405, or `methods` given) is answered here,
        // as Express does automatically; a path nothing serves stays a 404.
        if (isPreflight && isUnanswered(request, response, opts.methods !== undefined)) {
          await response.body?.cancel()
          return preflightResponse(cors)
        }
        // Values the handler set itself win, as in Express (an inner protect used the same policy).
        return applyCors(response, cors, false)
      }
    },
    healthHandler: () => () => {
      const { status, body } = protection.health()
      return new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      })
    },
    close: () => protection.close(),
  }
}
