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

const STRING_CLAIM_SET = new Set<string>(STRING_CLAIMS)

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

/** `<list>[<i>].<field> must be <what>`; built only when throwing, to keep the happy path lean. */
function entryError(list: string, i: number, field: string, what: string): IamError {
  return malformed(`${list}[${i}].${field} must be ${what}`)
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false
  return true
}

/**
 * The value of a field read under its PascalCase (`a`) and camelCase (`b`) keys (Go decodes
 * case-insensitively; the JWT uses PascalCase, IAM REST bodies camelCase). Both present is
 * ambiguous, hence malformed. Callers read the keys with plain property access: fast, monomorphic.
 */
function either(a: unknown, b: unknown, list: string, i: number, pascal: string): unknown {
  if (a !== undefined && b !== undefined) {
    throw malformed(`${list}[${i}] has ${pascal} in both casings`)
  }
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
  const list = 'permissions'
  if (!isObject(entry)) throw malformed(`permissions[${i}] must be an object`)
  const resource = either(entry.Resource, entry.resource, list, i, 'Resource')
  if (typeof resource !== 'string') throw entryError(list, i, 'Resource', 'a string')
  const action = either(entry.Action, entry.action, list, i, 'Action')
  if (!Number.isInteger(action)) throw entryError(list, i, 'Action', 'an integer')
  const permission: ClaimPermission = { Resource: resource, Action: action as number }
  const schedAction = either(entry.SchedAction, entry.schedAction, list, i, 'SchedAction')
  if (schedAction !== undefined && schedAction !== null) {
    if (!Number.isInteger(schedAction)) throw entryError(list, i, 'SchedAction', 'an integer')
    permission.SchedAction = schedAction as number
  }
  const schedCron = either(entry.SchedCron, entry.schedCron, list, i, 'SchedCron')
  if (schedCron !== undefined && schedCron !== null) {
    if (typeof schedCron !== 'string') throw entryError(list, i, 'SchedCron', 'a string')
    permission.SchedCron = schedCron
  }
  const schedRange = either(entry.SchedRange, entry.schedRange, list, i, 'SchedRange')
  if (schedRange !== undefined && schedRange !== null) {
    if (!isStringArray(schedRange)) throw entryError(list, i, 'SchedRange', 'an array of strings')
    permission.SchedRange = schedRange
  }
  return permission
}

function parseBan(entry: unknown, i: number): JwtBan {
  const list = 'bans'
  if (!isObject(entry)) throw malformed(`bans[${i}] must be an object`)
  const name = either(entry.Ban, entry.ban, list, i, 'Ban')
  if (typeof name !== 'string') throw entryError(list, i, 'Ban', 'a string')
  const ban: JwtBan = { Ban: name }
  const endDate = either(entry.EndDate, entry.endDate, list, i, 'EndDate')
  if (endDate !== undefined && endDate !== null) {
    if (typeof endDate !== 'string') throw entryError(list, i, 'EndDate', 'a string')
    ban.EndDate = endDate
  }
  const targeted = either(
    entry.TargetedNamespace,
    entry.targetedNamespace,
    list,
    i,
    'TargetedNamespace',
  )
  if (targeted !== undefined && targeted !== null) {
    if (typeof targeted !== 'string') throw entryError(list, i, 'TargetedNamespace', 'a string')
    ban.TargetedNamespace = targeted
  }
  const disabledDate = either(entry.DisabledDate, entry.disabledDate, list, i, 'DisabledDate')
  if (disabledDate !== undefined && disabledDate !== null) {
    if (typeof disabledDate !== 'string') throw entryError(list, i, 'DisabledDate', 'a string')
    ban.DisabledDate = disabledDate
  }
  const enabled = either(entry.Enabled, entry.enabled, list, i, 'Enabled')
  if (enabled !== undefined && enabled !== null) {
    if (typeof enabled !== 'boolean') throw entryError(list, i, 'Enabled', 'a boolean')
    ban.Enabled = enabled
  }
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
  return buildClaims(payload, false)
}

/**
 * {@link parseClaims}, deep-frozen (the verifier shares claims between requests): what it builds
 * is frozen directly, and only the claims copied unchanged (and the payload's own
 * `namespace_roles` entries) are walked. A generic deep freeze enumerates every object's keys,
 * which cost about as much as parsing the claims.
 */
export function parseFrozenClaims(payload: unknown): JwtClaims {
  return buildClaims(payload, true)
}

function buildClaims(payload: unknown, freeze: boolean): JwtClaims {
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
  const aud = payload.aud
  if (typeof aud === 'string') claims.aud = aud
  else if (aud !== undefined && aud !== null) {
    claims.aud = optStringArray(aud, 'aud') // throws unless a string array
  }
  const isComply = optBoolean(payload.is_comply, 'is_comply')
  if (isComply !== undefined) claims.is_comply = isComply
  const subs = optStringArray(payload.subs, 'subs')
  if (subs !== undefined) claims.subs = subs

  // One pass over the payload's own keys: the optional string claims are validated here, other
  // known claims were handled above, the rest are copied.
  for (const key of Object.keys(payload)) {
    if (STRING_CLAIM_SET.has(key)) {
      const value = optString(payload[key], key)
      if (value !== undefined) claims[key] = value
      continue
    }
    if (KNOWN.has(key)) continue
    if (freeze) deepFreeze(payload[key])
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
  return freeze ? freezeBuilt(claims) : claims
}

/** Freezes a JSON value and everything in it. */
function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const key of Object.keys(value)) deepFreeze((value as Json)[key])
}

const FROZEN_EMPTY: readonly never[] = Object.freeze([])

function frozenList<T>(list: T[]): T[] {
  // Typed mutable, as JwtClaims declares its lists; frozen all the same.
  return (list.length === 0 ? FROZEN_EMPTY : Object.freeze(list)) as T[]
}

/** Freezes what {@link buildClaims} built, and the payload arrays and objects it kept. */
function freezeBuilt(claims: JwtClaims): JwtClaims {
  const { permissions, bans, namespace_roles: namespaceRoles, aud, subs } = claims
  for (let i = 0; i < permissions.length; i++) {
    const permission = permissions[i] as ClaimPermission
    if (permission.SchedRange !== undefined) Object.freeze(permission.SchedRange)
    Object.freeze(permission)
  }
  for (let i = 0; i < bans.length; i++) Object.freeze(bans[i])
  for (let i = 0; i < namespaceRoles.length; i++) deepFreeze(namespaceRoles[i])
  // Empty lists (most of them in most tokens) share one frozen array: freezing one costs more.
  claims.permissions = frozenList(permissions)
  claims.bans = frozenList(bans)
  claims.namespace_roles = frozenList(namespaceRoles)
  claims.roles = frozenList(claims.roles)
  if (typeof aud === 'object') Object.freeze(aud)
  if (subs !== undefined) Object.freeze(subs)
  return Object.freeze(claims)
}
