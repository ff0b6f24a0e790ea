// Key rotation, fault injection and request counters of the emulator.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startEmulator, type Emulator, type EmulatorEndpoint } from '../../src/emulator/index.js'
import { bearer, clientToken, decodeJwt, defaultBasic, get, postForm } from './helpers.js'

let emu: Emulator
before(async () => {
  emu = await startEmulator()
})
after(() => emu.close())

const jwksKids = async (e: Emulator): Promise<string[]> =>
  (await get(`${e.baseUrl}/v3/oauth/jwks`, defaultBasic(e))).body.keys.map(
    (k: { kid: string }) => k.kid,
  )
const verifyStatus = async (e: Emulator, token: string): Promise<number> =>
  (await postForm(`${e.baseUrl}/v3/oauth/verify`, { token }, defaultBasic(e))).status

describe('rotateKeys', () => {
  test('new tokens use the new kid; the old key stays published and its tokens stay valid', async () => {
    const e = await startEmulator()
    try {
      const oldKid = e.currentKid
      const oldToken = await e.issueUserToken()
      const newKid = await e.rotateKeys()
      assert.notEqual(newKid, oldKid)
      assert.equal(e.currentKid, newKid)
      assert.deepEqual(await jwksKids(e), [oldKid, newKid])
      assert.equal(decodeJwt(await e.issueUserToken()).header.kid, newKid)
      assert.equal(decodeJwt(await clientToken(e)).header.kid, newKid)
      assert.equal(await verifyStatus(e, oldToken), 200)
    } finally {
      await e.close()
    }
  })

  test('retireOld removes the previous keys from the JWKS; their tokens no longer verify', async () => {
    const e = await startEmulator()
    try {
      const oldToken = await e.issueUserToken()
      await e.rotateKeys()
      const kid = await e.rotateKeys({ retireOld: true })
      assert.deepEqual(await jwksKids(e), [kid])
      assert.equal(await verifyStatus(e, oldToken), 400)
      assert.equal(await verifyStatus(e, await e.issueUserToken()), 200)
    } finally {
      await e.close()
    }
  })
})

