import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { parseClaims, parseFrozenClaims } from '../../src/core/claims.js'
import { IamError } from '../../src/core/errors.js'

const EXP = 1_700_000_000

function assertMalformed(payload: unknown, label?: string): void {
  assert.throws(
    () => parseClaims(payload),
    (err: unknown) => err instanceof IamError && err.code === 'ERR_IAM_TOKEN_MALFORMED',
    label ?? JSON.stringify(payload),
  )
}

const NOT_A_STRING = [1, true, {}, [], ['a']]
const NOT_A_NUMBER = ['1', true, {}, [], Number.NaN, Number.POSITIVE_INFINITY]
const NOT_AN_ARRAY = ['a', 1, true, {}]

describe('parseClaims: payload and defaults', () => {
  it('rejects anything but a plain object', () => {
    for (const payload of [undefined, null, 1, 'x', true, [], [{ exp: EXP }], new Map()]) {
      assertMalformed(payload, String(payload))
    }
    class Claims {
      exp = EXP
    }
    assertMalformed(new Claims(), 'class instance')
  })

  it('accepts a null-prototype object', () => {
    const payload = Object.assign(Object.create(null) as object, { exp: EXP })
    assert.equal(parseClaims(payload).exp, EXP)
  })

  it('fills the documented defaults for a minimal payload', () => {
    assert.deepEqual(parseClaims({ exp: EXP }), {
      exp: EXP,
      namespace: '',
      scope: '',
      jflgs: 0,
      roles: [],
      namespace_roles: [],
      permissions: [],
      bans: [],
    })
  })

  it('parses the Python mock claim set (tests/mock.py)', () => {
    const claims = parseClaims({
      bans: null,
      client_id: 'd0c4e8b1',
      country: 'US',
      display_name: 'John',
      exp: EXP,
      iat: EXP - 3600,
      is_comply: true,
      jflgs: 1,
      namespace: 'accelbyte',
      namespace_roles: [{ namespace: 'accelbyte', roleId: 'r1' }],
      permissions: [{ Action: 2, Resource: 'ROLE' }],
      roles: ['r0'],
      scope: 'account commerce',
    })
    assert.equal(claims.sub, undefined)
    assert.equal('subs' in claims, false)
    assert.deepEqual(claims, {
      exp: EXP,
      iat: EXP - 3600,
      namespace: 'accelbyte',
      scope: 'account commerce',
      jflgs: 1,
      roles: ['r0'],
      namespace_roles: [{ namespace: 'accelbyte', roleId: 'r1' }],
      permissions: [{ Resource: 'ROLE', Action: 2 }],
      bans: [],
      client_id: 'd0c4e8b1',
      country: 'US',
      display_name: 'John',
      is_comply: true,
    })
  })

  it('keeps unknown claims as they are', () => {
    const nested = { a: [1, 2] }
    const claims = parseClaims({ exp: EXP, custom: nested, flag: null, n: 3 })
    assert.equal(claims.custom, nested)
    assert.equal(claims.flag, null)
    assert.equal(claims.n, 3)
  })

  it('keeps a "__proto__" claim as data without touching the prototype', () => {
    const payload = JSON.parse(`{"exp":${EXP},"__proto__":{"polluted":true}}`) as unknown
    const claims = parseClaims(payload)
    assert.equal(Object.getPrototypeOf(claims), Object.prototype)
    assert.equal((claims as Record<string, unknown>).polluted, undefined)
    assert.deepEqual(Object.getOwnPropertyDescriptor(claims, '__proto__')?.value, {
      polluted: true,
    })
  })
})

describe('parseClaims: time claims', () => {
  it('requires exp as a finite number', () => {
    assertMalformed({}, 'absent')
    assertMalformed({ exp: null }, 'null')
    for (const exp of NOT_A_NUMBER) assertMalformed({ exp }, String(exp))
    assert.equal(parseClaims({ exp: 1.5 }).exp, 1.5)
    assert.equal(parseClaims(JSON.parse('{"exp":0}')).exp, 0)
  })

  it('treats 1e400 (Infinity after JSON.parse) as malformed', () => {
    assertMalformed(JSON.parse('{"exp":1e400}'))
  })

  for (const name of ['iat', 'nbf'] as const) {
    it(`${name}: optional finite number`, () => {
      assert.equal(name in parseClaims({ exp: EXP }), false)
      assert.equal(name in parseClaims({ exp: EXP, [name]: null }), false)
      assert.equal(parseClaims({ exp: EXP, [name]: 123 })[name], 123)
      for (const value of NOT_A_NUMBER) assertMalformed({ exp: EXP, [name]: value })
    })
  }
})

