import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { BloomFilter } from '../../src/core/bloom.js'
import { IamError } from '../../src/core/errors.js'
import {
  isUserRevoked,
  parseRevocationList,
  parseRfc3339Ms,
  serializeRevocationList,
  type RevocationList,
} from '../../src/core/revocation-list.js'

const REFERENCE_EXAMPLE = `{"revoked_tokens": {"m": 2432, "k": 17, "bits": [0, 2048, 8796093022208]},
 "revoked_users": [{"id": "4156e19046cc48bb8e95f5b3bea00c78", "revoked_at": "2021-10-17T17:05:49.556462544Z"}]}`

// Exact as doubles (each word has few set bits), so BigInt(number) is lossless here.
const PY_WORDS = [
  0, 0, 0, 0, 0, 0, 2048, 8796093022208, 2048, 8796093024256, 8796093022208, 2048, 8796093024256, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 134217728, 576460752303423488, 0, 576460752437641216,
  576460752303423488, 134217728, 576460752437641216, 0, 0, 0, 0, 0, 0, 0,
].map(BigInt)

function assertBadResponse(fn: () => unknown, label?: string): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof IamError && err.code === 'ERR_IAM_BAD_RESPONSE',
    label,
  )
}

/** JSON.stringify that writes bigints as raw digits, as the IAM writes uint64 words. */
function rawJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? { $big: v.toString() } : v,
  ).replace(/\{"\$big":"(-?\d+)"\}/g, '$1')
}

function body(tokens: unknown, users: unknown = []): string {
  return rawJson({ revoked_tokens: tokens, revoked_users: users })
}

function listWith(users: Record<string, number>): RevocationList {
  return { revokedTokens: new BloomFilter([0n], 1), revokedUsers: new Map(Object.entries(users)) }
}

