/**
 * The Express example's `GET /explain`, which its page calls after each protected call: the
 * token's claims and the SDK's explanation of the decision, for a signed-in user, a refused one
 * and no token at all.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { startEmulator, type Emulator } from '../../src/emulator/index.js'

interface Example {
  url: string
  close(): Promise<void>
}
type StartExample = (config: Record<string, unknown>) => Promise<Example>
/** Parsed JSON answers; tests assert their shape, so they are left untyped on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any

// A JavaScript module without types: imported by URL so that the type checker leaves it alone.
const modulePath = new URL('../../examples/express/server.js', import.meta.url).href

describe('Express example: GET /explain', () => {
  let iam: Emulator
  let example: Example

  before(async () => {
    iam = await startEmulator({ port: 0 })
    const { startExample } = (await import(modulePath)) as { startExample: StartExample }
    example = await startExample({
      port: 0,
      iamBaseUrl: iam.baseUrl,
      clientId: iam.clientId,
      clientSecret: iam.clientSecret,
    })
  })
  after(async () => {
    await example.close()
    await iam.close()
  })

  async function signIn(username: string): Promise<string> {
    const answer = await fetch(`${example.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username }),
    })
    assert.equal(answer.status, 200)
    return (answer.headers.get('set-cookie') ?? '').split(';')[0] as string
  }

  async function explain(method: string, path: string, cookie?: string) {
    const query = new URLSearchParams({ method, path })
    const answer = await fetch(`${example.url}/explain?${query}`, {
      headers: cookie === undefined ? {} : { cookie },
    })
    return { status: answer.status, body: (await answer.json()) as Json }
  }

  it('explains an allowed call with the grant, and shows the verified claims', async () => {
    const cookie = await signIn('sample-user')
    const { status, body } = await explain('GET', '/protected', cookie)
    assert.equal(status, 200)
    assert.equal(body.token.valid, true)
    assert.equal(body.token.location, 'cookie')
    assert.equal(body.token.claims.sub, 'sample-userid')
    assert.equal(body.decision.allowed, true)
    assert.equal(body.decision.grant.source, 'permission')
    assert.match(body.explanation[0], /^ALLOWED "NAMESPACE:sample-namespace:USER:sample-userid"/)
  })

  it('explains a refusal step by step, with route parameters as placeholder values', async () => {
    const cookie = await signIn('sample-user')
    const { body } = await explain('PUT', '/users/other-userid', cookie)
    assert.deepEqual(body.resources, { '{userId}': 'other-userid' })
    assert.equal(body.decision.allowed, false)
    assert.ok(
      body.explanation.some((line: string) =>
        line.includes('granted "sample-userid" does not match required "other-userid"'),
      ),
    )
    assert.ok(body.explanation.some((line: string) => line.startsWith('Missing: ')))
  })

  it('says when there is no token, when a call needs a token only, and 404 for other calls', async () => {
    const anonymous = await explain('GET', '/protected')
    assert.equal(anonymous.body.token, null)
    assert.match(anonymous.body.explanation[0], /no token \(HTTP 401\)/)
    const me = await explain('GET', '/me', await signIn('other-user'))
    assert.equal(me.body.permission, null)
    assert.match(me.body.explanation[0], /^ALLOWED: this call needs a valid token only/)
    assert.equal((await explain('DELETE', '/protected')).status, 404)
  })

  it('shows the unverified claims of a refused token', async () => {
    const expired = await iam.issueUserToken({
      sub: 'u-expired',
      exp: Math.floor(Date.now() / 1000) - 3600,
    })
    const { body } = await explain('GET', '/protected', `access_token=${expired}`)
    assert.equal(body.token.valid, false)
    assert.equal(body.token.error.code, 'ERR_IAM_TOKEN_EXPIRED')
    assert.equal(body.token.claims.sub, 'u-expired')
    assert.match(body.explanation[0], /^REFUSED before any permission: ERR_IAM_TOKEN_EXPIRED/)
  })
})
