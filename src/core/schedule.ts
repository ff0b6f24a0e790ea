/**
 * Scheduled permissions: a permission may carry `SchedAction` with either a recurring cron
 * (`SchedCron`) or a `[start, end]` pair of crons (`SchedRange`). While the schedule is active the
 * scheduled action **replaces** the plain action (it is not OR-ed).
 *
 * "Active" follows the Go reference SDK (gorhill/cronexpr), evaluated in UTC:
 * - recurring: active when the cron cannot be parsed, or when its next occurrence after `now` is at
 *   most one second away;
 * - range (also checked when the recurring schedule is inactive, as in Go): active when either
 *   cron cannot be parsed; inactive when the next start is more than one second away or the end
 *   never occurs again; active otherwise.
 *
 * @packageDocumentation
 */
import { Cron } from 'croner'

import {
  permissionAction,
  permissionSchedAction,
  permissionSchedCron,
  permissionSchedRange,
} from './permission/fields.js'
import type { PermissionLike } from './types.js'

/** A next occurrence at most this far after `now` makes a schedule active (Go SDK: one second). */
const ACTIVE_WINDOW_MS = 1000
/**
 * Parsed crons kept; SchedCron strings repeat on every request, so a small cache suffices. A
 * parsed croner pattern holds about 80 KB (a table of years), so the bound also caps memory.
 */
const MAX_CACHED_CRONS = 64

/** `nextOccurrence` result: the cron does not parse (Go: scheduled). */
const UNPARSEABLE = Number.NaN
/** `nextOccurrence` result: the cron never matches again (Go: zero time). */
const NEVER = Number.POSITIVE_INFINITY

/** Macros of gorhill/cronexpr; croner knows one more (`@midnight`) that Go would reject. */
const MACROS: Readonly<Record<string, string>> = Object.freeze({
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@hourly': '0 * * * *',
  '@minutely': '* * * * *',
})

/**
 * Largest value of each field, second first: cronexpr refuses a larger step (a step of 60
 * minutes, of 7 days of the week), croner takes up to the field's size.
 */
const LARGEST = [59, 59, 23, 31, 12, 6] as const

/** Full month and day names, which cronexpr accepts and croner does not (it reads `mon`, `jan`). */
const FULL_NAME =
  /january|february|march|april|june|july|august|september|october|november|december|sunday|monday|tuesday|wednesday|thursday|friday|saturday/gi

/**
 * The fields of `text` as croner should read them, or `undefined` where cronexpr refuses what
 * croner would take: other than 5 or 6 fields, a step without a start (`/5`), a step above the
 * field's largest value, an nth weekday other than `#1`…`#5` (croner's `#L`), croner's `+` (day of
 * month AND day of week).
 */
function cronexprFields(text: string): string[] | undefined {
  const fields = text === '' ? [] : text.split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) return undefined
  const first = LARGEST.length - fields.length
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    if (field.includes('+')) return undefined
    for (const entry of field.split(',')) {
      const slash = entry.indexOf('/')
      if (slash === 0) return undefined
      if (slash > 0 && Number(entry.slice(slash + 1)) > LARGEST[first + i]!) return undefined
      if (entry.includes('#') && !/#[1-5]$/.test(entry)) return undefined
    }
    fields[i] = field.replace(FULL_NAME, (name) => name.slice(0, 3))
  }
  return fields
}

interface CronEntry {
  /** `null` when the cron does not parse or can never match. */
  readonly cron: Cron | null
  readonly parsed: boolean
  /** `nextMs` is the next occurrence for every `now` in `[fromMs, nextMs)`. */
  fromMs: number
  nextMs: number
}

const crons = new Map<string, CronEntry>()

function compile(source: string): CronEntry {
  let text = source.trim()
  if (text.startsWith('@')) {
    const expanded = Object.hasOwn(MACROS, text) ? MACROS[text] : undefined
    if (expanded === undefined) return { cron: null, parsed: false, fromMs: 0, nextMs: 0 }
    text = expanded
  }
  const fields = cronexprFields(text)
  if (fields === undefined) return { cron: null, parsed: false, fromMs: 0, nextMs: 0 }
  let cron: Cron
  try {
    // UTC through a numeric offset (`timezone: 'UTC'` goes through Intl, ten times slower); 5 or 6
    // fields; `5/15` (a start and a step) read as cronexpr does. A new object: croner writes to it.
    cron = new Cron(fields.join(' '), { utcOffset: 0, mode: '5-or-6-parts', sloppyRanges: true })
  } catch {
    return { cron: null, parsed: false, fromMs: 0, nextMs: 0 }
  }
  // A cron without a year repeats every 400 years, and croner searches up to the year 3000: no
  // occurrence after 1970 means none ever (`0 0 30 2 *`, which cronexpr parses and never matches).
  if (cron.nextRun(new Date(0)) === null) return { cron: null, parsed: true, fromMs: 0, nextMs: 0 }
  return { cron, parsed: true, fromMs: 0, nextMs: 0 }
}

