/**
 * The one place the SDK starts timers. Node turns a timer delay above 2^31−1 ms into 1 ms, so a
 * delay computed from what the IAM sends (a 35-day `expires_in`) would make the client hammer the
 * IAM; every delay is clamped here, and every timer is `unref()`'d so it never keeps a process
 * alive.
 */

/** Longest delay Node's timers honour, in ms (about 24.8 days). */
export const MAX_TIMER_DELAY_MS = 2_147_483_647

/**
 * A delay Node's timers honour: negative or zero → 0, above {@link MAX_TIMER_DELAY_MS} or not a
 * number → {@link MAX_TIMER_DELAY_MS} (never "as soon as possible" by accident).
 */
export function clampDelay(delayMs: number): number {
  if (Number.isNaN(delayMs)) return MAX_TIMER_DELAY_MS
  if (delayMs <= 0) return 0
  return Math.min(delayMs, MAX_TIMER_DELAY_MS)
}

/**
 * Runs `callback` after `delayMs` (clamped), on an `unref()`'d timer; `keepAlive` for a wait
 * someone is blocked on (a request waiting for readiness), which must not be cut short.
 */
export function scheduleTimer(
  callback: () => void,
  delayMs: number,
  options?: { keepAlive?: boolean },
): NodeJS.Timeout {
  const timer = setTimeout(callback, clampDelay(delayMs))
  if (options?.keepAlive !== true) timer.unref()
  return timer
}

/** Resolves after `delayMs` (clamped), on an `unref()`'d timer. */
export function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => scheduleTimer(resolve, delayMs))
}
