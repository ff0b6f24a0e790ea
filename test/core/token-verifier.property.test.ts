/**
 * Whatever a client sends as a token, local validation either accepts a genuinely signed token or
 * rejects with one of the SDK's typed token errors; nothing else escapes, and nothing forged passes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { IamError, type IamClient } from '../../src/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import { emulator, startedClientFor } from '../support/iam.js'

const TOKEN_CODES = new Set([
  'ERR_IAM_TOKEN_MALFORMED',
  'ERR_IAM_TOKEN_KEY_UNKNOWN',
  'ERR_IAM_TOKEN_ALGORITHM',
  'ERR_IAM_TOKEN_SIGNATURE',
  'ERR_IAM_TOKEN_EXPIRED',
  'ERR_IAM_TOKEN_NOT_YET_VALID',
])

describe('validateAndParseClaims on arbitrary input', () => {
  let iam: Emulator
  let client: IamClient
  let genuine: string
  before(async () => {
    iam = await emulator()
    // A long cooldown so unknown kids do not refetch during the run.
    client = await startedClientFor(iam, { jwksRefetchCooldownMs: 600_000 })
    genuine = await iam.issueUserToken({ sub: 'prop-user' })
  })
  after(async () => {
    await client.close()
    await iam.close()
  })

  async function rejectsTyped(token: string): Promise<void> {
    try {
      await client.validateAndParseClaims(token)
    } catch (error) {
      assert.ok(error instanceof IamError, `not an IamError: ${String(error)}`)
      assert.ok(TOKEN_CODES.has(error.code), error.code)
      return
    }
    assert.fail(`accepted a token that was not issued by the IAM: ${token.slice(0, 80)}`)
  }

  it('rejects arbitrary strings with a token code', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 300 }), rejectsTyped), { numRuns: 300 })
  })

  it('rejects arbitrary three-part tokens with JSON header and payload', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue(),
        fc.jsonValue(),
        fc.base64String(),
        async (header, payload, sig) => {
          await rejectsTyped(
            `${b64(header)}.${b64(payload)}.${sig.replace(/\+/g, '-').replace(/\//g, '_')}`,
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects every single-character mutation of a genuine token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 10_000 }),
        fc.constantFrom(...'ABCDEFabcdef0123456789-_.='),
        async (position, replacement) => {
          const i = position % genuine.length
          if (genuine[i] === replacement) return
          const mutated = genuine.slice(0, i) + replacement + genuine.slice(i + 1)
          try {
            await client.validateAndParseClaims(mutated)
          } catch (error) {
            assert.ok(error instanceof IamError && TOKEN_CODES.has(error.code))
            return
          }
          // Base64url's last character may carry unused bits: a change there can decode identically.
          const decodedSame =
            mutated
              .split('.')
              .map((p) => Buffer.from(p, 'base64url').toString('hex'))
              .join('.') ===
            genuine
              .split('.')
              .map((p) => Buffer.from(p, 'base64url').toString('hex'))
              .join('.')
          assert.ok(decodedSame, `accepted a mutated token at ${i}`)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('still accepts the genuine token (the properties above can fail)', async () => {
    assert.equal((await client.validateAndParseClaims(genuine)).sub, 'prop-user')
  })
})
