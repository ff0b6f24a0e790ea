/**
 * The access decision: does a validated token grant a required permission (resource + action)?
 *
 * Follows the reference SDKs (Go v2, Python 1.4.3): claim permissions first, then each namespace
 * role's permissions, then each (deprecated) global role's; the first grant whose action has every
 * required bit and whose resource covers the required resource allows.
 *
 * @packageDocumentation
 */
import { IamError } from './errors.js'
import { effectiveAction, hasSchedule, isScheduled } from './schedule.js'
import type {
  ClaimPermission,
  JwtClaims,
  NamespaceContext,
  NamespaceRole,
  PermissionLike,
  RequiredPermission,
  WirePermission,
} from './types.js'

/**
 * Role ID of the IAM's default user role. Its permissions in a namespace come from the role
 * override endpoint (`GET /v3/admin/namespaces/{namespace}/roleoverride/{roleId}/permissions`).
 */
export const DEFAULT_USER_ROLE_ID = '2251438839e948d783ec0e5281daf05b'

/**
 * Looks up the namespace context of a namespace (basic service). Resolves `null` when the
 * namespace does not exist; rejects when the lookup could not be answered.
 */
export type NamespaceContextLookup = (namespace: string) => Promise<NamespaceContext | null>

/**
 * What the evaluator needs from the client. Caching and HTTP live behind it.
 *
 * The evaluator memoises placeholder substitution per returned array, so a source must not mutate
 * an array (or its permissions) after returning it; return a new array when the data changes.
 */
export interface PermissionSources {
  /** Permissions of a role (`GET /v3/admin/roles/{roleId}`); `[]` when the role does not exist. */
  getRolePermissions(roleId: string): Promise<readonly PermissionLike[]>
  /** Permissions of the role override of `roleId` in `namespace`; `[]` when not found. */
  getRoleOverridePermissions(namespace: string, roleId: string): Promise<readonly PermissionLike[]>
  /** Namespace context lookup used by the `{studio}-` resource rule. */
  getNamespaceContext: NamespaceContextLookup
  /** Current time, epoch milliseconds (scheduled permissions). */
  now(): number
}

/** Where a grant comes from: the token's `permissions`, a `namespace_roles` entry, or `roles`. */
export type GrantSource = 'permission' | 'namespace_role' | 'role'

/** The grant that allowed a request. */
export interface PermissionGrant {
  source: GrantSource
  /** Role the permission belongs to (`namespace_role` and `role`). */
  roleId?: string
  /** Namespace of the namespace role (`namespace_role`). */
  namespace?: string
  /** Position of the permission in its list (claim permissions or the role's permissions). */
  index: number
  /** The permission as the token or the source gave it (placeholders not substituted). */
  permission: PermissionLike
  /** The granted resource after `{userId}` / `{namespace}` substitution. */
  resource: string
  /** The granted action in effect (the scheduled action when its schedule is active). */
  action: number
}

/**
 * Which rule decided a resource comparison (docs/iam-wire-protocol.md#34-resource-matching):
 * - `identical`: the strings are equal;
 * - `all_sections`: same number of sections, each equal, a granted `*`, or the `{studio}-` rule;
 * - `section_mismatch`: a section differs and the `{studio}-` rule does not apply;
 * - `studio_game_mismatch`: required section is a `{studio}-{game}` namespace of another studio;
 * - `studio_not_namespace`: required section is empty or `*`, so no namespace to look up;
 * - `studio_lookup_unavailable`: the rule needs a namespace context lookup and none was given;
 * - `studio_lookup_skipped`: (explain only) lookup not made because the action already failed;
 * - `studio_namespace_not_found`: the lookup found no such namespace;
 * - `studio_namespace_mismatch`: the namespace is not a Game of the granted studio;
 * - `trailing_wildcard`: granted is shorter and ends with `*`, covering the rest;
 * - `trailing_wildcard_scoped`: granted is shorter and ends with `NAMESPACE:*` or `USER:*`, which
 *   covers one section only;
 * - `granted_shorter`: granted is shorter and does not end with `*`;
 * - `extra_wildcards`: granted is longer and every extra section is `*`;
 * - `extra_sections`: granted is longer and an extra section is not `*`.
 */