describe('parseClaims: scalar claims', () => {
  for (const name of ['namespace', 'scope'] as const) {
    it(`${name}: string, default ''`, () => {
      assert.equal(parseClaims({ exp: EXP })[name], '')
      assert.equal(parseClaims({ exp: EXP, [name]: null })[name], '')
      assert.equal(parseClaims({ exp: EXP, [name]: 'x' })[name], 'x')
      for (const value of NOT_A_STRING) assertMalformed({ exp: EXP, [name]: value })
    })
  }

  it('jflgs: integer, default 0', () => {
    assert.equal(parseClaims({ exp: EXP }).jflgs, 0)
    assert.equal(parseClaims({ exp: EXP, jflgs: null }).jflgs, 0)
    assert.equal(parseClaims({ exp: EXP, jflgs: 5 }).jflgs, 5)
    for (const jflgs of [...NOT_A_NUMBER, 1.5]) assertMalformed({ exp: EXP, jflgs })
  })

  const strings = [
    'sub',
    'iss',
    'jti',
    'display_name',
    'client_id',
    'country',
    'parent_namespace',
    'ipf',
    'ipo',
    'sp',
    'union_id',
    'union_namespace',
    'extend_namespace',
  ]
  for (const name of strings) {
    it(`${name}: optional string`, () => {
      assert.equal(name in parseClaims({ exp: EXP }), false)
      assert.equal(name in parseClaims({ exp: EXP, [name]: null }), false)
      assert.equal(parseClaims({ exp: EXP, [name]: '' })[name], '')
      assert.equal(parseClaims({ exp: EXP, [name]: 'v' })[name], 'v')
      for (const value of NOT_A_STRING) assertMalformed({ exp: EXP, [name]: value })
    })
  }

  it('is_comply: optional boolean', () => {
    assert.equal('is_comply' in parseClaims({ exp: EXP, is_comply: null }), false)
    assert.equal(parseClaims({ exp: EXP, is_comply: false }).is_comply, false)
    for (const value of ['true', 1, {}]) assertMalformed({ exp: EXP, is_comply: value })
  })

  it('aud: string or string array', () => {
    assert.equal('aud' in parseClaims({ exp: EXP }), false)
    assert.equal('aud' in parseClaims({ exp: EXP, aud: null }), false)
    assert.equal(parseClaims({ exp: EXP, aud: 'svc' }).aud, 'svc')
    assert.deepEqual(parseClaims({ exp: EXP, aud: ['a', 'b'] }).aud, ['a', 'b'])
    assert.deepEqual(parseClaims({ exp: EXP, aud: [] }).aud, [])
    for (const aud of [1, true, {}, [1], ['a', null]]) assertMalformed({ exp: EXP, aud })
  })
})

describe('parseClaims: list claims', () => {
  it('roles: string array, default []', () => {
    assert.deepEqual(parseClaims({ exp: EXP, roles: null }).roles, [])
    assert.deepEqual(parseClaims({ exp: EXP, roles: ['a', 'b'] }).roles, ['a', 'b'])
    for (const roles of [...NOT_AN_ARRAY, [1], ['a', null]]) assertMalformed({ exp: EXP, roles })
  })

  it('namespace_roles: {roleId, namespace} strings, default []', () => {
    assert.deepEqual(parseClaims({ exp: EXP, namespace_roles: null }).namespace_roles, [])
    const roles = [{ roleId: 'r', namespace: '*' }]
    assert.deepEqual(parseClaims({ exp: EXP, namespace_roles: roles }).namespace_roles, roles)
    for (const namespaceRoles of [
      ...NOT_AN_ARRAY,
      [null],
      ['r'],
      [{ roleId: 'r' }],
      [{ namespace: 'n' }],
      [{ roleId: 1, namespace: 'n' }],
      [{ roleId: 'r', namespace: null }],
    ]) {
      assertMalformed({ exp: EXP, namespace_roles: namespaceRoles })
    }
  })

  it('subs: undefined when absent or null, else a string array', () => {
    assert.equal(parseClaims({ exp: EXP }).subs, undefined)
    assert.equal('subs' in parseClaims({ exp: EXP, subs: null }), false)
    assert.deepEqual(parseClaims({ exp: EXP, subs: [] }).subs, [])
    assert.deepEqual(parseClaims({ exp: EXP, subs: ['online'] }).subs, ['online'])
    for (const subs of [...NOT_AN_ARRAY, [1], [null]]) assertMalformed({ exp: EXP, subs })
  })
})