describe('setFault', () => {
  test('status: the endpoint answers the status with its own JSON error style', async () => {
    emu.setFault('jwks', { status: 503 })
    try {
      for (let i = 0; i < 3; i++) {
        const res = await get(`${emu.baseUrl}/v3/oauth/jwks`, defaultBasic(emu))
        assert.equal(res.status, 503)
        assert.deepEqual(res.body, { errorCode: 20000, errorMessage: 'internal server error' })
      }
    } finally {
      emu.setFault('jwks', null)
    }
    assert.equal((await get(`${emu.baseUrl}/v3/oauth/jwks`, defaultBasic(emu))).status, 200)

    emu.setFault('token', { status: 500, times: 1 })
    const res = await postForm(
      `${emu.baseUrl}/v3/oauth/token`,
      { grant_type: 'client_credentials' },
      defaultBasic(emu),
    )
    assert.equal(res.status, 500)
    assert.deepEqual(Object.keys(res.body).sort(), ['error', 'error_description'])
    assert.equal(res.body.error, 'server_error')
  })

  test('times: only the next N requests fail, then it clears itself', async () => {
    emu.setFault('revocationList', { status: 502, times: 2 })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      statuses.push((await get(`${emu.baseUrl}/v3/oauth/revocationlist`, defaultBasic(emu))).status)
    }
    assert.deepEqual(statuses, [502, 502, 200, 200])
  })

  test('delayMs: the answer is late but correct', async () => {
    emu.setFault('role', { delayMs: 300, times: 1 })
    const token = await clientToken(emu)
    const started = Date.now()
    const res = await get(`${emu.baseUrl}/v3/admin/roles/none`, bearer(token))
    assert.ok(Date.now() - started >= 280, `took ${Date.now() - started} ms`)
    assert.equal(res.status, 404)
    const fast = Date.now()
    await get(`${emu.baseUrl}/v3/admin/roles/none`, bearer(token))
    assert.ok(Date.now() - fast < 250)
  })

  test('delay and status together; a 404 fault on namespace context uses code 11337', async () => {
    emu.setFault('namespaceContext', { status: 404, delayMs: 100, times: 1 })
    const started = Date.now()
    const res = await get(
      `${emu.basicBaseUrl}/v1/admin/namespaces/sample-namespace/context?activeOnly=true`,
      bearer(await clientToken(emu)),
    )
    assert.ok(Date.now() - started >= 90)
    assert.equal(res.status, 404)
    assert.equal(res.body.errorCode, 11337)
  })

  test('faults apply before authentication (like a proxy in front of the IAM)', async () => {
    emu.setFault('clientInfo', { status: 429, times: 1 })
    const res = await get(`${emu.baseUrl}/v3/admin/namespaces/x/clients/y`)
    assert.equal(res.status, 429)
    assert.equal(res.body.errorCode, 20007)
  })

  test('invalid faults are rejected with a TypeError naming the field', () => {
    assert.throws(() => emu.setFault('jwks', { status: 42 }), /fault\.status/)
    assert.throws(() => emu.setFault('jwks', { delayMs: -1 }), /fault\.delayMs/)
    assert.throws(() => emu.setFault('jwks', { times: 0 }), /fault\.times/)
    assert.throws(() => emu.setFault('nope' as EmulatorEndpoint, null), /unknown endpoint/)
  })

  test('close() does not wait for requests held by a delay fault', async () => {
    const e = await startEmulator()
    e.setFault('jwks', { delayMs: 60_000 })
    const pending = fetch(`${e.baseUrl}/v3/oauth/jwks`, {
      headers: { Authorization: defaultBasic(e) },
    })
    pending.catch(() => {})
    await new Promise((r) => setTimeout(r, 50))
    const started = Date.now()
    await e.close()
    assert.ok(Date.now() - started < 2000)
    await assert.rejects(pending)
  })
})

describe('requestCount', () => {
  test('counts every request per endpoint, including rejected ones; reset zeroes', async () => {
    const e = await startEmulator()
    try {
      const auth = defaultBasic(e)
      await get(`${e.baseUrl}/v3/oauth/jwks`, auth)
      await get(`${e.baseUrl}/v3/oauth/jwks`, auth)
      await get(`${e.baseUrl}/v3/oauth/jwks`) // 401, still counted
      await get(`${e.baseUrl}/v3/oauth/revocationlist`, auth)
      const token = await clientToken(e)
      await postForm(`${e.baseUrl}/v3/oauth/verify`, { token }, auth)
      await postForm(`${e.baseUrl}/v3/oauth/revoke`, { token: 'x' }, auth)
      await get(`${e.baseUrl}/v3/admin/roles/a`, bearer(token))
      await get(`${e.baseUrl}/v3/admin/namespaces/n/roleoverride/a/permissions`, bearer(token))
      await get(`${e.baseUrl}/v3/admin/namespaces/n/clients/c`, bearer(token))
      await get(`${e.basicBaseUrl}/v1/admin/namespaces/n/context`, bearer(token))
      await get(`${e.basicBaseUrl}/v1/admin/namespaces/n/context`, bearer(token))
      const expected: Record<EmulatorEndpoint, number> = {
        token: 1,
        jwks: 3,
        revocationList: 1,
        verify: 1,
        revoke: 1,
        role: 1,
        roleOverride: 1,
        clientInfo: 1,
        namespaceContext: 2,
      }
      for (const [endpoint, count] of Object.entries(expected)) {
        assert.equal(e.requestCount(endpoint as EmulatorEndpoint), count, endpoint)
      }
      // Programmatic minting is not a request.
      await e.issueClientToken()
      assert.equal(e.requestCount('token'), 1)
      e.resetRequestCounts()
      for (const endpoint of Object.keys(expected)) {
        assert.equal(e.requestCount(endpoint as EmulatorEndpoint), 0)
      }
    } finally {
      await e.close()
    }
  })
})
