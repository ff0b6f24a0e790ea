// The emulator's own admin HTTP API (/emulator/...), as a person would script it with curl.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { bearer, clientToken, decodeJwt, defaultBasic, get, postForm, sendJson } from './helpers.js'

let emu: Emulator
let api: string
before(async () => {
  emu = await startEmulator()
  api = `${emu.url}/emulator`
})
after(() => emu.close())

test('GET /emulator summarises the emulator', async () => {
  const res = await get(api)
  assert.equal(res.status, 200)
  assert.equal(res.body.baseUrl, emu.baseUrl)
  assert.equal(res.body.clientId, emu.clientId)
  assert.equal(res.body.clientSecret, emu.clientSecret)
  assert.equal(res.body.currentKid, emu.currentKid)
  assert.ok(res.body.users.some((u: { username: string }) => u.username === 'sample-user'))
})

test('POST /emulator/tokens and /emulator/tokens/client mint tokens', async () => {
  const user = await sendJson('POST', `${api}/tokens`, {
    sub: 'api-user',
    permissions: [{ Resource: 'X', Action: 1 }],
    expiresIn: 60,
  })
  assert.equal(user.status, 200)
  const { payload } = decodeJwt(user.body.access_token)
  assert.equal(payload.sub, 'api-user')
  assert.equal(payload.exp - payload.iat, 60)
  const client = await sendJson('POST', `${api}/tokens/client`, {})
  assert.equal(decodeJwt(client.body.access_token).payload.client_id, emu.clientId)
  const bad = await sendJson('POST', `${api}/tokens/client`, { clientId: 'ghost' })
  assert.equal(bad.status, 400)
  assert.match(bad.body.error, /unknown client/)
})

test('POST /emulator/roles, PUT/DELETE role override', async () => {
  const created = await sendJson('POST', `${api}/roles`, {
    roleId: 'api-role',
    permissions: [{ resource: 'A', action: 2 }],
  })
  assert.equal(created.status, 201)
  assert.deepEqual(created.body, { roleId: 'api-role' })
  const admin = bearer(await clientToken(emu))
  const overrideUrl = `${emu.baseUrl}/v3/admin/namespaces/sample-namespace/roleoverride/api-role/permissions`
  const put = await sendJson('PUT', `${api}/namespaces/sample-namespace/roleoverride/api-role`, {
    permissions: [{ resource: 'B', action: 4 }],
  })
  assert.equal(put.status, 200)
  assert.equal((await get(overrideUrl, admin)).body.permissions[0].Resource, 'B')
  await sendJson('DELETE', `${api}/namespaces/sample-namespace/roleoverride/api-role`)
  assert.equal((await get(overrideUrl, admin)).body.permissions[0].Resource, 'A')
  const invalid = await sendJson('POST', `${api}/roles`, { permissions: [{ resource: 'A' }] })
  assert.equal(invalid.status, 400)
  assert.match(invalid.body.error, /role\.permissions\[0\]\.action/)
})

test('POST /emulator/clients, /emulator/namespaces, /emulator/users', async () => {
  const ns = await sendJson('POST', `${api}/namespaces`, { namespace: 'api-game', type: 'Game' })
  assert.equal(ns.status, 201)
  assert.deepEqual(ns.body, {
    namespace: 'api-game',
    type: 'Game',
    studioNamespace: '',
    publisherNamespace: '',
  })
  const client = await sendJson('POST', `${api}/clients`, {
    clientId: 'api-client',
    clientSecret: 's',
    namespace: 'api-game',
  })
  assert.equal(client.status, 201)
  assert.deepEqual(client.body, { clientId: 'api-client', clientSecret: 's' })
  const user = await sendJson('POST', `${api}/users`, {
    username: 'api-user',
    password: 'pw',
    namespace: 'api-game',
  })
  assert.equal(user.status, 201)
  const login = await postForm(
    `${emu.baseUrl}/v3/oauth/token`,
    { grant_type: 'password', username: 'api-user', password: 'pw' },
    defaultBasic(emu),
  )
  assert.equal(login.body.user_id, user.body.userId)
  assert.equal(login.body.namespace, 'api-game')
})

test('revocations and key rotation', async () => {
  const token = await emu.issueUserToken({ sub: 'api-revoked' })
  assert.equal((await sendJson('POST', `${api}/revocations/tokens`, { token })).status, 200)
  const verify = await postForm(`${emu.baseUrl}/v3/oauth/verify`, { token }, defaultBasic(emu))
  assert.equal(verify.status, 400)
  const user = await sendJson('POST', `${api}/revocations/users`, { userId: 'api-revoked-user' })
  assert.equal(user.body.id, 'api-revoked-user')
  assert.match(user.body.revoked_at, /Z$/)
  const rotated = await sendJson('POST', `${api}/keys/rotate`, {})
  assert.equal(rotated.body.kid, emu.currentKid)
  assert.equal((await sendJson('POST', `${api}/revocations/users`, {})).status, 400)
})

test('faults and request counts', async () => {
  await sendJson('DELETE', `${api}/requests`)
  assert.equal((await sendJson('PUT', `${api}/faults/jwks`, { status: 503, times: 1 })).status, 200)
  assert.deepEqual((await get(`${api}/faults`)).body, {
    jwks: { delayMs: 0, status: 503, times: 1 },
  })
  assert.equal((await get(`${emu.baseUrl}/v3/oauth/jwks`, defaultBasic(emu))).status, 503)
  assert.equal((await get(`${emu.baseUrl}/v3/oauth/jwks`, defaultBasic(emu))).status, 200)
  await sendJson('POST', `${api}/faults`, { endpoint: 'verify', status: 500 })
  assert.equal(
    (await postForm(`${emu.baseUrl}/v3/oauth/verify`, { token: 'x' }, defaultBasic(emu))).status,
    500,
  )
  await sendJson('DELETE', `${api}/faults/verify`)
  assert.equal(
    (await postForm(`${emu.baseUrl}/v3/oauth/verify`, { token: 'x' }, defaultBasic(emu))).status,
    400,
  )
  await sendJson('PUT', `${api}/faults/role`, { delayMs: 5 })
  await sendJson('DELETE', `${api}/faults`)
  assert.deepEqual((await get(`${api}/faults`)).body, {})
  const counts = (await get(`${api}/requests`)).body
  assert.equal(counts.jwks, 2)
  assert.equal(counts.verify, 2)
  assert.equal(counts.token, 0)
  assert.equal((await sendJson('PUT', `${api}/faults/nope`, { status: 500 })).status, 404)
  assert.equal((await sendJson('PUT', `${api}/faults/jwks`, { status: 42 })).status, 400)
})

test('plain curl-style bodies work; non-loopback origins and bad JSON are refused', async () => {
  // curl -d sends application/x-www-form-urlencoded; the body is still read as JSON.
  const res = await fetch(`${api}/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: '{"sub":"curl-user"}',
  })
  assert.equal(
    decodeJwt(((await res.json()) as { access_token: string }).access_token).payload.sub,
    'curl-user',
  )
  const evil = await sendJson('POST', `${api}/tokens`, {}, { Origin: 'https://evil.example' })
  assert.equal(evil.status, 403)
  const local = await sendJson('POST', `${api}/tokens`, {}, { Origin: 'http://localhost:3000' })
  assert.equal(local.status, 200)
  const bad = await fetch(`${api}/roles`, { method: 'POST', body: '{nope' })
  assert.equal(bad.status, 400)
})
