// OAuth endpoints of the emulator over real HTTP: token grants, JWKS, revocation list, verify, revoke.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { parse as losslessParse, LosslessNumber } from 'lossless-json'
import { BloomFilter, parseRevocationList } from '../../src/index.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { type Json, assertKeys, basic, decodeJwt, defaultBasic, get, postForm } from './helpers.js'

const EXTEND = 'urn:ietf:params:oauth:grant-type:extend_client_credentials'
const TOKEN_RESPONSE_KEYS = [
  'access_token',
  'bans',
  'display_name',
  'expires_in',
  'is_comply',
  'jflgs',
  'namespace',
  'namespace_roles',
  'permissions',
  'roles',
  'scope',
  'token_type',
]
const CLIENT_CLAIM_KEYS = [
  'bans',
  'client_id',
  'display_name',
  'exp',
  'iat',
  'is_comply',
  'iss',
  'jflgs',
  'jti',
  'namespace',
  'namespace_roles',
  'permissions',
  'roles',
  'scope',
]

/** Parses a revocation list losslessly: bits as bigint, m and k as numbers. */
function parseList(text: string): {
  m: number
  k: number
  bits: bigint[]
  users: { id: string; revoked_at: string }[]
  raw: Json
} {
  const raw = losslessParse(text) as Json
  const rt = raw.revoked_tokens
  return {
    m: Number((rt.m as LosslessNumber).value),
    k: Number((rt.k as LosslessNumber).value),
    bits: (rt.bits as LosslessNumber[]).map((n) => BigInt(n.value)),
    users: raw.revoked_users,
    raw,
  }
}

let emu: Emulator
let tokenUrl: string
before(async () => {
  emu = await startEmulator()
  tokenUrl = `${emu.baseUrl}/v3/oauth/token`
})
after(() => emu.close())

