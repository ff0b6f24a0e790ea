import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import {
  actionAllowed,
  evaluatePermission,
  resourceAllowed,
  substitutePlaceholders,
} from '../../src/core/permission.js'
import type { NamespaceContextLookup, PermissionSources } from '../../src/core/permission.js'
import type { JwtClaims, NamespaceContext } from '../../src/core/types.js'

const CONTEXTS: Readonly<Record<string, NamespaceContext>> = {
  legacy: { namespace: 'legacy', type: 'Game', studioNamespace: 's1', publisherNamespace: 'p' },
  other: { namespace: 'other', type: 'Game', studioNamespace: 's2', publisherNamespace: 'p' },
  p: { namespace: 'p', type: 'Publisher', studioNamespace: '', publisherNamespace: 'p' },
}
const lookup: NamespaceContextLookup = (ns) => Promise.resolve(CONTEXTS[ns] ?? null)

/** docs/iam-wire-protocol.md#34-resource-matching written the obvious way (split), as the oracle for the indexOf scanner. */
function model(granted: string, required: string): boolean {
  const a = granted.split(':')
  const r = required.split(':')
  for (let i = 0; i < Math.min(a.length, r.length); i++) {
    const g = a[i] as string
    const q = r[i] as string
    if (g === q || g === '*') continue
    if (!g.endsWith('-') || i === 0 || a[i - 1] !== 'NAMESPACE') return false
    if (q.includes('-') && q.split('-').length === 2) {
      if (q.startsWith(g)) continue
      return false
    }
    if (g === q + '-') continue
    if (q === '' || q === '*') return false
    const context = CONTEXTS[q]
    if (context?.type === 'Game' && g === context.studioNamespace + '-') continue
    return false
  }
  if (a.length === r.length) return true
  if (a.length < r.length) {
    const before = a[a.length - 2]
    return (
      a[a.length - 1] === '*' && (a.length < 2 || (before !== 'NAMESPACE' && before !== 'USER'))
    )
  }
  return a.slice(r.length).every((s) => s === '*')
}

const section = fc.constantFrom(
  'NAMESPACE',
  'USER',
  'ns',
  '*',
  '',
  's1-',
  's1',
  's1-g1',
  's2-g1',
  's1-a-b',
  '-x',
  'legacy',
  'other',
  'p',
  '-',
)
const resource = fc.array(section, { minLength: 1, maxLength: 6 }).map((s) => s.join(':'))
const anyString = fc.string({ unit: fc.constantFrom(':', '*', '-', 'N', 'a', '{', '}') })

describe('resourceAllowed properties', () => {
  it('agrees with the split-based model of docs/iam-wire-protocol.md §3.4', async () => {
    await fc.assert(
      fc.asyncProperty(resource, resource, async (granted, required) => {
        assert.equal(await resourceAllowed(granted, required, lookup), model(granted, required))
      }),
      { numRuns: 3000 },
    )
  })

  it('never throws on arbitrary strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(anyString, fc.string({ unit: 'grapheme' })),
        fc.oneof(anyString, fc.string()),
        async (granted, required) => {
          const sync = resourceAllowed(granted, required)
          assert.equal(typeof sync, 'boolean')
          assert.equal(typeof (await resourceAllowed(granted, required, lookup)), 'boolean')
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('a granted resource always allows itself', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, resource, fc.string()), (s) => {
        assert.equal(resourceAllowed(s, s), true)
      }),
    )
  })

  it('all-`*` sections allow any required of the same length, without the studio rule', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 8 }), (sections) => {
        const required = sections.join(':')
        const count = required.split(':').length
        const granted = Array.from({ length: count }, () => '*').join(':')
        // No lookup function: a plain `true`, never a Promise.
        assert.equal(resourceAllowed(granted, required), true)
      }),
    )
  })
})

describe('actionAllowed properties', () => {
  it('is "every required bit is granted"', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (granted, required) => {
        let every = true
        for (let bit = 0; bit < 31; bit++) {
          if ((required >>> bit) % 2 === 1 && (granted >>> bit) % 2 === 0) every = false
        }
        assert.equal(actionAllowed(granted, required), every)
      }),
    )
  })
})

describe('evaluatePermission properties', () => {
  const sources: PermissionSources = {
    getRolePermissions: () => Promise.resolve([{ resource: 'NAMESPACE:{namespace}:*', action: 2 }]),
    getRoleOverridePermissions: () => Promise.resolve([]),
    getNamespaceContext: lookup,
    now: () => 0,
  }
  const permission = fc.record({ Resource: resource, Action: fc.integer({ min: 0, max: 15 }) })

  it('explain mode decides like the default path', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(permission, { maxLength: 5 }),
        resource,
        fc.integer({ min: 0, max: 15 }),
        async (permissions, required, action) => {
          const claims = {
            namespace: 'ns',
            exp: 0,
            scope: '',
            jflgs: 0,
            roles: ['r'],
            namespace_roles: [],
            permissions,
            bans: [],
          } satisfies JwtClaims
          const req = { resource: required, action }
          const plain = await evaluatePermission(claims, req, undefined, sources)
          const explained = await evaluatePermission(claims, req, undefined, sources, {
            explain: true,
          })
          assert.equal(explained.allowed, plain.allowed)
          assert.deepEqual(explained.grant, plain.grant)
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('substitutePlaceholders remembers its last result per resource', () => {
  /** The rule without a memo: every own string entry, key by key, every occurrence. */
  function reference(resource: string, values: Record<string, unknown>): string {
    let out = resource
    for (const key of Object.keys(values)) {
      const value = values[key]
      if (key !== '' && typeof value === 'string') out = out.split(key).join(value)
    }
    return out
  }

  it('answers as the rule for any sequence of calls, values objects reused and changed', () => {
    const piece = fc.constantFrom('NAMESPACE:', '{a}', '{b}', ':', 'x', '$&', '{', '}')
    const resource = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''))
    const key = fc.constantFrom('{a}', '{b}', '{c}', '', 'x')
    const value = fc.oneof(fc.constantFrom('v', '{b}', '$1', '', 'NS'), fc.integer())
    const step = fc.record({
      resource: fc.constantFrom(0, 1),
      change: fc.option(fc.tuple(key, value), { nil: undefined }),
      remove: fc.option(key, { nil: undefined }),
    })
    fc.assert(
      fc.property(
        fc.tuple(resource, resource),
        fc.dictionary(key, value),
        fc.array(step, { maxLength: 20 }),
        (resources, initial, steps) => {
          const values: Record<string, unknown> = { ...initial }
          for (const { resource: r, change, remove } of steps) {
            if (change !== undefined) values[change[0]] = change[1]
            if (remove !== undefined) delete values[remove]
            const target = resources[r] as string
            assert.equal(
              substitutePlaceholders(target, values as Record<string, string>),
              reference(target, values),
            )
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})
