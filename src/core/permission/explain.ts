/**
 * Explain mode of the evaluator: the steps it records (with a one-line message each) and the
 * renderer that turns a {@link PermissionDecision} into lines for people (the CLI, debug logs,
 * the example page). Nothing here runs on the fast path.
 *
 * @module
 */
import { effectiveAction, hasSchedule, isScheduled } from '../schedule.js'
import type { PermissionLike } from '../types.js'
import { permissionAction, permissionResource } from './fields.js'
import { SKIP_LOOKUP, actionAllowed, matchResource } from './match.js'
import type {
  DecisionStep,
  GrantSource,
  GrantStep,
  PermissionDecision,
  PermissionGrant,
  PermissionSources,
  RequiredStep,
  ResourceCheck,
  RoleStep,
} from './types.js'

const EMPTY: readonly never[] = Object.freeze([])

const ACTION_NAMES: readonly [number, string][] = [
  [1, 'CREATE'],
  [2, 'READ'],
  [4, 'UPDATE'],
  [8, 'DELETE'],
]

/**
 * An action as its number and bit names, e.g. `6 (READ|UPDATE)`; `0 (none)`; just the number
 * when it has bits beyond `CREATE|READ|UPDATE|DELETE` (or is negative).
 *
 * @example
 * ```ts
 * formatAction(Action.Read | Action.Update) // '6 (READ|UPDATE)'
 * formatAction(16) // '16'
 * ```
 */
export function formatAction(action: number): string {
  if (action === 0) return '0 (none)'
  const names: string[] = []
  let rest = action
  for (const [bit, name] of ACTION_NAMES) {
    if ((action & bit) !== 0) {
      names.push(name)
      rest &= ~bit
    }
  }
  if (rest !== 0 || action < 0) return String(action)
  return `${action} (${names.join('|')})`
}

function describeResourceCheck(c: ResourceCheck): string {
  const at = `section ${c.section ?? 0}`
  const g = JSON.stringify(c.grantedSection ?? '')
  const r = JSON.stringify(c.requiredSection ?? '')
  let text: string
  switch (c.rule) {
    case 'identical':
      text = 'resource is identical'
      break
    case 'all_sections':
      text = 'every resource section matches'
      break
    case 'section_mismatch':
      text = `${at}: granted ${g} does not match required ${r}`
      break
    case 'studio_game_mismatch':
      text = `${at}: required namespace ${r} is a game namespace not under studio ${g}`
      break
    case 'studio_not_namespace':
      text = `${at}: studio ${g} rule: required ${r} is not a namespace`
      break
    case 'studio_lookup_unavailable':
      text = `${at}: studio ${g} rule needs the namespace context of ${r}, and no lookup is available`
      break
    case 'studio_lookup_skipped':
      text = `${at}: studio ${g} rule would need the namespace context of ${r} (not looked up: action insufficient)`
      break
    case 'studio_namespace_not_found':
      text = `${at}: studio ${g} rule: namespace ${r} not found`
      break
    case 'studio_namespace_mismatch': {
      const ctx = c.studio?.at(-1)?.context
      const what = ctx
        ? `a ${ctx.type} of studio ${JSON.stringify(ctx.studioNamespace)}`
        : 'not a Game'
      text = `${at}: studio ${g} rule: namespace ${r} is ${what}`
      break
    }
    case 'trailing_wildcard':
      text = `granted ends with "*" at ${at}, covering the remaining required sections`
      break
    case 'trailing_wildcard_scoped':
      text = `granted ends with a "*" after NAMESPACE or USER (${at}), which covers one section only`
      break
    case 'granted_shorter':
      text = `required has more sections than granted, whose last section ${g} is not "*"`
      break
    case 'extra_wildcards':
      text = 'granted has more sections than required, all "*"'
      break
    case 'extra_sections':
      text = `granted has more sections than required, and ${at} ${g} is not "*"`
      break
  }
  for (const s of c.studio ?? EMPTY) {
    if (!s.matched) continue
    const how =
      s.branch === 'game_namespace'
        ? 'a game namespace of the studio'
        : s.branch === 'studio_itself'
          ? 'the studio itself'
          : 'a Game of the studio (namespace context)'
    text += `; section ${s.section}: ${JSON.stringify(s.requiredSection)} is ${how} ${JSON.stringify(s.grantedSection)}`
  }
  return text
}

