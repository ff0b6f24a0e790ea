/**
 * Small text helpers of the CLI: times in UTC and relative to now, JSON-safe values, and the
 * one-line cause of an error.
 *
 * @module
 */

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * A duration in words, e.g. `54 min`, `2 h 5 min`, `3 days`, `12 s`.
 *
 * @example
 * ```ts
 * duration(3_300_000) // '55 min'
 * ```
 */
export function duration(ms: number): string {
  const abs = Math.abs(ms)
  if (abs < MINUTE) return `${Math.round(abs / 1000)} s`
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)} min`
  if (abs < DAY) {
    const h = Math.floor(abs / HOUR)
    const m = Math.floor((abs % HOUR) / MINUTE)
    return m === 0 ? `${h} h` : `${h} h ${m} min`
  }
  const days = Math.floor(abs / DAY)
  return days === 1 ? '1 day' : `${days} days`
}

/**
 * Epoch milliseconds as `2025-01-31 12:00:00 UTC`, or `(invalid time)`.
 *
 * @example
 * ```ts
 * utc(0) // '1970-01-01 00:00:00 UTC'
 * ```
 */
export function utc(ms: number): string {
  const date = new Date(ms)
  if (Number.isNaN(date.getTime())) return '(invalid time)'
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/**
 * `in 54 min` or `3 min ago` (`now` within a second).
 *
 * @example
 * ```ts
 * relative(Date.now() + 120_000, Date.now()) // 'in 2 min'
 * ```
 */
export function relative(ms: number, now: number): string {
  const delta = ms - now
  if (Math.abs(delta) < 1000) return 'now'
  return delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`
}

/**
 * A JWT time claim (seconds) in UTC and relative to now, with a verb for the future and one for
 * the past; `undefined` when it is not a number.
 *
 * @example
 * ```ts
 * claimTime(claims.exp, Date.now(), 'expires', 'expired') // '2025-01-31 12:00:00 UTC (expires in 54 min)'
 * ```
 */
export function claimTime(
  seconds: unknown,
  now: number,
  future: string,
  past: string,
): string | undefined {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return undefined
  const ms = seconds * 1000
  const delta = ms - now
  const phrase =
    Math.abs(delta) < 1000
      ? `${delta >= 0 ? future : past} now`
      : delta > 0
        ? `${future} in ${duration(delta)}`
        : `${past} ${duration(delta)} ago`
  return `${utc(ms)} (${phrase})`
}

/**
 * The codes and messages along an error's `cause` chain, on one line.
 *
 * @example
 * ```ts
 * causeLine(error) // 'IAM jwks could not be reached (fetch failed) within 5000 ms <- fetch failed <- ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4399'
 * ```
 */
export function causeLine(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    const text = typeof code === 'string' && !code.startsWith('ERR_IAM_') ? `${code}: ` : ''
    parts.push(`${text}${current.message}`)
    current = current.cause
  }
  if (parts.length === 0) parts.push(String(error))
  return parts.join(' <- ')
}

/**
 * A probability in scientific notation, `0` for zero.
 *
 * @example
 * ```ts
 * probability(2.61e-32) // '2.61e-32'
 * ```
 */
export function probability(p: number): string {
  return p === 0 ? '0' : p.toExponential(2)
}