export type ResourceRule =
  | 'identical'
  | 'all_sections'
  | 'section_mismatch'
  | 'studio_game_mismatch'
  | 'studio_not_namespace'
  | 'studio_lookup_unavailable'
  | 'studio_lookup_skipped'
  | 'studio_namespace_not_found'
  | 'studio_namespace_mismatch'
  | 'trailing_wildcard'
  | 'trailing_wildcard_scoped'
  | 'granted_shorter'
  | 'extra_wildcards'
  | 'extra_sections'

/** One use of the `{studio}-` rule (docs/iam-wire-protocol.md#35-the-studio-rule). */
export interface StudioRuleCheck {
  /** Zero-based section index. */
  section: number
  /** Granted section, e.g. `studio1-`. */
  grantedSection: string
  /** Required section, e.g. `studio1-game1`. */
  requiredSection: string
  /**
   * `game_namespace`: required is `{studio}-{game}` (prefix test); `studio_itself`: required is the
   * studio; `namespace_context`: decided by a namespace context lookup.
   */
  branch: 'game_namespace' | 'studio_itself' | 'namespace_context'
  /** Lookup result (`null`: not found); present when a lookup was made. */
  context?: NamespaceContext | null
  matched: boolean
}

/** How a granted resource compared with the required one. */
export interface ResourceCheck {
  matched: boolean
  rule: ResourceRule
  /** Zero-based section where the comparison was decided, when one section decided it. */
  section?: number
  /** That section of the granted resource. */
  grantedSection?: string
  /** That section of the required resource. */
  requiredSection?: string
  /** Every application of the `{studio}-` rule, in order. */
  studio?: StudioRuleCheck[]
}

/** Explain step: the required permission after placeholder substitution. */
export interface RequiredStep {
  kind: 'required'
  /** Resource as given by the caller. */
  resource: string
  /** Resource after substituting the caller's placeholder values. */
  substitutedResource: string
  action: number
  message: string
}

/** Explain step: the permissions of a role were fetched. */
export interface RoleStep {
  kind: 'role'
  source: 'namespace_role' | 'role'
  roleId: string
  /** Namespace of the namespace role. */
  namespace?: string
  /** `role_override` for the default user role in a known namespace, else `role`. */
  endpoint: 'role' | 'role_override'
  /** Namespace the role override was fetched for. */
  queryNamespace?: string
  /** Value substituted for `{userId}` in the role's resources. */
  userId: string
  /** Value substituted for `{namespace}` in the role's resources. */
  namespaceValue: string
  permissionCount: number
  message: string
}

/** Explain step: one granted permission compared with the required one. */
export interface GrantStep {
  kind: 'grant'
  source: GrantSource
  roleId?: string
  namespace?: string
  index: number
  permission: PermissionLike
  /** Granted resource after substitution (`''` when the permission has none). */
  resource: string
  /** Plain `Action`. */
  action: number
  /** Whether a schedule was active, so that `SchedAction` replaced `Action`. */
  scheduled: boolean
  /** Action in effect. */
  effectiveAction: number
  /** Required bits the effective action lacks (0 when none). */
  missingActionBits: number
  /** Resource comparison; when the action failed it is made without namespace context lookups. */
  resourceCheck: ResourceCheck
  allowed: boolean
  message: string
}

/** One step of an explained decision. */
export type DecisionStep = RequiredStep | RoleStep | GrantStep

/** The outcome of {@link evaluatePermission}. */
export interface PermissionDecision {
  allowed: boolean
  /** The first grant that allowed; absent when denied. */
  grant?: PermissionGrant
  /** Every step looked at, in order; only with `{ explain: true }`. */
  steps?: DecisionStep[]
}

/** Options of {@link evaluatePermission}. */
export interface EvaluateOptions {
  /** Record {@link DecisionStep}s (slower; for CLIs and debug logs). Default `false`. */
  explain?: boolean
}

const STAR = 42 // '*'
const DASH = 45 // '-'
const COLON = 58 // ':'

const EMPTY: readonly never[] = Object.freeze([])
const DENIED: PermissionDecision = Object.freeze({ allowed: false })

/** Stand-in lookup of explain mode when a lookup must not be made. */
const SKIP_LOOKUP: NamespaceContextLookup = () => Promise.resolve(null)

