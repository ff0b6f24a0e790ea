import assert from 'node:assert/strict'
import { testClaims } from '../support/claims.js'
import { describe, it } from 'node:test'

import { IamError } from '../../src/core/errors.js'
import {
  DEFAULT_USER_ROLE_ID,
  actionAllowed,
  evaluatePermission,
  explainResource,
  normalizeRequiredPermission,
  resourceAllowed,
  substitutePlaceholders,
} from '../../src/core/permission.js'
import type {
  GrantStep,
  NamespaceContextLookup,
  PermissionSources,
  RoleStep,
} from '../../src/core/permission.js'
import type { JwtClaims, NamespaceContext, PermissionLike } from '../../src/core/types.js'

const CONTEXTS: Readonly<Record<string, NamespaceContext>> = {
  legacygame: {
    namespace: 'legacygame',
    type: 'Game',
    studioNamespace: 'studio1',
    publisherNamespace: 'pub',
  },
  'studio1-game-x': {
    namespace: 'studio1-game-x',
    type: 'Game',
    studioNamespace: 'studio1',
    publisherNamespace: 'pub',
  },
  othergame: {
    namespace: 'othergame',
    type: 'Game',
    studioNamespace: 'studio2',
    publisherNamespace: 'pub',
  },
  pub: { namespace: 'pub', type: 'Publisher', studioNamespace: '', publisherNamespace: 'pub' },
  studio1sub: {
    namespace: 'studio1sub',
    type: 'Studio',
    studioNamespace: 'studio1',
    publisherNamespace: 'pub',
  },
}

function countingLookup(): { lookup: NamespaceContextLookup; calls: string[] } {
  const calls: string[] = []
  const lookup: NamespaceContextLookup = (namespace) => {
    calls.push(namespace)
    return Promise.resolve(CONTEXTS[namespace] ?? null)
  }
  return { lookup, calls }
}