/**
 * Next occurrence of `source` strictly after `nowMs` (whole seconds, UTC), `NEVER` when none, or
 * `UNPARSEABLE`.
 */
function nextOccurrence(source: string, nowMs: number): number {
  let entry = crons.get(source)
  if (entry === undefined) {
    entry = compile(source)
    if (crons.size >= MAX_CACHED_CRONS) {
      // Oldest first: Map iterates in insertion order.
      const oldest = crons.keys().next()
      if (oldest.done !== true) crons.delete(oldest.value)
    }
    crons.set(source, entry)
  }
  const cron = entry.cron
  if (cron === null) return entry.parsed ? NEVER : UNPARSEABLE
  // No occurrence lies in (fromMs, nextMs), so nextMs stays the answer for now in that window.
  if (nowMs >= entry.fromMs && nowMs < entry.nextMs) return entry.nextMs
  let next: number
  try {
    next = cron.nextRun(new Date(nowMs))?.getTime() ?? NEVER
  } catch {
    // croner throws on a `now` that is not a date (NaN).
    next = NEVER
  }
  entry.fromMs = nowMs
  entry.nextMs = next
  return next
}

/**
 * Whether `p` has schedule fields at all (a non-empty `SchedCron` or a `SchedRange` of two or more
 * entries). Cheap: no cron is parsed. A permission without them is never scheduled.
 */
export function hasSchedule(p: PermissionLike): boolean {
  if (permissionSchedCron(p) !== undefined) return true
  const range = permissionSchedRange(p)
  return range !== undefined && range.length >= 2
}

/**
 * Whether the schedule of `p` is active at `nowMs` (epoch milliseconds), with the Go SDK's rules
 * (module documentation). Cron strings have 5 fields (minute first) or 6 (second first), with
 * cronexpr's syntax (`?`, month and day names, `L`, `W`, `LW`, `5L`, `5#3`), or are one of
 * `@yearly @annually @monthly @weekly @daily @hourly @minutely`; anything else counts as
 * unparseable, hence active.
 *
 * Divergences from Go: a `SchedRange` with fewer than two entries is not scheduled (Go panics on
 * one entry); a non-string entry counts as unparseable; six fields mean seconds first (Quartz, as
 * the Go SDK documents), where cronexpr reads the sixth as a year; seven fields (with a year) are
 * unparseable.
 *
 * @example
 * ```ts
 * // Active during the last second before each full minute.
 * isScheduled({ Resource: 'R', Action: 2, SchedAction: 0, SchedCron: '* * * * *' },
 *   Date.parse('2024-01-01T00:00:59.500Z')) // true
 * ```
 */
export function isScheduled(p: PermissionLike, nowMs: number): boolean {
  const cron = permissionSchedCron(p)
  if (cron !== undefined) {
    const next = nextOccurrence(cron, nowMs)
    if (Number.isNaN(next)) return true
    if (next !== NEVER && next - nowMs <= ACTIVE_WINDOW_MS) return true
    // Go falls through to the range check when the recurring check says no.
  }
  const range = permissionSchedRange(p)
  if (range === undefined || range.length < 2) return false
  const startCron: unknown = range[0]
  const endCron: unknown = range[1]
  if (typeof startCron !== 'string' || typeof endCron !== 'string') return true
  const nextStart = nextOccurrence(startCron, nowMs)
  const nextEnd = nextOccurrence(endCron, nowMs)
  if (Number.isNaN(nextStart) || Number.isNaN(nextEnd)) return true
  if (nextStart !== NEVER && nextStart - nowMs > ACTIVE_WINDOW_MS) return false
  return nextEnd !== NEVER
}

/**
 * The action a permission grants at `nowMs`: its `SchedAction` (0 when absent or not a number)
 * while its schedule is active ({@link isScheduled}), otherwise its plain `Action` (likewise).
 *
 * @example
 * ```ts
 * effectiveAction({ Resource: 'NAMESPACE:ns:ITEM', Action: 7 }, Date.now()) // 7
 * ```
 */
export function effectiveAction(p: PermissionLike, nowMs: number): number {
  if (hasSchedule(p) && isScheduled(p, nowMs)) return permissionSchedAction(p)
  return permissionAction(p)
}

/** Empties the parsed-cron cache (tests). @internal */
export function clearScheduleCache(): void {
  crons.clear()
}
