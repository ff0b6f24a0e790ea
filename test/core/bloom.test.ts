import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { BloomFilter } from '../../src/core/bloom.js'
import { execFileSync } from 'node:child_process'
import { murmur3x64_128, murmur3x64_128StringWasm } from '../../src/core/murmur3.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const MASK64 = (1n << 64n) - 1n

// Straightforward BigInt MurmurHash3_x64_128 (seed 0), an independent oracle for the int32 version.
function oracleMurmur(data: Uint8Array): { h1: bigint; h2: bigint } {
  const c1 = 0x87c37b91114253d5n
  const c2 = 0x4cf5ad432745937fn
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK64
  const fmix = (k: bigint): bigint => {
    k ^= k >> 33n
    k = (k * 0xff51afd7ed558ccdn) & MASK64
    k ^= k >> 33n
    k = (k * 0xc4ceb9fe1a85ec53n) & MASK64
    return k ^ (k >> 33n)
  }
  const word = (at: number, n: number): bigint => {
    let v = 0n
    for (let j = n - 1; j >= 0; j--) v = (v << 8n) | BigInt(data[at + j] as number)
    return v
  }
  let h1 = 0n
  let h2 = 0n
  const blocks = Math.floor(data.length / 16)
  for (let b = 0; b < blocks; b++) {
    let k1 = word(b * 16, 8)
    let k2 = word(b * 16 + 8, 8)
    k1 = (rotl((k1 * c1) & MASK64, 31n) * c2) & MASK64
    h1 ^= k1
    h1 = (rotl(h1, 27n) + h2) & MASK64
    h1 = (h1 * 5n + 0x52dce729n) & MASK64
    k2 = (rotl((k2 * c2) & MASK64, 33n) * c1) & MASK64
    h2 ^= k2
    h2 = (rotl(h2, 31n) + h1) & MASK64
    h2 = (h2 * 5n + 0x38495ab5n) & MASK64
  }
  const rest = data.length % 16
  const at = blocks * 16
  if (rest > 8) h2 ^= (rotl((word(at + 8, rest - 8) * c2) & MASK64, 33n) * c1) & MASK64
  if (rest > 0) h1 ^= (rotl((word(at, Math.min(rest, 8)) * c1) & MASK64, 31n) * c2) & MASK64
  const len = BigInt(data.length)
  h1 ^= len
  h2 ^= len
  h1 = (h1 + h2) & MASK64
  h2 = (h2 + h1) & MASK64
  h1 = fmix(h1)
  h2 = fmix(h2)
  h1 = (h1 + h2) & MASK64
  h2 = (h2 + h1) & MASK64
  return { h1, h2 }
}

// MURMUR128_MITZ_64 written with BigInt, straight from docs/iam-wire-protocol.md#42-hashing.
function oracleIndexes(item: string, m: number, k: number): number[] {
  const { h1, h2 } = oracleMurmur(utf8(item))
  let combined = BigInt.asIntN(64, h1)
  const out: number[] = []
  for (let i = 0; i < k; i++) {
    out.push(Number((combined & 0x7fffffffffffffffn) % BigInt(m)))
    combined = BigInt.asIntN(64, combined + BigInt.asIntN(64, h2))
  }
  return out
}

// Strings including lone surrogates and non-BMP code points.
const anyString = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 80,
})

const PY_WORDS = [
  0, 0, 0, 0, 0, 0, 2048, 8796093022208, 2048, 8796093024256, 8796093022208, 2048, 8796093024256, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 134217728, 576460752303423488, 0, 576460752437641216,
  576460752303423488, 134217728, 576460752437641216, 0, 0, 0, 0, 0, 0, 0,
].map(BigInt)

const S1 = 'this_is_a_test_string'
const S2 = 'this_is_another_test_string'
const S3 =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ'
const S4 = 'd' + S3.slice(1)

describe('murmur3x64_128', () => {
  it('matches the test vector of docs/iam-wire-protocol.md §4.5', () => {
    assert.deepEqual(murmur3x64_128(utf8(S1)), {
      h1: 13656344231843416550n,
      h2: 8559741857215930421n,
    })
  })

  it('matches the Guava vector and the empty input', () => {
    // Guava Murmur3_128HashFunctionTest
    assert.deepEqual(murmur3x64_128(utf8('The quick brown fox jumps over the lazy dog')), {
      h1: 0xe34bbc7bbc071b6cn,
      h2: 0x7a433ca9c49a9347n,
    })
    assert.deepEqual(murmur3x64_128(new Uint8Array(0)), { h1: 0n, h2: 0n })
  })

  it('agrees with a BigInt implementation for any bytes, length and offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(7), (bytes, offset) => {
        // Copy behind `offset` junk bytes so the view starts mid-buffer.
        const backing = new Uint8Array(offset + bytes.length).fill(0xa5)
        backing.set(bytes, offset)
        assert.deepEqual(murmur3x64_128(backing.subarray(offset)), oracleMurmur(bytes))
      }),
      { numRuns: 500 },
    )
  })
})