/**
 * Whether a granted action has every required bit: `(granted & required) === required`.
 * Bits are those of `Action` (CREATE 1, READ 2, UPDATE 4, DELETE 8); JavaScript bitwise
 * operators work on 32 bits, so a requirement of 2^31 or more never matches.
 *
 * @example
 * ```ts
 * actionAllowed(Action.Read | Action.Update, Action.Read) // true
 * actionAllowed(Action.Read, Action.Read | Action.Update) // false
 * ```
 */
export function actionAllowed(granted: number, required: number): boolean {
  return (granted & required) === required
}

function regionEquals(a: string, aStart: number, b: string, bStart: number, length: number) {
  for (let k = 0; k < length; k++) {
    if (a.charCodeAt(aStart + k) !== b.charCodeAt(bStart + k)) return false
  }
  return true
}

/** Whether the section `start..end` of `s` is `name` (`start` -1: no such section). */
function isSection(s: string, start: number, end: number, name: string): boolean {
  return start >= 0 && end - start === name.length && s.startsWith(name, start)
}

function record(
  trace: ResourceCheck,
  matched: boolean,
  rule: ResourceRule,
  section: number,
  granted: string | undefined,
  required: string | undefined,
): boolean {
  trace.matched = matched
  trace.rule = rule
  trace.section = section
  if (granted !== undefined) trace.grantedSection = granted
  if (required !== undefined) trace.requiredSection = required
  return matched
}

function recordStudio(trace: ResourceCheck, check: StudioRuleCheck): void {
  if (trace.studio === undefined) trace.studio = []
  trace.studio.push(check)
}

/**
 * Compares the sections of `g` (granted) and `r` (required) from offsets `gs` / `rs` on; `index` is
 * the section number and `pgs`..`pge` the previous granted section (`pgs` -1: none). Walks both
 * strings once with charCodeAt: no split, no allocation unless explaining or looking up.
 */
function scan(
  g: string,
  r: string,
  gs: number,
  rs: number,
  index: number,
  pgs: number,
  pge: number,
  lookup: NamespaceContextLookup | undefined,
  lookupThis: unknown,
  trace: ResourceCheck | undefined,
): boolean | Promise<boolean> {
  const gn = g.length
  const rn = r.length
  for (;;) {
    // Common prefix of the two sections.
    let gi = gs
    let ri = rs
    while (gi < gn && ri < rn) {
      const c = g.charCodeAt(gi)
      if (c !== r.charCodeAt(ri) || c === COLON) break
      gi++
      ri++
    }
    let ge = gi
    let re = ri
    const gEnded = gi === gn || g.charCodeAt(gi) === COLON
    const rEnded = ri === rn || r.charCodeAt(ri) === COLON
    if (!gEnded || !rEnded) {
      if (!gEnded) {
        ge = g.indexOf(':', gi)
        if (ge < 0) ge = gn
      }
      if (!rEnded) {
        re = r.indexOf(':', ri)
        if (re < 0) re = rn
      }
      const gLen = ge - gs
      if (!(gLen === 1 && g.charCodeAt(gs) === STAR)) {
        const result = studioRule(g, r, gs, ge, rs, re, index, pgs, pge, lookup, lookupThis, trace)
        if (result !== true) return result
      }
    }
    const gLast = ge === gn
    const rLast = re === rn
    if (gLast || rLast) return finish(g, gs, ge, gLast, rLast, index, pgs, pge, trace)
    pgs = gs
    pge = ge
    gs = ge + 1
    rs = re + 1
    index++
  }
}

/**
 * Step 3 for differing sections `gs..ge` / `rs..re`: `true` when the `{studio}-` rule matches them
 * synchronously, `false` when nothing does, a Promise when a namespace context lookup decides.
 */
