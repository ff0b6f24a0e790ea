/**
 * MurmurHash3 x64 128-bit (seed 0), the hash behind the IAM revocation bloom filter
 * (`spaolacci/murmur3.Sum128`, Python `mmh3.hash64`, Guava `murmur3_128`).
 *
 * Each 64-bit lane is a pair of int32 halves (`…h` high, `…l` low) and products are assembled
 * from 16-bit limbs with `Math.imul`, so V8 keeps the whole loop in 32-bit registers: no BigInt,
 * no float conversions and no allocation per block.
 * @module
 */

import { WASM_BASE64 } from './wasm/murmur3-wasm.js'

// The 64-bit constants as [high, low] halves; the low halves also as 16-bit limbs (…L1 high, …L0 low).
const C1H = 0x87c37b91 | 0
const C1L = 0x114253d5
const C1L1 = C1L >>> 16
const C1L0 = C1L & 0xffff
const C2H = 0x4cf5ad43
const C2L = 0x2745937f
const C2L1 = C2L >>> 16
const C2L0 = C2L & 0xffff
const F1H = 0xff51afd7 | 0
const F1L = 0xed558ccd | 0
const F2H = 0xc4ceb9fe | 0
const F2L = 0x1a85ec53

// Carries of 64-bit additions are computed branch-free, as bit 31 of
// (a & b) | ((a | b) & ~sum): with random token bytes a `sum < a ? 1 : 0` branch mispredicts half
// the time, which doubled the hash time in measurements.

// [high, low] result of mul64/fmix64. A typed array rather than module `let`s: a module variable
// holding a number outside the small-integer range is boxed on every store.
const r = new Int32Array(2)

/** (ah:al) * (bh:bl) mod 2^64 into r. Used outside the block loop only. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const p01 = Math.imul(a0, b1)
  const p10 = Math.imul(a1, b0)
  const mid = (Math.imul(a0, b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  r[0] =
    Math.imul(a1, b1) +
    (p01 >>> 16) +
    (p10 >>> 16) +
    (mid >>> 16) +
    Math.imul(ah, bl) +
    Math.imul(al, bh)
  r[1] = Math.imul(al, bl)
}

/** fmix64 of (h:l) into r: k ^= k >>> 33; k *= F1; k ^= k >>> 33; k *= F2; k ^= k >>> 33. */
function fmix64(h: number, l: number): void {
  mul64(h, l ^ (h >>> 1), F1H, F1L)
  h = r[0] as number
  mul64(h, (r[1] as number) ^ (h >>> 1), F2H, F2L)
  r[1] = (r[1] as number) ^ ((r[0] as number) >>> 1)
}

/**
 * Hashes the first `length` bytes of `view` and writes the digest into `out` as 32-bit halves:
 * `[h1 high, h1 low, h2 high, h2 low]` (unsigned when `out` is a `Uint32Array`). This is the
 * allocation-free form the bloom filter uses: it keeps one `DataView` over a reused buffer
 * (DataView reads are faster here than byte-wise typed-array reads, and alignment-free).
 *
 * @param view - bytes to hash (only the first `length` are read)
 * @param length - number of bytes to hash, `0 <= length <= view.byteLength`
 * @param out - receives the four halves
 */