describe('parseClaims: permissions', () => {
  it('defaults to [] when absent or null', () => {
    assert.deepEqual(parseClaims({ exp: EXP }).permissions, [])
    assert.deepEqual(parseClaims({ exp: EXP, permissions: null }).permissions, [])
  })

  it('normalises either key casing to PascalCase', () => {
    const claims = parseClaims({
      exp: EXP,
      permissions: [
        { Resource: 'A', Action: 1 },
        { resource: 'B', action: 2 },
        {
          Resource: 'C',
          Action: 4,
          SchedAction: 8,
          SchedCron: '* * * * *',
          SchedRange: ['2021-01-01T00:00:00Z', '2022-01-01T00:00:00Z'],
        },
        {
          resource: 'D',
          action: 15,
          schedAction: 2,
          schedCron: '0 0 * * *',
          schedRange: ['x'],
          extra: true,
        },
        { resource: 'E', Action: 3 },
      ],
    })
    assert.deepEqual(claims.permissions, [
      { Resource: 'A', Action: 1 },
      { Resource: 'B', Action: 2 },
      {
        Resource: 'C',
        Action: 4,
        SchedAction: 8,
        SchedCron: '* * * * *',
        SchedRange: ['2021-01-01T00:00:00Z', '2022-01-01T00:00:00Z'],
      },
      { Resource: 'D', Action: 15, SchedAction: 2, SchedCron: '0 0 * * *', SchedRange: ['x'] },
      { Resource: 'E', Action: 3 },
    ])
  })

  it('omits null Sched* fields', () => {
    const [permission] = parseClaims({
      exp: EXP,
      permissions: [
        { Resource: 'A', Action: 1, SchedAction: null, SchedCron: null, SchedRange: null },
      ],
    }).permissions
    assert.deepEqual(permission, { Resource: 'A', Action: 1 })
    assert.equal('SchedAction' in (permission ?? {}), false)
  })

  it('rejects malformed entries', () => {
    const bad: unknown[] = [
      ...NOT_AN_ARRAY,
      [null],
      ['ROLE'],
      [{ Action: 1 }],
      [{ Resource: 'A' }],
      [{ Resource: null, Action: 1 }],
      [{ Resource: 'A', Action: null }],
      [{ Resource: 1, Action: 1 }],
      [{ Resource: 'A', Action: '1' }],
      [{ Resource: 'A', Action: 1.5 }],
      [{ Resource: 'A', Action: 1, SchedAction: '2' }],
      [{ Resource: 'A', Action: 1, SchedAction: 0.5 }],
      [{ Resource: 'A', Action: 1, SchedCron: 5 }],
      [{ Resource: 'A', Action: 1, SchedRange: 'x' }],
      [{ Resource: 'A', Action: 1, schedRange: [1] }],
      [{ Resource: 'A', resource: 'A', Action: 1 }],
      [{ Resource: 'A', Action: 1, action: 1 }],
      [{ Resource: 'A', Action: 1, SchedCron: 'x', schedCron: 'y' }],
    ]
    for (const permissions of bad) assertMalformed({ exp: EXP, permissions })
  })
})

describe('parseClaims: bans', () => {
  it('defaults to [] when absent or null', () => {
    assert.deepEqual(parseClaims({ exp: EXP }).bans, [])
    assert.deepEqual(parseClaims({ exp: EXP, bans: null }).bans, [])
  })

  it('normalises entries to JwtBan, either casing', () => {
    const claims = parseClaims({
      exp: EXP,
      bans: [
        {
          Ban: 'CHAT_SEND',
          EndDate: '2030-01-01T00:00:00Z',
          Enabled: true,
          TargetedNamespace: 'game',
          DisabledDate: '2029-01-01T00:00:00Z',
        },
        { ban: 'LOGIN', endDate: '2031-01-01T00:00:00Z', enabled: false, other: 1 },
        { Ban: 'X', EndDate: null, Enabled: null },
      ],
    })
    assert.deepEqual(claims.bans, [
      {
        Ban: 'CHAT_SEND',
        EndDate: '2030-01-01T00:00:00Z',
        Enabled: true,
        TargetedNamespace: 'game',
        DisabledDate: '2029-01-01T00:00:00Z',
      },
      { Ban: 'LOGIN', EndDate: '2031-01-01T00:00:00Z', Enabled: false },
      { Ban: 'X' },
    ])
  })

  it('rejects malformed entries', () => {
    const bad: unknown[] = [
      ...NOT_AN_ARRAY,
      [null],
      ['LOGIN'],
      [{}],
      [{ Ban: null }],
      [{ Ban: 1 }],
      [{ Ban: 'A', EndDate: 1 }],
      [{ Ban: 'A', Enabled: 'yes' }],
      [{ Ban: 'A', TargetedNamespace: [] }],
      [{ Ban: 'A', DisabledDate: false }],
      [{ Ban: 'A', ban: 'A' }],
    ]
    for (const bans of bad) assertMalformed({ exp: EXP, bans })
  })
})