function studioRule(
  g: string,
  r: string,
  gs: number,
  ge: number,
  rs: number,
  re: number,
  index: number,
  pgs: number,
  pge: number,
  lookup: NamespaceContextLookup | undefined,
  lookupThis: unknown,
  trace: ResourceCheck | undefined,
): boolean | Promise<boolean> {
  const gLen = ge - gs
  const rLen = re - rs
  // 3a: only a `{studio}-` section right after NAMESPACE gets a second chance.
  if (gLen === 0 || g.charCodeAt(ge - 1) !== DASH || !isSection(g, pgs, pge, 'NAMESPACE')) {
    if (trace === undefined) return false
    return record(trace, false, 'section_mismatch', index, g.slice(gs, ge), r.slice(rs, re))
  }
  const dash = r.indexOf('-', rs)
  const nextDash = dash < 0 || dash >= re ? -1 : r.indexOf('-', dash + 1)
  if (dash >= 0 && dash < re && (nextDash < 0 || nextDash >= re)) {
    // 3b-i (Go): `{studio}-{game}`, one dash; even `-x`, where Python would look it up.
    const ok = rLen >= gLen && regionEquals(g, gs, r, rs, gLen)
    if (trace === undefined) return ok
    const gSec = g.slice(gs, ge)
    const rSec = r.slice(rs, re)
    recordStudio(trace, {
      section: index,
      grantedSection: gSec,
      requiredSection: rSec,
      branch: 'game_namespace',
      matched: ok,
    })
    return ok || record(trace, false, 'studio_game_mismatch', index, gSec, rSec)
  }
  if (rLen + 1 === gLen && regionEquals(g, gs, r, rs, rLen)) {
    // 3b-ii: the studio namespace itself.
    if (trace !== undefined) {
      recordStudio(trace, {
        section: index,
        grantedSection: g.slice(gs, ge),
        requiredSection: r.slice(rs, re),
        branch: 'studio_itself',
        matched: true,
      })
    }
    return true
  }
  // 3b-iii: ask whether the required namespace is a game of this studio.
  return studioLookup(g, r, gs, ge, rs, re, index, lookup, lookupThis, trace)
}

/** Steps 4-6 once the section at `index` matched and one resource has no more sections. */
function finish(
  g: string,
  gs: number,
  ge: number,
  gLast: boolean,
  rLast: boolean,
  index: number,
  pgs: number,
  pge: number,
  trace: ResourceCheck | undefined,
): boolean {
  if (gLast && rLast) {
    if (trace === undefined) return true
    trace.matched = true
    trace.rule = 'all_sections'
    return true
  }
  if (gLast) {
    // 5: granted is shorter.
    if (ge - gs === 1 && g.charCodeAt(gs) === STAR) {
      if (!isSection(g, pgs, pge, 'NAMESPACE') && !isSection(g, pgs, pge, 'USER')) {
        return (
          trace === undefined || record(trace, true, 'trailing_wildcard', index, '*', undefined)
        )
      }
      if (trace === undefined) return false
      return record(trace, false, 'trailing_wildcard_scoped', index, '*', undefined)
    }
    if (trace === undefined) return false
    return record(trace, false, 'granted_shorter', index, g.slice(gs, ge), undefined)
  }
  // 6: granted is longer; every extra section must be `*`.
  let s = ge + 1
  let extra = index + 1
  for (;;) {
    let e = g.indexOf(':', s)
    if (e < 0) e = g.length
    if (!(e - s === 1 && g.charCodeAt(s) === STAR)) {
      if (trace === undefined) return false
      return record(trace, false, 'extra_sections', extra, g.slice(s, e), undefined)
    }
    if (e === g.length) break
    s = e + 1
    extra++
  }
  if (trace === undefined) return true
  trace.matched = true
  trace.rule = 'extra_wildcards'
  return true
}

function studioLookup(
  g: string,
  r: string,
  gs: number,
  ge: number,
  rs: number,
  re: number,
  index: number,
  lookup: NamespaceContextLookup | undefined,
  lookupThis: unknown,
  trace: ResourceCheck | undefined,
): boolean | Promise<boolean> {
  const rSec = r.slice(rs, re)
  // No namespace is named '' or '*'; spare the IAM a lookup that can only fail.
  if (rSec === '' || rSec === '*') {
    if (trace === undefined) return false
    return record(trace, false, 'studio_not_namespace', index, g.slice(gs, ge), rSec)
  }
  if (typeof lookup !== 'function' || lookup === SKIP_LOOKUP) {
    if (trace === undefined) return false
    const rule = lookup === SKIP_LOOKUP ? 'studio_lookup_skipped' : 'studio_lookup_unavailable'
    return record(trace, false, rule, index, g.slice(gs, ge), rSec)
  }
  return studioLookupAsync(g, r, gs, ge, re, index, rSec, lookup, lookupThis, trace)
}

