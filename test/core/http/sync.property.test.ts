/**
 * The synchronous fast path decides exactly as the async pipeline: for random token permissions
 * (wildcards, sections, action bits), random required permissions and random route options, the
 * answer of `authorizeRequestSync` (when it answers) equals that of `authorizeRequest`, on a
 * real client against the emulator; when it hands a request over to `authorizeRequest`, the
 * answer is the one a fresh request gets, and a token it validated is not validated again.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import fc from 'fast-check'

import {
  NEEDS_ASYNC,
  authorizeRequest,
  authorizeRequestSync,
  createHttpRequest,
  createRouteGuard,
} from '../../../src/core/http/index.js'
import { resolveHttpProtectionOptions } from '../../../src/core/http/options.js'
import type { IamClient } from '../../../src/index.js'
import type { Emulator } from '../../../src/emulator/index.js'
import { emulator, startedClientFor } from '../../support/iam.js'

const section = fc.constantFrom('NAMESPACE', 'ns1', 'ns2', '*', 'USER', 'u1', 'u2', 'ORDER')
const resource = fc.array(section, { minLength: 1, maxLength: 5 }).map((s) => s.join(':'))
const action = fc.integer({ min: 0, max: 15 })

async function outcome(run: () => unknown): Promise<string> {
  try {
    const context = await run()
    return context === undefined ? 'anonymous' : 'allowed'
  } catch (error) {
    return (error as { code?: string }).code ?? 'thrown'
  }
}

describe('the synchronous fast path decides as the async pipeline', () => {
  let iam: Emulator
  let client: IamClient
  before(async () => {
    iam = await emulator()
    client = await startedClientFor(iam)
  })
  after(async () => {
    await client.close()
    await iam.close()
  })

  it('for random permissions, requirements, scopes and optional routes', async () => {
    let answeredSync = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ Resource: resource, Action: action }), { maxLength: 4 }),
        fc.record({ resource, action: fc.integer({ min: 1, max: 15 }) }),
        fc.boolean(),
        fc.option(fc.constantFrom(['profile'], ['profile', 'email']), { nil: undefined }),
        fc.constantFrom('header', 'none', 'expired'),
        fc.boolean(),
        async (permissions, required, optional, scopes, send, validatedBefore) => {
          const token = await iam.issueUserToken({
            permissions,
            scope: 'openid profile',
            ...(send === 'expired' ? { exp: Math.floor(Date.now() / 1000) - 3600 } : {}),
          })
          // Validated once or not: the sync path validates a token seen before and a new one.
          if (validatedBefore) await client.validateAndParseClaims(token).catch(() => undefined)
          const options = resolveHttpProtectionOptions({})
          const guard = createRouteGuard(required, undefined, {
            optional,
            ...(scopes ? { scopes } : {}),
          })
          const request = () =>
            createHttpRequest({
              method: 'GET',
              headers: send === 'none' ? {} : { authorization: `Bearer ${token}` },
            })
          const handedOver = request()
          const sync = await outcome(() => {
            const answer = authorizeRequestSync(client, options, guard, handedOver)
            if (answer === NEEDS_ASYNC) throw { code: 'NEEDS_ASYNC' }
            return answer
          })
          if (sync === 'NEEDS_ASYNC') {
            const cachedBefore = client.validateCachedClaims(token) !== undefined
            const after = await outcome(() =>
              authorizeRequest(client, options, guard, handedOver, null),
            )
            // Validated by the sync path and not again: a token seen once stays uncached.
            assert.equal(client.validateCachedClaims(token) !== undefined, cachedBefore)
            const fresh = await outcome(() =>
              authorizeRequest(client, options, guard, request(), null),
            )
            assert.equal(after, fresh, JSON.stringify({ permissions, required, optional, send }))
            return
          }
          const full = await outcome(() =>
            authorizeRequest(client, options, guard, request(), null),
          )
          answeredSync++
          assert.equal(
            sync,
            full,
            JSON.stringify({ permissions, required, optional, scopes, send }),
          )
        },
      ),
      { numRuns: 150 },
    )
    // The property is not vacuous: the fast path answered a good share of the cases.
    assert.ok(answeredSync > 30, `the fast path answered ${answeredSync} cases`)
  })
})