// [granted, required, expected, namespace context lookups expected]
const RESOURCE_CASES: readonly [string, string, boolean, number][] = [
  // exact and empty
  ['NAMESPACE:ns:USER:u1:ORDER', 'NAMESPACE:ns:USER:u1:ORDER', true, 0],
  ['NAMESPACE:ns:USER:u1:ORDER', 'NAMESPACE:ns:USER:u2:ORDER', false, 0],
  ['NAMESPACE:ns', 'NAMESPACE:NS', false, 0],
  ['', '', true, 0],
  ['', 'A', false, 0],
  ['A', '', false, 0],
  ['A::B', 'A::B', true, 0],
  // `*` in each position of the granted resource
  ['*', '', true, 0],
  ['*', 'A', true, 0],
  ['*:ns:USER', 'NAMESPACE:ns:USER', true, 0],
  ['NAMESPACE:*:USER', 'NAMESPACE:ns:USER', true, 0],
  ['NAMESPACE:ns:*', 'NAMESPACE:ns:USER', true, 0],
  ['*:*:*', 'a:b:c', true, 0],
  ['A:*:B', 'A::B', true, 0],
  ['NAMESPACE:*:USER', 'NAMESPACE:ns:ITEM', false, 0],
  // `*` in the required resource matches only a granted `*`
  ['NAMESPACE:ns:USER', 'NAMESPACE:*:USER', false, 0],
  ['NAMESPACE:*:USER', 'NAMESPACE:*:USER', true, 0],
  ['*', '*', true, 0],
  // granted shorter (rule 5)
  ['*', 'A:B', true, 0],
  ['A:*', 'A:B:C', true, 0],
  ['NAMESPACE:ns:*', 'NAMESPACE:ns:USER:u1:ORDER', true, 0],
  ['NAMESPACE:*', 'NAMESPACE:ns', true, 0],
  ['NAMESPACE:*', 'NAMESPACE:ns:ITEM', false, 0],
  ['NAMESPACE:ns:USER:*', 'NAMESPACE:ns:USER:u1', true, 0],
  ['NAMESPACE:ns:USER:*', 'NAMESPACE:ns:USER:u1:ORDER', false, 0],
  ['NAMESPACE:ns', 'NAMESPACE:ns:USER', false, 0],
  ['A', 'A:', false, 0],
  ['A:*', 'A:', true, 0],
  // granted longer (rule 6)
  ['NAMESPACE:ns:USER:*', 'NAMESPACE:ns:USER', true, 0],
  ['NAMESPACE:ns:USER:*:*', 'NAMESPACE:ns:USER', true, 0],
  ['NAMESPACE:ns:USER:u1', 'NAMESPACE:ns:USER', false, 0],
  ['NAMESPACE:ns:*:u1', 'NAMESPACE:ns', false, 0],
  ['A:', 'A', false, 0],
  // `{studio}-` rule: new-format game namespaces (3b-i), no lookup
  ['NAMESPACE:studio1-', 'NAMESPACE:studio1-game1', true, 0],
  ['NAMESPACE:studio1-:USER:*', 'NAMESPACE:studio1-game1:USER:u1', true, 0],
  ['ADMIN:NAMESPACE:studio1-:USER', 'ADMIN:NAMESPACE:studio1-game1:USER', true, 0],
  ['NAMESPACE:studio1-:*', 'NAMESPACE:studio1-game1:ITEM:1', true, 0],
  ['NAMESPACE:studio1-', 'NAMESPACE:studio2-game1', false, 0],
  ['NAMESPACE:studio1-', 'NAMESPACE:studio1-game1:ITEM', false, 0],
  // 3b-i with `-x`: Go takes the prefix branch (false, no lookup); Python would look it up
  ['NAMESPACE:studio1-', 'NAMESPACE:-x', false, 0],
  // the studio itself (3b-ii)
  ['NAMESPACE:studio1-', 'NAMESPACE:studio1', true, 0],
  ['NAMESPACE:studio1-:ITEM', 'NAMESPACE:studio1:ITEM', true, 0],
  // the rule applies only to a section ending with '-' right after NAMESPACE
  ['studio1-:X', 'legacygame:X', false, 0],
  ['USER:studio1-', 'USER:studio1-game1', false, 0],
  ['NAMESPACE:studio1', 'NAMESPACE:studio1-game1', false, 0],
  // required `*` or empty is no namespace: no lookup
  ['NAMESPACE:studio1-', 'NAMESPACE:*', false, 0],
  ['NAMESPACE:studio1-', 'NAMESPACE:', false, 0],
  // namespace context lookups (3b-iii)
  ['NAMESPACE:studio1-', 'NAMESPACE:legacygame', true, 1],
  ['NAMESPACE:studio1-', 'NAMESPACE:studio1-game-x', true, 1],
  ['NAMESPACE:studio1-', 'NAMESPACE:othergame', false, 1],
  ['NAMESPACE:studio1-', 'NAMESPACE:missing', false, 1],
  ['NAMESPACE:studio1-', 'NAMESPACE:pub', false, 1],
  ['NAMESPACE:studio1-', 'NAMESPACE:studio1sub', false, 1],
  ['NAMESPACE:studio1-:USER:*:ORDER', 'NAMESPACE:legacygame:USER:u1:ORDER', true, 1],
  ['NAMESPACE:studio1-:USER:*:ORDER', 'NAMESPACE:legacygame:USER:u1:WALLET', false, 1],
  ['NAMESPACE:studio1-:*', 'NAMESPACE:legacygame:ITEM:1', true, 1],
  ['NAMESPACE:studio1-', 'NAMESPACE:legacygame:ITEM', false, 1],
  ['NAMESPACE:studio1-:NAMESPACE:studio1-', 'NAMESPACE:legacygame:NAMESPACE:othergame', false, 2],
  ['NAMESPACE:studio1-:NAMESPACE:studio1-', 'NAMESPACE:legacygame:NAMESPACE:legacygame', true, 2],
]

describe('resourceAllowed', () => {
  for (const [granted, required, expected, lookups] of RESOURCE_CASES) {
    it(`${JSON.stringify(granted)} vs ${JSON.stringify(required)} -> ${expected}`, async () => {
      const { lookup, calls } = countingLookup()
      const result = resourceAllowed(granted, required, lookup)
      if (lookups === 0) {
        // No lookup needed: a plain boolean, no Promise.
        assert.equal(result, expected)
      } else {
        assert.ok(result instanceof Promise)
        assert.equal(await result, expected)
      }
      assert.equal(calls.length, lookups)
    })
  }

  it('answers false without a lookup function when the studio rule needs one', () => {
    assert.equal(resourceAllowed('NAMESPACE:studio1-', 'NAMESPACE:legacygame'), false)
  })

  it('looks up the required namespace section', async () => {
    const { lookup, calls } = countingLookup()
    await resourceAllowed('NAMESPACE:studio1-:USER', 'NAMESPACE:legacygame:USER', lookup)
    assert.deepEqual(calls, ['legacygame'])
  })

  it('propagates a rejected lookup', async () => {
    const failure = new IamError('ERR_IAM_UNAVAILABLE', 'basic service down')
    const result = resourceAllowed('NAMESPACE:studio1-', 'NAMESPACE:legacygame', () =>
      Promise.reject(failure),
    )
    await assert.rejects(Promise.resolve(result), (err) => err === failure)
  })

  it('turns a lookup that throws synchronously into a rejection', async () => {
    const result = resourceAllowed('NAMESPACE:studio1-', 'NAMESPACE:legacygame', () => {
      throw new IamError('ERR_IAM_UNAVAILABLE', 'boom')
    })
    assert.ok(result instanceof Promise)
    await assert.rejects(result, { code: 'ERR_IAM_UNAVAILABLE' })
  })
})

