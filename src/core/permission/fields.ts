/**
 * The one place that reads a permission's fields in either letter case: PascalCase in tokens
 * (`Resource`, `Action`, `SchedAction`, `SchedCron`, `SchedRange`), camelCase in the IAM's REST
 * bodies (`resource`, `action`, …). One rule everywhere: the camelCase key wins when both are
 * present, and a key counts as present unless its value is `undefined`.
 *
 * The token parser (`parseClaims`) is stricter on purpose: a token permission with both casings of
 * a key is malformed, so tokens never reach this rule ambiguous.
 *
 * @module
 */
import { IamError } from '../errors.js'
import type { PermissionLike, WirePermission } from '../types.js'

/** A permission object as it may arrive: any key, either casing, any value. */
interface AnyCase {
  readonly resource?: unknown
  readonly Resource?: unknown
  readonly action?: unknown
  readonly Action?: unknown
  readonly schedAction?: unknown
  readonly SchedAction?: unknown
  readonly schedCron?: unknown
  readonly SchedCron?: unknown
  readonly schedRange?: unknown
  readonly SchedRange?: unknown
}

/**
 * The resource of a permission, or `undefined` when it has none (or not a string).
 *
 * @example
 * ```ts
 * permissionResource({ Resource: 'NAMESPACE:ns:ITEM', Action: 2 }) // 'NAMESPACE:ns:ITEM'
 * ```
 */
export function permissionResource(p: PermissionLike): string | undefined {
  const o = p as AnyCase
  const resource = o.resource !== undefined ? o.resource : o.Resource
  return typeof resource === 'string' ? resource : undefined
}

/**
 * The plain action of a permission; 0 when it has none (or not a number).
 *
 * @example
 * ```ts
 * permissionAction({ resource: 'NAMESPACE:ns:ITEM', action: 6 }) // 6
 * ```
 */
export function permissionAction(p: PermissionLike): number {
  const o = p as AnyCase
  const action = o.action !== undefined ? o.action : o.Action
  return typeof action === 'number' ? action : 0
}

/** The scheduled action of a permission; 0 when it has none (or not a number). */
export function permissionSchedAction(p: PermissionLike): number {
  const o = p as AnyCase
  const action = o.schedAction !== undefined ? o.schedAction : o.SchedAction
  return typeof action === 'number' ? action : 0
}

/** The recurring schedule (a cron) of a permission, when it is a non-empty string. */
export function permissionSchedCron(p: PermissionLike): string | undefined {
  const o = p as AnyCase
  const cron = o.schedCron !== undefined ? o.schedCron : o.SchedCron
  return typeof cron === 'string' && cron.length > 0 ? cron : undefined
}

/** The schedule range (`[start cron, end cron]`) of a permission, when it is an array. */
export function permissionSchedRange(p: PermissionLike): readonly unknown[] | undefined {
  const o = p as AnyCase
  const range = o.schedRange !== undefined ? o.schedRange : o.SchedRange
  return Array.isArray(range) ? range : undefined
}

/**
 * A permission from an IAM body (role, role override) as a frozen {@link WirePermission}, or
 * `undefined` when it lacks a string resource or a numeric action. Schedule fields are kept when
 * usable: a numeric `schedAction`, a non-empty `schedCron`, the strings of a non-empty
 * `schedRange`.
 *
 * @example
 * ```ts
 * readWirePermission({ Resource: 'NAMESPACE:ns:ITEM', Action: 2 }) // { resource: 'NAMESPACE:ns:ITEM', action: 2 }
 * readWirePermission({ resource: 'X' }) // undefined
 * ```
 */
export function readWirePermission(item: unknown): WirePermission | undefined {
  if (item === null || typeof item !== 'object') return undefined
  const o = item as AnyCase
  const resource = o.resource !== undefined ? o.resource : o.Resource
  const action = o.action !== undefined ? o.action : o.Action
  if (typeof resource !== 'string' || typeof action !== 'number') return undefined
  const permission: WirePermission = { resource, action }
  const schedAction = o.schedAction !== undefined ? o.schedAction : o.SchedAction
  if (typeof schedAction === 'number') permission.schedAction = schedAction
  const schedCron = o.schedCron !== undefined ? o.schedCron : o.SchedCron
  if (typeof schedCron === 'string' && schedCron !== '') permission.schedCron = schedCron
  const schedRange = o.schedRange !== undefined ? o.schedRange : o.SchedRange
  if (Array.isArray(schedRange) && schedRange.length > 0) {
    permission.schedRange = schedRange.filter((s): s is string => typeof s === 'string')
  }
  return Object.freeze(permission)
}

function isAction(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function invalidPermission(message: string): IamError {
  return new IamError('ERR_IAM_INVALID_PERMISSION', message)
}

/**
 * Checks a required permission and returns it as `{ resource, action }`. Accepts `resource` or
 * `Resource`, `action` or `Action` (lower case wins when both are present). `action` must be a
 * non-negative safe integer.
 *
 * @throws IamError `ERR_IAM_INVALID_PERMISSION` for anything else.
 * @example
 * ```ts
 * normalizeRequiredPermission({ Resource: 'NAMESPACE:{namespace}:ITEM', Action: 2 })
 * // { resource: 'NAMESPACE:{namespace}:ITEM', action: 2 }
 * ```
 */
export function normalizeRequiredPermission(p: unknown): { resource: string; action: number } {
  if (typeof p !== 'object' || p === null) {
    throw invalidPermission('required permission must be an object { resource, action }')
  }
  const o = p as AnyCase
  const resource = o.resource !== undefined ? o.resource : o.Resource
  const action = o.action !== undefined ? o.action : o.Action
  if (typeof resource !== 'string') {
    throw invalidPermission('required permission resource must be a string')
  }
  if (!isAction(action)) {
    throw invalidPermission('required permission action must be a non-negative integer')
  }
  return { resource, action }
}