describe('parseRevocationList', () => {
  it('reads uint64 words losslessly', () => {
    const list = parseRevocationList(
      '{"revoked_tokens":{"m":128,"k":1,"bits":[18446744073709551615,9007199254740993]},"revoked_users":[]}',
    )
    assert.deepEqual(list.revokedTokens.words(), [18446744073709551615n, 9007199254740993n])
    const full = parseRevocationList(body({ k: 20, bits: [18446744073709551615n] }))
    assert.equal(full.revokedTokens.mightContain('anything'), true)
  })

  it('reads the reference example', () => {
    const list = parseRevocationList(REFERENCE_EXAMPLE)
    assert.equal(list.revokedTokens.k, 17)
    assert.deepEqual(list.revokedTokens.words(), [0n, 2048n, 8796093022208n])
    assert.deepEqual([...list.revokedUsers], [['4156e19046cc48bb8e95f5b3bea00c78', 1634490349556]])
  })

  it('ignores an m that is not 64 * bits.length (Go bloom.From)', () => {
    // The reference example says m 2432 for 3 words.
    assert.equal(parseRevocationList(REFERENCE_EXAMPLE).revokedTokens.m, 192)
    const list = parseRevocationList(body({ m: 64, k: 17, bits: PY_WORDS }))
    assert.equal(list.revokedTokens.m, 2432)
    assert.equal(list.revokedTokens.mightContain('test_item'), true)
    assert.equal(list.revokedTokens.mightContain('foo'), false)
    assert.equal(parseRevocationList(body({ k: 1, bits: [1] })).revokedTokens.m, 64)
    assert.equal(parseRevocationList(body({ m: null, k: 1, bits: [1] })).revokedTokens.m, 64)
  })

  it('reads revoked_users: null as empty', () => {
    assert.equal(parseRevocationList(body({ m: 64, k: 1, bits: [0] }, null)).revokedUsers.size, 0)
  })

  it('keeps the latest time of a user listed twice', () => {
    const list = parseRevocationList(
      body({ k: 1, bits: [0] }, [
        { id: 'u', revoked_at: '2021-01-01T00:00:02Z' },
        { id: 'u', revoked_at: '2021-01-01T00:00:05Z' },
        { id: 'u', revoked_at: '2021-01-01T00:00:03Z' },
      ]),
    )
    assert.equal(list.revokedUsers.get('u'), Date.UTC(2021, 0, 1, 0, 0, 5))
  })

  it('ignores unknown fields', () => {
    const list = parseRevocationList(
      body({ k: 2, bits: [5], extra: 'x' }, [
        { id: 'a', revoked_at: '2020-01-01T00:00:00Z', x: 1 },
      ]),
    )
    assert.equal(list.revokedTokens.k, 2)
    assert.equal(list.revokedUsers.size, 1)
  })

  it('rejects every malformed shape with ERR_IAM_BAD_RESPONSE', () => {
    const ok = { m: 64, k: 1, bits: [0] }
    const cases: Array<[string, string]> = [
      ['not JSON', '{"revoked_tokens":'],
      ['empty body', ''],
      ['trailing garbage', `${body(ok)} x`],
      ['array root', '[]'],
      ['null root', 'null'],
      ['number root', '1'],
      ['duplicate key', '{"revoked_tokens":{"k":1,"k":2,"bits":[0]},"revoked_users":[]}'],
      ['revoked_tokens missing', JSON.stringify({ revoked_users: [] })],
      ['revoked_tokens null', body(null)],
      ['revoked_tokens array', body([])],
      ['k missing', body({ bits: [0] })],
      ['k zero', body({ k: 0, bits: [0] })],
      ['k negative', body({ k: -1, bits: [0] })],
      ['k fraction', body({ k: 1.5, bits: [0] })],
      ['k with exponent', '{"revoked_tokens":{"k":1e1,"bits":[0]},"revoked_users":[]}'],
      ['k as 1.0', '{"revoked_tokens":{"k":1.0,"bits":[0]},"revoked_users":[]}'],
      ['k string', body({ k: '7', bits: [0] })],
      ['k too large', body({ k: 256, bits: [0] })],
      ['k huge', '{"revoked_tokens":{"k":18446744073709551616,"bits":[0]},"revoked_users":[]}'],
      ['m string', body({ m: '64', k: 1, bits: [0] })],
      ['m negative', body({ m: -64, k: 1, bits: [0] })],
      ['bits missing', body({ m: 64, k: 1 })],
      ['bits null', body({ m: 64, k: 1, bits: null })],
      ['bits empty', body({ m: 0, k: 1, bits: [] })],
      ['bits object', body({ k: 1, bits: { 0: 1 } })],
      ['bits negative', body({ k: 1, bits: [-1] })],
      ['bits fraction', body({ k: 1, bits: [0.5] })],
      ['bits string', body({ k: 1, bits: ['1'] })],
      ['bits null word', body({ k: 1, bits: [null] })],
      ['bits -0', '{"revoked_tokens":{"k":1,"bits":[-0]},"revoked_users":[]}'],
      [
        'bits above 2^64-1',
        '{"revoked_tokens":{"k":1,"bits":[18446744073709551616]},"revoked_users":[]}',
      ],
      ['revoked_users missing', JSON.stringify({ revoked_tokens: ok })],
      ['revoked_users object', body(ok, {})],
      ['revoked_users string', body(ok, 'u')],
      ['user null', body(ok, [null])],
      ['user array', body(ok, [['u', '2021-10-17T17:05:49Z']])],
      ['id missing', body(ok, [{ revoked_at: '2021-10-17T17:05:49Z' }])],
      ['id number', body(ok, [{ id: 1, revoked_at: '2021-10-17T17:05:49Z' }])],
      ['revoked_at missing', body(ok, [{ id: 'u' }])],
      ['revoked_at number', body(ok, [{ id: 'u', revoked_at: 1634490349 }])],
      ['revoked_at bad', body(ok, [{ id: 'u', revoked_at: 'yesterday' }])],
    ]
    for (const [label, text] of cases) assertBadResponse(() => parseRevocationList(text), label)
    assertBadResponse(() => parseRevocationList(undefined as unknown as string), 'undefined')
  })

  it('throws nothing but ERR_IAM_BAD_RESPONSE for arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseRevocationList(JSON.stringify(value))
        } catch (err) {
          assert.ok(err instanceof IamError && err.code === 'ERR_IAM_BAD_RESPONSE', String(err))
        }
      }),
    )
  })

  it('throws nothing but ERR_IAM_BAD_RESPONSE for near-valid bodies', () => {
    const word = fc.oneof(fc.bigInt({ min: -5n, max: 1n << 65n }), fc.double(), fc.jsonValue())
    const user = fc.oneof(
      fc.record({
        id: fc.oneof(fc.string(), fc.jsonValue()),
        revoked_at: fc.oneof(fc.string(), fc.jsonValue()),
      }),
      fc.jsonValue(),
    )
    const tokens = fc.record(
      {
        m: fc.jsonValue(),
        k: fc.oneof(fc.integer({ min: -2, max: 300 }), fc.jsonValue()),
        bits: fc.array(word),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(tokens, fc.oneof(fc.array(user), fc.jsonValue()), (t, u) => {
        const text = body(t, u)
        try {
          parseRevocationList(text)
        } catch (err) {
          assert.ok(err instanceof IamError && err.code === 'ERR_IAM_BAD_RESPONSE', String(err))
        }
      }),
    )
  })

  it('throws nothing but ERR_IAM_BAD_RESPONSE for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), (text) => {
        try {
          parseRevocationList(text)
        } catch (err) {
          assert.ok(err instanceof IamError && err.code === 'ERR_IAM_BAD_RESPONSE', String(err))
        }
      }),
    )
    assertBadResponse(() => parseRevocationList('['.repeat(100_000)), 'deep nesting')
  })
})

