/**
 * The explanation of a permission decision as log lines (one per step looked at).
 */
import type { PermissionDecision } from '../permission.js'

/**
 * One line per step of an explained decision (`explainPermission`), for debug logs.
 *
 * @example
 * ```ts
 * formatPermissionSteps(await client.explainPermission(claims, required, values))
 * // ['required "NAMESPACE:ns:USER:u" action 2 (READ)', 'token permission #0 ... => no match']
 * ```
 */
export function formatPermissionSteps(decision: PermissionDecision): string[] {
  return (decision.steps ?? []).map((step) => step.message)
}
