/**
 * Wire shapes shared by the client, the permission evaluator and the emulator.
 * Names and casing are those of the IAM wire protocol.
 */

/** Action bits of a permission. A grant allows a request when it has every required bit. */
export const Action = Object.freeze({
  Create: 1,
  Read: 2,
  Update: 4,
  Delete: 8,
} as const)

/** A permission as carried in a JWT's `permissions` claim (PascalCase keys). */
export interface ClaimPermission {
  Resource: string
  Action: number
  SchedAction?: number
  SchedCron?: string
  SchedRange?: string[]
}

/** A permission as returned by the IAM's role and client endpoints (camelCase keys). */
export interface WirePermission {
  resource: string
  action: number
  schedAction?: number
  schedCron?: string
  schedRange?: string[]
}

/** A permission in either casing; the evaluator reads both. */
export type PermissionLike = ClaimPermission | WirePermission

/** A required permission, given in either casing. */
export type RequiredPermission =
  { resource: string; action: number } | { Resource: string; Action: number }

/** A role scoped to a namespace (`namespace` may be `*` or a `{studio}-` prefix). */
export interface NamespaceRole {
  roleId: string
  namespace: string
}

/** A ban carried in a JWT. */
export interface JwtBan {
  Ban: string
  EndDate?: string
  Enabled?: boolean
  TargetedNamespace?: string
  DisabledDate?: string
}

/**
 * Claims of a validated access token, with the wire names. Lists that the token does not carry
 * are empty lists; a missing `jflgs` is 0.
 */
export interface JwtClaims {
  /** User ID; empty for client-credential tokens. */
  sub?: string
  iss?: string
  aud?: string | string[]
  exp: number
  iat?: number
  nbf?: number
  jti?: string
  namespace: string
  display_name?: string
  client_id?: string
  scope: string
  country?: string
  is_comply?: boolean
  parent_namespace?: string
  ipf?: string
  ipo?: string
  sp?: string
  union_id?: string
  union_namespace?: string
  extend_namespace?: string
  /** Justice flags bitmask: 1 email verified, 2 phone verified, 4 anonymous. */
  jflgs: number
  /** Deprecated global role IDs. */
  roles: string[]
  namespace_roles: NamespaceRole[]
  permissions: ClaimPermission[]
  bans: JwtBan[]
  /** Subscriptions; `undefined` (absent or null) means "not restricted". */
  subs?: string[]
  /** Any other claim the token carries. */
  [claim: string]: unknown
}

/** A role as returned by `GET /v3/admin/roles/{roleId}`. */
export interface Role {
  roleId: string
  roleName: string
  isWildcard: boolean
  adminRole: boolean
  permissions: WirePermission[]
}

/** Client information as returned by `GET /v3/admin/namespaces/{namespace}/clients/{clientId}`. */
export interface ClientInformation {
  clientId: string
  clientName: string
  namespace: string
  /** Comma-separated list of redirect URIs; empty when none is registered. */
  redirectUri: string
  baseUri: string
  [field: string]: unknown
}

/** Namespace context from the basic service. */
export interface NamespaceContext {
  namespace: string
  type: 'Game' | 'Publisher' | 'Studio' | string
  studioNamespace: string
  publisherNamespace: string
}

/** The wire body of an IAM token grant (`POST /v3/oauth/token`). */
export interface TokenResponse {
  access_token: string
  expires_in: number
  token_type: string
  namespace?: string
  scope?: string
  permissions?: WirePermission[]
  [field: string]: unknown
}