describe('POST /iam/v3/oauth/token', () => {
  test('client_credentials: full TokenResponseV3 shape, camelCase permissions', async () => {
    const res = await postForm(tokenUrl, { grant_type: 'client_credentials' }, defaultBasic(emu))
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assertKeys(res.body, TOKEN_RESPONSE_KEYS)
    assert.equal(res.body.token_type, 'Bearer')
    assert.equal(res.body.expires_in, 3600)
    assert.equal(res.body.namespace, 'sample-publisher')
    assert.deepEqual(res.body.bans, [])
    assert.deepEqual(res.body.roles, [])
    assert.deepEqual(res.body.namespace_roles, [])
    assert.equal(res.body.display_name, '')
    assert.equal(res.body.is_comply, true)
    assert.equal(res.body.jflgs, 0)
    assert.equal(res.body.scope, 'account commerce social publishing analytics')
    assert.deepEqual(res.body.permissions, [
      { resource: 'ADMIN:ROLE', action: 2 },
      { resource: 'ADMIN:NAMESPACE:*:CLIENT', action: 2 },
      { resource: 'ADMIN:NAMESPACE:*:NAMESPACE', action: 2 },
    ])
  })

  test('client token JWT: RS256 header with kid and typ, PascalCase permissions, no sub', async () => {
    const res = await postForm(tokenUrl, { grant_type: 'client_credentials' }, defaultBasic(emu))
    const { header, payload } = decodeJwt(res.body.access_token)
    assert.deepEqual(header, { alg: 'RS256', kid: emu.currentKid, typ: 'JWT' })
    assertKeys(payload, CLIENT_CLAIM_KEYS)
    assert.equal(payload.iss, emu.baseUrl)
    assert.equal(payload.client_id, emu.clientId)
    assert.equal(payload.exp - payload.iat, 3600)
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 5)
    assert.match(payload.jti, /^[0-9a-f]{32}$/)
    assert.deepEqual(payload.permissions[0], { Resource: 'ADMIN:ROLE', Action: 2 })
  })

  test('two tokens issued in the same second differ', async () => {
    const [a, b] = await Promise.all([
      postForm(tokenUrl, { grant_type: 'client_credentials' }, defaultBasic(emu)),
      postForm(tokenUrl, { grant_type: 'client_credentials' }, defaultBasic(emu)),
    ])
    assert.notEqual(a.body.access_token, b.body.access_token)
  })

  test('unknown headers (B3 tracing) are ignored', async () => {
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: {
        Authorization: defaultBasic(emu),
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-B3-TraceId': '80f198ee56343ba864fe8b2a57d3eff7',
        'X-B3-SpanId': 'e457b5a2e4d86bd1',
        'X-B3-Sampled': '1',
        'Uber-Trace-Id': 'abc:def:0:1',
      },
      body: 'grant_type=client_credentials',
    })
    assert.equal(res.status, 200)
  })

  for (const [name, auth] of [
    ['no Authorization', undefined],
    ['wrong secret', basic('sample-client', 'nope')],
    ['unknown client', basic('nobody', 'x')],
    ['not Basic', 'Bearer abc'],
  ] as const) {
    test(`401 invalid_client: ${name}`, async () => {
      const res = await postForm(tokenUrl, { grant_type: 'client_credentials' }, auth)
      assert.equal(res.status, 401)
      assertKeys(res.body, ['error', 'error_description'])
      assert.equal(res.body.error, 'invalid_client')
    })
  }

  test('400 for a missing or unsupported grant_type and for a non-form body', async () => {
    const missing = await postForm(tokenUrl, {}, defaultBasic(emu))
    assert.equal(missing.status, 400)
    assert.equal(missing.body.error, 'invalid_request')
    const unsupported = await postForm(tokenUrl, { grant_type: 'implicit' }, defaultBasic(emu))
    assert.equal(unsupported.status, 400)
    assert.equal(unsupported.body.error, 'unsupported_grant_type')
    const json = await fetch(tokenUrl, {
      method: 'POST',
      headers: { Authorization: defaultBasic(emu), 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    })
    assert.equal(json.status, 400)
  })

  test('a public client cannot use client_credentials', async () => {
    const res = await postForm(
      tokenUrl,
      { grant_type: 'client_credentials' },
      basic('sample-web-client', ''),
    )
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'unauthorized_client')
  })

  test('extend grant: delegate token with extend_namespace, scope extend, no roles/permissions', async () => {
    const res = await postForm(
      tokenUrl,
      { grant_type: EXTEND, extendNamespace: 'sample-namespace' },
      defaultBasic(emu),
    )
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.scope, 'extend')
    assert.deepEqual(res.body.permissions, [])
    assert.equal(res.body.roles, undefined)
    assert.equal(res.body.namespace_roles, undefined)
    const { payload } = decodeJwt(res.body.access_token)
    assert.equal(payload.extend_namespace, 'sample-namespace')
    assert.equal(payload.scope, 'extend')
    assert.equal(payload.namespace, 'sample-publisher')
    assert.equal(payload.client_id, emu.clientId)
    for (const claim of ['roles', 'namespace_roles', 'permissions', 'sub']) {
      assert.equal(payload[claim], undefined, claim)
    }
  })

  test('extend grant: refused for a Game-namespace client, a non-Game target, a missing target', async () => {
    const game = await emu.createClient({
      clientId: 'game-client',
      clientSecret: 'game-secret',
      namespace: 'sample-namespace',
    })
    const refused = await postForm(
      tokenUrl,
      { grant_type: EXTEND, extendNamespace: 'sample-namespace' },
      basic(game.clientId, game.clientSecret),
    )
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'unauthorized_client')
    assertKeys(refused.body, ['error', 'error_description'])

    const publisher = await postForm(
      tokenUrl,
      { grant_type: EXTEND, extendNamespace: 'sample-publisher' },
      defaultBasic(emu),
    )
    assert.equal(publisher.status, 400)
    const unknown = await postForm(
      tokenUrl,
      { grant_type: EXTEND, extendNamespace: 'no-such-ns' },
      defaultBasic(emu),
    )
    assert.equal(unknown.status, 400)
    const missing = await postForm(tokenUrl, { grant_type: EXTEND }, defaultBasic(emu))
    assert.equal(missing.status, 400)
    assert.equal(missing.body.error, 'invalid_request')
  })

  test('extend grant from a Studio-namespace client', async () => {
    await emu.createNamespace({
      namespace: 'studio9',
      type: 'Studio',
      publisherNamespace: 'sample-publisher',
    })
    await emu.createNamespace({
      namespace: 'studio9-game',
      type: 'Game',
      studioNamespace: 'studio9',
    })
    const studio = await emu.createClient({ namespace: 'studio9' })
    const res = await postForm(
      tokenUrl,
      { grant_type: EXTEND, extendNamespace: 'studio9-game' },
      basic(studio.clientId, studio.clientSecret),
    )
    assert.equal(res.status, 200, res.text)
    assert.equal(decodeJwt(res.body.access_token).payload.extend_namespace, 'studio9-game')
  })

  test('password grant for the demo user: user token and refresh token', async () => {
    const res = await postForm(
      tokenUrl,
      { grant_type: 'password', username: 'sample-user', password: 'sample-password' },
      defaultBasic(emu),
    )
    assert.equal(res.status, 200, res.text)
    assertKeys(res.body, [...TOKEN_RESPONSE_KEYS, 'user_id', 'refresh_token', 'refresh_expires_in'])
    assert.equal(res.body.user_id, 'sample-userid')
    assert.equal(res.body.namespace, 'sample-namespace')
    assert.equal(res.body.display_name, 'Sample User')
    assert.deepEqual(res.body.permissions, [
      { resource: 'NAMESPACE:sample-namespace:USER:sample-userid', action: 4 },
    ])
    const { payload } = decodeJwt(res.body.access_token)
    assert.equal(payload.sub, 'sample-userid')
    assert.equal(payload.client_id, emu.clientId)
    assert.equal(payload.jflgs, 1)
    assert.deepEqual(payload.permissions, [
      { Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 },
    ])
    assertKeys(payload, [...CLIENT_CLAIM_KEYS, 'sub'])

    // The refresh token works once.
    const refreshed = await postForm(
      tokenUrl,
      { grant_type: 'refresh_token', refresh_token: res.body.refresh_token },
      defaultBasic(emu),
    )
    assert.equal(refreshed.status, 200, refreshed.text)
    assert.equal(decodeJwt(refreshed.body.access_token).payload.sub, 'sample-userid')
    const again = await postForm(
      tokenUrl,
      { grant_type: 'refresh_token', refresh_token: res.body.refresh_token },
      defaultBasic(emu),
    )
    assert.equal(again.status, 400)
    assert.equal(again.body.error, 'invalid_grant')
  })

  test('password grant: 400 invalid_grant on bad credentials', async () => {
    for (const [username, password] of [
      ['sample-user', 'wrong'],
      ['nobody', 'sample-password'],
    ] as const) {
      const res = await postForm(
        tokenUrl,
        { grant_type: 'password', username, password },
        defaultBasic(emu),
      )
      assert.equal(res.status, 400)
      assertKeys(res.body, ['error', 'error_description'])
      assert.equal(res.body.error, 'invalid_grant')
    }
  })

  test('password grant through the public web client (client_id form field, no secret)', async () => {
    const res = await postForm(tokenUrl, {
      grant_type: 'password',
      username: 'other-user',
      password: 'other-password',
      client_id: 'sample-web-client',
    })
    assert.equal(res.status, 200, res.text)
    const { payload } = decodeJwt(res.body.access_token)
    assert.equal(payload.sub, 'other-userid')
    assert.equal(payload.client_id, 'sample-web-client')
    assert.deepEqual(payload.permissions, [])
  })
})

