/**
 * The core client under attack and under a broken IAM: every spelling of a revoked token, timer
 * overflow, the request budget as a total, values that cannot name an IAM resource, stale-if-error
 * caches, issuer and key checks, and health before anything loaded.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { after, before, describe, it } from 'node:test'

import { DEFAULT_USER_ROLE_ID, IamClient, optionsFromEnv } from '../../src/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import { clientFor, codeOf, emulator, memoryLogger, startedClientFor } from '../support/iam.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const NS = 'sample-namespace'

/** Every text of a base64url segment that decodes to the same bytes (its canonical one first). */
function spellings(segment: string): string[] {
  const free = segment.length % 4 === 2 ? 4 : segment.length % 4 === 3 ? 2 : 0
  const index = ALPHABET.indexOf(segment.at(-1) as string)
  const out: string[] = []
  for (let low = 0; low < 2 ** free; low++) {
    out.push(segment.slice(0, -1) + (ALPHABET[(index & ~(2 ** free - 1)) | low] as string))
  }
  return out
}

/** An RSA key pair, its public JWK (with `kid` and maybe `alg`), and a signer of RS256 tokens. */
function rsaKey(bits: number, kid: string, alg?: string) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...(alg ? { alg } : {}) }
  return { jwk, token: (claims: object) => signRs256(privateKey, kid, claims) }
}

function signRs256(key: KeyObject, kid: string, claims: object): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${b64({ alg: 'RS256', kid, typ: 'JWT' })}.${b64(claims)}`
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`
}

function withPart(token: string, part: number, value: string): string {
  const parts = token.split('.')
  parts[part] = value
  return parts.join('.')
}

