/**
 * MurmurHash3 x64 128-bit (seed 0), the hash behind the IAM revocation bloom filter
 * (`spaolacci/murmur3.Sum128`, Python `mmh3.hash64`, Guava `murmur3_128`).
 *
 * 64-bit lanes are held as pairs of uint32 halves (`…H` high, `…L` low) so the per-block work is
 * plain int32 arithmetic with `Math.imul`: no BigInt and no allocation on the hot path.
 * @module
 */

// 64-bit constants, split into halves.
const C1H = 0x87c37b91
const C1L = 0x114253d5
const C2H = 0x4cf5ad43
const C2L = 0x2745937f
const F1H = 0xff51afd7
const F1L = 0xed558ccd
const F2H = 0xc4ceb9fe
const F2L = 0x1a85ec53

// Results of the 64-bit helpers below, [high, low]. A typed array, not two module `let`s: storing
// a uint32 above 2^30 into a module variable boxes it (a heap allocation per store).
const r = new Uint32Array(2)

/** (ah:al) * (bh:bl) mod 2^64 into r. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  // High word of the exact 32x32 product al*bl from 16-bit limbs (each partial product < 2^32).
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const p01 = a0 * b1
  const p10 = a1 * b0
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  r[0] = (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0
  r[1] = Math.imul(al, bl) >>> 0
}

/** fmix64 of (h:l) into r. */
function fmix64(h: number, l: number): void {
  l = (l ^ (h >>> 1)) >>> 0
  mul64(h, l, F1H, F1L)
  h = (r[0] as number)
  l = ((r[1] as number) ^ (h >>> 1)) >>> 0
  mul64(h, l, F2H, F2L)
  r[1] = ((r[1] as number) ^ ((r[0] as number) >>> 1)) >>> 0
}

/** Little-endian uint32 at `i`. */
function u32(data: Uint8Array, i: number): number {
  return ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24)) >>> 0
}

/**
 * Hashes `data[0 .. length)` and writes the digest into `out` as uint32 halves:
 * `[h1 high, h1 low, h2 high, h2 low]`. This is the allocation-free form the bloom filter uses.
 *
 * @param data - bytes to hash (only the first `length` are read)
 * @param length - number of bytes to hash, `0 <= length <= data.length`
 * @param out - receives the four halves
 */
