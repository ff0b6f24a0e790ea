/**
 * iam-node-sdk core: the framework-free IAM client.
 *
 * @example
 * ```ts
 * import { IamClient } from 'iam-node-sdk'
 * const iam = new IamClient({ baseUrl, clientId, clientSecret })
 * await iam.clientTokenGrant()
 * await iam.startLocalValidation()
 * const claims = await iam.validateAndParseClaims(token)
 * ```
 * @packageDocumentation
 */
export { IamClient } from './core/client.js'
export type { IamHealthReport } from './core/client.js'
export type {
  KeySetSnapshot,
  KeySnapshot,
  RevocationListSnapshot,
  RevokedUserSnapshot,
  BloomFilterSnapshot,
} from './core/inspect.js'
export { optionsFromEnv, defaultBasicBaseUrl, CLIENT_OPTIONS } from './core/options.js'
export type {
  IamClientOptions,
  ResolvedIamClientOptions,
  RsaAlgorithm,
  ClientOptionSpec,
  ClientOptionKind,
} from './core/options.js'
export type { IamLogger } from './core/log.js'
export { consoleIamLogger } from './core/log.js'
export type { ResourceHealth } from './core/remote-resource.js'
export { IamError, isIamError, IAM_ERROR_HTTP } from './core/errors.js'
export type { IamErrorCode, IamErrorHttpMapping, IamErrorOptions } from './core/errors.js'
export { Action } from './core/types.js'
export type * from './core/types.js'
export { BloomFilter } from './core/bloom.js'
export {
  parseRevocationList,
  serializeRevocationList,
  isUserRevoked,
} from './core/revocation-list.js'
export type * from './core/revocation-list.js'
export { parseClaims } from './core/claims.js'
export {
  actionAllowed,
  resourceAllowed,
  evaluatePermission,
  substitutePlaceholders,
  normalizeRequiredPermission,
  DEFAULT_USER_ROLE_ID,
  formatAction,
  formatPermissionDecision,
} from './core/permission.js'
export type * from './core/permission.js'
export { effectiveAction } from './core/schedule.js'
export type { LoadedEntry, CacheLookupOutcome } from './core/cache.js'
export type { CacheStore, CacheStoreHealth } from './core/store.js'
export type { SharedCacheHealth } from './core/shared-cache.js'
export type { FetchReason } from './core/remote-resource.js'
