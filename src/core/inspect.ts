/**
 * Read-only views of what a client has loaded (its JWKS and revocation list), for the CLI,
 * health pages and debugging. Snapshots are frozen copies: holding or changing one never touches
 * the client's own state.
 *
 * @module
 */
import { BloomFilter } from './bloom.js'
import type { KeySet } from './jwks.js'
import type { RevocationList } from './revocation-list.js'

/** One verification key of the JWKS. */
export interface KeySnapshot {
  /** Key ID (`kid`), matched against a token header's `kid`. */
  readonly kid: string
  /** Key type; the SDK keeps RSA signing keys only. */
  readonly kty: 'RSA'
  /**
   * Algorithm the JWK declares (`alg`), or `undefined`. Informational: the client's `algorithms`
   * option decides which algorithms a token may use.
   */
  readonly alg: string | undefined
  /** Use the JWK declares (`sig`), or `undefined`. */
  readonly use: string | undefined
  /** RSA modulus size in bits (2048 for the IAM's keys). */
  readonly modulusBits: number
  /** RSA public exponent (usually 65537). */
  readonly publicExponent: number
}

/** The JWKS a client validates tokens with. */
export interface KeySetSnapshot {
  /** Usable keys, in the JWKS's order. */
  readonly keys: readonly KeySnapshot[]
}

/** The revoked-token bloom filter of a revocation list, described. */
export interface BloomFilterSnapshot {
  /** Size of the filter in bits (`m`, always 64 × the number of words). */
  readonly bits: number
  /** Number of hash functions (`k`). */
  readonly hashFunctions: number
  /** Bits set. */
  readonly bitsSet: number
  /** Estimated number of revoked tokens in the filter. */
  readonly approximateTokens: number
  /**
   * Probability that a token never revoked is reported as revoked, given the bits set now
   * (`(bitsSet / bits)^hashFunctions`).
   */
  readonly falsePositiveRate: number
}

/** A revoked user: every token of theirs issued at or before `revokedAt` is refused. */
export interface RevokedUserSnapshot {
  readonly userId: string
  /** Revocation time, epoch milliseconds. */
  readonly revokedAtMs: number
  /** Revocation time, ISO 8601 UTC. */
  readonly revokedAt: string
}

/** The revocation list a client checks tokens against. */
export interface RevocationListSnapshot {
  readonly revokedTokens: BloomFilterSnapshot
  /** Revoked users, most recently revoked first. */
  readonly revokedUsers: readonly RevokedUserSnapshot[]
  /**
   * A copy of the revoked-token filter, to test tokens against (`mightContain(token)`: revoked,
   * or a false positive). Changing it does not change the client's filter.
   */
  readonly filter: BloomFilter
}

/**
 * Describes a parsed key set.
 *
 * @example
 * ```ts
 * snapshotKeySet(parseJwks(body)).keys.map((k) => `${k.kid} ${k.modulusBits} bits`)
 * ```
 */
export function snapshotKeySet(keySet: KeySet): KeySetSnapshot {
  const keys: KeySnapshot[] = []
  for (const [kid, entry] of keySet.keys) {
    const details = entry.key.asymmetricKeyDetails
    keys.push(
      Object.freeze({
        kid,
        kty: 'RSA' as const,
        alg: entry.alg,
        use: entry.use,
        modulusBits: entry.modulusBits,
        publicExponent: Number(details?.publicExponent ?? 0n),
      }),
    )
  }
  return Object.freeze({ keys: Object.freeze(keys) })
}

/**
 * Describes a parsed revocation list, with a copy of its filter.
 *
 * @example
 * ```ts
 * const snapshot = snapshotRevocationList(parseRevocationList(body))
 * snapshot.revokedTokens.falsePositiveRate // e.g. 1e-9
 * snapshot.filter.mightContain(token)
 * ```
 */
export function snapshotRevocationList(list: RevocationList): RevocationListSnapshot {
  const source = list.revokedTokens
  const filter = new BloomFilter(source.words(), source.k)
  const revokedUsers = [...list.revokedUsers]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([userId, revokedAtMs]) =>
      Object.freeze({ userId, revokedAtMs, revokedAt: new Date(revokedAtMs).toISOString() }),
    )
  return Object.freeze({
    revokedTokens: Object.freeze({
      bits: filter.m,
      hashFunctions: filter.k,
      bitsSet: filter.bitCount(),
      approximateTokens: filter.approximateItemCount(),
      falsePositiveRate: filter.falsePositiveRate(),
    }),
    revokedUsers: Object.freeze(revokedUsers),
    filter,
  })
}