function describeSource(
  source: GrantSource,
  roleId: string | undefined,
  namespace: string | undefined,
  roleOverrideNamespace?: string,
): string {
  if (source === 'permission') return 'token permission'
  if (source === 'role') return `role ${roleId ?? ''}`
  const override =
    roleOverrideNamespace === undefined
      ? ''
      : ` (role override in ${JSON.stringify(roleOverrideNamespace)})`
  return `namespace role ${roleId ?? ''} in ${JSON.stringify(namespace ?? '')}${override}`
}

/** The first step of an explanation: the required permission, before and after substitution. */
export function requiredStep(given: string, resource: string, action: number): RequiredStep {
  const substituted = resource === given ? '' : ` (after substitution: ${JSON.stringify(resource)})`
  return {
    kind: 'required',
    resource: given,
    substitutedResource: resource,
    action,
    message: `required ${JSON.stringify(given)}${substituted} action ${formatAction(action)}`,
  }
}

/** The step of a namespace role whose permissions were fetched (`query`: override namespace). */
export function namespaceRoleStep(
  roleId: string,
  namespace: string,
  query: string,
  userId: string,
  namespaceValue: string,
  permissionCount: number,
): RoleStep {
  const step: RoleStep = {
    kind: 'role',
    source: 'namespace_role',
    roleId,
    namespace,
    endpoint: query !== '' ? 'role_override' : 'role',
    userId,
    namespaceValue,
    permissionCount,
    message:
      `namespace role ${roleId} in ${JSON.stringify(namespace)}: ${permissionCount} permission(s) from ` +
      (query !== '' ? `the role override in ${JSON.stringify(query)}` : 'the role endpoint') +
      `; {userId} = ${JSON.stringify(userId)}, {namespace} = ${JSON.stringify(namespaceValue)}`,
  }
  if (query !== '') step.queryNamespace = query
  return step
}

/** The step of a (deprecated) global role whose permissions were fetched. */
export function globalRoleStep(
  roleId: string,
  userId: string,
  namespaceValue: string,
  permissionCount: number,
): RoleStep {
  return {
    kind: 'role',
    source: 'role',
    roleId,
    endpoint: 'role',
    userId,
    namespaceValue,
    permissionCount,
    message:
      `role ${roleId}: ${permissionCount} permission(s) from the role endpoint; ` +
      `{userId} = ${JSON.stringify(userId)}, {namespace} = ${JSON.stringify(namespaceValue)}`,
  }
}

/** Where the permissions being explained come from. */
export interface GrantOrigin {
  source: GrantSource
  roleId?: string
  namespace?: string
  /** Namespace of the role override the permissions were fetched from. */
  roleOverrideNamespace?: string
}

/**
 * Explain-mode counterpart of the fast path's grant search: every grant is recorded as a
 * {@link GrantStep}, and the decision is the same (the first grant that allows, or -1).
 */
export async function explainGrants(
  perms: readonly PermissionLike[],
  granted: readonly (string | undefined)[] | null,
  resource: string,
  action: number,
  sources: PermissionSources,
  now: number,
  steps: DecisionStep[],
  origin: GrantOrigin,
): Promise<number> {
  const { source, roleId, namespace, roleOverrideNamespace } = origin
  for (let i = 0; i < perms.length; i++) {
    const p = perms[i]
    if (p == null || typeof p !== 'object') continue
    const plain = permissionAction(p)
    const scheduled = hasSchedule(p) && isScheduled(p, now)
    const grantedAction = hasSchedule(p) ? effectiveAction(p, now) : plain
    const actionOk = actionAllowed(grantedAction, action)
    const own = granted === null ? permissionResource(p) : granted[i]
    const g = own ?? ''
    const check: ResourceCheck = { matched: false, rule: 'section_mismatch' }
    if (own !== undefined) {
      const lookup = actionOk ? sources.getNamespaceContext : SKIP_LOOKUP
      const pending = matchResource(g, resource, lookup, sources, check)
      if (typeof pending !== 'boolean') await pending
    } else {
      check.section = 0
      check.grantedSection = ''
      check.requiredSection = resource
    }
    const allowed = actionOk && check.matched
    const missing = action & ~grantedAction
    let message = `${describeSource(source, roleId, namespace, roleOverrideNamespace)} #${i} ${JSON.stringify(g)} action ${formatAction(plain)}`
    if (scheduled)
      message += `, schedule active: SchedAction ${formatAction(grantedAction)} replaces it`
    else if (hasSchedule(p)) message += ', schedule not active'
    message += `: ${describeResourceCheck(check)}`
    message += actionOk
      ? '; action has the required bits'
      : `; action lacks ${formatAction(missing)}`
    message += allowed ? ' => ALLOWED' : ' => no match'
    const step: GrantStep = {
      kind: 'grant',
      source,
      index: i,
      permission: p,
      resource: g,
      action: plain,
      scheduled,
      effectiveAction: grantedAction,
      missingActionBits: missing,
      resourceCheck: check,
      allowed,
      message,
    }
    if (roleId !== undefined) step.roleId = roleId
    if (namespace !== undefined) step.namespace = namespace
    if (roleOverrideNamespace !== undefined) step.roleOverrideNamespace = roleOverrideNamespace
    steps.push(step)
    if (allowed) return i
  }
  return -1
}