export function murmur3x64_128Into(data: Uint8Array, length: number, out: Uint32Array): void {
  let h1h = 0
  let h1l = 0
  let h2h = 0
  let h2l = 0
  let k1h = 0
  let k1l = 0
  let k2h = 0
  let k2l = 0
  let t = 0
  const blockEnd = length - (length & 15)

  for (let i = 0; i < blockEnd; i += 16) {
    k1l = u32(data, i)
    k1h = u32(data, i + 4)
    k2l = u32(data, i + 8)
    k2h = u32(data, i + 12)

    // k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1
    mul64(k1h, k1l, C1H, C1L)
    k1h = (((r[0] as number) << 31) | ((r[1] as number) >>> 1)) >>> 0
    k1l = (((r[1] as number) << 31) | ((r[0] as number) >>> 1)) >>> 0
    mul64(k1h, k1l, C2H, C2L)
    h1h = (h1h ^ (r[0] as number)) >>> 0
    h1l = (h1l ^ (r[1] as number)) >>> 0
    // h1 = rotl(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729
    t = h1h
    h1h = ((h1h << 27) | (h1l >>> 5)) >>> 0
    h1l = ((h1l << 27) | (t >>> 5)) >>> 0
    t = h1l + h2l
    h1h = (h1h + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0
    h1l = t >>> 0
    mul64(h1h, h1l, 0, 5)
    t = (r[1] as number) + 0x52dce729
    h1h = ((r[0] as number) + (t > 0xffffffff ? 1 : 0)) >>> 0
    h1l = t >>> 0

    // k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2
    mul64(k2h, k2l, C2H, C2L)
    k2h = (((r[1] as number) << 1) | ((r[0] as number) >>> 31)) >>> 0
    k2l = (((r[0] as number) << 1) | ((r[1] as number) >>> 31)) >>> 0
    mul64(k2h, k2l, C1H, C1L)
    h2h = (h2h ^ (r[0] as number)) >>> 0
    h2l = (h2l ^ (r[1] as number)) >>> 0
    // h2 = rotl(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5
    t = h2h
    h2h = ((h2h << 31) | (h2l >>> 1)) >>> 0
    h2l = ((h2l << 31) | (t >>> 1)) >>> 0
    t = h2l + h1l
    h2h = (h2h + h1h + (t > 0xffffffff ? 1 : 0)) >>> 0
    h2l = t >>> 0
    mul64(h2h, h2l, 0, 5)
    t = (r[1] as number) + 0x38495ab5
    h2h = ((r[0] as number) + (t > 0xffffffff ? 1 : 0)) >>> 0
    h2l = t >>> 0
  }

  // Tail: up to 15 bytes, little-endian into k1 (bytes 0-7) and k2 (bytes 8-15).
  const rest = length & 15
  if (rest > 0) {
    k1h = 0
    k1l = 0
    k2h = 0
    k2l = 0
    for (let j = rest - 1; j >= 0; j--) {
      const b = data[blockEnd + j] as number
      if (j >= 12) k2h |= b << ((j - 12) * 8)
      else if (j >= 8) k2l |= b << ((j - 8) * 8)
      else if (j >= 4) k1h |= b << ((j - 4) * 8)
      else k1l |= b << (j * 8)
    }
    if (rest > 8) {
      mul64(k2h >>> 0, k2l >>> 0, C2H, C2L)
      k2h = (((r[1] as number) << 1) | ((r[0] as number) >>> 31)) >>> 0
      k2l = (((r[0] as number) << 1) | ((r[1] as number) >>> 31)) >>> 0
      mul64(k2h, k2l, C1H, C1L)
      h2h = (h2h ^ (r[0] as number)) >>> 0
      h2l = (h2l ^ (r[1] as number)) >>> 0
    }
    mul64(k1h >>> 0, k1l >>> 0, C1H, C1L)
    k1h = (((r[0] as number) << 31) | ((r[1] as number) >>> 1)) >>> 0
    k1l = (((r[1] as number) << 31) | ((r[0] as number) >>> 1)) >>> 0
    mul64(k1h, k1l, C2H, C2L)
    h1h = (h1h ^ (r[0] as number)) >>> 0
    h1l = (h1l ^ (r[1] as number)) >>> 0
  }

  // Finalisation: h ^= len (as uint64); h1 += h2; h2 += h1; fmix; h1 += h2; h2 += h1.
  const lenH = Math.floor(length / 4294967296) >>> 0
  h1h = (h1h ^ lenH) >>> 0
  h1l = (h1l ^ length) >>> 0
  h2h = (h2h ^ lenH) >>> 0
  h2l = (h2l ^ length) >>> 0

  t = h1l + h2l
  h1h = (h1h + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0
  h1l = t >>> 0
  t = h2l + h1l
  h2h = (h2h + h1h + (t > 0xffffffff ? 1 : 0)) >>> 0
  h2l = t >>> 0

  fmix64(h1h, h1l)
  h1h = (r[0] as number)
  h1l = (r[1] as number)
  fmix64(h2h, h2l)
  h2h = (r[0] as number)
  h2l = (r[1] as number)

  t = h1l + h2l
  h1h = (h1h + h2h + (t > 0xffffffff ? 1 : 0)) >>> 0
  h1l = t >>> 0
  t = h2l + h1l
  h2h = (h2h + h1h + (t > 0xffffffff ? 1 : 0)) >>> 0
  h2l = t >>> 0

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
  murmur3x64_128Into(data, data.length, scratch)
  return {
    h1: (BigInt(scratch[0] as number) << 32n) | BigInt(scratch[1] as number),
    h2: (BigInt(scratch[2] as number) << 32n) | BigInt(scratch[3] as number),
  }
}