describe('GET /iam/v3/oauth/jwks', () => {
  test('every key has exactly kty, use, kid, n, e, alg with unpadded base64url', async () => {
    const res = await get(`${emu.baseUrl}/v3/oauth/jwks`, defaultBasic(emu))
    assert.equal(res.status, 200)
    assertKeys(res.body, ['keys'])
    assert.ok(res.body.keys.length >= 1)
    for (const key of res.body.keys) {
      assertKeys(key, ['kty', 'use', 'kid', 'n', 'e', 'alg'])
      assert.equal(key.kty, 'RSA')
      assert.equal(key.use, 'sig')
      assert.equal(key.alg, 'RS256')
      assert.match(key.n, /^[A-Za-z0-9_-]+$/)
      assert.equal(key.e, 'AQAB')
    }
    assert.ok(res.body.keys.some((k: { kid: string }) => k.kid === emu.currentKid))
  })

  test('a token verifies with the published keys', async () => {
    const jwks = (await get(`${emu.baseUrl}/v3/oauth/jwks`, defaultBasic(emu))).body
    const token = await emu.issueUserToken({ sub: 'u1' })
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ['RS256'] })
    assert.equal(payload.sub, 'u1')
  })

  test('401 errorCode 20001 without valid Basic credentials', async () => {
    for (const auth of [undefined, basic(emu.clientId, 'bad')]) {
      const res = await get(`${emu.baseUrl}/v3/oauth/jwks`, auth)
      assert.equal(res.status, 401)
      assert.deepEqual(res.body, { errorCode: 20001, errorMessage: 'unauthorized access' })
    }
  })
})

