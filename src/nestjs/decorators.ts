/**
 * The route decorators and parameter decorators of `iam-node-sdk/nestjs`. Each validates its
 * arguments when the class is defined (a `TypeError` names the bad one), and stores the kit's
 * route guard or route CORS as metadata that {@link IamGuard} reads.
 */
import type { IncomingMessage } from 'node:http'

import { SetMetadata, createParamDecorator } from '@nestjs/common'
import type { CustomDecorator, ExecutionContext } from '@nestjs/common'

import { createRouteCors, createRouteGuard } from '../core/http/index.js'
import type {
  CorsHeaderValue,
  CorsRouteOptions,
  IamRequestContext,
  JwtClaims,
  PermissionResources,
  RequiredPermission,
  RouteProtectionOptions,
} from '../core/http/index.js'

/**
 * The request a guard sees: Express's `req` or Fastify's `request` (the fields either has). The
 * validated context is put on `request.iam`, as in `iam-node-sdk/express` and `/fastify`.
 */
export type IamHttpRequest = Pick<IncomingMessage, 'method' | 'url' | 'headers'> & {
  params?: unknown
  /** The validated IAM context (absent on a public route, or an optional one without a token). */
  iam?: IamRequestContext
  /**
   * Express: the proxy-aware host, the URL as received, the raw headers, the matched route, and
   * the app (whose `request` is the prototype of each request).
   */
  app?: { request?: unknown }
  hostname?: string
  originalUrl?: string
  rawHeaders?: string[]
  route?: { path?: unknown }
  /** Fastify: the proxy-aware host, the Node request and the matched route. */
  host?: string
  raw?: IncomingMessage
  routeOptions?: { url?: string }
}

/** Metadata key of a handler's or controller's protection (a route guard, or `'public'`). */
export const IAM_ROUTE_METADATA = 'iam-node-sdk:route'
/** Metadata key of a handler's or controller's CORS (`@CorsOptions`). */
export const IAM_CORS_METADATA = 'iam-node-sdk:cors'

/**
 * Requires a valid access token and, given a permission, that the token grants it (Flask's
 * `permission_required`); on a handler or a whole controller (the handler's own decorator wins).
 * Placeholders (`{namespace}`) come from `resources` (an object, or a function of the request),
 * then from the route parameters. Options: `csrfProtect`, `optional`, `scopes`, `check`.
 *
 * @example
 * ```ts
 * @Get('ns/:namespace/users/:userId')
 * @PermissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' })
 * read(@IamClaims('sub') sub: string) { return { sub } }
 * ```
 */
export const PermissionRequired = <Req = IamHttpRequest>(
  permission?: RequiredPermission | null,
  resources?: PermissionResources<Req> | null,
  options?: RouteProtectionOptions<Req>,
): CustomDecorator<string> =>
  SetMetadata(IAM_ROUTE_METADATA, createRouteGuard(permission, resources, options))

/**
 * Requires a valid access token only (Flask's `token_required`), with the route options of
 * {@link PermissionRequired}. Handlers without any IAM decorator already require a valid token
 * (the global guard): use it for options such as `optional` or `scopes`.
 *
 * @example
 * ```ts
 * @Get('feed') @TokenRequired({ optional: true })
 * feed(@IamContext() iam?: IamRequestContext) { return iam ? 'for you' : 'for everyone' }
 * ```
 */
export const TokenRequired = <Req = IamHttpRequest>(
  options?: RouteProtectionOptions<Req>,
): CustomDecorator<string> => PermissionRequired(undefined, undefined, options)

/**
 * No token needed: the guard lets the request through (on a handler, or a whole controller).
 *
 * @example
 * ```ts
 * @Get('status') @Public()
 * status() { return 'up' }
 * ```
 */
export const Public = (): CustomDecorator<string> => SetMetadata(IAM_ROUTE_METADATA, 'public')

/**
 * Per-route CORS headers (Flask's `cors_options`), overriding the app-wide ones. Put it on the
 * route's handlers and on an `@Options()` handler of the same path, which then answers the
 * preflight without authentication (unless `preflight: false`).
 *
 * @example
 * ```ts
 * const cors = CorsOptions({ 'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os'] })
 * @Options('cors') @cors preflight() {}
 * @Get('cors') @cors page() { return 'You access a CORS page!' }
 * ```
 */
export const CorsOptions = (
  headers?: Readonly<Record<string, CorsHeaderValue>>,
  options?: CorsRouteOptions,
): CustomDecorator<string> => {
  routeCors.declared = true
  return SetMetadata(IAM_CORS_METADATA, createRouteCors(headers, options))
}

/** @internal Whether any route declared its CORS: without it and an app-wide policy, no CORS work. */
export const routeCors = { declared: false }

const contextOf = (context: ExecutionContext): IamRequestContext | undefined =>
  context.switchToHttp().getRequest<IamHttpRequest>().iam

/**
 * The validated context of the request (`{ claims, token, tokenLocation }`); `undefined` on a
 * public route, or an optional one without a token.
 *
 * @example
 * ```ts
 * @Get('me') me(@IamContext() iam: IamRequestContext) { return iam.tokenLocation }
 * ```
 */
export const IamContext = createParamDecorator((_: void, ctx: ExecutionContext) => contextOf(ctx))

/**
 * The token's claims, or one claim (`@IamClaims('sub')`); `undefined` when the request has no
 * context (see {@link IamContext}).
 *
 * @example
 * ```ts
 * @Get('me') me(@IamClaims() claims: JwtClaims, @IamClaims('namespace') namespace: string) {}
 * ```
 */
export const IamClaims = createParamDecorator<keyof JwtClaims | undefined, unknown>(
  (claim, context) =>
    claim === undefined ? contextOf(context)?.claims : contextOf(context)?.claims[claim],
)