describe('revoked_at (RFC 3339)', () => {
  it('truncates fractions to milliseconds (docs/iam-wire-protocol.md §4.4)', () => {
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49.556462544Z'), 1634490349556)
    assert.equal(parseRfc3339Ms('2020-02-02T02:02:02.02020202Z'), 1580608922020)
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49.5Z'), 1634490349500)
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49.9999Z'), 1634490349999)
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49Z'), 1634490349000)
  })

  it('applies numeric offsets', () => {
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49.556+07:00'), 1634490349556 - 7 * 3_600_000)
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49.556-02:30'), 1634490349556 + 150 * 60_000)
    assert.equal(parseRfc3339Ms('2021-10-17T17:05:49+00:00'), 1634490349000)
  })

  it('handles calendar edges', () => {
    assert.equal(parseRfc3339Ms('1970-01-01T00:00:00Z'), 0)
    assert.equal(parseRfc3339Ms('1969-12-31T23:59:59.5Z'), -500)
    assert.equal(parseRfc3339Ms('2000-02-29T00:00:00Z'), Date.UTC(2000, 1, 29))
    assert.equal(parseRfc3339Ms('0001-01-01T00:00:00Z'), -62135596800000)
    assert.equal(parseRfc3339Ms('9999-12-31T23:59:59.999Z'), 253402300799999)
  })

  it('agrees with Date for any millisecond instant', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0000-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (d) => {
          assert.equal(parseRfc3339Ms(d.toISOString()), d.getTime())
        },
      ),
    )
  })

  it('rejects malformed timestamps', () => {
    for (const text of [
      '',
      '2021-10-17',
      '2021-10-17 17:05:49Z',
      '2021-10-17t17:05:49Z',
      '2021-10-17T17:05:49z',
      '2021-10-17T17:05:49',
      '2021-10-17T17:05:49.Z',
      '2021-10-17T17:05:49.556',
      '2021-10-17T17:05:49+0700',
      '2021-10-17T17:05Z',
      '21-10-17T17:05:49Z',
      '2021-13-17T17:05:49Z',
      '2021-00-17T17:05:49Z',
      '2021-02-29T17:05:49Z',
      '2021-04-31T17:05:49Z',
      '2021-10-00T17:05:49Z',
      '2021-10-17T24:00:00Z',
      '2021-10-17T17:60:49Z',
      '2021-10-17T17:05:60Z',
      '2021-10-17T17:05:49+24:00',
      '2021-10-17T17:05:49+07:60',
      ' 2021-10-17T17:05:49Z',
      '2021-10-17T17:05:49Z\n',
      '２021-10-17T17:05:49Z',
    ]) {
      assert.equal(parseRfc3339Ms(text), undefined, text)
    }
  })
})