describe('murmur3x64_128 in WebAssembly', () => {
  const viaWasm = (s: string): { h1: bigint; h2: bigint } | undefined => {
    const out = new Uint32Array(4)
    if (!murmur3x64_128StringWasm(s, out)) return undefined
    const [h1h, h1l, h2h, h2l] = [...out].map(BigInt) as [bigint, bigint, bigint, bigint]
    return { h1: (h1h << 32n) | h1l, h2: (h2h << 32n) | h2l }
  }

  it('matches the vectors', () => {
    assert.deepEqual(viaWasm('The quick brown fox jumps over the lazy dog'), {
      h1: 0xe34bbc7bbc071b6cn,
      h2: 0x7a433ca9c49a9347n,
    })
    assert.deepEqual(viaWasm(''), { h1: 0n, h2: 0n })
  })

  it('agrees with the BigInt implementation for any string (UTF-8, lone surrogates), any tail', () => {
    // A long string first leaves bytes behind in the module's memory: a short one must not read them.
    viaWasm('x'.repeat(300))
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (s) => {
        assert.deepEqual(viaWasm(s), oracleMurmur(Buffer.from(s, 'utf8')))
      }),
      { numRuns: 1000 },
    )
  })

  it('declines what does not fit its memory, which the JavaScript hash then takes', () => {
    assert.equal(viaWasm('a'.repeat(65_504)) !== undefined, true)
    assert.equal(viaWasm('a'.repeat(65_505)), undefined)
    const long = 'é'.repeat(40_000)
    assert.equal(viaWasm(long), undefined)
    const filter = BloomFilter.withCapacity(10, 0.01)
    filter.add(long)
    assert.equal(filter.mightContain(long), true)
  })

  it('is compiled from murmur3.wat as it is now (npm run build:wasm)', () => {
    execFileSync(process.execPath, ['scripts/build-wasm.js', '--check'], { stdio: 'pipe' })
  })

  it('leaves the bloom filter working without WebAssembly (node --jitless)', () => {
    const script = `
      const { BloomFilter } = await import('./src/core/bloom.ts')
      const f = BloomFilter.withCapacity(100, 0.01)
      f.add('revoked-token')
      console.log(typeof WebAssembly, f.mightContain('revoked-token'), f.mightContain('other'))`
    const out = execFileSync(
      process.execPath,
      ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    )
    assert.equal(out.trim(), 'undefined true false')
  })
})

describe('BloomFilter indexes (MURMUR128_MITZ_64)', () => {
  it('Indexes("this_is_a_test_string", 9600, 7)', () => {
    const filter = new BloomFilter(new BigUint64Array(9600 / 64), 7)
    assert.deepEqual(filter.indexes(S1), [3942, 6555, 9168, 2181, 4794, 7407, 420])
  })

  it('agree with the BigInt strategy for small and large m', () => {
    // Up to m = 2^21 the index takes one float step, above it two; at m = 2^26 + 64 a single
    // step would round (top * 2^32 exceeds 2^53), so that size checks the switch-over.
    for (const words of [1, 38, 150, 2 ** 15, 2 ** 15 + 1, 2 ** 20 + 1]) {
      const filter = new BloomFilter(new BigUint64Array(words), 9)
      fc.assert(
        fc.property(anyString, (s) => {
          assert.deepEqual(filter.indexes(s), oracleIndexes(s, filter.m, 9))
        }),
        { numRuns: 150 },
      )
    }
  })
})