describe('explainResource', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['A:B', 'A:B', { matched: true, rule: 'identical' }],
    ['A:*', 'A:B', { matched: true, rule: 'all_sections' }],
    [
      'NAMESPACE:ns:USER:*',
      'NAMESPACE:ns:ITEM:1',
      { matched: false, rule: 'section_mismatch', section: 2, grantedSection: 'USER' },
    ],
    ['NAMESPACE:*', 'NAMESPACE:ns:ITEM', { matched: false, rule: 'trailing_wildcard_scoped' }],
    ['A:*', 'A:B:C', { matched: true, rule: 'trailing_wildcard', section: 1 }],
    ['A', 'A:B', { matched: false, rule: 'granted_shorter' }],
    ['A:*:*', 'A', { matched: true, rule: 'extra_wildcards' }],
    ['A:*:x', 'A', { matched: false, rule: 'extra_sections', section: 2, grantedSection: 'x' }],
    ['NAMESPACE:s1-', 'NAMESPACE:s2-g', { matched: false, rule: 'studio_game_mismatch' }],
    ['NAMESPACE:s1-', 'NAMESPACE:*', { matched: false, rule: 'studio_not_namespace' }],
    ['NAMESPACE:s1-', 'NAMESPACE:legacy', { matched: false, rule: 'studio_lookup_unavailable' }],
  ]
  for (const [granted, required, expected] of cases) {
    it(`${granted} vs ${required}: ${String(expected.rule)}`, async () => {
      const check = await explainResource(granted, required)
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(check[key as keyof typeof check], value, key)
      }
    })
  }

  it('records each use of the studio rule, with the looked-up context', async () => {
    const { lookup } = countingLookup()
    const check = await explainResource(
      'NAMESPACE:studio1-:NAMESPACE:studio1-',
      'NAMESPACE:studio1:NAMESPACE:othergame',
      lookup,
    )
    assert.equal(check.matched, false)
    assert.equal(check.rule, 'studio_namespace_mismatch')
    assert.deepEqual(
      check.studio?.map((s) => [s.section, s.branch, s.matched]),
      [
        [1, 'studio_itself', true],
        [3, 'namespace_context', false],
      ],
    )
    assert.equal(check.studio?.[1]?.context?.studioNamespace, 'studio2')
  })
})

describe('actionAllowed', () => {
  const cases: [number, number, boolean][] = [
    [7, 2, true],
    [2, 2, true],
    [2, 6, false],
    [0, 0, true],
    [15, 15, true],
    [8, 1, false],
    [0, 1, false],
    [5, 4, true],
    [5, 6, false],
    [-1, 15, true],
    [15, 2 ** 31, false],
  ]
  for (const [granted, required, expected] of cases) {
    it(`${granted} & ${required} -> ${expected}`, () => {
      assert.equal(actionAllowed(granted, required), expected)
    })
  }
})

describe('substitutePlaceholders', () => {
  it('replaces every occurrence of every key', () => {
    const values = Object.freeze({ '{namespace}': 'ns', '{userId}': 'u1' })
    assert.equal(
      substitutePlaceholders('NAMESPACE:{namespace}:USER:{userId}:{namespace}:{userId}', values),
      'NAMESPACE:ns:USER:u1:ns:u1',
    )
    assert.deepEqual(values, { '{namespace}': 'ns', '{userId}': 'u1' })
  })

  it('inserts values literally (no $& patterns)', () => {
    assert.equal(substitutePlaceholders('A:{x}:{x}', { '{x}': "$&$'$1" }), "A:$&$'$1:$&$'$1")
  })

  it('does not rescan an inserted value for the same key', () => {
    assert.equal(substitutePlaceholders('{x}', { '{x}': '{x}{x}' }), '{x}{x}')
  })

  it('leaves the resource alone without values, for empty keys and for inherited keys', () => {
    assert.equal(substitutePlaceholders('A:{x}', undefined), 'A:{x}')
    assert.equal(substitutePlaceholders('A:{x}', { '': 'y' }), 'A:{x}')
    const inherited = Object.create({ '{x}': 'y' }) as Record<string, string>
    assert.equal(substitutePlaceholders('A:{x}', inherited), 'A:{x}')
  })
})