describe('GET /iam/v3/oauth/revocationlist', () => {
  test('exact shape; m = 64 * bits.length; k >= 1; revoked_users is an array', async () => {
    const local = await startEmulator()
    try {
      const res = await get(`${local.baseUrl}/v3/oauth/revocationlist`, defaultBasic(local))
      assert.equal(res.status, 200)
      assert.match(res.text, /"revoked_users":\[\]/)
      const list = parseList(res.text)
      assertKeys(list.raw, ['revoked_tokens', 'revoked_users'])
      assertKeys(list.raw.revoked_tokens, ['m', 'k', 'bits'])
      assert.ok(list.bits.length > 0)
      assert.equal(list.m, 64 * list.bits.length)
      assert.ok(list.k >= 1)
      assert.ok(list.bits.every((w) => w === 0n))
      // Sized for negligible false positives: capacity >= 1000 at fpp 0.001.
      assert.ok(list.m >= 14377, `m = ${list.m}`)
    } finally {
      await local.close()
    }
  })

  test('401 errorCode 20001 without valid Basic credentials', async () => {
    const res = await get(`${emu.baseUrl}/v3/oauth/revocationlist`)
    assert.equal(res.status, 401)
    assert.deepEqual(res.body, { errorCode: 20001, errorMessage: 'unauthorized access' })
  })

  test('revoked users carry an RFC 3339 revoked_at with fractional seconds and Z', async () => {
    const before = Date.now()
    const revokedAt = await emu.revokeUser('revoked-user-1')
    const list = parseList(
      (await get(`${emu.baseUrl}/v3/oauth/revocationlist`, defaultBasic(emu))).text,
    )
    const entry = list.users.find((u) => u.id === 'revoked-user-1')
    assert.ok(entry)
    assertKeys(entry, ['id', 'revoked_at'])
    assert.match(entry.revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,9}Z$/)
    assert.ok(Date.parse(entry.revoked_at) >= before - 1)
    assert.equal(Date.parse(entry.revoked_at), Date.parse(revokedAt))
  })

  test('many revoked tokens: the filter grows and has no false positive on fresh tokens', async () => {
    const local = await startEmulator()
    try {
      const revoked: string[] = []
      for (let i = 0; i < 600; i++) revoked.push(`revoked-token-${i}-${'x'.repeat(i % 50)}`)
      for (const t of revoked) await local.revokeToken(t)
      const list = parseList(
        (await get(`${local.baseUrl}/v3/oauth/revocationlist`, defaultBasic(local))).text,
      )
      const filter = new BloomFilter(list.bits, list.k)
      assert.ok(revoked.every((t) => filter.mightContain(t)))
      let falsePositives = 0
      for (let i = 0; i < 2000; i++) if (filter.mightContain(`fresh-${i}`)) falsePositives++
      assert.ok(falsePositives <= 10, `${falsePositives} false positives`)
    } finally {
      await local.close()
    }
  })
})

