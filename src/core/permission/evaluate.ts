/**
 * The access decision: does a validated token grant a required permission (resource + action)?
 *
 * Follows the reference SDKs (Go v2, Python 1.4.3): claim permissions first, then each namespace
 * role's permissions, then each (deprecated) global role's; the first grant whose action has every
 * required bit and whose resource covers the required resource allows. One driver serves both
 * paths: the fast one (no steps, no allocation per grant) and explain mode (steps recorded by
 * `explain.ts`), so they cannot drift apart in the order they look at grants.
 *
 * @module
 */
import { effectiveAction, hasSchedule } from '../schedule.js'
import type { JwtClaims, NamespaceRole, PermissionLike, RequiredPermission } from '../types.js'
import { explainGrants, globalRoleStep, namespaceRoleStep, requiredStep } from './explain.js'
import { normalizeRequiredPermission, permissionAction, permissionResource } from './fields.js'
import { SKIP_LOOKUP, actionAllowed, matchResource } from './match.js'
import { substitutePlaceholders, substitutedResources } from './placeholders.js'
import type {
  DecisionStep,
  EvaluateOptions,
  GrantSource,
  PermissionDecision,
  PermissionGrant,
  PermissionSources,
} from './types.js'

/**
 * Role ID of the IAM's default user role. Its permissions in a namespace come from the role
 * override endpoint (`GET /v3/admin/namespaces/{namespace}/roleoverride/{roleId}/permissions`).
 */
export const DEFAULT_USER_ROLE_ID = '2251438839e948d783ec0e5281daf05b'

const EMPTY: readonly never[] = Object.freeze([])
const DENIED: PermissionDecision = Object.freeze({ allowed: false })

/**
 * Index of the first permission of `perms` (from `from`) that allows, or -1. Synchronous unless a
 * namespace context lookup is needed. `granted` holds substituted resources (null: as they are).
 */
function findGrant(
  perms: readonly PermissionLike[],
  granted: readonly (string | undefined)[] | null,
  resource: string,
  action: number,
  sources: PermissionSources,
  now: number,
  from: number,
): number | Promise<number> {
  for (let i = from; i < perms.length; i++) {
    const p = perms[i]
    if (p == null || typeof p !== 'object') continue
    // Action first: cheap, and it spares namespace context lookups for grants that cannot allow.
    const grantedAction = hasSchedule(p) ? effectiveAction(p, now) : permissionAction(p)
    if (!actionAllowed(grantedAction, action)) continue
    const g = granted === null ? permissionResource(p) : granted[i]
    if (g === undefined) continue
    const ok = matchResource(g, resource, sources.getNamespaceContext, sources, undefined)
    if (ok === true) return i
    if (ok !== false) {
      return continueAfterLookup(ok, i, perms, granted, resource, action, sources, now)
    }
  }
  return -1
}

async function continueAfterLookup(
  pending: Promise<boolean>,
  i: number,
  perms: readonly PermissionLike[],
  granted: readonly (string | undefined)[] | null,
  resource: string,
  action: number,
  sources: PermissionSources,
  now: number,
): Promise<number> {
  if (await pending) return i
  return findGrant(perms, granted, resource, action, sources, now, i + 1)
}

function grantFor(
  source: GrantSource,
  perms: readonly PermissionLike[],
  granted: readonly (string | undefined)[] | null,
  index: number,
  now: number,
  roleId: string | undefined,
  namespace: string | undefined,
): PermissionGrant {
  const permission = perms[index] as PermissionLike
  const grant: PermissionGrant = {
    source,
    index,
    permission,
    resource: (granted === null ? permissionResource(permission) : granted[index]) ?? '',
    action: hasSchedule(permission)
      ? effectiveAction(permission, now)
      : permissionAction(permission),
  }
  if (roleId !== undefined) grant.roleId = roleId
  if (namespace !== undefined) grant.namespace = namespace
  return grant
}

/** Namespace to fetch the default user role's override for, or '' for none (docs/iam-wire-protocol.md#36-namespace-roles). */
function overrideNamespace(
  role: NamespaceRole,
  resources: Readonly<Record<string, string>> | undefined,
): string {
  const ns = role.namespace
  if (typeof ns === 'string' && ns !== '' && ns !== '*' && !ns.endsWith('-')) return ns
  // Not a concrete namespace ('*', a `{studio}-` prefix, or missing): the request's, if given.
  const requested = resources?.['{namespace}']
  return typeof requested === 'string' ? requested : ''
}

function asList<T>(value: readonly T[] | undefined | null): readonly T[] {
  return Array.isArray(value) ? value : EMPTY
}

function allowedBy(grant: PermissionGrant, steps: DecisionStep[] | undefined): PermissionDecision {
  return steps === undefined ? { allowed: true, grant } : { allowed: true, grant, steps }
}

/**
 * Decides whether validated `claims` grant `required` (docs/iam-wire-protocol.md#31-decision-order):
 *
 * 1. placeholders of `resources` (e.g. `{ '{namespace}': 'ns' }`) are substituted in the required
 *    resource, every occurrence;
 * 2. the token's `permissions`, as they are;
 * 3. each `namespace_roles` entry: the role's permissions (the role override in the namespace for
 *    {@link DEFAULT_USER_ROLE_ID} when a namespace is known: the role's, or for `*` / `{studio}-`
 *    the request's `{namespace}`), with `{userId}` → `sub` and `{namespace}` → the role's namespace;
 * 4. each `roles` entry, with `{namespace}` → the token's namespace.
 *
 * The first grant whose action in effect (scheduled permissions) has every required bit and whose
 * resource covers the required one allows. Rejects with `ERR_IAM_INVALID_PERMISSION` for a bad
 * `required`, and with the source's error when a source rejects (never a silent deny).
 * With `{ explain: true }` the decision also lists every step looked at (see
 * {@link PermissionDecision}); the answer is the same.
 *
 * @example
 * ```ts
 * const decision = await evaluatePermission(
 *   claims,
 *   { resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: Action.Read },
 *   { '{namespace}': 'ns', '{userId}': claims.sub ?? '' },
 *   sources,
 * )
 * if (!decision.allowed) throw new IamError('ERR_IAM_INSUFFICIENT_PERMISSIONS', 'forbidden')
 * ```
 */
