/**
 * Access decisions: does a validated token grant a required permission (resource + action)?
 * This module is the face everyone imports; the work is split along its seams:
 *
 * - `permission/types.ts`: sources, decisions, explain steps;
 * - `permission/fields.ts`: the one reader of permission fields in either letter case;
 * - `permission/match.ts`: action bits and resource sections (the `{studio}-` rule included);
 * - `permission/placeholders.ts`: placeholder substitution, memoised per role;
 * - `permission/evaluate.ts`: the decision (token permissions, namespace roles, roles);
 * - `permission/explain.ts`: the steps of explain mode and their rendering.
 *
 * @packageDocumentation
 */
export type * from './permission/types.js'
export {
  DEFAULT_USER_ROLE_ID,
  evaluatePermission,
  grantedByTokenPermissions,
} from './permission/evaluate.js'
export { formatAction, formatPermissionDecision } from './permission/explain.js'
export { normalizeRequiredPermission } from './permission/fields.js'
export { actionAllowed, explainResource, resourceAllowed } from './permission/match.js'
export { substitutePlaceholders } from './permission/placeholders.js'