describe('POST /iam/v3/oauth/verify', () => {
  const verify = (token: string, auth = defaultBasic(emu)) =>
    postForm(`${emu.baseUrl}/v3/oauth/verify`, { token }, auth)

  test('200 TokenResponseV3-like body for a valid user token', async () => {
    const token = await emu.issueUserToken({
      sub: 'user-verify-1',
      permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:user-verify-1', Action: 7 }],
      roles: ['r1'],
      bans: [{ Ban: 'CHAT', Enabled: true, EndDate: '2099-01-01T00:00:00Z' }],
    })
    const res = await verify(token)
    assert.equal(res.status, 200, res.text)
    assertKeys(res.body, [...TOKEN_RESPONSE_KEYS, 'user_id'])
    assert.equal(res.body.access_token, token)
    assert.equal(res.body.user_id, 'user-verify-1')
    assert.deepEqual(res.body.permissions, [
      { resource: 'NAMESPACE:sample-namespace:USER:user-verify-1', action: 7 },
    ])
    assert.deepEqual(res.body.bans, [
      { ban: 'CHAT', enabled: true, endDate: '2099-01-01T00:00:00Z' },
    ])
    assert.ok(res.body.expires_in > 3500 && res.body.expires_in <= 3600)
  })

  test('200 for a valid client token', async () => {
    const res = await verify(await emu.issueClientToken())
    assert.equal(res.status, 200)
    assertKeys(res.body, TOKEN_RESPONSE_KEYS)
  })

  const now = () => Math.floor(Date.now() / 1000)
  const invalid: [string, () => Promise<string>][] = [
    ['garbage', async () => 'not-a-jwt'],
    ['expired', () => emu.issueUserToken({ iat: now() - 7200, exp: now() - 3600 })],
    ['not yet valid', () => emu.issueUserToken({ nbf: now() + 3600 })],
    ['missing exp', () => emu.signToken({ sub: 'x', namespace: 'sample-namespace', iat: now() })],
    ['HS256', () => emu.signToken({ sub: 'x', exp: now() + 60 }, { alg: 'HS256', secret: 's' })],
    ['alg none', () => emu.signToken({ sub: 'x', exp: now() + 60 }, { alg: 'none' })],
    ['unknown kid', () => emu.signToken({ sub: 'x', exp: now() + 60 }, { kid: 'unknown' })],
    ['no kid', () => emu.signToken({ sub: 'x', exp: now() + 60 }, { kid: null })],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await emu.issueUserToken({ sub: 'a' })).split('.')
        const forged = Buffer.from(JSON.stringify({ sub: 'b', exp: now() + 60 })).toString(
          'base64url',
        )
        return `${h}.${forged}.${s}`
      },
    ],
  ]
  for (const [name, make] of invalid) {
    test(`400 invalid_token: ${name}`, async () => {
      const res = await verify(await make())
      assert.equal(res.status, 400)
      assertKeys(res.body, ['error', 'error_description'])
      assert.equal(res.body.error, 'invalid_token')
    })
  }

  test('400 for a revoked token, and for a token of a revoked user', async () => {
    const token = await emu.issueUserToken({ sub: 'user-verify-2' })
    assert.equal((await verify(token)).status, 200)
    await emu.revokeToken(token)
    assert.equal((await verify(token)).status, 400)

    const userToken = await emu.issueUserToken({ sub: 'user-verify-3', iat: now() - 5 })
    assert.equal((await verify(userToken)).status, 200)
    await emu.revokeUser('user-verify-3')
    assert.equal((await verify(userToken)).status, 400)
    // A token issued after the revocation second is valid again.
    const later = await emu.issueUserToken({ sub: 'user-verify-3', iat: now() + 2 })
    assert.equal((await verify(later)).status, 200)
  })

  test('Basic auth required; token field required', async () => {
    const token = await emu.issueUserToken()
    const noAuth = await postForm(`${emu.baseUrl}/v3/oauth/verify`, { token })
    assert.equal(noAuth.status, 401)
    assert.equal(noAuth.body.error, 'invalid_client')
    const missing = await postForm(`${emu.baseUrl}/v3/oauth/verify`, {}, defaultBasic(emu))
    assert.equal(missing.status, 400)
  })
})

describe('POST /iam/v3/oauth/revoke', () => {
  test('200, then the token is in the revocation list and fails verify', async () => {
    const token = await emu.issueUserToken({ sub: 'user-revoke-1' })
    const other = await emu.issueUserToken({ sub: 'user-revoke-2' })
    const res = await postForm(`${emu.baseUrl}/v3/oauth/revoke`, { token }, defaultBasic(emu))
    assert.equal(res.status, 200)
    const list = parseList(
      (await get(`${emu.baseUrl}/v3/oauth/revocationlist`, defaultBasic(emu))).text,
    )
    assert.equal(list.m, 64 * list.bits.length)
    const filter = new BloomFilter(list.bits, list.k)
    assert.equal(filter.mightContain(token), true)
    assert.equal(filter.mightContain(other), false)
    // The SDK's own parser reads the same thing.
    const parsed = parseRevocationList(
      (await get(`${emu.baseUrl}/v3/oauth/revocationlist`, defaultBasic(emu))).text,
    )
    assert.equal(parsed.revokedTokens.mightContain(token), true)
    assert.equal(parsed.revokedTokens.mightContain(other), false)
    const verified = await postForm(`${emu.baseUrl}/v3/oauth/verify`, { token }, defaultBasic(emu))
    assert.equal(verified.status, 400)
  })

  test('401 without Basic credentials, 400 without token', async () => {
    const noAuth = await postForm(`${emu.baseUrl}/v3/oauth/revoke`, { token: 'x' })
    assert.equal(noAuth.status, 401)
    assert.equal(noAuth.body.error, 'invalid_client')
    const missing = await postForm(`${emu.baseUrl}/v3/oauth/revoke`, {}, defaultBasic(emu))
    assert.equal(missing.status, 400)
  })
})
