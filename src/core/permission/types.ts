/**
 * The vocabulary of access decisions: what the evaluator reads (its sources), what it answers
 * (a {@link PermissionDecision}) and, in explain mode, every step it looked at.
 *
 * @module
 */
import type { NamespaceContext, PermissionLike } from '../types.js'

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
  /** Namespace whose role override supplied this permission (default user role only). */
  roleOverrideNamespace?: string
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

/**
 * An access decision: the outcome of `evaluatePermission`, and the result of
 * `IamClient.explainPermission`, which always fills `steps`.
 *
 * `steps` lists, in the order the evaluator looked at them:
 * - one {@link RequiredStep}: the required permission, after placeholder substitution;
 * - a {@link GrantStep} per permission of the token (`source: 'permission'`);
 * - per namespace role, a {@link RoleStep} (fetched from the role endpoint, or from the role
 *   override of a namespace for the default user role) followed by a {@link GrantStep} per
 *   permission of the role;
 * - per (deprecated) global role, the same.
 *
 * The evaluation stops at the first grant that allows, so an allowed decision's last step is that
 * grant (`allowed: true`); a refused one has looked at every grant. Each step has a `kind` and a
 * one-line `message` naming the grant and why it matched or not (resource section mismatch,
 * action lacks bits, schedule active, `{studio}-` rule, …); `formatPermissionDecision` renders
 * them for people. The object is plain data (JSON-serialisable).
 *
 * @example
 * ```ts
 * const decision = await iam.explainPermission(claims, { resource: 'NAMESPACE:ns:USER:u1', action: 4 })
 * if (!decision.allowed) logger.debug('refused', { steps: decision.steps?.map((s) => s.message) })
 * ```
 */
export interface PermissionDecision {
  allowed: boolean
  /** The first grant that allowed; absent when denied. */
  grant?: PermissionGrant
  /** Every step looked at, in order; only with `{ explain: true }`. */
  steps?: DecisionStep[]
}

/** Options of `evaluatePermission`. */
export interface EvaluateOptions {
  /** Record {@link DecisionStep}s (slower; for CLIs and debug logs). Default `false`. */
  explain?: boolean
}
