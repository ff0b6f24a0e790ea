/**
 * The IAM's JSON Web Key Set (`GET /v3/oauth/jwks`) turned into verification keys.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { IamError } from './errors.js'
import type { IamLogger } from './options.js'

/** What a JWK declares beside its key material (informational: `algorithms` decides). */
export interface KeyDeclaration {
  /** The JWK's `alg`, when it has one. */
  readonly alg: string | undefined
  /** The JWK's `use`, when it has one. */
  readonly use: string | undefined
}

/** Verification keys by `kid`, plus a fingerprint that changes whenever the set changes. */
export interface KeySet {
  readonly keys: ReadonlyMap<string, KeyObject>
  /** The `alg` and `use` each key's JWK declared, by `kid`. */
  readonly declarations: ReadonlyMap<string, KeyDeclaration>
  readonly fingerprint: string
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/

/**
 * Parses a JWKS body. RSA signing keys with a `kid` are kept; keys of other types or uses are
 * skipped, and a key that cannot be imported is skipped with a warning (the others still serve).
 * A body with no usable key is `ERR_IAM_BAD_RESPONSE`.
 */
export function parseJwks(body: unknown, logger?: IamLogger): KeySet {
  const list = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM jwks: body has no "keys" array')
  }
  const keys = new Map<string, KeyObject>()
  const declarations = new Map<string, KeyDeclaration>()
  const parts: string[] = []
  for (const jwk of list as unknown[]) {
    if (jwk === null || typeof jwk !== 'object') continue
    const { kty, kid, use, n, e, alg } = jwk as Record<string, unknown>
    if (kty !== 'RSA' || (use !== undefined && use !== 'sig')) continue
    if (typeof kid !== 'string' || kid === '' || typeof n !== 'string' || typeof e !== 'string') {
      logger?.warn?.('IAM jwks: skipping an RSA key without kid, n or e')
      continue
    }
    if (!BASE64URL.test(n) || !BASE64URL.test(e)) {
      logger?.warn?.(`IAM jwks: skipping key ${kid}: n or e is not base64url`)
      continue
    }
    try {
      // Padding is tolerated (as PyJWT does); Node's JWK import wants it stripped.
      const key = createPublicKey({
        key: { kty: 'RSA', n: n.replace(/=+$/, ''), e: e.replace(/=+$/, '') },
        format: 'jwk',
      })
      keys.set(kid, key)
      const declared = typeof alg === 'string' ? alg : undefined
      declarations.set(kid, Object.freeze({ alg: declared, use: use as string | undefined }))
      parts.push(`${kid}.${n}.${e}.${declared ?? ''}`)
    } catch (error) {
      logger?.warn?.(`IAM jwks: skipping key ${kid}: ${(error as Error).message}`)
    }
  }
  if (keys.size === 0) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', 'IAM jwks: no usable RSA signing key')
  }
  return { keys, declarations, fingerprint: parts.sort().join('|') }
}