describe('BloomFilter against the Python mock filter (m 2432, k 17)', () => {
  const filter = new BloomFilter(PY_WORDS, 17)

  it('has m = 64 * words', () => {
    assert.equal(filter.m, 2432)
    assert.equal(filter.k, 17)
  })

  it('contains test_item and not foo', () => {
    assert.equal(filter.mightContain('test_item'), true)
    assert.equal(filter.mightContain('foo'), false)
  })

  it('computes the reference index lists', () => {
    const testItem = [
      779, 1947, 683, 1851, 587, 1755, 491, 1659, 395, 1563, 811, 1979, 715, 1883, 619, 1787, 523,
    ]
    assert.deepEqual(filter.indexes('test_item'), testItem)
    assert.deepEqual(
      filter.indexes('foo'),
      [
        1121, 488, 2287, 1654, 1021, 388, 2187, 1554, 921, 288, 2087, 1454, 821, 188, 1987, 1354,
        721,
      ],
    )
    // The 17 test_item indexes are exactly the set bits of the word list.
    const setBits: number[] = []
    PY_WORDS.forEach((word, w) => {
      for (let b = 0; b < 64; b++) if ((word >> BigInt(b)) & 1n) setBits.push(w * 64 + b)
    })
    assert.deepEqual(
      setBits,
      [...testItem].sort((a, b) => a - b),
    )
  })
})

describe('BloomFilter.withCapacity (bloom.NewWithFPP)', () => {
  it('sizes like the server', () => {
    for (const [n, p, m, k] of [
      [1000, 0.01, 9600, 7],
      [10000, 0.03, 73024, 5],
      [1024, 0.01, 9856, 7],
      [100, 0.01, 960, 7],
    ] as const) {
      const filter = BloomFilter.withCapacity(n, p)
      assert.deepEqual([filter.m, filter.k], [m, k], `NewWithFPP(${n}, ${p})`)
      assert.deepEqual(filter.words(), new Array<bigint>(m / 64).fill(0n))
    }
  })

  it('gives m > 0 for n = 0 and for p = 0', () => {
    const empty = BloomFilter.withCapacity(0, 0.01)
    assert.ok(empty.m > 0 && empty.m % 64 === 0)
    const zero = BloomFilter.withCapacity(1, 0)
    assert.ok(zero.m > 0 && zero.m % 64 === 0)
    assert.ok(zero.k >= 1 && zero.k <= 255)
    const one = BloomFilter.withCapacity(5, 1)
    assert.deepEqual([one.m, one.k], [64, 1])
  })

  it('rejects out-of-range arguments with RangeError', () => {
    for (const [n, p] of [
      [-1, 0.01],
      [1.5, 0.01],
      [Number.NaN, 0.01],
      [10, -0.1],
      [10, 1.5],
      [10, Number.NaN],
      [2 ** 40, 1e-9],
    ]) {
      assert.throws(() => BloomFilter.withCapacity(n as number, p as number), RangeError)
    }
  })
})

describe('BloomFilter put / contains (bloom_test.go)', () => {
  const expectedWords = [
    17592186044416n,
    274877906944n,
    0n,
    67108864n,
    288n,
    0n,
    68719476736n,
    0n,
    9007199254806528n,
    34359738368n,
    140737488486400n,
    0n,
    134217728n,
    0n,
    4899916394579099648n,
  ]

  it('NewWithFPP(100, 0.01) with s1 and s3', () => {
    const filter = BloomFilter.withCapacity(100, 0.01)
    assert.deepEqual(filter.indexes(S1), [102, 795, 528, 261, 954, 687, 420])
    assert.deepEqual(filter.indexes(S3), [264, 657, 218, 611, 44, 565, 958])
    filter.add(S1)
    filter.add(S3)
    assert.equal(filter.mightContain(S1), true)
    assert.equal(filter.mightContain(S2), false)
    assert.equal(filter.mightContain(S3), true)
    assert.equal(filter.mightContain(S4), false)
    assert.deepEqual(filter.words(), expectedWords)
  })

  it('round-trips through words() like bloom.From(bits, k)', () => {
    const restored = new BloomFilter(expectedWords, 7)
    assert.equal(restored.m, 960)
    assert.equal(restored.mightContain(S1), true)
    assert.equal(restored.mightContain(S2), false)
    assert.equal(restored.mightContain(S3), true)
    assert.equal(restored.mightContain(S4), false)
    assert.deepEqual(new BloomFilter(restored.words(), 7).words(), expectedWords)
    assert.deepEqual(new BloomFilter(BigUint64Array.from(expectedWords), 7).words(), expectedWords)
  })

  it('words() is a copy', () => {
    const filter = new BloomFilter([1n, 2n], 3)
    const words = filter.words()
    words[0] = 99n
    assert.deepEqual(filter.words(), [1n, 2n])
  })
})

