/**
 * What every HTTP adapter re-exports of the kit (`export * from` this file), so that an app
 * imports its framework's types and the error class from one subpath, and the list is kept once.
 * @module
 */
export type {
  CorsHeaderValue,
  CorsOriginInput,
  CorsRouteOptions,
  HttpProtectionOptions,
  IamRequestContext,
  PermissionResources,
  RouteProtectionOptions,
  TokenLocation,
  TokenLocationInput,
} from './index.js'
export { IamError, isIamError } from './index.js'