describe('parseClaims: properties', () => {
  const known = [
    'exp',
    'iat',
    'nbf',
    'namespace',
    'scope',
    'jflgs',
    'roles',
    'namespace_roles',
    'permissions',
    'bans',
    'subs',
    'aud',
    'sub',
    'client_id',
    'display_name',
    'is_comply',
  ]

  function onlyMalformed(payload: unknown): void {
    try {
      parseClaims(payload)
    } catch (err) {
      assert.ok(err instanceof IamError && err.code === 'ERR_IAM_TOKEN_MALFORMED', String(err))
    }
  }

  it('arbitrary JSON values throw nothing but ERR_IAM_TOKEN_MALFORMED', () => {
    fc.assert(fc.property(fc.jsonValue(), onlyMalformed))
  })

  it('payloads with arbitrary values under known claims throw nothing but ERR_IAM_TOKEN_MALFORMED', () => {
    const permission = fc.dictionary(
      fc.constantFrom(
        'Resource',
        'resource',
        'Action',
        'action',
        'SchedAction',
        'schedRange',
        'SchedCron',
        'x',
      ),
      fc.jsonValue({ maxDepth: 2 }),
    )
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.array(permission, { maxLength: 3 }))
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...known), value), fc.double(), (payload, exp) => {
        onlyMalformed(payload)
        onlyMalformed({ ...payload, exp })
      }),
    )
  })

  it('well-formed claims always parse, permissions come out PascalCase', () => {
    const permission = fc.record({
      resource: fc.string(),
      action: fc.integer({ min: 0, max: 15 }),
      camel: fc.boolean(),
    })
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.array(permission, { maxLength: 5 }),
        fc.option(fc.array(fc.string(), { maxLength: 3 })),
        (exp, perms, subs) => {
          const claims = parseClaims({
            exp,
            permissions: perms.map((p) =>
              p.camel
                ? { resource: p.resource, action: p.action }
                : { Resource: p.resource, Action: p.action },
            ),
            subs,
          })
          assert.deepEqual(
            claims.permissions,
            perms.map((p) => ({ Resource: p.resource, Action: p.action })),
          )
          assert.deepEqual(claims.subs, subs ?? undefined)
        },
      ),
    )
  })
})

describe('parseFrozenClaims', () => {
  /** Every object and array reachable from `value`, with its path. */
  function* everyObject(value: unknown, path = 'claims'): Generator<[string, object]> {
    if (value === null || typeof value !== 'object') return
    yield [path, value]
    for (const [key, inner] of Object.entries(value)) yield* everyObject(inner, `${path}.${key}`)
  }

  it('freezes every object and array in the claims, including claims copied as they came', () => {
    const claims = parseFrozenClaims({
      exp: EXP,
      sub: 'u',
      aud: ['a', 'b'],
      subs: ['s'],
      roles: ['r'],
      namespace_roles: [{ roleId: 'r', namespace: 'n', extra: { deep: [1] } }],
      permissions: [
        { Resource: 'NAMESPACE:n:USER', Action: 2, SchedAction: 1, SchedRange: ['x', 'y'] },
      ],
      bans: [{ Ban: 'CHAT' }],
      custom: { nested: { list: [{ a: 1 }] } },
      ['__proto__']: { polluted: [1] },
    })
    const seen = [...everyObject(claims)]
    assert.ok(seen.length >= 17, `walked ${seen.length} objects`)
    for (const [path, object] of seen) assert.ok(Object.isFrozen(object), `${path} is frozen`)
  })
})
