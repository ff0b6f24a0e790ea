/**
 * The Koa example (`examples/koa/server.js`) against the emulator: an allowed call, a refusal as
 * the wire JSON, the same refusal reshaped into problem+json by the app, and the CORS preflight.
 */
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'

import { startEmulator, type Emulator } from '../../src/emulator/index.js'

interface KoaExample {
  app: { listen(port: number, host: string): Server }
  iam: { ready: Promise<void>; close(): Promise<void> }
}
type CreateExample = (config: Record<string, unknown>) => KoaExample

// A JavaScript module without types: imported by URL so that the type checker leaves it alone.
const modulePath = new URL('../../examples/koa/server.js', import.meta.url).href

describe('Koa example', () => {
  let iam: Emulator
  let example: KoaExample
  let server: Server
  let url = ''
  const tokens = { allowed: '', denied: '' }

  before(async () => {
    iam = await startEmulator({ port: 0 })
    const { createKoaExample } = (await import(modulePath)) as { createKoaExample: CreateExample }
    example = createKoaExample({
      iamBaseUrl: iam.baseUrl,
      clientId: iam.clientId,
      clientSecret: iam.clientSecret,
    })
    await example.iam.ready
    server = example.app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    tokens.allowed = await iam.issueUserToken({
      sub: 'sample-userid',
      namespace: 'sample-namespace',
      permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
    })
    tokens.denied = await iam.issueUserToken({ sub: 'other-userid', namespace: 'sample-namespace' })
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await example?.iam.close()
    await iam?.close()
  })

  const get = (path: string, token: string) =>
    fetch(url + path, { headers: { authorization: `Bearer ${token}` } })

  it('allows the seed user and refuses another with the wire JSON and its challenge', async () => {
    const ok = await get('/protected', tokens.allowed)
    assert.equal(ok.status, 200)
    assert.equal(await ok.text(), 'You have authorized access!')
    const refused = await get('/protected', tokens.denied)
    assert.equal(refused.status, 403)
    assert.match(String(refused.headers.get('www-authenticate')), /insufficient_scope/)
    assert.equal(((await refused.json()) as { errorCode?: number }).errorCode, 20013)
  })

  it('reshapes refusals of /v2 into problem+json, keeping WWW-Authenticate', async () => {
    const refused = await get('/v2/protected', tokens.denied)
    assert.equal(refused.status, 403)
    assert.match(String(refused.headers.get('content-type')), /^application\/problem\+json/)
    assert.match(String(refused.headers.get('www-authenticate')), /insufficient_scope/)
    assert.equal(((await refused.json()) as { status?: number }).status, 403)
  })

  it('answers the CORS preflight of /cors without a token, and puts users on their own path', async () => {
    const preflight = await fetch(`${url}/cors`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:8080', 'access-control-request-method': 'GET' },
    })
    assert.equal(preflight.status, 200)
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:8080')
    assert.equal(
      preflight.headers.get('access-control-allow-headers'),
      'Device-Id, Device-Os, Device-Type',
    )
    const self = await fetch(`${url}/users/sample-userid`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.allowed}` },
    })
    assert.equal(self.status, 200)
    const other = await fetch(`${url}/users/other-userid`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.allowed}` },
    })
    assert.equal(other.status, 403)
  })
})
