/**
 * The IAM's JSON Web Key Set (`GET /v3/oauth/jwks`) turned into verification keys.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { IamError } from './errors.js'
import type { IamLogger } from './log.js'

/** One verification key and the algorithm its JWK restricts it to, if any. */
export interface VerificationKey {
  readonly key: KeyObject
  /** The JWK's `alg`: when present, only tokens with this `alg` may use the key. */
  readonly alg: string | undefined
  /** The JWK's `use`, when it has one (`sig`: keys of other uses are not imported). */
  readonly use: string | undefined
  /** RSA modulus size in bits. */
  readonly modulusBits: number
}

/** Verification keys by `kid`, plus a fingerprint that changes whenever the set changes. */
export interface KeySet {
  readonly keys: ReadonlyMap<string, VerificationKey>
  readonly fingerprint: string
}

/** RSA keys shorter than this are not imported (NIST SP 800-131A). */
export const MIN_RSA_MODULUS_BITS = 2048

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/

/**
 * Parses a JWKS body. RSA signing keys with a `kid` are kept; keys of other types or uses are
 * skipped, and a key that cannot be imported or is shorter than 2048 bits is skipped with a
 * warning (the others still serve), given once per key id in `warned`. A body with no usable key
 * is `ERR_IAM_BAD_RESPONSE`.
 */
export function parseJwks(
  body: unknown,
  logger?: IamLogger,
  warned: Set<string> = new Set(),
): KeySet {
  const warn = (kid: string, message: string) => {
    if (warned.has(kid)) return
    warned.add(kid)
    logger?.warn?.({ resource: 'JWKS', kid }, message)
  }
  const list = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM jwks: body has no "keys" array')
  }
  const keys = new Map<string, VerificationKey>()
  const parts: string[] = []
  for (const jwk of list as unknown[]) {
    if (jwk === null || typeof jwk !== 'object') continue
    const { kty, kid, use, n, e, alg } = jwk as Record<string, unknown>
    if (kty !== 'RSA' || (use !== undefined && use !== 'sig')) continue
    if (typeof kid !== 'string' || kid === '' || typeof n !== 'string' || typeof e !== 'string') {
      warn(typeof kid === 'string' ? kid : '', 'IAM jwks: skipping an RSA key without kid, n or e')
      continue
    }
    if (!BASE64URL.test(n) || !BASE64URL.test(e)) {
      warn(kid, `IAM jwks: skipping key ${kid}: n or e is not base64url`)
      continue
    }
    if (alg !== undefined && typeof alg !== 'string') {
      warn(kid, `IAM jwks: skipping key ${kid}: "alg" is not a string`)
      continue
    }
    try {
      // Padding is tolerated (as PyJWT does); Node's JWK import wants it stripped.
      const key = createPublicKey({
        key: { kty: 'RSA', n: n.replace(/=+$/, ''), e: e.replace(/=+$/, '') },
        format: 'jwk',
      })
      const modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 0
      if (modulusBits < MIN_RSA_MODULUS_BITS) {
        warn(
          kid,
          `IAM jwks: skipping key ${kid}: ${modulusBits}-bit RSA is shorter than ${MIN_RSA_MODULUS_BITS} bits`,
        )
        continue
      }
      keys.set(kid, { key, alg, use: use as string | undefined, modulusBits })
      parts.push(`${kid}.${n}.${e}.${alg ?? ''}`)
    } catch (error) {
      warn(kid, `IAM jwks: skipping key ${kid}: ${(error as Error).message}`)
    }
  }
  if (keys.size === 0) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM jwks: no usable RSA signing key')
  }
  return { keys, fingerprint: parts.sort().join('|') }
}