async function studioLookupAsync(
  g: string,
  r: string,
  gs: number,
  ge: number,
  re: number,
  index: number,
  rSec: string,
  lookup: NamespaceContextLookup,
  lookupThis: unknown,
  trace: ResourceCheck | undefined,
): Promise<boolean> {
  // Inside the async function, a lookup that throws synchronously also rejects.
  const context = (await lookup.call(lookupThis, rSec)) ?? null
  const studio = context?.studioNamespace
  const ok =
    context !== null &&
    context.type === 'Game' &&
    typeof studio === 'string' &&
    ge - gs === studio.length + 1 &&
    g.startsWith(studio, gs)
  if (trace !== undefined) {
    const gSec = g.slice(gs, ge)
    recordStudio(trace, {
      section: index,
      grantedSection: gSec,
      requiredSection: rSec,
      branch: 'namespace_context',
      context,
      matched: ok,
    })
    if (!ok) {
      const rule = context === null ? 'studio_namespace_not_found' : 'studio_namespace_mismatch'
      return record(trace, false, rule, index, gSec, rSec)
    }
  } else if (!ok) {
    return false
  }
  const gLast = ge === g.length
  const rLast = re === r.length
  // The studio section is not `*`, so finish() does not look at the section before it.
  if (gLast || rLast) return finish(g, gs, ge, gLast, rLast, index, -1, -1, trace)
  return scan(g, r, ge + 1, re + 1, index + 1, gs, ge, lookup, lookupThis, trace)
}

function matchResource(
  granted: string,
  required: string,
  lookup: NamespaceContextLookup | undefined,
  lookupThis: unknown,
  trace: ResourceCheck | undefined,
): boolean | Promise<boolean> {
  if (granted === required) {
    if (trace !== undefined) {
      trace.matched = true
      trace.rule = 'identical'
    }
    return true
  }
  return scan(granted, required, 0, 0, 0, -1, -1, lookup, lookupThis, trace)
}

/**
 * Whether a granted resource covers a required one (docs/iam-wire-protocol.md#34-resource-matching). Resources are `:`-separated
 * sections. A granted `*` matches any one section; a required `*` matches only a granted `*`. A
 * granted `{studio}-` section right after `NAMESPACE` also matches the studio itself, its
 * `{studio}-{game}` namespaces, and namespaces the lookup says are Games of that studio. A shorter
 * granted resource ending with `*` covers any longer one, except after `NAMESPACE` or `USER`; a
 * longer one matches when its extra sections are all `*`.
 *
 * Returns a plain boolean unless a namespace context lookup is needed; then a Promise, which
 * rejects when the lookup rejects. Without `lookupNamespaceContext` that rule answers `false`.
 *
 * @example
 * ```ts
 * resourceAllowed('NAMESPACE:*:USER:*:ORDER', 'NAMESPACE:ns:USER:42:ORDER') // true
 * resourceAllowed('NAMESPACE:ns:*', 'NAMESPACE:ns:ITEM:1') // true
 * resourceAllowed('NAMESPACE:*', 'NAMESPACE:ns:ITEM') // false
 * resourceAllowed('NAMESPACE:studio1-', 'NAMESPACE:studio1-game1') // true
 * await resourceAllowed('NAMESPACE:studio1-', 'NAMESPACE:legacygame', (ns) => iam.getNamespaceContext(ns))
 * ```
 */
export function resourceAllowed(
  granted: string,
  required: string,
  lookupNamespaceContext?: NamespaceContextLookup,
): boolean | Promise<boolean> {
  return matchResource(granted, required, lookupNamespaceContext, undefined, undefined)
}

/**
 * Like {@link resourceAllowed}, and says which rule decided (for CLIs and logs).
 *
 * @example
 * ```ts
 * explainResource('NAMESPACE:ns:USER:*', 'NAMESPACE:ns:ITEM:1')
 * // { matched: false, rule: 'section_mismatch', section: 2, grantedSection: 'USER', requiredSection: 'ITEM' }
 * ```
 */
