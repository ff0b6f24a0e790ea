/**
 * The revocation bloom filter, bit-compatible with Guava `BloomFilterStrategies.MURMUR128_MITZ_64`,
 * `AccelByte/bloom` and the Python IAM SDK.
 * @module
 */

import { murmur3x64_128Into, murmur3x64_128StringWasm, utf8Encoder } from './murmur3.js'

/** Largest `k` accepted; Guava's own limit. Bounds the work an untrusted list can cause per check. */
const MAX_K = 255
/** Largest number of 64-bit words (m = 2^32 bits, 512 MiB); keeps bit indexes below 2^32. */
const MAX_WORDS = 2 ** 26
/** Below this `m`, `(hi % m) * 2^32 + lo` stays under 2^53, so one float step is exact. */
const SMALL_M = 2 ** 21
/** Token buffers above this are encoded into a throwaway array instead of growing the shared one. */
const MAX_RETAINED_BUFFER = 64 * 1024

let buffer = new Uint8Array(4096)
let view = new DataView(buffer.buffer)
// Digest halves of the last hashed item: [h1 high, h1 low, h2 high, h2 low].
const digest = new Uint32Array(4)

/** Hashes the UTF-8 bytes of `item` into `digest`, reusing one buffer. */
function hashItem(item: string): void {
  if (murmur3x64_128StringWasm(item, digest)) return
  // UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
  const need = item.length * 3
  if (need > buffer.length) {
    if (need > MAX_RETAINED_BUFFER) {
      const bytes = utf8Encoder.encode(item)
      murmur3x64_128Into(new DataView(bytes.buffer, bytes.byteOffset), bytes.length, digest)
      return
    }
    buffer = new Uint8Array(Math.max(need, buffer.length * 2))
    view = new DataView(buffer.buffer)
  }
  // Lone surrogates become U+FFFD (EF BF BD), as with Buffer.from: never throws.
  const { written } = utf8Encoder.encodeInto(item, buffer)
  murmur3x64_128Into(view, written, digest)
}

/**
 * A bloom filter over strings (hashed as UTF-8), as served in `revoked_tokens` of the IAM
 * revocation list.
 *
 * Indexes follow `MURMUR128_MITZ_64`: `(h1, h2) = murmur3_x64_128(bytes)`, `combined = h1`, and for
 * each of the `k` hashes `index = (combined & 0x7fff_ffff_ffff_ffff) % m; combined += h2` (wrapping
 * 64-bit). Bit `i` is bit `i % 64` (LSB first) of word `i / 64`. `m` is always `64 * words.length`:
 * a JSON `m` is ignored, as Go's `bloom.From` does.
 *
 * @example
 * ```ts
 * const filter = new BloomFilter([0n, 2048n, 8796093022208n], 17)
 * if (filter.mightContain(accessToken)) throw new Error('token revoked')
 * ```
 */
export class BloomFilter {
  /** Number of bits, always `64 * words.length`. */
  readonly m: number
  /** Number of hash functions (indexes per item). */
  readonly k: number
  // Word w is stored as [low half, high half] at [2w, 2w + 1], so bit i lives in u32[i >>> 5].
  readonly #bits: Uint32Array
  readonly #smallM: boolean

