/**
 * Decoded JWT payload → typed {@link JwtClaims}.
 *
 * Our rules are stricter than the reference SDKs (which default or ignore badly typed claims):
 * a claim of the wrong type makes the token malformed. `null` counts as absent everywhere except
 * for the required `exp` (Go decodes `null` as "leave the zero value").
 * @module
 */

import { IamError } from './errors.js'
import type { ClaimPermission, JwtBan, JwtClaims, NamespaceRole } from './types.js'

type Json = Record<string, unknown>

/** Optional string claims, copied when present and non-null. */
const STRING_CLAIMS = [
  'sub',
  'iss',
  'jti',
  'display_name',
  'client_id',
  'country',
  'parent_namespace',
  'ipf',
  'ipo',
  'sp',
  'union_id',
  'union_namespace',
  'extend_namespace',
] as const

/** Claims this module owns; every other claim is copied unchanged. */
const KNOWN = new Set<string>([
  ...STRING_CLAIMS,
  'aud',
  'exp',
  'iat',
  'nbf',
  'namespace',
  'scope',
  'jflgs',
  'is_comply',
  'roles',
  'namespace_roles',
  'permissions',
  'bans',
  'subs',
])

function malformed(message: string): IamError {
  return new IamError('ERR_IAM_TOKEN_MALFORMED', message)
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || typeof value === 'string') return value ?? undefined
  throw malformed(`${name} must be a string`)
}

function optFinite(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number' && Number.isFinite(value)) return value
  throw malformed(`${name} must be a finite number`)
}

function optInteger(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (Number.isInteger(value)) return value as number
  throw malformed(`${name} must be an integer`)
}

function optBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null || typeof value === 'boolean') return value ?? undefined
  throw malformed(`${name} must be a boolean`)
}

/** The validated array itself (no copy), or undefined when absent or null. */
function optStringArray(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw malformed(`${name} must be an array of strings`)
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') throw malformed(`${name}[${i}] must be a string`)
  }
  return value as string[]
}

function optArray(value: unknown, name: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw malformed(`${name} must be an array`)
  return value
}

/**
 * The value under the PascalCase or camelCase key (Go decodes case-insensitively; the JWT uses
 * PascalCase, IAM REST bodies camelCase). Both present is ambiguous, hence malformed.
 */
function pick(entry: Json, pascal: string, camel: string, where: string): unknown {
  const a = entry[pascal]
  const b = entry[camel]
  if (a !== undefined && b !== undefined)
    throw malformed(`${where} has both ${pascal} and ${camel}`)
  return a !== undefined ? a : b
}

function parseNamespaceRoles(value: unknown): NamespaceRole[] {
  const roles = optArray(value, 'namespace_roles')
  if (roles === undefined) return []
  for (let i = 0; i < roles.length; i++) {
    const role = roles[i]
    if (!isObject(role) || typeof role.roleId !== 'string' || typeof role.namespace !== 'string') {
      throw malformed(`namespace_roles[${i}] must be an object with string roleId and namespace`)
    }
  }
  return roles as NamespaceRole[]
}

function parsePermission(entry: unknown, i: number): ClaimPermission {
  const where = `permissions[${i}]`
  if (!isObject(entry)) throw malformed(`${where} must be an object`)
  const resource = pick(entry, 'Resource', 'resource', where)
  if (typeof resource !== 'string') throw malformed(`${where}.Resource must be a string`)
  const action = pick(entry, 'Action', 'action', where)
  if (!Number.isInteger(action)) throw malformed(`${where}.Action must be an integer`)
  const permission: ClaimPermission = { Resource: resource, Action: action as number }
  const schedAction = optInteger(
    pick(entry, 'SchedAction', 'schedAction', where),
    `${where}.SchedAction`,
  )
  if (schedAction !== undefined) permission.SchedAction = schedAction
  const schedCron = optString(pick(entry, 'SchedCron', 'schedCron', where), `${where}.SchedCron`)
  if (schedCron !== undefined) permission.SchedCron = schedCron
  const schedRange = optStringArray(
    pick(entry, 'SchedRange', 'schedRange', where),
    `${where}.SchedRange`,
  )
  if (schedRange !== undefined) permission.SchedRange = schedRange
  return permission
}