describe('hardening of the core client', () => {
  let iam: Emulator
  let client: IamClient
  before(async () => {
    iam = await emulator()
    client = await startedClientFor(iam)
  })
  after(async () => {
    await client?.close()
    await iam.close()
  })

  describe('one spelling per token (canonical base64url)', () => {
    it('refuses a revoked token in each of its 16 spellings; only the canonical one is "revoked"', async () => {
      const revoked = await iam.issueUserToken({ sub: 'u-revoked' })
      await iam.revokeToken(revoked)
      // A client started after the revocation, so its revocation list has the token.
      const c = await startedClientFor(iam)
      try {
        const signature = revoked.split('.')[2] as string
        const all = spellings(signature)
        assert.equal(all.length, 16)
        for (const spelling of all) {
          const code = await codeOf(c.validateAndParseClaims(withPart(revoked, 2, spelling)))
          assert.equal(
            code,
            spelling === signature ? 'ERR_IAM_TOKEN_REVOKED' : 'ERR_IAM_TOKEN_MALFORMED',
            spelling.slice(-2),
          )
        }
      } finally {
        await c.close()
      }
    })

    it('refuses a non-canonical header or payload, and a segment of impossible length', async () => {
      const token = await iam.issueUserToken({ sub: 'u-ok', padding: 'xx' })
      assert.equal((await client.validateAndParseClaims(token)).sub, 'u-ok')
      for (const part of [0, 1]) {
        const segment = token.split('.')[part] as string
        for (const spelling of spellings(segment).slice(1)) {
          assert.equal(
            await codeOf(client.validateAndParseClaims(withPart(token, part, spelling))),
            'ERR_IAM_TOKEN_MALFORMED',
          )
        }
      }
      const sig = token.split('.')[2] as string
      assert.equal(
        await codeOf(client.validateAndParseClaims(withPart(token, 2, `${sig}AAA`))),
        'ERR_IAM_TOKEN_MALFORMED',
      )
    })
  })

  describe('timers and bounds', () => {
    it('a 35-day client token causes exactly one grant, not a grant per millisecond', async () => {
      const longLived = await emulator({ clientTokenExpiresIn: 3_000_000 })
      const c = clientFor(longLived)
      try {
        await c.clientTokenGrant()
        await new Promise((resolve) => setTimeout(resolve, 1_000))
        assert.equal(longLived.requestCount('token'), 1)
      } finally {
        await c.close()
        await longLived.close()
      }
    })

    const base = { baseUrl: 'http://127.0.0.1:1/iam', clientId: 'id', clientSecret: 's' }
    const durations = [
      'rolesCacheTtlMs',
      'clientInfoCacheTtlMs',
      'namespaceContextCacheTtlMs',
      'namespaceNotFoundCacheTtlMs',
      'staleIfErrorMs',
      'jwksRefreshIntervalMs',
      'revocationListRefreshIntervalMs',
      'jwksRefetchCooldownMs',
      'clockToleranceMs',
      'requestTimeoutMs',
      'requestBudgetMs',
      'backgroundRetryMaxDelayMs',
    ]
    for (const option of durations) {
      it(`${option} above 2^31-1 ms is a TypeError naming it; 2^31-1 is accepted`, () => {
        assert.throws(
          () => new IamClient({ ...base, [option]: 2 ** 31 }),
          (e: unknown) => e instanceof TypeError && e.message.includes(`"${option}"`),
        )
        assert.doesNotThrow(() => new IamClient({ ...base, [option]: 2 ** 31 - 1 }))
      })
    }

    it('the same bound holds for environment variables', () => {
      const fromEnv = optionsFromEnv({ IAM_JWKS_REFRESH_INTERVAL_MS: String(2 ** 31) })
      assert.throws(
        () => new IamClient({ ...base, ...fromEnv }),
        (e: unknown) => e instanceof TypeError && e.message.includes('jwksRefreshIntervalMs'),
      )
    })
  })

  describe('the request budget bounds the whole call', () => {
    it('a 401 after 1.9 s with a 2 s budget ends near 2 s, the refresh and retry included', async () => {
      const c = await startedClientFor(iam, { requestBudgetMs: 2_000, requestTimeoutMs: 5_000 })
      try {
        iam.setFault('role', { status: 401, delayMs: 1_900 })
        const start = Date.now()
        const code = await codeOf(c.getRolePermissions('some-role'))
        const elapsed = Date.now() - start
        assert.equal(code, 'ERR_IAM_UNAVAILABLE')
        // Before the fix the retry got a fresh budget: about 3.8 s.
        assert.ok(elapsed < 3_000, `took ${elapsed} ms`)
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })
  })

  describe('values that cannot name an IAM resource never reach an IAM URL', () => {
    for (const value of ['.', '..', '', 'a/b', '..\\x']) {
      it(`${JSON.stringify(value)}: answered locally as not found`, async () => {
        iam.resetRequestCounts()
        assert.deepEqual(await client.getRolePermissions(value), [])
        assert.deepEqual(await client.getRoleOverridePermissions(value, DEFAULT_USER_ROLE_ID), [])
        assert.deepEqual(await client.getRoleOverridePermissions(NS, value), [])
        assert.equal(await client.getNamespaceContext(value), null)
        assert.equal(
          await codeOf(client.getClientInformation(value, iam.clientId)),
          'ERR_IAM_NOT_FOUND',
        )
        assert.equal(await codeOf(client.getClientInformation(NS, value)), 'ERR_IAM_NOT_FOUND')
        for (const endpoint of [
          'role',
          'roleOverride',
          'namespaceContext',
          'clientInfo',
        ] as const) {
          assert.equal(iam.requestCount(endpoint), 0, endpoint)
        }
        assert.deepEqual(iam.unmatchedRequests(), [])
      })
    }

    it('a studio rule and a role override fed ".." by the caller deny without asking the IAM', async () => {
      const token = await iam.issueUserToken({
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: '*' }],
        permissions: [{ Resource: 'NAMESPACE:sample-studio-:USER:*', Action: 2 }],
      })
      const fresh = await startedClientFor(iam) // nothing cached from the tests above
      const claims = await fresh.validateAndParseClaims(token)
      iam.resetRequestCounts()
      const allowed = await fresh.validatePermission(
        claims,
        { resource: 'NAMESPACE:{namespace}:USER:x', action: 2 },
        { '{namespace}': '..' },
      )
      await fresh.close()
      assert.equal(allowed, false)
      assert.equal(iam.requestCount('roleOverride') + iam.requestCount('namespaceContext'), 0)
      assert.deepEqual(iam.unmatchedRequests(), [])
    })
  })

  describe('a broken IAM: garbage client information, oversized bodies, weak keys', () => {
    for (const body of [
      {},
      { redirectUri: null },
      { redirectUri: ['https://example.com'] },
      { redirectUri: 5 },
    ]) {
      it(`client information answering ${JSON.stringify(body)} is ERR_IAM_BAD_RESPONSE, not "no redirect URI"`, async () => {
        iam.setFault('clientInfo', { status: 200, body })
        try {
          assert.equal(
            await codeOf(
              client.getClientInformation(
                NS,
                `app-${Object.keys(body).length}-${typeof Object.values(body)[0]}`,
              ),
            ),
            'ERR_IAM_BAD_RESPONSE',
          )
        } finally {
          iam.setFault('clientInfo', null)
        }
      })
    }

    it('an empty redirectUri is "none registered"; a string is taken as it is', async () => {
      iam.setFault('clientInfo', { status: 200, body: { redirectUri: '', baseUri: '' } })
      try {
        assert.equal((await client.getClientInformation(NS, 'empty-redirect')).redirectUri, '')
      } finally {
        iam.setFault('clientInfo', null)
      }
    })

    it('a body over maxResponseBytes ends the read early, with no retry', async () => {
      const c = await startedClientFor(iam, {
        maxResponseBytes: 1024 * 1024,
        requestBudgetMs: 5_000,
      })
      try {
        iam.resetRequestCounts()
        iam.setFault('role', { streamBytes: 64 * 1024 * 1024 })
        assert.equal(await codeOf(c.getRolePermissions('streamed')), 'ERR_IAM_BAD_RESPONSE')
        const written = await iam.streamStopped('role')
        assert.ok(written < 16 * 1024 * 1024, `the IAM wrote ${written} bytes`)
        assert.equal(iam.requestCount('role'), 1)
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })

    it('the default maxResponseBytes (32 MiB) stops a body of 256 MiB', async () => {
      // Reading 32 MiB takes a while on a loaded machine: give the attempt time to get there.
      const c = await startedClientFor(iam, { requestTimeoutMs: 30_000, requestBudgetMs: 30_000 })
      iam.setFault('role', { streamBytes: 256 * 1024 * 1024 })
      try {
        assert.equal(await codeOf(c.getRolePermissions('streamed-default')), 'ERR_IAM_BAD_RESPONSE')
        assert.ok((await iam.streamStopped('role')) < 64 * 1024 * 1024)
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })

    it('JWKS: a key under 2048 bits is not imported (warned once); a key with alg is for that alg only', async () => {
      const weak = rsaKey(1024, 'weak-key')
      const rs384 = rsaKey(2048, 'rs384-key', 'RS384')
      const good = rsaKey(2048, 'good-key', 'RS256')
      iam.setFault('jwks', { status: 200, body: { keys: [weak.jwk, rs384.jwk, good.jwk] } })
      const logger = memoryLogger()
      const c = await startedClientFor(iam, {
        logger,
        jwksRefreshIntervalMs: 50,
        jwksRefetchCooldownMs: 0,
      })
      try {
        const claims = { sub: 'k', namespace: NS, exp: Math.floor(Date.now() / 1000) + 600 }
        assert.equal((await c.validateAndParseClaims(good.token(claims))).sub, 'k')
        assert.equal(
          await codeOf(c.validateAndParseClaims(weak.token(claims))),
          'ERR_IAM_TOKEN_KEY_UNKNOWN',
        )
        assert.equal(
          await codeOf(c.validateAndParseClaims(rs384.token(claims))),
          'ERR_IAM_TOKEN_ALGORITHM',
        )
        await new Promise((resolve) => setTimeout(resolve, 300)) // a few refreshes
        assert.ok(iam.requestCount('jwks') > 3)
        const warnings = logger.entries.filter((e) => e.details.kid === 'weak-key')
        assert.equal(warnings.length, 1)
        assert.deepEqual(c.health().jwks.keyIds.sort(), ['good-key', 'rs384-key'])
      } finally {
        iam.setFault('jwks', null)
        await c.close()
      }
    })
  })

  describe('stale-if-error: an outage does not turn into refusals', () => {
    it('serves an expired role while the IAM is down, refreshes in the background, says so', async () => {
      let clock = Date.now()
      const c = await startedClientFor(iam, {
        now: () => clock,
        requestBudgetMs: 300,
        requestTimeoutMs: 200,
      })
      try {
        const roleId = await iam.createRole({ permissions: [{ resource: 'A', action: 2 }] })
        assert.equal((await c.getRolePermissions(roleId)).length, 1)
        iam.setFault('role', { status: 503 })
        clock += 61_000
        assert.equal((await c.getRolePermissions(roleId)).length, 1, 'stale value served')
        assert.equal(c.health().caches.roles.staleEntries, 1)
        assert.ok(c.health().caches.roles.lastError?.includes('503'))
        // Known outage: answered at once, without waiting for the IAM.
        const calls = iam.requestCount('role')
        const start = Date.now()
        assert.equal((await c.getRolePermissions(roleId)).length, 1)
        assert.ok(Date.now() - start < 150)
        assert.ok(iam.requestCount('role') - calls <= 1)
        // The IAM is back with a "no": it replaces the stale "yes".
        iam.setFault('role', null)
        await iam.createRole({ roleId, permissions: [] })
        clock += 60_000
        await new Promise((resolve) => setTimeout(resolve, 400))
        await c.getRolePermissions(roleId) // triggers the background reload
        await new Promise((resolve) => setTimeout(resolve, 200))
        assert.equal((await c.getRolePermissions(roleId)).length, 0)
        assert.equal(c.health().caches.roles.staleEntries, 0)
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })

    it('a 403 (the client lost its permission) is never answered from the stale cache', async () => {
      let clock = Date.now()
      const c = await startedClientFor(iam, { now: () => clock, requestBudgetMs: 300 })
      try {
        const roleId = await iam.createRole({ permissions: [{ resource: 'B', action: 2 }] })
        await c.getRolePermissions(roleId)
        iam.setFault('role', { status: 403 })
        clock += 61_000
        assert.equal(await codeOf(c.getRolePermissions(roleId)), 'ERR_IAM_CLIENT_FORBIDDEN')
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })

    it('staleIfErrorMs: 0 turns it off', async () => {
      let clock = Date.now()
      const c = await startedClientFor(iam, {
        now: () => clock,
        requestBudgetMs: 300,
        staleIfErrorMs: 0,
      })
      try {
        const roleId = await iam.createRole({ permissions: [{ resource: 'C', action: 2 }] })
        await c.getRolePermissions(roleId)
        iam.setFault('role', { status: 503 })
        clock += 61_000
        assert.equal(await codeOf(c.getRolePermissions(roleId)), 'ERR_IAM_UNAVAILABLE')
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })
  })

  describe('issuer, key algorithm, health', () => {
    it('issuer: a token from another issuer is ERR_IAM_TOKEN_ISSUER; off by default', async () => {
      const foreign = await iam.issueUserToken({ iss: 'https://other.example' })
      assert.equal((await client.validateAndParseClaims(foreign)).iss, 'https://other.example')
      const strict = await startedClientFor(iam, { issuer: [iam.issuer, 'https://x.example'] })
      try {
        assert.equal(await codeOf(strict.validateAndParseClaims(foreign)), 'ERR_IAM_TOKEN_ISSUER')
        const own = await iam.issueUserToken({})
        assert.equal((await strict.validateAndParseClaims(own)).iss, iam.issuer)
        const none = await iam.signToken({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 })
        assert.equal(await codeOf(strict.validateAndParseClaims(none)), 'ERR_IAM_TOKEN_ISSUER')
      } finally {
        await strict.close()
      }
      assert.throws(() => new IamClient({ ...baseOptions(iam), issuer: [] }), TypeError)
    })

    it('healthCheck() is false until the key set, the revocation list and the client token load', async () => {
      const c = clientFor(iam)
      try {
        assert.equal(c.healthCheck(), false)
        await c.clientTokenGrant()
        assert.equal(c.healthCheck(), false)
        await c.startLocalValidation()
        assert.equal(c.healthCheck(), true)
      } finally {
        await c.close()
      }
    })
  })
})

function baseOptions(iam: Emulator) {
  return { baseUrl: iam.baseUrl, clientId: iam.clientId, clientSecret: iam.clientSecret }
}
