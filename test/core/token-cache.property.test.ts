/**
 * The verified-token cache against a model of its rule: a token is admitted when it is verified
 * again before as many other tokens as the cache holds were verified for the first time, and the
 * cache keeps the last admissions, as many as it holds. Whatever the order of tokens, the tokens
 * answered from the cache are exactly the model's.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import type { Emulator } from '../../src/emulator/index.js'
import { emulator, startedClientFor } from '../support/iam.js'

/** The rule, written as plainly as possible: lists in insertion order, oldest first. */
function modelCache(size: number) {
  let seen: Array<number | undefined> = [] // one slot per first verification; undefined once admitted
  let cached: Array<number | undefined> = []
  return {
    validate(token: number): void {
      if (cached.includes(token)) return
      if (size === 0) return
      const at = seen.indexOf(token)
      if (at === -1) {
        seen = [...seen, token].slice(-size)
        return
      }
      seen[at] = undefined
      cached = [...cached.filter((t) => t !== token), token].slice(-size)
    },
    isCached: (token: number) => cached.includes(token),
  }
}

describe('verified-token cache', () => {
  let iam: Emulator
  let tokens: string[]
  before(async () => {
    iam = await emulator()
    tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) => iam.issueUserToken({ sub: `cache-${i}` })),
    )
  })
  after(() => iam.close())

  it('caches exactly the tokens its admission rule says, in any order of use', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.nat({ max: 7 }), { maxLength: 60 }),
        async (size, uses) => {
          const client = await startedClientFor(iam, { verifiedTokenCacheSize: size })
          try {
            const model = modelCache(size)
            for (const use of uses) {
              await client.validateAndParseClaims(tokens[use] as string)
              model.validate(use)
              for (let t = 0; t < tokens.length; t++) {
                assert.equal(
                  client.validateCachedClaims(tokens[t] as string) !== undefined,
                  model.isCached(t),
                  `token ${t} after using ${use}`,
                )
              }
            }
          } finally {
            await client.close()
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})