  /**
   * Builds a filter from its 64-bit words (e.g. `revoked_tokens.bits`) and `k`.
   *
   * @param words - the bit words, each an unsigned 64-bit value; at least one
   * @param k - number of hash functions, an integer in `[1, 255]`
   * @throws TypeError when `k` or `words` is invalid
   */
  constructor(words: readonly bigint[] | BigUint64Array, k: number) {
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
      throw new TypeError(`k must be an integer in [1, ${MAX_K}], got ${String(k)}`)
    }
    const isTyped = words instanceof BigUint64Array
    if (!isTyped && !Array.isArray(words)) throw new TypeError('words must be an array of bigint')
    const count = words.length
    if (count < 1 || count > MAX_WORDS) {
      throw new TypeError(`words must hold between 1 and ${MAX_WORDS} words, got ${count}`)
    }
    const bits = new Uint32Array(count * 2)
    for (let w = 0; w < count; w++) {
      const word = words[w]
      if (typeof word !== 'bigint' || word < 0n || word > 0xffffffffffffffffn) {
        throw new TypeError(`words[${w}] must be a bigint in [0, 2^64 - 1]`)
      }
      bits[2 * w] = Number(word & 0xffffffffn)
      bits[2 * w + 1] = Number(word >> 32n)
    }
    this.m = count * 64
    this.k = k
    this.#bits = bits
    this.#smallM = this.m <= SMALL_M
  }

  /**
   * An empty filter sized like the IAM server does (`bloom.NewWithFPP`):
   * `m_raw = trunc(-n·ln p / (ln 2)^2)`, `k = max(1, floor(0.5 + m_raw / n · ln 2))`, `m` = `m_raw`
   * rounded up to a multiple of 64, with `n = max(n, 1)`.
   *
   * Where Go's arithmetic breaks down we pick safe values: `p = 0` is taken as the smallest
   * positive double (Go converts +Inf to an unsigned integer, platform-dependently), `k` is capped
   * at 255, and `m` is at least 64 (Go would give `m = 0` for `p = 1` and then divide by zero).
   *
   * @param expectedItems - expected number of insertions `n`, a non-negative safe integer
   * @param falsePositiveRate - target false-positive probability `p`, in `[0, 1]`
   * @throws RangeError when an argument is out of range or the filter would exceed 2^32 bits
   *
   * @example
   * ```ts
   * const filter = BloomFilter.withCapacity(1000, 0.01) // m = 9600, k = 7
   * filter.add(revokedToken)
   * ```
   */
  static withCapacity(expectedItems: number, falsePositiveRate: number): BloomFilter {
    if (!Number.isSafeInteger(expectedItems) || expectedItems < 0) {
      throw new RangeError('expectedItems must be a non-negative safe integer')
    }
    if (!(falsePositiveRate >= 0 && falsePositiveRate <= 1)) {
      throw new RangeError('falsePositiveRate must be a number in [0, 1]')
    }
    const n = Math.max(expectedItems, 1)
    const p = Math.max(falsePositiveRate, Number.MIN_VALUE)
    // Same operation order as Go, so the float results (and the truncations) agree.
    const mRaw = Math.max(0, Math.trunc((-1 * n * Math.log(p)) / (Math.LN2 * Math.LN2)))
    const k = Math.min(MAX_K, Math.max(1, Math.floor(0.5 + (mRaw / n) * Math.LN2)))
    const words = Math.max(1, Math.ceil(mRaw / 64))
    if (words > MAX_WORDS) throw new RangeError('the filter would exceed 2^32 bits')
    return new BloomFilter(new BigUint64Array(words), k)
  }

  /** Sets the `k` bits of `item` (its UTF-8 bytes). */
  add(item: string): void {
    hashItem(item)
    const bits = this.#bits
    let hi = digest[0] as number
    let lo = digest[1] as number
    const h2hi = digest[2] as number
    const h2lo = digest[3] as number
    for (let i = 0; i < this.k; i++) {
      const index = this.#index(hi, lo)
      bits[index >>> 5] = (bits[index >>> 5] as number) | (1 << (index & 31))
      const sum = (lo + h2lo) | 0
      hi = (hi + h2hi + (((lo & h2lo) | ((lo | h2lo) & ~sum)) >>> 31)) >>> 0 // carry, branch-free
      lo = sum >>> 0
    }
  }

  /**
   * True when all `k` bits of `item` (its UTF-8 bytes) are set: the item may have been added.
   * False means it certainly was not. Allocation-free apart from string encoding.
   *
   * @example
   * ```ts
   * filter.mightContain('this_is_a_test_string')
   * ```
   */
  mightContain(item: string): boolean {
    hashItem(item)
    const bits = this.#bits
    let hi = digest[0] as number
    let lo = digest[1] as number
    const h2hi = digest[2] as number
    const h2lo = digest[3] as number
    for (let i = 0; i < this.k; i++) {
      const index = this.#index(hi, lo)
      if (((bits[index >>> 5] as number) & (1 << (index & 31))) === 0) return false
      const sum = (lo + h2lo) | 0
      hi = (hi + h2hi + (((lo & h2lo) | ((lo | h2lo) & ~sum)) >>> 31)) >>> 0 // carry, branch-free
      lo = sum >>> 0
    }
    return true
  }

  /**
   * The `k` bit indexes of `item`, in hash order (Go `Strategy.Indexes`). For tests and
   * explanations; the checks above do not allocate this array.
   */
  indexes(item: string): number[] {
    hashItem(item)
    const out: number[] = []
    let hi = digest[0] as number
    let lo = digest[1] as number
    const h2hi = digest[2] as number
    const h2lo = digest[3] as number
    for (let i = 0; i < this.k; i++) {
      out.push(this.#index(hi, lo))
      const sum = (lo + h2lo) | 0
      hi = (hi + h2hi + (((lo & h2lo) | ((lo | h2lo) & ~sum)) >>> 31)) >>> 0 // carry, branch-free
      lo = sum >>> 0
    }
    return out
  }

  /**
   * Number of bits set. The fill ratio `bitCount() / m` drives the false-positive rate.
   *
   * @example
   * ```ts
   * const filter = BloomFilter.withCapacity(1000, 0.01)
   * filter.add('token')
   * filter.bitCount() // at most filter.k
   * ```
   */
  bitCount(): number {
    let count = 0
    for (const word of this.#bits) {
      // Population count of a 32-bit word (Hacker's Delight 5-2).
      let v = word - ((word >>> 1) & 0x55555555)
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
      count += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
    }
    return count
  }

  /**
   * Probability, given the bits set now, that an item never added is reported as present:
   * `(bitCount / m)^k`.
   *
   * @example
   * ```ts
   * BloomFilter.withCapacity(1000, 0.01).falsePositiveRate() // 0: nothing added yet
   * ```
   */
  falsePositiveRate(): number {
    return (this.bitCount() / this.m) ** this.k
  }

  /**
   * Estimated number of distinct items added, from the bits set (Swamidass and Baldi):
   * `-m / k * ln(1 - bitCount / m)`, rounded; `Infinity` when every bit is set.
   *
   * @example
   * ```ts
   * const filter = BloomFilter.withCapacity(1000, 0.01)
   * filter.add('a')
   * filter.add('b')
   * filter.approximateItemCount() // 2
   * ```
   */
  approximateItemCount(): number {
    const set = this.bitCount()
    if (set === 0) return 0
    if (set === this.m) return Number.POSITIVE_INFINITY
    return Math.round((-this.m / this.k) * Math.log(1 - set / this.m))
  }

  /** A copy of the 64-bit words, for serialisation (`revoked_tokens.bits`). */
  words(): bigint[] {
    const bits = this.#bits
    const out: bigint[] = new Array<bigint>(bits.length / 2)
    for (let w = 0; w < out.length; w++) {
      out[w] = (BigInt(bits[2 * w + 1] as number) << 32n) | BigInt(bits[2 * w] as number)
    }
    return out
  }

  /** `(hi:lo & 0x7fff_ffff_ffff_ffff) % m`, exact in float arithmetic. */
  #index(hi: number, lo: number): number {
    const m = this.m
    const top = (hi & 0x7fffffff) % m
    if (this.#smallM) return (top * 4294967296 + lo) % m
    // m < 2^32: two 16-bit steps keep every intermediate below 2^48.
    const mid = (top * 65536 + (lo >>> 16)) % m
    return (mid * 65536 + (lo & 0xffff)) % m
  }
}
