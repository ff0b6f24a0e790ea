/**
 * The IAM emulator: a real local HTTP server, byte-compatible with the IAM's wire formats, to
 * run services and tests against without an IAM account. Faults (`setFault`, see
 * {@link EmulatorFault}) make an endpoint slow, fail, answer a given body, stream an oversized
 * one or never answer.
 *
 * @example
 * ```ts
 * import { startEmulator } from 'iam-node-sdk/emulator'
 *
 * const iam = await startEmulator({ port: 4300 })
 * console.log(iam.baseUrl, iam.clientId, iam.clientSecret)
 * const token = await iam.issueUserToken({ sub: 'sample-userid' })
 * await iam.close()
 * ```
 * @packageDocumentation
 */
export { startEmulator } from './emulator.js'
export {
  demoConfig,
  validateConfig,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_GAME_NAMESPACE,
  DEFAULT_PUBLISHER_NAMESPACE,
  DEFAULT_EXPIRES_IN,
} from './config.js'
export type {
  EmulatorConfig,
  NamespaceConfig,
  NamespaceType,
  ClientConfig,
  RoleConfig,
  RoleOverrideConfig,
  UserConfig,
  PermissionInput,
  ResolvedConfig,
  ResolvedClient,
  ResolvedNamespace,
  ResolvedRole,
  ResolvedUser,
} from './config.js'
export { EMULATOR_ENDPOINTS } from './iam-routes.js'
export type { EmulatorEndpoint } from './iam-routes.js'
export type { EmulatorFault } from './faults.js'
export type { SignTokenOptions } from './state.js'
export type {
  Emulator,
  EmulatorInfo,
  EmulatorUserInfo,
  StartEmulatorOptions,
  UserTokenClaims,
  CreateRoleInput,
  CreateClientInput,
  CreateNamespaceInput,
  CreateUserInput,
} from './types.js'