function parseBan(entry: unknown, i: number): JwtBan {
  const where = `bans[${i}]`
  if (!isObject(entry)) throw malformed(`${where} must be an object`)
  const name = pick(entry, 'Ban', 'ban', where)
  if (typeof name !== 'string') throw malformed(`${where}.Ban must be a string`)
  const ban: JwtBan = { Ban: name }
  const endDate = optString(pick(entry, 'EndDate', 'endDate', where), `${where}.EndDate`)
  if (endDate !== undefined) ban.EndDate = endDate
  const enabled = optBoolean(pick(entry, 'Enabled', 'enabled', where), `${where}.Enabled`)
  if (enabled !== undefined) ban.Enabled = enabled
  const targeted = optString(
    pick(entry, 'TargetedNamespace', 'targetedNamespace', where),
    `${where}.TargetedNamespace`,
  )
  if (targeted !== undefined) ban.TargetedNamespace = targeted
  const disabledDate = optString(
    pick(entry, 'DisabledDate', 'disabledDate', where),
    `${where}.DisabledDate`,
  )
  if (disabledDate !== undefined) ban.DisabledDate = disabledDate
  return ban
}

/**
 * Turns a decoded JWT payload into typed claims.
 *
 * - the payload must be a plain object; `exp` is required and must be a finite number;
 *   `iat` and `nbf` are optional finite numbers;
 * - `namespace` and `scope` default to `''`, `jflgs` to `0` (an integer when present);
 * - `roles`, `namespace_roles`, `permissions` and `bans` default to `[]` when absent or `null`;
 * - `permissions` entries accept PascalCase or camelCase keys and come out as PascalCase
 *   {@link ClaimPermission} (`Sched*: null` omitted); `bans` entries likewise as {@link JwtBan}
 *   (`Ban` required);
 * - `subs` absent or `null` stays `undefined` ("not restricted"), otherwise a string array;
 * - `aud` is a string or a string array; `sub`, `client_id`, `display_name` and the other
 *   string claims must be strings, `is_comply` a boolean; `null` means absent;
 * - any other claim is kept as it is.
 *
 * Arrays that need no normalisation (`roles`, `namespace_roles`, `subs`, `aud`, `SchedRange`)
 * are the payload's own arrays, not copies.
 *
 * @throws IamError `ERR_IAM_TOKEN_MALFORMED` naming the first offending claim
 *
 * @example
 * ```ts
 * const claims = parseClaims(JSON.parse(Buffer.from(payloadPart, 'base64url').toString()))
 * claims.permissions // [{ Resource: 'NAMESPACE:{namespace}:USER', Action: 2 }]
 * ```
 */
export function parseClaims(payload: unknown): JwtClaims {
  if (!isObject(payload)) throw malformed('claims must be a JSON object')
  const proto: unknown = Object.getPrototypeOf(payload)
  if (proto !== Object.prototype && proto !== null) throw malformed('claims must be a plain object')

  const exp = payload.exp
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw malformed('exp must be a finite number')
  }
  const permissions = optArray(payload.permissions, 'permissions')
  const bans = optArray(payload.bans, 'bans')
  const claims: JwtClaims = {
    exp,
    namespace: optString(payload.namespace, 'namespace') ?? '',
    scope: optString(payload.scope, 'scope') ?? '',
    jflgs: optInteger(payload.jflgs, 'jflgs') ?? 0,
    roles: optStringArray(payload.roles, 'roles') ?? [],
    namespace_roles: parseNamespaceRoles(payload.namespace_roles),
    permissions: permissions === undefined ? [] : permissions.map(parsePermission),
    bans: bans === undefined ? [] : bans.map(parseBan),
  }
  const iat = optFinite(payload.iat, 'iat')
  if (iat !== undefined) claims.iat = iat
  const nbf = optFinite(payload.nbf, 'nbf')
  if (nbf !== undefined) claims.nbf = nbf
  for (const name of STRING_CLAIMS) {
    const value = optString(payload[name], name)
    if (value !== undefined) claims[name] = value
  }
  const aud = payload.aud
  if (typeof aud === 'string') claims.aud = aud
  else if (aud !== undefined && aud !== null) {
    claims.aud = optStringArray(aud, 'aud') // throws unless a string array
  }
  const isComply = optBoolean(payload.is_comply, 'is_comply')
  if (isComply !== undefined) claims.is_comply = isComply
  const subs = optStringArray(payload.subs, 'subs')
  if (subs !== undefined) claims.subs = subs

  for (const key of Object.keys(payload)) {
    if (KNOWN.has(key)) continue
    // A JSON "__proto__" key is an own property; plain assignment would set the prototype.
    if (key === '__proto__') {
      Object.defineProperty(claims, key, {
        value: payload[key],
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else {
      claims[key] = payload[key]
    }
  }
  return claims
}