describe('BloomFilter bit layout', () => {
  it('bit i is bit i % 64 of word i / 64', () => {
    // k = 1 so each item owns a single bit; 200 items cover both 32-bit halves of the words.
    const words = 5
    for (let n = 0; n < 200; n++) {
      const item = `token-${n}`
      const [index] = new BloomFilter(new BigUint64Array(words), 1).indexes(item) as [number]
      const expected = new Array<bigint>(words).fill(0n)
      expected[Math.floor(index / 64)] = 1n << BigInt(index % 64)

      const filter = new BloomFilter(new BigUint64Array(words), 1)
      filter.add(item)
      assert.deepEqual(filter.words(), expected)
      assert.equal(new BloomFilter(expected, 1).mightContain(item), true)

      const neighbour = [...expected]
      neighbour[Math.floor(index / 64)] = 1n << BigInt((index % 64) ^ 1)
      assert.equal(new BloomFilter(neighbour, 1).mightContain(item), false)
    }
  })

  it('reads every word value exactly, up to 2^64 - 1', () => {
    const full = new BloomFilter([MASK64], 30)
    assert.equal(full.mightContain('anything'), true)
    assert.deepEqual(full.words(), [MASK64])
    assert.deepEqual(new BloomFilter([1n << 63n, 1n << 31n], 1).words(), [1n << 63n, 1n << 31n])
  })
})

describe('BloomFilter constructor validation', () => {
  it('rejects a bad k with TypeError', () => {
    for (const k of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 256]) {
      assert.throws(() => new BloomFilter([0n], k), TypeError, `k = ${k}`)
    }
    assert.equal(new BloomFilter([0n], 255).k, 255)
  })

  it('rejects bad words with TypeError', () => {
    const bad: unknown[] = [
      [],
      [-1n],
      [1n << 64n],
      [1],
      [0n, '1'],
      'abc',
      null,
      new BigInt64Array(1),
    ]
    for (const words of bad) {
      assert.throws(() => new BloomFilter(words as bigint[], 1), TypeError)
    }
  })
})

describe('BloomFilter properties', () => {
  it('any string added is reported present', () => {
    fc.assert(
      fc.property(fc.array(anyString, { minLength: 1, maxLength: 20 }), fc.nat(20), (items, w) => {
        const filter = new BloomFilter(new BigUint64Array(w + 1), 7)
        for (const item of items) filter.add(item)
        for (const item of items) assert.equal(filter.mightContain(item), true)
      }),
    )
  })

  it('mightContain never throws and hashes strings as their UTF-8 (lone surrogates as U+FFFD)', () => {
    const filter = BloomFilter.withCapacity(50, 0.01)
    filter.add('\ud83d\ude00')
    fc.assert(
      fc.property(anyString, (s) => {
        assert.equal(typeof filter.mightContain(s), 'boolean')
        assert.deepEqual(filter.indexes(s), oracleIndexes(s, filter.m, filter.k))
        assert.deepEqual(
          filter.indexes(s),
          filter.indexes(s.replace(/[\uD800-\uDFFF]/gu, '\uFFFD')),
        )
      }),
    )
  })

  it('hashes strings longer than the shared buffer', () => {
    const long = 'é'.repeat(40_000) + 'x' // 80 001 UTF-8 bytes
    const filter = BloomFilter.withCapacity(10, 0.01)
    assert.deepEqual(filter.indexes(long), oracleIndexes(long, filter.m, filter.k))
    filter.add(long)
    assert.equal(filter.mightContain(long), true)
    // The shared buffer still works for short items afterwards.
    assert.deepEqual(filter.indexes(S1), oracleIndexes(S1, filter.m, filter.k))
  })
})

describe('BloomFilter statistics', () => {
  it('bitCount is the population count of the words', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { minLength: 1, maxLength: 8 }),
        (words) => {
          const expected = words.reduce(
            (n, w) => n + [...w.toString(2)].filter((b) => b === '1').length,
            0,
          )
          assert.equal(new BloomFilter(words, 3).bitCount(), expected)
        },
      ),
    )
  })

  it('estimates the false-positive rate and the number of items from the bits set', () => {
    const filter = BloomFilter.withCapacity(1000, 0.01)
    assert.equal(filter.bitCount(), 0)
    assert.equal(filter.falsePositiveRate(), 0)
    assert.equal(filter.approximateItemCount(), 0)
    for (let i = 0; i < 1000; i++) filter.add(`token-${i}`)
    const rate = filter.falsePositiveRate()
    // Filled to capacity: close to the rate it was sized for.
    assert.ok(rate > 0.005 && rate < 0.02, String(rate))
    const items = filter.approximateItemCount()
    assert.ok(items > 950 && items < 1050, String(items))
    assert.equal(new BloomFilter([2n ** 64n - 1n], 2).approximateItemCount(), Infinity)
    assert.equal(new BloomFilter([2n ** 64n - 1n], 2).falsePositiveRate(), 1)
  })
})
