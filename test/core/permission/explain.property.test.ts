/**
 * The fast path and explain mode give the same decision, over generated tokens that use every
 * kind of grant: token permissions, namespace roles (role endpoint and role override of the
 * default user role, `*` and `{studio}-` namespaces), global roles, schedules and the `{studio}-`
 * rule with namespace context lookups. Also: explain mode's steps are consistent with the
 * decision, and the fast path makes no more IAM calls than explain mode.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import {
  DEFAULT_USER_ROLE_ID,
  evaluatePermission,
  formatPermissionDecision,
} from '../../../src/core/permission.js'
import type { GrantStep, PermissionSources } from '../../../src/core/permission.js'
import type {
  ClaimPermission,
  JwtClaims,
  NamespaceContext,
  PermissionLike,
  WirePermission,
} from '../../../src/core/types.js'

const CONTEXTS: Readonly<Record<string, NamespaceContext>> = {
  legacy: { namespace: 'legacy', type: 'Game', studioNamespace: 's1', publisherNamespace: 'p' },
  other: { namespace: 'other', type: 'Game', studioNamespace: 's2', publisherNamespace: 'p' },
  p: { namespace: 'p', type: 'Publisher', studioNamespace: '', publisherNamespace: 'p' },
}

// Half a second before a full minute: `* * * * *` is active, `0 12 * * *` is not.
const NOW = Date.parse('2024-01-01T10:00:59.500Z')

const section = fc.constantFrom(
  'NAMESPACE',
  'USER',
  'ns',
  'u1',
  '*',
  's1-',
  's1',
  's1-g1',
  'legacy',
  'other',
  '{namespace}',
  '{userId}',
)
// Mostly realistic shapes, so that grants often match (studio rule and lookups included).
const shaped = fc
  .tuple(
    fc.constantFrom('NAMESPACE', 'NAMESPACE', 'ADMIN:NAMESPACE'),
    fc.constantFrom('ns', 's1-', 'legacy', 'other', '*', '{namespace}'),
    fc.constantFrom('', ':USER:{userId}', ':*'),
  )
  .map(([prefix, namespace, rest]) => `${prefix}:${namespace}${rest}`)
const resource = fc.oneof(
  { weight: 3, arbitrary: shaped },
  {
    weight: 1,
    arbitrary: fc.array(section, { minLength: 1, maxLength: 5 }).map((s) => s.join(':')),
  },
)
const action = fc.oneof(fc.constantFrom(2, 6, 15), fc.integer({ min: 0, max: 15 }))
const schedule = fc.option(
  fc.record({
    cron: fc.constantFrom('* * * * *', '0 12 * * *', 'not a cron'),
    schedAction: action,
  }),
)

const claimPermission = fc
  .tuple(resource, action, schedule)
  .map(([Resource, Action, sched]): ClaimPermission => {
    const p: ClaimPermission = { Resource, Action }
    if (sched !== null) {
      p.SchedCron = sched.cron
      p.SchedAction = sched.schedAction
    }
    return p
  })
const wirePermission = fc
  .tuple(resource, action, schedule)
  .map(([res, act, sched]): WirePermission => {
    const p: WirePermission = { resource: res, action: act }
    if (sched !== null) {
      p.schedCron = sched.cron
      p.schedAction = sched.schedAction
    }
    return p
  })
const rolePermissions = fc.array(fc.oneof(wirePermission, claimPermission), { maxLength: 4 })

const world = fc.record({
  roles: fc.dictionary(fc.constantFrom('r1', 'r2', 'r3'), rolePermissions),
  overrides: fc.dictionary(fc.constantFrom('ns', 's1-g1', 'legacy', 'other'), rolePermissions),
})

const claimsArb = fc.record({
  sub: fc.constantFrom('u1', 'u2', ''),
  namespace: fc.constantFrom('ns', 's1-g1', ''),
  permissions: fc.array(claimPermission, { maxLength: 4 }),
  namespace_roles: fc.array(
    fc.record({
      roleId: fc.constantFrom('r1', 'r2', 'missing', DEFAULT_USER_ROLE_ID),
      namespace: fc.constantFrom('ns', '*', 's1-', 'legacy', ''),
    }),
    { maxLength: 3 },
  ),
  roles: fc.array(fc.constantFrom('r1', 'r3', 'missing'), { maxLength: 2 }),
})

const resourcesArb = fc.option(
  fc.record({
    '{namespace}': fc.constantFrom('ns', 's1-g1', 'legacy', 'other'),
    '{userId}': fc.constantFrom('u1', 'u2'),
  }),
)

interface Counting extends PermissionSources {
  calls: string[]
}

function sourcesFor(w: {
  roles: Record<string, PermissionLike[]>
  overrides: Record<string, PermissionLike[]>
}): Counting {
  // One frozen array per role, as the client's caches return: the evaluator memoises on it.
  const roles = new Map(Object.entries(w.roles).map(([k, v]) => [k, Object.freeze([...v])]))
  const overrides = new Map(Object.entries(w.overrides).map(([k, v]) => [k, Object.freeze([...v])]))
  const s: Counting = {
    calls: [],
    getRolePermissions(roleId) {
      s.calls.push(`role ${roleId}`)
      return Promise.resolve(roles.get(roleId) ?? [])
    },
    getRoleOverridePermissions(namespace) {
      s.calls.push(`override ${namespace}`)
      return Promise.resolve(overrides.get(namespace) ?? [])
    },
    getNamespaceContext(namespace) {
      s.calls.push(`context ${namespace}`)
      return Promise.resolve(CONTEXTS[namespace] ?? null)
    },
    now: () => NOW,
  }
  return s
}

function claimsOf(c: {
  sub: string
  namespace: string
  permissions: ClaimPermission[]
  namespace_roles: { roleId: string; namespace: string }[]
  roles: string[]
}): JwtClaims {
  return { ...c, exp: 0, scope: '', jflgs: 0, bans: [] }
}

/** A section of a granted resource swapped for another value, so near misses are common. */
const twist = fc.record({
  keep: fc.boolean(),
  at: fc.nat(5),
  to: fc.constantFrom('legacy', 'other', 'p', 's1', 's1-g1', 's2-g1', 'ns', 'u1', 'u2', '*'),
})

