/**
 * Does one grant cover one requirement: the action bits, and the resource sections
 * (docs/iam-wire-protocol.md#34-resource-matching), with the `{studio}-` rule and its namespace context lookups. The same scanner serves
 * the fast path (no trace, no allocation) and explanations (a {@link ResourceCheck} trace).
 *
 * @module
 */
import type {
  NamespaceContextLookup,
  ResourceCheck,
  ResourceRule,
  StudioRuleCheck,
} from './types.js'

const STAR = 42 // '*'
const DASH = 45 // '-'
const COLON = 58 // ':'

/**
 * Stand-in lookup of explain mode when a lookup must not be made (the grant's action already
 * fails): the trace then says `studio_lookup_skipped`.
 */
export const SKIP_LOOKUP: NamespaceContextLookup = () => Promise.resolve(null)

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

/** Resource comparison with an optional trace; `lookupThis` is the lookup's `this`. */
export function matchResource(
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