describe('normalizeRequiredPermission', () => {
  it('accepts either casing per key', () => {
    for (const p of [
      { resource: 'R', action: 2 },
      { Resource: 'R', Action: 2 },
      { resource: 'R', Action: 2 },
      { Resource: 'R', action: 2 },
    ]) {
      assert.deepEqual(normalizeRequiredPermission(p), { resource: 'R', action: 2 })
    }
    assert.deepEqual(normalizeRequiredPermission({ resource: '', action: 0 }), {
      resource: '',
      action: 0,
    })
  })

  const invalid: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a string', 'NAMESPACE:ns'],
    ['an empty object', {}],
    ['a numeric resource', { resource: 1, action: 2 }],
    ['a missing action', { resource: 'R' }],
    ['a negative action', { resource: 'R', action: -1 }],
    ['a fractional action', { resource: 'R', action: 1.5 }],
    ['a NaN action', { resource: 'R', action: Number.NaN }],
    ['a string action', { resource: 'R', action: '2' }],
    ['an unsafe integer action', { resource: 'R', action: 2 ** 53 }],
  ]
  for (const [name, value] of invalid) {
    it(`rejects ${name} with ERR_IAM_INVALID_PERMISSION`, () => {
      assert.throws(
        () => normalizeRequiredPermission(value),
        (err) => err instanceof IamError && err.code === 'ERR_IAM_INVALID_PERMISSION',
      )
    })
  }
})

// ---------------------------------------------------------------------------------------------
// evaluatePermission

interface FakeOptions {
  roles?: Record<string, readonly PermissionLike[]>
  /** Keyed `${namespace}|${roleId}`. */
  overrides?: Record<string, readonly PermissionLike[]>
  now?: number
  failRole?: unknown
  failOverride?: unknown
  failContext?: unknown
}

interface Fake extends PermissionSources {
  roleCalls: string[]
  overrideCalls: string[]
  contextCalls: string[]
}

function fakeSources(options: FakeOptions = {}): Fake {
  const fake: Fake = {
    roleCalls: [],
    overrideCalls: [],
    contextCalls: [],
    getRolePermissions(roleId) {
      fake.roleCalls.push(roleId)
      if (options.failRole !== undefined) return Promise.reject(options.failRole)
      return Promise.resolve(options.roles?.[roleId] ?? [])
    },
    getRoleOverridePermissions(namespace, roleId) {
      fake.overrideCalls.push(`${namespace}|${roleId}`)
      if (options.failOverride !== undefined) return Promise.reject(options.failOverride)
      return Promise.resolve(options.overrides?.[`${namespace}|${roleId}`] ?? [])
    },
    getNamespaceContext(namespace) {
      fake.contextCalls.push(namespace)
      if (options.failContext !== undefined) return Promise.reject(options.failContext)
      return Promise.resolve(CONTEXTS[namespace] ?? null)
    },
    now: () => options.now ?? Date.parse('2024-01-01T12:00:30.000Z'),
  }
  return fake
}

const claimsWith = testClaims

const READ = 2
const UPDATE = 4

