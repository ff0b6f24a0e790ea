/**
 * Placeholder substitution: the caller's values in the required resource (`{namespace}`, any
 * key), and a role's `{userId}` / `{namespace}` in its granted resources, memoised per role.
 *
 * @module
 */
import type { PermissionLike } from '../types.js'
import { permissionResource } from './fields.js'

function replaceAllLiteral(s: string, key: string, value: string): string {
  let at = s.indexOf(key)
  if (at < 0) return s
  // Not String#replaceAll: its replacement string interprets `$&`, `$1`, …
  let out = ''
  let from = 0
  while (at >= 0) {
    out += s.slice(from, at) + value
    from = at + key.length
    at = s.indexOf(key, from)
  }
  return out + s.slice(from)
}

/**
 * Replaces every occurrence of every key of `values` in `resource` (keys are the literal
 * placeholder text, e.g. `{namespace}`), key by key in the object's order, like the Python SDK.
 * Values are inserted literally. Empty keys and non-string values are ignored. Inputs are not
 * mutated.
 *
 * @example
 * ```ts
 * substitutePlaceholders('NAMESPACE:{namespace}:USER:{userId}', { '{namespace}': 'ns', '{userId}': '42' })
 * // 'NAMESPACE:ns:USER:42'
 * ```
 */
export function substitutePlaceholders(
  resource: string,
  values: Readonly<Record<string, string>> | undefined,
): string {
  if (values === undefined || values === null) return resource
  const memo = lastSubstitution.get(resource)
  // One pass over the values (each read once): compared with the memo's while they agree,
  // collected from the first difference on.
  let same = 0
  let keys: string[] | undefined
  let used: string[] | undefined
  for (const key in values) {
    if (key === '' || !Object.hasOwn(values, key)) continue
    const value: unknown = values[key]
    if (typeof value !== 'string') continue
    if (keys === undefined || used === undefined) {
      if (memo !== undefined && memo.keys[same] === key && memo.values[same] === value) {
        same++
        continue
      }
      ;[keys, used] = memoPrefix(memo, same)
    }
    keys.push(key)
    used.push(value)
  }
  if (keys === undefined || used === undefined) {
    if (memo !== undefined && same === memo.keys.length) return memo.result
    // The values are the memo's first entries only (fewer of them).
    ;[keys, used] = memoPrefix(memo, same)
  }
  let out = resource
  for (let i = 0; i < keys.length; i++) {
    out = replaceAllLiteral(out, keys[i] as string, used[i] as string)
  }
  if (lastSubstitution.size >= MAX_SUBSTITUTION_MEMOS) lastSubstitution.clear()
  lastSubstitution.set(resource, { keys, values: used, result: out })
  return out
}

/** The first `count` keys and values of a memo, as new lists to extend. */
function memoPrefix(memo: SubstitutionMemo | undefined, count: number): [string[], string[]] {
  return memo === undefined ? [[], []] : [memo.keys.slice(0, count), memo.values.slice(0, count)]
}

interface SubstitutionMemo {
  readonly keys: readonly string[]
  readonly values: readonly string[]
  readonly result: string
}

/**
 * The last substitution made into each resource: the same values (a route's or a handler's,
 * request after request) give the same result, which is then not built again; building it was
 * most of a permission check granted by the token's own permissions. The result depends only on
 * the resource and the values' string entries in order, which a hit compares one by one.
 */
const lastSubstitution = new Map<string, SubstitutionMemo>()
/** Resources remembered (all forgotten when exceeded: resources are a service's constants). */
const MAX_SUBSTITUTION_MEMOS = 256

/** `{userId}` first, then `{namespace}`, every occurrence (docs/iam-wire-protocol.md#32-placeholders). */
function applyUserValues(resource: string, userId: string, namespace: string): string {
  return replaceAllLiteral(
    replaceAllLiteral(resource, '{userId}', userId),
    '{namespace}',
    namespace,
  )
}

interface RoleMemo {
  readonly placeholders: boolean
  /** namespace → userId → substituted resources (parallel to the permissions). */
  readonly byNamespace: Map<string, Map<string, readonly (string | undefined)[]>>
}

/** Users remembered per role and namespace (oldest dropped first). */
const MAX_MEMO_USERS = 512
/** Namespaces remembered per role (all dropped when exceeded). */
const MAX_MEMO_NAMESPACES = 64
/** Keyed by the array a source returned: a new array (role changed) starts afresh. */
const roleMemos = new WeakMap<readonly PermissionLike[], RoleMemo>()

function hasUserPlaceholder(resource: string | undefined): boolean {
  return (
    resource !== undefined && (resource.includes('{userId}') || resource.includes('{namespace}'))
  )
}

/**
 * Resources of `perms` with `{userId}` and `{namespace}` substituted, or `null` when none has a
 * placeholder (use the resources as they are). Memoised: role permissions are the same on every
 * request, and substituting them costs more than matching them.
 */
export function substitutedResources(
  perms: readonly PermissionLike[],
  userId: string,
  namespace: string,
): readonly (string | undefined)[] | null {
  let memo = roleMemos.get(perms)
  if (memo === undefined) {
    let placeholders = false
    for (let i = 0; i < perms.length && !placeholders; i++) {
      const p = perms[i]
      placeholders = p != null && hasUserPlaceholder(permissionResource(p))
    }
    memo = { placeholders, byNamespace: new Map() }
    roleMemos.set(perms, memo)
  }
  if (!memo.placeholders) return null
  let byUser = memo.byNamespace.get(namespace)
  const hit = byUser?.get(userId)
  if (hit !== undefined) return hit
  const out = new Array<string | undefined>(perms.length)
  for (let i = 0; i < perms.length; i++) {
    const p = perms[i]
    const resource = p == null ? undefined : permissionResource(p)
    out[i] = resource === undefined ? undefined : applyUserValues(resource, userId, namespace)
  }
  if (byUser === undefined) {
    if (memo.byNamespace.size >= MAX_MEMO_NAMESPACES) memo.byNamespace.clear()
    byUser = new Map()
    memo.byNamespace.set(namespace, byUser)
  } else if (byUser.size >= MAX_MEMO_USERS) {
    // Maps iterate in insertion order: drop the oldest.
    const oldest = byUser.keys().next()
    if (oldest.done !== true) byUser.delete(oldest.value)
  }
  byUser.set(userId, out)
  return out
}