export async function evaluatePermission(
  claims: JwtClaims,
  required: RequiredPermission,
  resources: Readonly<Record<string, string>> | undefined,
  sources: PermissionSources,
  options?: EvaluateOptions,
): Promise<PermissionDecision> {
  const { resource: given, action } = normalizeRequiredPermission(required)
  if (typeof claims !== 'object' || claims === null) return DENIED
  const resource = substitutePlaceholders(given, resources)
  // One clock reading per decision: every scheduled permission is judged at the same instant.
  const now = sources.now()
  // Explain mode only: the fast path allocates no step.
  const steps: DecisionStep[] | undefined = options?.explain === true ? [] : undefined
  if (steps !== undefined) steps.push(requiredStep(given, resource, action))

  // Token permissions: no placeholder substitution (both reference SDKs).
  const claimed = asList(claims.permissions)
  let found =
    steps === undefined
      ? findGrant(claimed, null, resource, action, sources, now, 0)
      : explainGrants(claimed, null, resource, action, sources, now, steps, {
          source: 'permission',
        })
  if (typeof found !== 'number') found = await found
  if (found >= 0) {
    return allowedBy(grantFor('permission', claimed, null, found, now, undefined, undefined), steps)
  }

  const userId = typeof claims.sub === 'string' ? claims.sub : ''
  const tokenNamespace = typeof claims.namespace === 'string' ? claims.namespace : ''

  const namespaceRoles = asList(claims.namespace_roles)
  for (let r = 0; r < namespaceRoles.length; r++) {
    const role = namespaceRoles[r]
    if (role == null || typeof role.roleId !== 'string') continue
    const roleId = role.roleId
    const namespace = typeof role.namespace === 'string' ? role.namespace : ''
    const query = roleId === DEFAULT_USER_ROLE_ID ? overrideNamespace(role, resources) : ''
    const perms = asList(
      query !== ''
        ? await sources.getRoleOverridePermissions(query, roleId)
        : await sources.getRolePermissions(roleId),
    )
    // An empty namespace stands for the token's (docs/iam-wire-protocol.md#32-placeholders).
    const namespaceValue = namespace === '' ? tokenNamespace : namespace
    const granted = substitutedResources(perms, userId, namespaceValue)
    if (steps === undefined) {
      found = findGrant(perms, granted, resource, action, sources, now, 0)
    } else {
      steps.push(namespaceRoleStep(roleId, namespace, query, userId, namespaceValue, perms.length))
      found = explainGrants(perms, granted, resource, action, sources, now, steps, {
        source: 'namespace_role',
        roleId,
        namespace,
        ...(query !== '' ? { roleOverrideNamespace: query } : {}),
      })
    }
    if (typeof found !== 'number') found = await found
    if (found >= 0) {
      const grant = grantFor('namespace_role', perms, granted, found, now, roleId, namespace)
      return allowedBy(grant, steps)
    }
  }

  const roles = asList(claims.roles)
  for (let r = 0; r < roles.length; r++) {
    const roleId = roles[r]
    if (typeof roleId !== 'string') continue
    const perms = asList(await sources.getRolePermissions(roleId))
    const granted = substitutedResources(perms, userId, tokenNamespace)
    if (steps === undefined) {
      found = findGrant(perms, granted, resource, action, sources, now, 0)
    } else {
      steps.push(globalRoleStep(roleId, userId, tokenNamespace, perms.length))
      found = explainGrants(perms, granted, resource, action, sources, now, steps, {
        source: 'role',
        roleId,
      })
    }
    if (typeof found !== 'number') found = await found
    if (found >= 0) {
      return allowedBy(grantFor('role', perms, granted, found, now, roleId, undefined), steps)
    }
  }

  return steps === undefined ? DENIED : { allowed: false, steps }
}

/**
 * Whether the token's own permissions grant `resource` (placeholders already substituted) and
 * `action`, decided without waiting: the first step of {@link evaluatePermission}, for the hot
 * path. `false` means "not from the token's permissions alone" (a role, or a `{studio}-` grant
 * needing a namespace context lookup, may still allow): ask {@link evaluatePermission} then.
 *
 * @example
 * ```ts
 * if (grantedByTokenPermissions(claims, 'NAMESPACE:ns:USER:u1', 4, Date.now())) next()
 * ```
 */
export function grantedByTokenPermissions(
  claims: JwtClaims,
  resource: string,
  action: number,
  now: number,
): boolean {
  const claimed = asList(claims.permissions)
  if (claimed.length === 0) return false
  const found = findGrant(claimed, null, resource, action, NO_LOOKUP_SOURCES, now, 0)
  return typeof found === 'number' && found >= 0
}

/** Sources that never look anything up: a `{studio}-` grant needing a lookup does not allow. */
const NO_LOOKUP_SOURCES: PermissionSources = Object.freeze({
  getRolePermissions: () => Promise.resolve(EMPTY),
  getRoleOverridePermissions: () => Promise.resolve(EMPTY),
  getNamespaceContext: SKIP_LOOKUP,
  now: () => 0,
})