describe('evaluatePermission', () => {
  it('allows on a claim permission without calling any source', async () => {
    const sources = fakeSources()
    const claims = claimsWith({
      permissions: [
        { Resource: 'NAMESPACE:ns:ITEM', Action: READ },
        { Resource: 'NAMESPACE:ns:USER:u1:ORDER', Action: READ | UPDATE },
      ],
      namespace_roles: [{ roleId: 'r1', namespace: 'ns' }],
      roles: ['r2'],
    })
    const decision = await evaluatePermission(
      claims,
      { resource: 'NAMESPACE:ns:USER:u1:ORDER', action: UPDATE },
      undefined,
      sources,
    )
    assert.equal(decision.allowed, true)
    assert.equal(decision.grant?.source, 'permission')
    assert.equal(decision.grant?.index, 1)
    assert.equal(decision.grant?.permission, claims.permissions[1])
    assert.equal(decision.steps, undefined)
    assert.deepEqual([sources.roleCalls, sources.overrideCalls], [[], []])
  })

  it('substitutes the caller placeholders in the required resource, every occurrence', async () => {
    const claims = claimsWith({ permissions: [{ Resource: 'A:ns:B:ns', Action: READ }] })
    const required = Object.freeze({ resource: 'A:{namespace}:B:{namespace}', action: READ })
    const resources = Object.freeze({ '{namespace}': 'ns' })
    const decision = await evaluatePermission(claims, required, resources, fakeSources())
    assert.equal(decision.allowed, true)
    assert.equal(required.resource, 'A:{namespace}:B:{namespace}')
  })

  it('uses claim permissions as they are (no placeholder substitution)', async () => {
    const claims = claimsWith({
      permissions: [{ Resource: 'NAMESPACE:{namespace}:USER:{userId}', Action: READ }],
    })
    const decision = await evaluatePermission(
      claims,
      { resource: 'NAMESPACE:ns:USER:u1', action: READ },
      { '{namespace}': 'ns', '{userId}': 'u1' },
      fakeSources(),
    )
    assert.equal(decision.allowed, false)
  })

  it('allows on a namespace role, substituting {userId} and {namespace}', async () => {
    const perms = [{ resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: READ }]
    const sources = fakeSources({ roles: { r1: perms } })
    const claims = claimsWith({
      namespace: 'pub',
      namespace_roles: [{ roleId: 'r1', namespace: 'game1' }],
    })
    const required = { resource: 'NAMESPACE:game1:USER:u1:ORDER', action: READ }
    const decision = await evaluatePermission(claims, required, undefined, sources)
    assert.equal(decision.allowed, true)
    assert.deepEqual(decision.grant, {
      source: 'namespace_role',
      roleId: 'r1',
      namespace: 'game1',
      index: 0,
      permission: perms[0],
      resource: 'NAMESPACE:game1:USER:u1:ORDER',
      action: READ,
    })
    assert.deepEqual(sources.roleCalls, ['r1'])
    assert.equal(perms[0]?.resource, 'NAMESPACE:{namespace}:USER:{userId}:ORDER')

    // {namespace} is the role's namespace, not the token's; {userId} is the token's sub.
    const other = [
      { resource: 'NAMESPACE:pub:USER:u1:ORDER', action: READ },
      { resource: 'NAMESPACE:game1:USER:u2:ORDER', action: READ },
    ]
    for (const req of other) {
      assert.equal((await evaluatePermission(claims, req, undefined, sources)).allowed, false)
    }
  })

  it('substitutes every occurrence, and the same array for different users', async () => {
    const perms = Object.freeze([
      { resource: '{namespace}:{userId}:{namespace}:{userId}', action: 2 },
    ])
    const sources = fakeSources({ roles: { r1: perms } })
    for (const sub of ['u1', 'u2', 'u1']) {
      const claims = claimsWith({ sub, namespace_roles: [{ roleId: 'r1', namespace: 'ns' }] })
      const yes = { resource: `ns:${sub}:ns:${sub}`, action: READ }
      const no = { resource: `ns:${sub === 'u1' ? 'u2' : 'u1'}:ns:${sub}`, action: READ }
      assert.equal((await evaluatePermission(claims, yes, undefined, sources)).allowed, true)
      assert.equal((await evaluatePermission(claims, no, undefined, sources)).allowed, false)
    }
  })

  it('turns a `*` namespace role into a wildcard section; {userId} is empty without sub', async () => {
    const sources = fakeSources({
      roles: { r1: [{ resource: 'NAMESPACE:{namespace}:USER:{userId}', action: READ }] },
    })
    const claims = claimsWith({ namespace_roles: [{ roleId: 'r1', namespace: '*' }] })
    const required = { resource: 'NAMESPACE:any:USER:u1', action: READ }
    assert.equal((await evaluatePermission(claims, required, undefined, sources)).allowed, true)
    const clientClaims = claimsWith({
      sub: undefined,
      namespace_roles: [{ roleId: 'r1', namespace: '*' }],
    })
    const empty = { resource: 'NAMESPACE:any:USER:', action: READ }
    assert.equal((await evaluatePermission(clientClaims, empty, undefined, sources)).allowed, true)
  })

  describe('default user role (docs/iam-wire-protocol.md §3.6)', () => {
    const perm = (resource: string): PermissionLike[] => [{ Resource: resource, Action: READ }]

    it('uses the role override in a concrete role namespace', async () => {
      const sources = fakeSources({
        overrides: { [`game1|${DEFAULT_USER_ROLE_ID}`]: perm('NAMESPACE:{namespace}:ITEM') },
      })
      const claims = claimsWith({
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: 'game1' }],
      })
      const d = await evaluatePermission(
        claims,
        { resource: 'NAMESPACE:game1:ITEM', action: READ },
        { '{namespace}': 'ignored' },
        sources,
      )
      assert.equal(d.allowed, true)
      assert.deepEqual(sources.overrideCalls, [`game1|${DEFAULT_USER_ROLE_ID}`])
      assert.deepEqual(sources.roleCalls, [])
    })

    it('uses the request namespace for a `*` role namespace', async () => {
      const sources = fakeSources({
        overrides: { [`game2|${DEFAULT_USER_ROLE_ID}`]: perm('NAMESPACE:{namespace}:ITEM') },
      })
      const claims = claimsWith({
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: '*' }],
      })
      const d = await evaluatePermission(
        claims,
        { resource: 'NAMESPACE:{namespace}:ITEM', action: READ },
        { '{namespace}': 'game2' },
        sources,
      )
      assert.equal(d.allowed, true)
      assert.deepEqual(sources.overrideCalls, [`game2|${DEFAULT_USER_ROLE_ID}`])
      // {namespace} in the override's permissions is the role's namespace (`*`), not `game2`.
      assert.equal(d.grant?.resource, 'NAMESPACE:*:ITEM')
    })

    it('uses the request namespace for a `{studio}-` role namespace', async () => {
      const sources = fakeSources({
        overrides: {
          [`studio1-game1|${DEFAULT_USER_ROLE_ID}`]: perm('NAMESPACE:{namespace}:ITEM'),
        },
      })
      const claims = claimsWith({
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: 'studio1-' }],
      })
      const d = await evaluatePermission(
        claims,
        { resource: 'NAMESPACE:{namespace}:ITEM', action: READ },
        { '{namespace}': 'studio1-game1' },
        sources,
      )
      assert.equal(d.allowed, true)
      assert.deepEqual(sources.overrideCalls, [`studio1-game1|${DEFAULT_USER_ROLE_ID}`])
      assert.equal(d.grant?.resource, 'NAMESPACE:studio1-:ITEM')
    })

    for (const resources of [undefined, { '{namespace}': '' }]) {
      it(`falls back to the role endpoint for \`*\` with resources ${JSON.stringify(resources)}`, async () => {
        const sources = fakeSources({
          roles: { [DEFAULT_USER_ROLE_ID]: perm('NAMESPACE:{namespace}:ITEM') },
        })
        const claims = claimsWith({
          namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: '*' }],
        })
        const d = await evaluatePermission(
          claims,
          { resource: 'NAMESPACE:x:ITEM', action: READ },
          resources,
          sources,
        )
        assert.equal(d.allowed, true)
        assert.deepEqual(sources.roleCalls, [DEFAULT_USER_ROLE_ID])
        assert.deepEqual(sources.overrideCalls, [])
      })
    }

    it('uses the role endpoint for any other role ID', async () => {
      const sources = fakeSources()
      const claims = claimsWith({ namespace_roles: [{ roleId: 'r1', namespace: 'game1' }] })
      await evaluatePermission(claims, { resource: 'X', action: READ }, undefined, sources)
      assert.deepEqual(sources.roleCalls, ['r1'])
      assert.deepEqual(sources.overrideCalls, [])
    })
  })

  it('allows on a global role, {namespace} being the token namespace', async () => {
    const sources = fakeSources({
      roles: { r2: [{ resource: 'NAMESPACE:{namespace}:USER:{userId}', action: READ | UPDATE }] },
    })
    const claims = claimsWith({ namespace: 'ns', roles: ['r0', 'r2'] })
    const d = await evaluatePermission(
      claims,
      { Resource: 'NAMESPACE:ns:USER:u1', Action: UPDATE },
      undefined,
      sources,
    )
    assert.equal(d.allowed, true)
    assert.equal(d.grant?.source, 'role')
    assert.equal(d.grant?.roleId, 'r2')
    assert.deepEqual(sources.roleCalls, ['r0', 'r2'])
  })

  it('stops at the first allow: later roles are not fetched', async () => {
    const sources = fakeSources({ roles: { r1: [{ resource: 'X', action: READ }] } })
    const claims = claimsWith({
      namespace_roles: [
        { roleId: 'r1', namespace: 'ns' },
        { roleId: 'r9', namespace: 'ns' },
      ],
      roles: ['r8'],
    })
    const d = await evaluatePermission(claims, { resource: 'X', action: READ }, undefined, sources)
    assert.equal(d.allowed, true)
    assert.deepEqual(sources.roleCalls, ['r1'])
  })

  it('denies when nothing allows, after looking at every source in order', async () => {
    const sources = fakeSources()
    const claims = claimsWith({
      permissions: [{ Resource: 'X', Action: READ }],
      namespace_roles: [{ roleId: 'r1', namespace: 'ns' }],
      roles: ['r2'],
    })
    const d = await evaluatePermission(
      claims,
      { resource: 'X', action: UPDATE },
      undefined,
      sources,
    )
    assert.deepEqual(d, { allowed: false })
    assert.deepEqual(sources.roleCalls, ['r1', 'r2'])
  })

  it('reads PascalCase and camelCase permissions from any source', async () => {
    const sources = fakeSources({
      overrides: { [`ns|${DEFAULT_USER_ROLE_ID}`]: [{ Resource: 'A', Action: READ }] },
      roles: { r2: [{ resource: 'B', action: READ }] },
    })
    const claims = claimsWith({
      namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: 'ns' }],
      roles: ['r2'],
    })
    for (const resource of ['A', 'B']) {
      const d = await evaluatePermission(claims, { resource, action: READ }, undefined, sources)
      assert.equal(d.allowed, true, resource)
    }
  })

  describe('source errors propagate', () => {
    const failure = new IamError('ERR_IAM_UNAVAILABLE', 'IAM down')
    const cases: [string, FakeOptions, Partial<JwtClaims>, string][] = [
      ['role', { failRole: failure }, { roles: ['r1'] }, 'X'],
      [
        'role override',
        { failOverride: failure },
        { namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: 'ns' }] },
        'X',
      ],
      [
        'namespace context',
        { failContext: failure },
        { permissions: [{ Resource: 'NAMESPACE:studio1-', Action: READ }] },
        'NAMESPACE:legacygame',
      ],
    ]
    for (const [name, options, over, resource] of cases) {
      it(`rejects with the ${name} error`, async () => {
        await assert.rejects(
          evaluatePermission(
            claimsWith(over),
            { resource, action: READ },
            undefined,
            fakeSources(options),
          ),
          (err) => err === failure,
        )
      })
    }
  })

  it('applies the {studio}- rule with the namespace context source', async () => {
    const sources = fakeSources()
    const claims = claimsWith({ permissions: [{ Resource: 'NAMESPACE:studio1-:ITEM', Action: 3 }] })
    const yes = await evaluatePermission(
      claims,
      { resource: 'NAMESPACE:legacygame:ITEM', action: READ },
      undefined,
      sources,
    )
    assert.equal(yes.allowed, true)
    assert.deepEqual(sources.contextCalls, ['legacygame'])
  })

  it('does not look up a namespace context for a grant whose action is insufficient', async () => {
    const sources = fakeSources()
    const claims = claimsWith({ permissions: [{ Resource: 'NAMESPACE:studio1-', Action: READ }] })
    const d = await evaluatePermission(
      claims,
      { resource: 'NAMESPACE:legacygame', action: UPDATE },
      undefined,
      sources,
    )
    assert.equal(d.allowed, false)
    assert.deepEqual(sources.contextCalls, [])
  })

  it('keeps going after a lookup that did not match', async () => {
    const sources = fakeSources()
    const claims = claimsWith({
      permissions: [
        { Resource: 'NAMESPACE:studio2-', Action: READ },
        { Resource: 'NAMESPACE:*', Action: READ },
      ],
    })
    const d = await evaluatePermission(
      claims,
      { resource: 'NAMESPACE:legacygame', action: READ },
      undefined,
      sources,
    )
    assert.equal(d.grant?.index, 1)
    assert.deepEqual(sources.contextCalls, ['legacygame'])
  })

  describe('scheduled permissions replace the action', () => {
    // Active in the last second before each full minute (Go SDK semantics).
    const scheduled = { Resource: 'X', Action: READ, SchedAction: UPDATE, SchedCron: '* * * * *' }
    const claims = claimsWith({ permissions: [scheduled] })
    const active = Date.parse('2024-01-01T12:00:59.500Z')
    const inactive = Date.parse('2024-01-01T12:00:30.000Z')
    const cases: [string, number, number, boolean][] = [
      ['plain action while inactive', inactive, READ, true],
      ['not the scheduled one while inactive', inactive, UPDATE, false],
      ['scheduled action while active', active, UPDATE, true],
      ['not the plain one while active', active, READ, false],
    ]
    for (const [name, now, action, allowed] of cases) {
      it(name, async () => {
        const d = await evaluatePermission(
          claims,
          { resource: 'X', action },
          undefined,
          fakeSources({ now }),
        )
        assert.equal(d.allowed, allowed)
        if (allowed) assert.equal(d.grant?.action, action)
      })
    }
  })

  it('rejects an invalid required permission with ERR_IAM_INVALID_PERMISSION', async () => {
    for (const required of [{ resource: 'X', action: -2 }, { action: 2 }, null]) {
      await assert.rejects(
        evaluatePermission(claimsWith({}), required as never, undefined, fakeSources()),
        { code: 'ERR_IAM_INVALID_PERMISSION' },
      )
    }
  })

  it('denies (does not throw) when claim lists are missing', async () => {
    const claims = claimsWith({})
    const bare = { ...claims, permissions: undefined, namespace_roles: undefined, roles: undefined }
    const d = await evaluatePermission(
      bare as unknown as JwtClaims,
      { resource: 'X', action: READ },
      undefined,
      fakeSources(),
    )
    assert.deepEqual(d, { allowed: false })
  })
})

