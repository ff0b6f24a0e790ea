/**
 * The NestJS example (`examples/nestjs/server.ts`) on Express and on Fastify: the seed's allowed
 * and refused calls, a route placeholder, the CORS preflight and the health endpoint.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import type { INestApplication } from '@nestjs/common'

import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { createNestExample } from '../../examples/nestjs/server.js'

for (const platform of ['express', 'fastify'] as const) {
  describe(`NestJS example on ${platform}`, () => {
    let iam: Emulator
    let app: INestApplication
    let url: string
    let allowed: string
    let denied: string

    before(async () => {
      iam = await startEmulator({ port: 0 })
      app = await createNestExample(
        { iamBaseUrl: iam.baseUrl, clientId: iam.clientId, clientSecret: iam.clientSecret },
        platform,
      )
      app.useLogger(false)
      await app.listen(0, '127.0.0.1')
      url = (await app.getUrl()).replace('[::1]', '127.0.0.1')
      allowed = await iam.issueUserToken({
        sub: 'sample-userid',
        namespace: 'sample-namespace',
        permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
      })
      denied = await iam.issueUserToken({ sub: 'other-userid', namespace: 'sample-namespace' })
    })
    after(async () => {
      await app?.close()
      await iam?.close()
    })

    const get = (path: string, token?: string, init: RequestInit = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
      })

    it('answers the allowed user, refuses the denied one with the wire body', async () => {
      const ok = await get('/protected', allowed)
      assert.deepEqual([ok.status, await ok.text()], [200, 'You have authorized access!'])
      const refused = await get('/protected', denied)
      assert.equal(refused.status, 403)
      assert.equal(((await refused.json()) as { errorCode: number }).errorCode, 20013)
      assert.match(refused.headers.get('www-authenticate') ?? '', /insufficient_scope/)
      const anonymous = await get('/me')
      assert.deepEqual(
        [anonymous.status, anonymous.headers.get('www-authenticate')],
        [401, 'Bearer realm="iam"'],
      )
    })

    it('fills placeholders from the route, answers the CORS preflight and the health probe', async () => {
      assert.equal((await get('/users/sample-userid', allowed, { method: 'PUT' })).status, 200)
      assert.equal((await get('/users/other-userid', allowed, { method: 'PUT' })).status, 403)
      const preflight = await get('/cors', undefined, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost', 'access-control-request-method': 'GET' },
      })
      assert.equal(preflight.status, 200)
      assert.equal(
        preflight.headers.get('access-control-allow-headers'),
        'Device-Id, Device-Os, Device-Type',
      )
      const health = await get('/healthz')
      assert.deepEqual(
        [health.status, ((await health.json()) as { status: string }).status],
        [200, 'ready'],
      )
    })
  })
}