describe('isUserRevoked', () => {
  const revokedAt = Date.UTC(2021, 9, 17, 17, 5, 49, 556) // …49.556Z
  const iatSameSecond = Math.floor(revokedAt / 1000)
  const list = listWith({ alice: revokedAt })

  it('revokes a token issued in the same second as the revocation', () => {
    assert.equal(isUserRevoked(list, 'alice', iatSameSecond), true)
    assert.equal(isUserRevoked(list, 'alice', iatSameSecond - 3600), true)
  })

  it('does not revoke a token issued one second after the revocation second', () => {
    assert.equal(isUserRevoked(list, 'alice', iatSameSecond + 1), false)
  })

  it('is decided in whole seconds: revoked_at one second earlier than iat is not revoked', () => {
    const earlier = listWith({ alice: (iatSameSecond - 1) * 1000 + 999 })
    assert.equal(isUserRevoked(earlier, 'alice', iatSameSecond), false)
    const exact = listWith({ alice: iatSameSecond * 1000 })
    assert.equal(isUserRevoked(exact, 'alice', iatSameSecond), true)
  })

  it('truncates a fractional iat like Go', () => {
    assert.equal(isUserRevoked(list, 'alice', iatSameSecond + 0.9), true)
    assert.equal(isUserRevoked(list, 'alice', iatSameSecond + 1.2), false)
  })

  it('answers false for unlisted users and a missing sub', () => {
    assert.equal(isUserRevoked(list, 'bob', iatSameSecond), false)
    assert.equal(isUserRevoked(list, undefined, iatSameSecond), false)
  })

  it("revokes a listed user's token without a usable iat (read as 0, as Go), failing closed", () => {
    assert.equal(isUserRevoked(list, 'alice', undefined), true)
    assert.equal(isUserRevoked(list, 'alice', Number.NaN), true)
  })
})

describe('serializeRevocationList', () => {
  it('writes the exact wire JSON', () => {
    const filter = BloomFilter.withCapacity(100, 0.01)
    filter.add('this_is_a_test_string')
    const text = serializeRevocationList({
      revokedTokens: new BloomFilter([0n, 18446744073709551615n], 3),
      revokedUsers: [{ id: 'u1', revokedAtMs: 1634490349556 }],
    })
    assert.equal(
      text,
      '{"revoked_tokens":{"m":128,"k":3,"bits":[0,18446744073709551615]},' +
        '"revoked_users":[{"id":"u1","revoked_at":"2021-10-17T17:05:49.556000000Z"}]}',
    )
  })

  it('writes revoked_users as an empty array, never null', () => {
    const text = serializeRevocationList({
      revokedTokens: new BloomFilter([7n], 1),
      revokedUsers: new Map<string, number>().entries() as unknown as Iterable<{
        id: string
        revokedAtMs: number
      }>,
    })
    assert.equal(text, '{"revoked_tokens":{"m":64,"k":1,"bits":[7]},"revoked_users":[]}')
  })

  it('round-trips through parseRevocationList', () => {
    const id = fc.string({ unit: 'binary' })
    const ms = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 })
    const words = fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), {
      minLength: 1,
      maxLength: 20,
    })
    fc.assert(
      fc.property(
        words,
        fc.integer({ min: 1, max: 255 }),
        fc.uniqueArray(fc.record({ id, revokedAtMs: ms }), { selector: (u) => u.id }),
        (w, k, users) => {
          const filter = new BloomFilter(w, k)
          const list = parseRevocationList(
            serializeRevocationList({ revokedTokens: filter, revokedUsers: users }),
          )
          assert.deepEqual(list.revokedTokens.words(), w)
          assert.equal(list.revokedTokens.k, k)
          assert.deepEqual(list.revokedUsers, new Map(users.map((u) => [u.id, u.revokedAtMs])))
        },
      ),
    )
  })

  it('round-trips a filled filter: revoked tokens stay revoked', () => {
    const filter = BloomFilter.withCapacity(1000, 0.001)
    const tokens = Array.from({ length: 50 }, (_, i) => `token-${i}`)
    for (const t of tokens) filter.add(t)
    const list = parseRevocationList(
      serializeRevocationList({ revokedTokens: filter, revokedUsers: [] }),
    )
    assert.equal(list.revokedTokens.m, filter.m)
    for (const t of tokens) assert.equal(list.revokedTokens.mightContain(t), true)
  })

  it('rejects bad users', () => {
    const revokedTokens = new BloomFilter([0n], 1)
    for (const revokedAtMs of [1.5, Number.NaN, 253_402_300_800_000, -62_167_219_200_001]) {
      assert.throws(
        () => serializeRevocationList({ revokedTokens, revokedUsers: [{ id: 'u', revokedAtMs }] }),
        RangeError,
      )
    }
    assert.throws(
      () =>
        serializeRevocationList({
          revokedTokens,
          revokedUsers: [{ id: 1 as unknown as string, revokedAtMs: 0 }],
        }),
      TypeError,
    )
  })
})