describe('evaluatePermission explain', () => {
  it('records every step with the reason, and decides like the default path', async () => {
    const sources = fakeSources({
      roles: {
        r1: [
          { resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: READ },
          { resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: READ | UPDATE },
        ],
      },
    })
    const claims = claimsWith({
      permissions: [
        { Resource: 'NAMESPACE:ns:ITEM', Action: 15 },
        { Resource: 'NAMESPACE:studio1-:USER:u1:ORDER', Action: READ },
      ],
      namespace_roles: [{ roleId: 'r1', namespace: 'ns' }],
    })
    const required = { resource: 'NAMESPACE:{namespace}:USER:u1:ORDER', action: UPDATE }
    const resources = { '{namespace}': 'ns' }
    const plain = await evaluatePermission(claims, required, resources, sources)
    const explained = await evaluatePermission(claims, required, resources, sources, {
      explain: true,
    })
    assert.equal(plain.steps, undefined)
    assert.equal(explained.allowed, true)
    assert.deepEqual(explained.grant, plain.grant)

    const steps = explained.steps ?? []
    assert.deepEqual(
      steps.map((s) => s.kind),
      ['required', 'grant', 'grant', 'role', 'grant', 'grant'],
    )
    const first0 = steps[0]
    assert.equal(first0?.kind, 'required')
    assert.equal(
      first0.kind === 'required' && first0.substitutedResource,
      'NAMESPACE:ns:USER:u1:ORDER',
    )

    const [, first, second, , third, fourth] = steps as GrantStep[]
    assert.equal(first?.resourceCheck.rule, 'section_mismatch')
    assert.equal(first?.resourceCheck.section, 2)
    assert.equal(first?.allowed, false)
    assert.equal(first?.missingActionBits, 0)

    // Action insufficient: the resource is still checked for display, without a lookup.
    assert.equal(second?.missingActionBits, UPDATE)
    assert.equal(second?.resourceCheck.rule, 'studio_lookup_skipped')
    assert.deepEqual(sources.contextCalls, [])
    assert.match(second?.message ?? '', /UPDATE/)

    const role = steps[3] as RoleStep
    assert.equal(role.endpoint, 'role')
    assert.equal(role.roleId, 'r1')
    assert.equal(role.namespaceValue, 'ns')
    assert.equal(role.userId, 'u1')
    assert.equal(role.permissionCount, 2)

    assert.equal(third?.resource, 'NAMESPACE:ns:USER:u1:ORDER')
    assert.equal(third?.resourceCheck.matched, true)
    assert.equal(third?.allowed, false)
    assert.equal(fourth?.allowed, true)
    assert.equal(fourth?.source, 'namespace_role')
    for (const step of steps) assert.ok(step.message.length > 0)
  })

  it('reports a scheduled action and the role override endpoint', async () => {
    const sources = fakeSources({
      now: Date.parse('2024-01-01T12:00:59.500Z'),
      overrides: {
        [`game1|${DEFAULT_USER_ROLE_ID}`]: [
          { Resource: 'X', Action: 15, SchedAction: 0, SchedCron: '* * * * *' },
        ],
      },
    })
    const claims = claimsWith({
      namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: '*' }],
    })
    const d = await evaluatePermission(
      claims,
      { resource: 'X', action: READ },
      { '{namespace}': 'game1' },
      sources,
      { explain: true },
    )
    assert.equal(d.allowed, false)
    const role = d.steps?.find((s): s is RoleStep => s.kind === 'role')
    assert.equal(role?.endpoint, 'role_override')
    assert.equal(role?.queryNamespace, 'game1')
    const grant = d.steps?.find((s): s is GrantStep => s.kind === 'grant')
    assert.equal(grant?.scheduled, true)
    assert.equal(grant?.action, 15)
    assert.equal(grant?.effectiveAction, 0)
    assert.equal(grant?.missingActionBits, READ)
    assert.equal(grant?.resourceCheck.rule, 'identical')
  })
})