function twisted(granted: string, t: { keep: boolean; at: number; to: string }): string {
  if (t.keep) return granted
  const parts = granted.split(':')
  parts[t.at % parts.length] = t.to
  return parts.join(':')
}

/** A world, a token, and a required permission: random, or a grant of the token twisted. */
const scenario = fc.tuple(world, claimsArb).chain(([w, c]) => {
  const pool = [
    ...c.permissions,
    ...Object.values(w.roles).flat(),
    ...Object.values(w.overrides).flat(),
  ].map((p) => ({
    resource: 'Resource' in p ? p.Resource : p.resource,
    action: 'Action' in p ? p.Action : p.action,
  }))
  const required =
    pool.length === 0
      ? fc.record({ resource, action })
      : fc.oneof(
          fc.record({ resource, action }),
          fc
            .tuple(fc.constantFrom(...pool), twist, fc.integer({ min: 0, max: 15 }))
            .map(([p, t, mask]) => ({ resource: twisted(p.resource, t), action: p.action & mask })),
        )
  return fc.tuple(fc.constant(w), fc.constant(c), required, resourcesArb)
})

describe('explain mode against the fast path', () => {
  it('gives the same decision and grant for every kind of grant', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ([w, c, req, resources]) => {
        const claims = claimsOf(c)
        const fast = sourcesFor(w)
        const slow = sourcesFor(w)
        const act = req.action
        const values = resources ?? undefined
        const plain = await evaluatePermission(claims, req, values, fast)
        const explained = await evaluatePermission(claims, req, values, slow, { explain: true })

        assert.equal(explained.allowed, plain.allowed)
        assert.deepEqual(explained.grant, plain.grant)
        assert.equal(plain.steps, undefined)
        // Roles are fetched in the same order; explain mode may skip no lookup the fast path makes.
        const fetches = (calls: string[]) => calls.filter((x) => !x.startsWith('context'))
        assert.deepEqual(fetches(slow.calls), fetches(fast.calls))
        for (const call of fast.calls) assert.ok(slow.calls.includes(call), call)

        const steps = explained.steps ?? []
        assert.equal(steps[0]?.kind, 'required')
        const grants = steps.filter((s): s is GrantStep => s.kind === 'grant')
        const allowing = grants.filter((s) => s.allowed)
        assert.equal(allowing.length, plain.allowed ? 1 : 0)
        if (plain.allowed) {
          assert.equal(steps.at(-1), allowing[0])
          assert.equal(allowing[0]?.source, plain.grant?.source)
          assert.equal(allowing[0]?.index, plain.grant?.index)
          assert.equal(allowing[0]?.effectiveAction, plain.grant?.action)
        }
        for (const g of grants) {
          assert.equal(g.allowed, g.missingActionBits === 0 && g.resourceCheck.matched)
          assert.equal(g.missingActionBits, act & ~g.effectiveAction)
        }
        const lines = formatPermissionDecision(explained)
        assert.match(lines[0] ?? '', plain.allowed ? /^ALLOWED / : /^REFUSED /)
        assert.equal(lines.filter((l) => /^ {2}\d+\. /.test(l)).length, steps.length)
      }),
      { numRuns: 1500 },
    )
  })
})
