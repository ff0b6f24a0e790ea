/**
 * The adapter kit (`iam-node-sdk/http`): everything a framework adapter needs, and all it should
 * import. An adapter translates its request into a neutral {@link HttpRequest}, asks
 * {@link HttpProtection.authorize} for a decision, and maps the answer back: a validated context,
 * or an {@link IamError} carrying its `status`, typed `headers` (`WWW-Authenticate`) and wire
 * `body`. CORS and preflights are decided here too. Every adapter of this package is built on it;
 * so can yours.
 *
 * @example
 * ```ts
 * import { HttpProtection, createHttpRequest, createRouteGuard, toHttpErrorResponse } from 'iam-node-sdk/http'
 *
 * const protection = HttpProtection.create({ options: { baseUrl, clientId, clientSecret }, env: process.env })
 * const guard = createRouteGuard({ resource: 'NAMESPACE:{namespace}:USER:{userId}', action: 2 })
 * server.on('request', async (req, res) => {
 *   try {
 *     const context = await protection.authorize(guard, createHttpRequest({ method: req.method!, headers: req.headers }), req)
 *     res.end(`hello ${context?.claims.sub}`)
 *   } catch (error) {
 *     const { status, headers, body } = toHttpErrorResponse(error)
 *     res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body))
 *   }
 * })
 * ```
 * @packageDocumentation
 */
export { HttpProtection, validateProtectionOptions } from './protection.js'
export { DeferredProtection } from './deferred.js'
export type { ProtectionSources } from './deferred.js'
export {
  errorResponse,
  healthWebResponse,
  jsonResponse,
  preflightResponse,
  webCorsInfo,
  withCors,
} from './web.js'
export type { IamProtectionOptions, ProtectionCoreClient } from './protection.js'
export { createHttpRequest, parseCookieHeader } from './request.js'
export type { HttpRequest, HttpRequestInit, IamRequestContext } from './request.js'
export {
  NEEDS_ASYNC,
  authorizeRequest,
  authorizeRequestSync,
  createRouteGuard,
} from './pipeline.js'
export type {
  AuthorizeOptions,
  PermissionResources,
  ProtectionClient,
  RouteCheck,
  RouteGuard,
  RouteProtectionOptions,
} from './pipeline.js'
export {
  applyCorsHeaders,
  computeCorsHeaders,
  createRouteCors,
  isPreflight,
  mergeVary,
  parseRouteCors,
} from './cors.js'
export type {
  CorsHeaderValue,
  CorsHeaders,
  CorsOriginInput,
  CorsPolicy,
  CorsRequestInfo,
  CorsRouteOptions,
  HeaderSink,
  RouteCors,
} from './cors.js'
export { beforeWriteHead, nodeCorsRequestInfo, nodeHeaderSink, setRequestContext } from './node.js'
export { toHttpErrorResponse } from './response.js'
export type { HttpErrorResponse } from './response.js'
export { healthResponse } from './health.js'
export type { HealthBody, HealthResponse, ResourceStatus } from './health.js'
export type {
  HttpProtectionOptions,
  ResolvedHttpProtectionOptions,
  TokenLocation,
  TokenLocationInput,
} from './options.js'
export { requireContext } from './context.js'
export { declaredMethods } from '../proto-permissions.js'
export type { DeclaredMethod, PackageDefinition, ProtoOptionFields } from '../proto-permissions.js'
export { IamError, isIamError, wwwAuthenticate } from '../errors.js'
export type { IamErrorBody, IamErrorCode, IamErrorHeaders } from '../errors.js'
export type { IamClient } from '../client.js'
export type { JwtClaims, RequiredPermission } from '../types.js'