export function murmur3x64_128Into(
  view: DataView,
  length: number,
  out: Int32Array | Uint32Array,
): void {
  let h1h = 0
  let h1l = 0
  let h2h = 0
  let h2l = 0
  let k1h = 0
  let k1l = 0
  let k2h = 0
  let k2l = 0
  let t = 0
  let a0 = 0
  let a1 = 0
  let p01 = 0
  let p10 = 0
  let mid = 0
  const blockEnd = length - (length & 15)

  for (let i = 0; i < blockEnd; i += 16) {
    k1l = view.getInt32(i, true)
    k1h = view.getInt32(i + 4, true)
    k2l = view.getInt32(i + 8, true)
    k2h = view.getInt32(i + 12, true)

    // k1 *= C1 (the 64x64 product written out: see mul64)
    a0 = k1l & 0xffff
    a1 = k1l >>> 16
    p01 = Math.imul(a0, C1L1)
    p10 = Math.imul(a1, C1L0)
    mid = (Math.imul(a0, C1L0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
    k1h =
      (Math.imul(a1, C1L1) +
        (p01 >>> 16) +
        (p10 >>> 16) +
        (mid >>> 16) +
        Math.imul(k1h, C1L) +
        Math.imul(k1l, C1H)) |
      0
    k1l = Math.imul(k1l, C1L)
    // k1 = rotl(k1, 31)
    t = k1h
    k1h = (k1h << 31) | (k1l >>> 1)
    k1l = (k1l << 31) | (t >>> 1)
    // k1 *= C2
    a0 = k1l & 0xffff
    a1 = k1l >>> 16
    p01 = Math.imul(a0, C2L1)
    p10 = Math.imul(a1, C2L0)
    mid = (Math.imul(a0, C2L0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
    k1h =
      (Math.imul(a1, C2L1) +
        (p01 >>> 16) +
        (p10 >>> 16) +
        (mid >>> 16) +
        Math.imul(k1h, C2L) +
        Math.imul(k1l, C2H)) |
      0
    k1l = Math.imul(k1l, C2L)
    // h1 ^= k1; h1 = rotl(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729
    h1h ^= k1h
    h1l ^= k1l
    t = h1h
    h1h = (h1h << 27) | (h1l >>> 5)
    h1l = (h1l << 27) | (t >>> 5)
    t = (h1l + h2l) | 0
    h1h = (h1h + h2h + (((h1l & h2l) | ((h1l | h2l) & ~t)) >>> 31)) | 0
    h1l = t
    t = (h1l >>> 0) * 5 + 0x52dce729 // exact: below 2^35
    h1h = (Math.imul(h1h, 5) + ((t / 4294967296) | 0)) | 0
    h1l = t | 0

    // k2 *= C2
    a0 = k2l & 0xffff
    a1 = k2l >>> 16
    p01 = Math.imul(a0, C2L1)
    p10 = Math.imul(a1, C2L0)
    mid = (Math.imul(a0, C2L0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
    k2h =
      (Math.imul(a1, C2L1) +
        (p01 >>> 16) +
        (p10 >>> 16) +
        (mid >>> 16) +
        Math.imul(k2h, C2L) +
        Math.imul(k2l, C2H)) |
      0
    k2l = Math.imul(k2l, C2L)
    // k2 = rotl(k2, 33): swap the halves, then rotate by 1
    t = k2h
    k2h = (k2l << 1) | (t >>> 31)
    k2l = (t << 1) | (k2l >>> 31)
    // k2 *= C1
    a0 = k2l & 0xffff
    a1 = k2l >>> 16
    p01 = Math.imul(a0, C1L1)
    p10 = Math.imul(a1, C1L0)
    mid = (Math.imul(a0, C1L0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
    k2h =
      (Math.imul(a1, C1L1) +
        (p01 >>> 16) +
        (p10 >>> 16) +
        (mid >>> 16) +
        Math.imul(k2h, C1L) +
        Math.imul(k2l, C1H)) |
      0
    k2l = Math.imul(k2l, C1L)
    // h2 ^= k2; h2 = rotl(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5
    h2h ^= k2h
    h2l ^= k2l
    t = h2h
    h2h = (h2h << 31) | (h2l >>> 1)
    h2l = (h2l << 31) | (t >>> 1)
    t = (h2l + h1l) | 0
    h2h = (h2h + h1h + (((h2l & h1l) | ((h2l | h1l) & ~t)) >>> 31)) | 0
    h2l = t
    t = (h2l >>> 0) * 5 + 0x38495ab5 // exact: below 2^35
    h2h = (Math.imul(h2h, 5) + ((t / 4294967296) | 0)) | 0
    h2l = t | 0
  }

  // Tail: up to 15 bytes, little-endian, bytes 0-7 into k1 and 8-15 into k2.
  const rest = length & 15
  if (rest > 0) {
    k1h = 0
    k1l = 0
    k2h = 0
    k2l = 0
    for (let j = 0; j < rest; j++) {
      const b = view.getUint8(blockEnd + j)
      if (j < 4) k1l |= b << (j * 8)
      else if (j < 8) k1h |= b << ((j - 4) * 8)
      else if (j < 12) k2l |= b << ((j - 8) * 8)
      else k2h |= b << ((j - 12) * 8)
    }
    if (rest > 8) {
      // k2 *= C2; k2 = rotl(k2, 33); k2 *= C1; h2 ^= k2
      mul64(k2h, k2l, C2H, C2L)
      k2h = ((r[1] as number) << 1) | ((r[0] as number) >>> 31)
      k2l = ((r[0] as number) << 1) | ((r[1] as number) >>> 31)
      mul64(k2h, k2l, C1H, C1L)
      h2h ^= r[0] as number
      h2l ^= r[1] as number
    }
    // k1 *= C1; k1 = rotl(k1, 31); k1 *= C2; h1 ^= k1
    mul64(k1h, k1l, C1H, C1L)
    k1h = ((r[0] as number) << 31) | ((r[1] as number) >>> 1)
    k1l = ((r[1] as number) << 31) | ((r[0] as number) >>> 1)
    mul64(k1h, k1l, C2H, C2L)
    h1h ^= r[0] as number
    h1l ^= r[1] as number
  }

  // Finalisation: h ^= len (as uint64); h1 += h2; h2 += h1; fmix both; h1 += h2; h2 += h1.
  const lenH = (length / 4294967296) | 0
  h1h ^= lenH
  h1l ^= length
  h2h ^= lenH
  h2l ^= length

  t = (h1l + h2l) | 0
  h1h = (h1h + h2h + (((h1l & h2l) | ((h1l | h2l) & ~t)) >>> 31)) | 0
  h1l = t
  t = (h2l + h1l) | 0
  h2h = (h2h + h1h + (((h2l & h1l) | ((h2l | h1l) & ~t)) >>> 31)) | 0
  h2l = t

  fmix64(h1h, h1l)
  h1h = r[0] as number
  h1l = r[1] as number
  fmix64(h2h, h2l)
  h2h = r[0] as number
  h2l = r[1] as number

  t = (h1l + h2l) | 0
  h1h = (h1h + h2h + (((h1l & h2l) | ((h1l | h2l) & ~t)) >>> 31)) | 0
  h1l = t
  t = (h2l + h1l) | 0
  h2h = (h2h + h1h + (((h2l & h1l) | ((h2l | h1l) & ~t)) >>> 31)) | 0
  h2l = t

  out[0] = h1h
  out[1] = h1l
  out[2] = h2h
  out[3] = h2l
}

const scratch = new Uint32Array(4)

/**
 * MurmurHash3 x64 128-bit with seed 0 over `data`, as two unsigned 64-bit halves: `h1` is bytes
 * 0–7 of the digest read little-endian, `h2` bytes 8–15 (Go `murmur3.Sum128`, Guava
 * `lowerEight`/`upperEight`, `mmh3.hash64(..., signed=False)`).
 *
 * Allocates two BigInts; meant for tests and diagnostics. The bloom filter uses
 * {@link murmur3x64_128Into}.
 *
 * @example
 * ```ts
 * murmur3x64_128(new TextEncoder().encode('this_is_a_test_string'))
 * // { h1: 13656344231843416550n, h2: 8559741857215930421n }
 * ```
 */
export function murmur3x64_128(data: Uint8Array): { h1: bigint; h2: bigint } {
  murmur3x64_128Into(
    new DataView(data.buffer, data.byteOffset, data.byteLength),
    data.length,
    scratch,
  )
  return {
    h1: (BigInt(scratch[0] as number) << 32n) | BigInt(scratch[1] as number),
    h2: (BigInt(scratch[2] as number) << 32n) | BigInt(scratch[3] as number),
  }
}

// ---------------------------------------------------------------------------------------------
// WebAssembly: the same hash with native 64-bit arithmetic (src/core/wasm/murmur3.wat), about
// five times as fast on a kilobyte token as the JavaScript above, which stays the fallback where
// WebAssembly is unavailable (node --jitless) and for inputs longer than its memory. The token
// is hashed on every first-seen validation (the revocation bloom filter), so this is hot.

/** Input starts here in the module's memory; the digest is at 0. */
const WASM_INPUT = 16

interface WasmHasher {
  readonly hash: (length: number) => void
  /** Where the input is written: memory from {@link WASM_INPUT}, 16 bytes short of its end. */
  readonly input: Uint8Array
  readonly digest: Uint32Array
}

function loadWasm(): WasmHasher | undefined {
  if (typeof WebAssembly !== 'object') return undefined
  try {
    const instance = new WebAssembly.Instance(
      new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64')),
    )
    const { memory, hash } = instance.exports as { memory: WebAssembly.Memory; hash: () => void }
    const size = memory.buffer.byteLength
    return {
      hash: hash as (length: number) => void,
      input: new Uint8Array(memory.buffer, WASM_INPUT, size - WASM_INPUT - 16),
      digest: new Uint32Array(memory.buffer, 0, 4),
    }
  } catch {
    return undefined
  }
}

/**
 * The module, compiled on the first hash rather than at import (a process that never validates
 * a token, such as the CLI, pays nothing); `false` where it cannot be had.
 */
let wasm: WasmHasher | false | undefined
/** UTF-8 encoder for the hashes of strings (the bloom filter's JavaScript path uses it too). */
export const utf8Encoder = new TextEncoder()

/**
 * Hashes the UTF-8 bytes of `item` (lone surrogates as U+FFFD) into `out` as
 * `[h1 high, h1 low, h2 high, h2 low]`, with WebAssembly. `false` (and `out` untouched) when
 * WebAssembly is unavailable or `item` does not fit its memory (64 KiB): hash it in JavaScript.
 *
 * @example
 * ```ts
 * if (!murmur3x64_128StringWasm(token, digest)) murmur3x64_128Into(view, length, digest)
 * ```
 */
export function murmur3x64_128StringWasm(item: string, out: Uint32Array | Int32Array): boolean {
  const hasher = (wasm ??= loadWasm() ?? false)
  if (hasher === false) return false
  const { read, written } = utf8Encoder.encodeInto(item, hasher.input)
  if (read !== item.length) return false
  // The tail block is read whole: the bytes after the input must be zero.
  hasher.input.fill(0, written, written + 16)
  hasher.hash(written)
  const digest = hasher.digest
  out[0] = digest[1] as number
  out[1] = digest[0] as number
  out[2] = digest[3] as number
  out[3] = digest[2] as number
  return true
}