export function explainResource(
  granted: string,
  required: string,
  lookupNamespaceContext?: NamespaceContextLookup,
): ResourceCheck | Promise<ResourceCheck> {
  const trace: ResourceCheck = { matched: false, rule: 'section_mismatch' }
  const result = matchResource(granted, required, lookupNamespaceContext, undefined, trace)
  return typeof result === 'boolean' ? trace : result.then(() => trace)
}

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
  let out = resource
  for (const key in values) {
    if (key === '' || !Object.hasOwn(values, key)) continue
    const value: unknown = values[key]
    if (typeof value === 'string') out = replaceAllLiteral(out, key, value)
  }
  return out
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
  const o = p as Record<string, unknown>
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

function resourceOf(p: PermissionLike): string | undefined {
  const resource = (p as ClaimPermission).Resource ?? (p as WirePermission).resource
  return typeof resource === 'string' ? resource : undefined
}

function plainAction(p: PermissionLike): number {
  const action = (p as ClaimPermission).Action ?? (p as WirePermission).action
  return typeof action === 'number' ? action : 0
}

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
function substitutedResources(
  perms: readonly PermissionLike[],
  userId: string,
  namespace: string,
): readonly (string | undefined)[] | null {
  let memo = roleMemos.get(perms)
  if (memo === undefined) {
    let placeholders = false
    for (let i = 0; i < perms.length && !placeholders; i++) {
      const p = perms[i]
      placeholders = p != null && hasUserPlaceholder(resourceOf(p))
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
    const resource = p == null ? undefined : resourceOf(p)
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
    const grantedAction = hasSchedule(p) ? effectiveAction(p, now) : plainAction(p)
    if (!actionAllowed(grantedAction, action)) continue
    const g = granted === null ? resourceOf(p) : granted[i]
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

const ACTION_NAMES: readonly [number, string][] = [
  [1, 'CREATE'],
  [2, 'READ'],
  [4, 'UPDATE'],
  [8, 'DELETE'],
]

function describeAction(action: number): string {
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

function describeSource(source: GrantSource, roleId?: string, namespace?: string): string {
  if (source === 'permission') return 'token permission'
  if (source === 'role') return `role ${roleId ?? ''}`
  return `namespace role ${roleId ?? ''} in ${JSON.stringify(namespace ?? '')}`
}

/** Explain-mode counterpart of {@link findGrant}: every grant is recorded, same decision. */
async function explainGrants(
  perms: readonly PermissionLike[],
  granted: readonly (string | undefined)[] | null,
  resource: string,
  action: number,
  sources: PermissionSources,
  now: number,
  steps: DecisionStep[],
  source: GrantSource,
  roleId: string | undefined,
  namespace: string | undefined,
): Promise<number> {
  for (let i = 0; i < perms.length; i++) {
    const p = perms[i]
    if (p == null || typeof p !== 'object') continue
    const plain = plainAction(p)
    const scheduled = hasSchedule(p) && isScheduled(p, now)
    const grantedAction = hasSchedule(p) ? effectiveAction(p, now) : plain
    const actionOk = actionAllowed(grantedAction, action)
    const g = (granted === null ? resourceOf(p) : granted[i]) ?? ''
    const check: ResourceCheck = { matched: false, rule: 'section_mismatch' }
    if (granted === null ? resourceOf(p) !== undefined : granted[i] !== undefined) {
      const lookup = actionOk ? sources.getNamespaceContext : SKIP_LOOKUP
      const pending = matchResource(g, resource, lookup, sources, check)
      if (typeof pending !== 'boolean') await pending
    } else {
      check.rule = 'section_mismatch'
      check.section = 0
      check.grantedSection = ''
      check.requiredSection = resource
    }
    const allowed = actionOk && check.matched
    const missing = action & ~grantedAction
    let message = `${describeSource(source, roleId, namespace)} #${i} ${JSON.stringify(g)} action ${describeAction(plain)}`
    if (scheduled)
      message += `, schedule active: SchedAction ${describeAction(grantedAction)} replaces it`
    message += `: ${describeResourceCheck(check)}`
    message += actionOk
      ? '; action has the required bits'
      : `; action lacks ${describeAction(missing)}`
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
    steps.push(step)
    if (allowed) return i
  }
  return -1
}

/** {@link findGrant}, or {@link explainGrants} when explaining. */
function search(
  perms: readonly PermissionLike[],
  granted: readonly (string | undefined)[] | null,
  resource: string,
  action: number,
  sources: PermissionSources,
  now: number,
  steps: DecisionStep[] | undefined,
  source: GrantSource,
  roleId?: string,
  namespace?: string,
): number | Promise<number> {
  if (steps === undefined) return findGrant(perms, granted, resource, action, sources, now, 0)
  return explainGrants(
    perms,
    granted,
    resource,
    action,
    sources,
    now,
    steps,
    source,
    roleId,
    namespace,
  )
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
    resource: (granted === null ? resourceOf(permission) : granted[index]) ?? '',
    action: hasSchedule(permission) ? effectiveAction(permission, now) : plainAction(permission),
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
  const steps: DecisionStep[] | undefined = options?.explain === true ? [] : undefined
  if (steps !== undefined) {
    const substituted =
      resource === given ? '' : ` (after substitution: ${JSON.stringify(resource)})`
    steps.push({
      kind: 'required',
      resource: given,
      substitutedResource: resource,
      action,
      message: `required ${JSON.stringify(given)}${substituted} action ${describeAction(action)}`,
    })
  }

  // Token permissions: no placeholder substitution (both reference SDKs).
  const claimed = asList(claims.permissions)
  let found = search(claimed, null, resource, action, sources, now, steps, 'permission')
  if (typeof found !== 'number') found = await found
  if (found >= 0) {
    const grant = grantFor('permission', claimed, null, found, now, undefined, undefined)
    return steps === undefined ? { allowed: true, grant } : { allowed: true, grant, steps }
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
    if (steps !== undefined) {
      const endpoint = query !== '' ? 'role_override' : 'role'
      const step: RoleStep = {
        kind: 'role',
        source: 'namespace_role',
        roleId,
        namespace,
        endpoint,
        userId,
        namespaceValue,
        permissionCount: perms.length,
        message:
          `namespace role ${roleId} in ${JSON.stringify(namespace)}: ${perms.length} permission(s) from ` +
          (query !== '' ? `the role override in ${JSON.stringify(query)}` : 'the role endpoint') +
          `; {userId} = ${JSON.stringify(userId)}, {namespace} = ${JSON.stringify(namespaceValue)}`,
      }
      if (query !== '') step.queryNamespace = query
      steps.push(step)
    }
    found = search(
      perms,
      granted,
      resource,
      action,
      sources,
      now,
      steps,
      'namespace_role',
      roleId,
      namespace,
    )
    if (typeof found !== 'number') found = await found
    if (found >= 0) {
      const grant = grantFor('namespace_role', perms, granted, found, now, roleId, namespace)
      return steps === undefined ? { allowed: true, grant } : { allowed: true, grant, steps }
    }
  }

  const roles = asList(claims.roles)
  for (let r = 0; r < roles.length; r++) {
    const roleId = roles[r]
    if (typeof roleId !== 'string') continue
    const perms = asList(await sources.getRolePermissions(roleId))
    const granted = substitutedResources(perms, userId, tokenNamespace)
    if (steps !== undefined) {
      steps.push({
        kind: 'role',
        source: 'role',
        roleId,
        endpoint: 'role',
        userId,
        namespaceValue: tokenNamespace,
        permissionCount: perms.length,
        message:
          `role ${roleId}: ${perms.length} permission(s) from the role endpoint; ` +
          `{userId} = ${JSON.stringify(userId)}, {namespace} = ${JSON.stringify(tokenNamespace)}`,
      })
    }
    found = search(perms, granted, resource, action, sources, now, steps, 'role', roleId)
    if (typeof found !== 'number') found = await found
    if (found >= 0) {
      const grant = grantFor('role', perms, granted, found, now, roleId, undefined)
      return steps === undefined ? { allowed: true, grant } : { allowed: true, grant, steps }
    }
  }

  return steps === undefined ? DENIED : { allowed: false, steps }
}

/**
 * {@link evaluatePermission} reduced to its answer.
 *
 * @example
 * ```ts
 * if (!(await validatePermission(claims, { resource: 'ADMIN:NAMESPACE:*:USER', action: 2 }, undefined, sources))) {
 *   // 403
 * }
 * ```
 */
export async function validatePermission(
  claims: JwtClaims,
  required: RequiredPermission,
  resources: Readonly<Record<string, string>> | undefined,
  sources: PermissionSources,
): Promise<boolean> {
  return (await evaluatePermission(claims, required, resources, sources)).allowed
}