function describeGrant(g: PermissionGrant, roleOverrideNamespace: string | undefined): string {
  return `${describeSource(g.source, g.roleId, g.namespace, roleOverrideNamespace)} #${g.index} ${JSON.stringify(g.resource)} action ${formatAction(g.action)}`
}

const PLACEHOLDER = /\{[^{}:]*\}/g

/**
 * Renders a decision for people: a verdict line, every step in order (numbered, with its
 * message), and for a refusal what is missing and the nearest misses. Pure; the CLI, debug logs
 * and the example page show these lines.
 *
 * @example
 * ```ts
 * const decision = await iam.explainPermission(claims, { resource: 'NAMESPACE:ns:USER:u1', action: 4 })
 * console.log(formatPermissionDecision(decision).join('\n'))
 * // REFUSED "NAMESPACE:ns:USER:u1" action 4 (UPDATE)
 * //   1. required "NAMESPACE:ns:USER:u1" action 4 (UPDATE)
 * //   2. token permission #0 "NAMESPACE:ns:USER:u1" action 2 (READ): resource is identical; action lacks 4 (UPDATE) => no match
 * // Missing: ...
 * ```
 */
export function formatPermissionDecision(decision: PermissionDecision): string[] {
  const steps: readonly DecisionStep[] = decision.steps ?? EMPTY
  const required = steps.find((s): s is RequiredStep => s.kind === 'required')
  const what =
    required === undefined
      ? 'the required permission'
      : `${JSON.stringify(required.substitutedResource)} action ${formatAction(required.action)}`
  const lines = [`${decision.allowed ? 'ALLOWED' : 'REFUSED'} ${what}`]
  if (decision.grant !== undefined) {
    // The allowing step, when explained, also knows the role override the grant came from.
    const last = steps.at(-1)
    const override = last?.kind === 'grant' ? last.roleOverrideNamespace : undefined
    lines.push(`  granted by ${describeGrant(decision.grant, override)}`)
  }
  if (steps.length === 0) {
    lines.push('  (no steps recorded: explain with IamClient.explainPermission)')
    return lines
  }
  steps.forEach((step, i) => lines.push(`  ${i + 1}. ${step.message}`))
  if (decision.allowed || required === undefined) return lines

  const grants = steps.filter((s): s is GrantStep => s.kind === 'grant')
  const resource = JSON.stringify(required.substitutedResource)
  if (grants.length === 0) {
    lines.push(
      'Missing: the token carries no permission to compare (no permissions, and no role with any).',
    )
  } else {
    lines.push(
      grants.length === 1
        ? 'Missing: the one grant looked at does not cover it.'
        : `Missing: none of the ${grants.length} grants looked at covers it.`,
    )
  }
  lines.push(
    `  Needed: a permission whose resource covers ${resource} with action ${formatAction(required.action)}, in the token or in one of its roles.`,
  )
  const lacksAction = grants.find((s) => s.resourceCheck.matched)
  if (lacksAction !== undefined) {
    const n = steps.indexOf(lacksAction) + 1
    lines.push(
      `  Nearest: step ${n} covers the resource but its action lacks ${formatAction(lacksAction.missingActionBits)}.`,
    )
  }
  const wrongResource = grants.find((s) => s.missingActionBits === 0 && !s.resourceCheck.matched)
  if (wrongResource !== undefined) {
    const n = steps.indexOf(wrongResource) + 1
    lines.push(
      `  Nearest: step ${n} has the action, but not the resource (${describeResourceCheck(wrongResource.resourceCheck)}).`,
    )
  }
  const unfilled = required.substitutedResource.match(PLACEHOLDER)
  if (unfilled !== null) {
    lines.push(
      `  Note: the required resource still has placeholder(s) ${[...new Set(unfilled)].join(', ')}; give their values.`,
    )
  }
  return lines
}
