/**
 * The core client against the emulator over real HTTP: grant and refresh, local validation and
 * each rejection reason, revocation, key rotation, permission sources with caching, delegate
 * tokens, audience, faults and health.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createServer } from 'node:net'
import {
  Action,
  DEFAULT_USER_ROLE_ID,
  IamClient,
  isIamError,
  type JwtClaims,
} from '../../src/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import {
  clientFor,
  codeOf,
  emulator,
  eventually,
  forgeToken,
  memoryLogger,
  outcome,
  startedClientFor,
} from '../support/iam.js'

const NS = 'sample-namespace'

async function unusedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('IamClient against the emulator', () => {
  let iam: Emulator
  let client: IamClient
  const clients: IamClient[] = []
  const track = (c: IamClient) => (clients.push(c), c)

  before(async () => {
    iam = await emulator()
    client = track(
      await startedClientFor(iam, {
        jwksRefreshIntervalMs: 150,
        revocationListRefreshIntervalMs: 150,
        jwksRefetchCooldownMs: 0,
        clockToleranceMs: 0,
      }),
    )
  })
  after(async () => {
    for (const c of clients) await c.close()
    await iam.close()
  })

  describe('client token', () => {
    it('grants a client token that the IAM accepts', async () => {
      assert.notEqual(client.clientToken(), '')
      assert.equal(await client.validateAccessToken(client.clientToken()), true)
      const claims = await client.validateAndParseClaims(client.clientToken())
      assert.equal(claims.client_id, iam.clientId)
    })

    it('refreshes the client token at 0.8 of its lifetime', async () => {
      const shortLived = await emulator({ clientTokenExpiresIn: 1 })
      const c = track(clientFor(shortLived))
      try {
        await c.clientTokenGrant()
        const first = c.clientToken()
        assert.equal(shortLived.requestCount('token'), 1)
        await eventually(() => c.clientToken() !== first, 2_500)
        assert.ok(shortLived.requestCount('token') >= 2)
        assert.equal(c.health().clientToken.failing, false)
        // Not healthy before the key set and the revocation list are loaded too.
        assert.equal(c.healthCheck(), false)
        await c.startLocalValidation()
        assert.equal(c.healthCheck(), true)
      } finally {
        await c.close()
        await shortLived.close()
      }
    })

    it('shares one grant between concurrent callers', async () => {
      const c = track(clientFor(iam))
      const before = iam.requestCount('token')
      await Promise.all([c.clientTokenGrant(), c.clientTokenGrant(), c.clientTokenGrant()])
      assert.equal(iam.requestCount('token') - before, 1)
      await c.close()
    })

    it('reports wrong credentials as ERR_IAM_CLIENT_UNAUTHORIZED', async () => {
      const c = track(clientFor(iam, { clientSecret: 'wrong' }))
      assert.equal(await codeOf(c.clientTokenGrant()), 'ERR_IAM_CLIENT_UNAUTHORIZED')
      assert.equal(c.healthCheck(), false)
      await c.close()
    })
  })

  describe('local validation', () => {
    it('refuses to validate before startLocalValidation()', async () => {
      const c = track(clientFor(iam))
      const token = await iam.issueUserToken({})
      assert.equal(
        await codeOf(c.validateAndParseClaims(token)),
        'ERR_IAM_LOCAL_VALIDATION_NOT_STARTED',
      )
      await c.close()
    })

    it('returns typed claims with wire names and empty lists for absent ones', async () => {
      const token = await iam.issueUserToken({
        sub: 'user-1',
        namespace: NS,
        permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:user-1', Action: 2 }],
      })
      const claims = await client.validateAndParseClaims(token)
      assert.equal(claims.sub, 'user-1')
      assert.equal(claims.namespace, NS)
      assert.deepEqual(claims.permissions, [
        { Resource: 'NAMESPACE:sample-namespace:USER:user-1', Action: 2 },
      ])
      assert.ok(Array.isArray(claims.roles))
      assert.ok(Array.isArray(claims.bans))
      assert.equal(typeof claims.jflgs, 'number')
      assert.ok(Object.isFrozen(claims), 'claims are shared between requests, so frozen')
    })

    it('answers a repeated token from the verified-token cache with the same claims', async () => {
      const token = await iam.issueUserToken({ sub: 'user-2' })
      const first = await client.validateAndParseClaims(token)
      const second = await client.validateAndParseClaims(token)
      const third = await client.validateAndParseClaims(token)
      // Cached from its second verification on: a token used once takes no cache entry.
      assert.notEqual(first, second)
      assert.deepEqual(first, second)
      assert.equal(second, third)
      assert.equal(client.validateCachedClaims(token), third)
    })

    it('keeps a token in use cached while tokens used once pass through', async () => {
      const c = track(clientFor(iam, { verifiedTokenCacheSize: 1 }))
      await c.startLocalValidation()
      const hot = await iam.issueUserToken({ sub: 'hot' })
      await c.validateAndParseClaims(hot)
      await c.validateAndParseClaims(hot)
      assert.notEqual(c.validateCachedClaims(hot), undefined)
      for (let i = 0; i < 5; i++)
        await c.validateAndParseClaims(await iam.issueUserToken({ sub: `once-${i}` }))
      assert.notEqual(c.validateCachedClaims(hot), undefined, 'one-time tokens did not evict it')
      const other = await iam.issueUserToken({ sub: 'other' })
      await c.validateAndParseClaims(other)
      await c.validateAndParseClaims(other)
      assert.equal(c.validateCachedClaims(hot), undefined, 'a second hot token takes the one slot')
      assert.notEqual(c.validateCachedClaims(other), undefined)
      await c.close()
    })

    it('caches tokens that come back within the cache size, not a longer rotation', async () => {
      const mint = (n: number) =>
        Promise.all(Array.from({ length: n }, (_, i) => iam.issueUserToken({ sub: `r-${i}` })))
      const cachedAfterTwoPasses = async (tokens: string[]) => {
        const c = track(clientFor(iam, { verifiedTokenCacheSize: 4 }))
        await c.startLocalValidation()
        for (let pass = 0; pass < 2; pass++)
          for (const token of tokens) await c.validateAndParseClaims(token)
        const cached = tokens.filter((token) => c.validateCachedClaims(token) !== undefined)
        await c.close()
        return cached.length
      }
      assert.equal(await cachedAfterTwoPasses(await mint(4)), 4)
      // Six tokens in turn through a cache of four: each would be evicted before its next use.
      assert.equal(await cachedAfterTwoPasses(await mint(6)), 0)
    })

    const rejections: Array<[string, () => Promise<string>, string]> = [
      ['an empty token', async () => '', 'ERR_IAM_TOKEN_MALFORMED'],
      ['garbage', async () => 'not-a-jwt', 'ERR_IAM_TOKEN_MALFORMED'],
      ['four parts', async () => 'a.b.c.d', 'ERR_IAM_TOKEN_MALFORMED'],
      [
        'alg none',
        async () => forgeToken({ alg: 'none', kid: 'x' }, { exp: Date.now() / 1000 + 60 }, ''),
        'ERR_IAM_TOKEN_MALFORMED',
      ],
      [
        'alg none with a signature part',
        async () => forgeToken({ alg: 'none', kid: 'x' }, { exp: Date.now() / 1000 + 60 }),
        'ERR_IAM_TOKEN_ALGORITHM',
      ],
      [
        'HS256',
        async () => forgeToken({ alg: 'HS256', kid: 'x' }, { exp: Date.now() / 1000 + 60 }),
        'ERR_IAM_TOKEN_ALGORITHM',
      ],
      [
        'no kid',
        async () => forgeToken({ alg: 'RS256' }, { exp: Date.now() / 1000 + 60 }),
        'ERR_IAM_TOKEN_MALFORMED',
      ],
      [
        'an unknown kid',
        async () =>
          forgeToken({ alg: 'RS256', kid: 'no-such-key' }, { exp: Date.now() / 1000 + 60 }),
        'ERR_IAM_TOKEN_KEY_UNKNOWN',
      ],
      [
        'a tampered payload',
        async () => {
          const [h, , s] = (await iam.issueUserToken({ sub: 'tamper' })).split('.')
          const payload = Buffer.from(
            JSON.stringify({ sub: 'admin', exp: Date.now() / 1000 + 600 }),
          ).toString('base64url')
          return `${h}.${payload}.${s}`
        },
        'ERR_IAM_TOKEN_SIGNATURE',
      ],
      [
        'an expired token',
        async () => iam.issueUserToken({ exp: Math.floor(Date.now() / 1000) - 10 }),
        'ERR_IAM_TOKEN_EXPIRED',
      ],
      [
        'a token not valid yet',
        async () => iam.issueUserToken({ nbf: Math.floor(Date.now() / 1000) + 600 }),
        'ERR_IAM_TOKEN_NOT_YET_VALID',
      ],
      [
        'a token without exp',
        async () => iam.signToken({ sub: 'no-exp', namespace: NS }),
        'ERR_IAM_TOKEN_MALFORMED',
      ],
    ]
    for (const [name, make, code] of rejections) {
      it(`rejects ${name} with ${code}`, async () => {
        assert.equal(await codeOf(client.validateAndParseClaims(await make())), code)
      })
    }

    it('honours clockToleranceMs for exp', async () => {
      const tolerant = track(await startedClientFor(iam, { clockToleranceMs: 60_000 }))
      const token = await iam.issueUserToken({ exp: Math.floor(Date.now() / 1000) - 10 })
      assert.equal((await tolerant.validateAndParseClaims(token)).exp < Date.now() / 1000, true)
      await tolerant.close()
    })

    it('picks up a revoked token after the next revocation list refresh, even when cached', async () => {
      const token = await iam.issueUserToken({ sub: 'to-revoke' })
      await client.validateAndParseClaims(token)
      await iam.revokeToken(token)
      await eventually(
        async () =>
          (await outcome(client.validateAndParseClaims(token))) === 'ERR_IAM_TOKEN_REVOKED',
      )
      assert.equal(await client.validateAccessToken(token), false)
    })

    it('picks up a revoked user for tokens issued before the revocation', async () => {
      const token = await iam.issueUserToken({
        sub: 'user-to-revoke',
        iat: Math.floor(Date.now() / 1000) - 5,
      })
      await client.validateAndParseClaims(token)
      await iam.revokeUser('user-to-revoke')
      await eventually(
        async () =>
          (await outcome(client.validateAndParseClaims(token))) === 'ERR_IAM_USER_REVOKED',
      )
      // A token issued after the revocation (a later second) is accepted again.
      const later = await iam.issueUserToken({
        sub: 'user-to-revoke',
        iat: Math.floor(Date.now() / 1000) + 2,
      })
      assert.equal((await client.validateAndParseClaims(later)).sub, 'user-to-revoke')
    })

    it('picks up key rotation through the unknown-kid refetch, at most once per cooldown', async () => {
      const rotating = await emulator()
      const c = track(await startedClientFor(rotating, { jwksRefetchCooldownMs: 60_000 }))
      try {
        const before = rotating.requestCount('jwks')
        await rotating.rotateKeys({})
        // Within the cooldown (counted from the start-up fetch), the new key is not fetched.
        const fresh = await rotating.issueUserToken({})
        assert.equal(await codeOf(c.validateAndParseClaims(fresh)), 'ERR_IAM_TOKEN_KEY_UNKNOWN')
        assert.equal(rotating.requestCount('jwks'), before)
        await c.close()

        const quick = track(await startedClientFor(rotating, { jwksRefetchCooldownMs: 0 }))
        const old = await rotating.issueUserToken({})
        await rotating.rotateKeys({})
        const rotated = await rotating.issueUserToken({})
        const count = rotating.requestCount('jwks')
        assert.ok((await quick.validateAndParseClaims(rotated)).exp > 0)
        assert.equal(rotating.requestCount('jwks'), count + 1)
        assert.ok((await quick.validateAndParseClaims(old)).exp > 0, 'old key stays published')
        await quick.close()
      } finally {
        await rotating.close()
      }
    })

    it('validates without waiting when no I/O is needed (validateClaimsSync)', async () => {
      const rotating = await emulator()
      try {
        const c = track(clientFor(rotating, { jwksRefetchCooldownMs: 0 }))
        const token = await rotating.issueUserToken({ sub: 'sync-user' })
        assert.equal(c.validateClaimsSync(token), undefined, 'before startLocalValidation')
        await c.startLocalValidation()
        const first = c.validateClaimsSync(token)
        assert.equal(first?.sub, 'sync-user')
        assert.equal(c.validateCachedClaims(token), undefined, 'validated once: not cached yet')
        assert.equal(c.validateClaimsSync(token)?.sub, 'sync-user')
        assert.notEqual(c.validateCachedClaims(token), undefined, 'validated twice: cached')
        const expired = await rotating.issueUserToken({ exp: Math.floor(Date.now() / 1000) - 60 })
        assert.throws(
          () => c.validateClaimsSync(expired),
          (error: unknown) => isIamError(error, 'ERR_IAM_TOKEN_EXPIRED'),
        )
        assert.throws(
          () => c.validateClaimsSync('a.b'),
          (error: unknown) => isIamError(error, 'ERR_IAM_TOKEN_MALFORMED'),
        )
        // A key the client has not fetched yet needs I/O: undefined, and the async path fetches it.
        const jwks = rotating.requestCount('jwks')
        await rotating.rotateKeys({})
        const rotated = await rotating.issueUserToken({ sub: 'rotated' })
        assert.equal(c.validateClaimsSync(rotated), undefined)
        assert.equal(rotating.requestCount('jwks'), jwks, 'the sync path does no I/O')
        assert.equal((await c.validateAndParseClaims(rotated)).sub, 'rotated')
        assert.equal(c.validateClaimsSync(rotated)?.sub, 'rotated')
        await c.close()
        assert.equal(c.validateClaimsSync(token), undefined, 'after close()')
      } finally {
        await rotating.close()
      }
    })

    it('hammering with unknown kids costs one JWKS fetch per cooldown', async () => {
      const c = track(await startedClientFor(iam, { jwksRefetchCooldownMs: 5_000 }))
      await new Promise((r) => setTimeout(r, 20))
      const before = iam.requestCount('jwks')
      const bad = forgeToken({ alg: 'RS256', kid: 'unknown' }, { exp: Date.now() / 1000 + 60 })
      for (let i = 0; i < 20; i++) {
        assert.equal(await codeOf(c.validateAndParseClaims(bad)), 'ERR_IAM_TOKEN_KEY_UNKNOWN')
      }
      assert.ok(iam.requestCount('jwks') - before <= 1)
      await c.close()
    })

    it('rejects tokens of a retired key', async () => {
      const rotating = await emulator()
      const c = track(await startedClientFor(rotating, { jwksRefreshIntervalMs: 100 }))
      try {
        const old = await rotating.issueUserToken({})
        await c.validateAndParseClaims(old)
        await rotating.rotateKeys({ retireOld: true })
        await eventually(
          async () =>
            (await outcome(c.validateAndParseClaims(old))) === 'ERR_IAM_TOKEN_KEY_UNKNOWN',
        )
      } finally {
        await c.close()
        await rotating.close()
      }
    })
  })

  describe('permissions', () => {
    it('allows from a claim permission with placeholders, leaving the caller object untouched', async () => {
      const claims = await client.validateAndParseClaims(
        await iam.issueUserToken({
          sub: 'u1',
          permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:u1', Action: Action.Update }],
        }),
      )
      const required = { Resource: 'NAMESPACE:{namespace}:USER:{userId}', Action: Action.Update }
      const resources = { '{namespace}': NS, '{userId}': 'u1' }
      assert.equal(await client.validatePermission(claims, required, resources), true)
      assert.equal(required.Resource, 'NAMESPACE:{namespace}:USER:{userId}')
      assert.equal(
        await client.validatePermission(
          claims,
          { resource: required.Resource, action: Action.Delete },
          resources,
        ),
        false,
      )
      assert.equal(
        await client.validatePermission(claims, required, { ...resources, '{userId}': 'u2' }),
        false,
      )
    })

    it('allows through roles, fetching each role once within its TTL', async () => {
      const roleId = await iam.createRole({
        permissions: [
          {
            resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER',
            action: Action.Read | Action.Create,
          },
        ],
      })
      const claims = await client.validateAndParseClaims(
        await iam.issueUserToken({ sub: 'buyer', roles: [roleId] }),
      )
      const before = iam.requestCount('role')
      const required = { resource: `NAMESPACE:${NS}:USER:buyer:ORDER`, action: Action.Read }
      const results = await Promise.all(
        [1, 2, 3].map(() => client.validatePermission(claims, required)),
      )
      assert.deepEqual(results, [true, true, true])
      assert.equal(
        await client.validatePermission(claims, { ...required, action: Action.Delete }),
        false,
      )
      assert.equal(iam.requestCount('role') - before, 1, 'single flight, then cached')
    })

    it('re-fetches a role after rolesCacheTtlMs', async () => {
      const c = track(await startedClientFor(iam, { rolesCacheTtlMs: 100 }))
      const roleId = await iam.createRole({ permissions: [{ resource: 'ITEM', action: 2 }] })
      await c.getRolePermissions(roleId)
      await c.getRolePermissions(roleId)
      const before = iam.requestCount('role')
      await new Promise((r) => setTimeout(r, 150))
      await c.getRolePermissions(roleId)
      assert.equal(iam.requestCount('role') - before, 1)
      await c.close()
    })

    it('allows through namespace roles, substituting the role namespace', async () => {
      const roleId = await iam.createRole({
        permissions: [{ resource: 'NAMESPACE:{namespace}:STATS', action: 2 }],
      })
      const claims = await client.validateAndParseClaims(
        await iam.issueUserToken({ namespace_roles: [{ roleId, namespace: 'other-ns' }] }),
      )
      assert.equal(
        await client.validatePermission(claims, {
          resource: 'NAMESPACE:other-ns:STATS',
          action: 2,
        }),
        true,
      )
      assert.equal(
        await client.validatePermission(claims, { resource: `NAMESPACE:${NS}:STATS`, action: 2 }),
        false,
      )
    })

    it('uses the role override endpoint for the default user role', async () => {
      await iam.createRole({
        roleId: DEFAULT_USER_ROLE_ID,
        permissions: [{ resource: 'BASE', action: 2 }],
      })
      await iam.setRoleOverride(NS, DEFAULT_USER_ROLE_ID, [
        { resource: 'NAMESPACE:{namespace}:OVERRIDDEN', action: 2 },
      ])
      const claims = await client.validateAndParseClaims(
        await iam.issueUserToken({
          namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: NS }],
        }),
      )
      const before = iam.requestCount('roleOverride')
      assert.equal(
        await client.validatePermission(claims, {
          resource: `NAMESPACE:${NS}:OVERRIDDEN`,
          action: 2,
        }),
        true,
      )
      assert.equal(iam.requestCount('roleOverride') - before, 1)
    })

    it('applies the {studio}- rule through the namespace context, caching found and not-found', async () => {
      await iam.createNamespace({ namespace: 'studio1', type: 'Studio' })
      await iam.createNamespace({ namespace: 'mygame', type: 'Game', studioNamespace: 'studio1' })
      await iam.createNamespace({ namespace: 'studio2', type: 'Studio' })
      await iam.createNamespace({
        namespace: 'othergame',
        type: 'Game',
        studioNamespace: 'studio2',
      })
      const claims = await client.validateAndParseClaims(
        await iam.issueUserToken({
          permissions: [{ Resource: 'NAMESPACE:studio1-:LEADERBOARD', Action: 2 }],
        }),
      )
      const check = (ns: string) =>
        client.validatePermission(claims, { resource: `NAMESPACE:${ns}:LEADERBOARD`, action: 2 })
      const before = iam.requestCount('namespaceContext')
      assert.equal(await check('mygame'), true)
      assert.equal(await check('mygame'), true)
      assert.equal(await check('othergame'), false)
      assert.equal(await check('no-such-namespace'), false)
      assert.equal(await check('no-such-namespace'), false)
      assert.equal(await check('studio1-game9'), true, 'new-format game namespace, no lookup')
      assert.equal(await check('studio1'), true, 'the studio itself')
      assert.equal(iam.requestCount('namespaceContext') - before, 3)
    })

    it('reports a role fetch refused with 403 as ERR_IAM_CLIENT_FORBIDDEN, not a silent deny', async () => {
      const weak = await iam.createClient({ namespace: 'sample-publisher', permissions: [] })
      const c = track(
        await startedClientFor(iam, { clientId: weak.clientId, clientSecret: weak.clientSecret }),
      )
      const roleId = await iam.createRole({ permissions: [{ resource: 'X', action: 2 }] })
      const claims = await c.validateAndParseClaims(await iam.issueUserToken({ roles: [roleId] }))
      assert.equal(
        await codeOf(c.validatePermission(claims, { resource: 'Y', action: 2 })),
        'ERR_IAM_CLIENT_FORBIDDEN',
      )
      await c.close()
    })

    it('rejects a malformed required permission with ERR_IAM_INVALID_PERMISSION', async () => {
      const claims = await client.validateAndParseClaims(await iam.issueUserToken({}))
      assert.equal(
        await codeOf(client.validatePermission(claims, { resource: 'X' } as never)),
        'ERR_IAM_INVALID_PERMISSION',
      )
    })
  })

  describe('other checks', () => {
    let claims: JwtClaims
    before(async () => {
      claims = await client.validateAndParseClaims(
        await iam.issueUserToken({
          roles: ['r1'],
          bans: [{ Ban: 'CHAT', EndDate: '2099-01-01T00:00:00Z', Enabled: true }],
          jflgs: 1 | 4,
          scope: 'account commerce',
          subs: ['Foundations'],
        }),
      )
    })
    it('validateRole, hasBan, flags, isSubscribed', () => {
      assert.equal(client.validateRole('r1', claims), true)
      assert.equal(client.validateRole('', claims), false)
      assert.equal(client.hasBan(claims, 'CHAT'), true)
      assert.equal(client.hasBan(claims, ''), false)
      assert.equal(client.userEmailVerificationStatus(claims), true)
      assert.equal(client.userPhoneVerificationStatus(claims), false)
      assert.equal(client.userAnonymousStatus(claims), true)
      assert.equal(client.isSubscribed(claims, 'foundations'), true)
      assert.equal(client.isSubscribed(claims, 'online'), false)
    })
    it('isSubscribed: absent subs means subscribed, [] means none', async () => {
      const none = await client.validateAndParseClaims(await iam.issueUserToken({}))
      assert.equal(client.isSubscribed(none, 'anything'), true)
      const empty = await client.validateAndParseClaims(await iam.issueUserToken({ subs: [] }))
      assert.equal(client.isSubscribed(empty, 'anything'), false)
    })
    it('validateScope throws ERR_IAM_INSUFFICIENT_SCOPE', async () => {
      client.validateScope(claims, 'commerce')
      assert.equal(
        await codeOf(() => client.validateScope(claims, 'admin')),
        'ERR_IAM_INSUFFICIENT_SCOPE',
      )
    })
    it('validateAudience checks aud against the client baseUri', async () => {
      const svc = await iam.createClient({
        namespace: 'aud-ns',
        baseUri: 'https://game.example',
        permissions: [{ resource: 'ADMIN:NAMESPACE:*:CLIENT', action: 2 }],
      })
      const c = track(
        await startedClientFor(iam, { clientId: svc.clientId, clientSecret: svc.clientSecret }),
      )
      const good = await c.validateAndParseClaims(
        await iam.issueUserToken({ namespace: 'aud-ns', aud: ['https://game.example'] }),
      )
      await c.validateAudience(good)
      const bad = await c.validateAndParseClaims(
        await iam.issueUserToken({ namespace: 'aud-ns', aud: 'https://other.example' }),
      )
      assert.equal(await codeOf(c.validateAudience(bad)), 'ERR_IAM_INVALID_AUDIENCE')
      const none = await c.validateAndParseClaims(await iam.issueUserToken({ namespace: 'aud-ns' }))
      await c.validateAudience(none)
      await c.close()
    })
    it('getClientInformation returns the wire object, cached per namespace:clientId', async () => {
      const info = await client.getClientInformation('sample-publisher', iam.clientId)
      assert.equal(info.clientId, iam.clientId)
      assert.equal(typeof info.redirectUri, 'string')
      const before = iam.requestCount('clientInfo')
      await client.getClientInformation('sample-publisher', iam.clientId)
      assert.equal(iam.requestCount('clientInfo'), before)
      assert.equal(
        await codeOf(client.getClientInformation(NS, 'no-such-client')),
        'ERR_IAM_NOT_FOUND',
      )
    })
    it('delegateToken returns a cached extend token carrying extend_namespace', async () => {
      const before = iam.requestCount('token')
      const token = await client.delegateToken(NS)
      assert.equal(await client.delegateToken(NS), token)
      assert.equal(iam.requestCount('token') - before, 1)
      const delegated = await client.validateAndParseClaims(token)
      assert.equal(delegated.extend_namespace, NS)
    })
    it('validateAccessToken: true for valid, false for invalid', async () => {
      assert.equal(await client.validateAccessToken(await iam.issueUserToken({})), true)
      assert.equal(await client.validateAccessToken('garbage'), false)
      assert.equal(await client.validateAccessToken(await iam.issueUserToken({ exp: 1 })), false)
    })
  })

  describe('IAM faults', () => {
    it('retries 5xx on the request path and recovers', async () => {
      const roleId = await iam.createRole({ permissions: [{ resource: 'FAULTY', action: 2 }] })
      iam.setFault('role', { status: 503, times: 2 })
      const perms = await client.getRolePermissions(roleId)
      assert.deepEqual(
        perms.map((p) => p.resource),
        ['FAULTY'],
      )
      iam.setFault('role', null)
    })

    it('gives up within the request budget when the IAM is slow', async () => {
      const c = track(await startedClientFor(iam, { requestTimeoutMs: 100, requestBudgetMs: 300 }))
      iam.setFault('role', { delayMs: 1_000 })
      const started = Date.now()
      try {
        assert.equal(await codeOf(c.getRolePermissions('slow-role')), 'ERR_IAM_UNAVAILABLE')
        assert.ok(Date.now() - started < 1_000)
      } finally {
        iam.setFault('role', null)
        await c.close()
      }
    })

    it('refreshes the client token once on a 401 and retries', async () => {
      const roleId = await iam.createRole({ permissions: [{ resource: 'AFTER_401', action: 2 }] })
      const c = track(await startedClientFor(iam))
      const tokens = iam.requestCount('token')
      iam.setFault('role', { status: 401, times: 1 })
      assert.equal((await c.getRolePermissions(roleId)).length, 1)
      assert.equal(iam.requestCount('token') - tokens, 1)
      iam.setFault('role', { status: 401 })
      assert.equal(await codeOf(c.getRolePermissions('other-role')), 'ERR_IAM_CLIENT_UNAUTHORIZED')
      iam.setFault('role', null)
      await c.close()
    })

    it('keeps serving a stale JWKS and revocation list while the IAM is down, and health says so', async () => {
      const c = track(
        await startedClientFor(iam, {
          jwksRefreshIntervalMs: 50,
          revocationListRefreshIntervalMs: 50,
          // A failing refresh must be given up on quickly for this test to see it.
          requestBudgetMs: 500,
        }),
      )
      const token = await iam.issueUserToken({})
      iam.setFault('jwks', { status: 500 })
      iam.setFault('revocationList', { status: 500 })
      try {
        await eventually(() => c.health().jwks.failing && c.health().revocationList.failing, 3_000)
        assert.equal(c.healthCheck(), false)
        const report = c.health()
        assert.equal(report.jwks.loaded, true)
        assert.ok((await c.validateAndParseClaims(token)).exp > 0)
      } finally {
        iam.setFault('jwks', null)
        iam.setFault('revocationList', null)
      }
      await eventually(() => c.healthCheck(), 5_000)
      await c.close()
    })

    it('fails clearly when the IAM is down at start, and reports not ready', async () => {
      const port = await unusedPort()
      const c = track(
        new IamClient({
          baseUrl: `http://127.0.0.1:${port}/iam`,
          clientId: 'x',
          clientSecret: 'y',
          requestBudgetMs: 300,
          requestTimeoutMs: 100,
          logger: memoryLogger(),
        }),
      )
      assert.equal(await codeOf(c.clientTokenGrant()), 'ERR_IAM_UNAVAILABLE')
      assert.equal(await codeOf(c.startLocalValidation()), 'ERR_IAM_UNAVAILABLE')
      assert.equal(await codeOf(c.validateAndParseClaims('a.b.c')), 'ERR_IAM_NOT_READY')
      assert.equal(c.healthCheck(), false)
      await c.close()
    })

    it('throws ERR_IAM_CLOSED after close(), validation included', async () => {
      const c = await startedClientFor(iam)
      const token = await iam.issueUserToken({})
      await c.validateAndParseClaims(token)
      await c.close()
      assert.equal(await codeOf(() => c.clientTokenGrant()), 'ERR_IAM_CLOSED')
      assert.equal(await codeOf(c.validateAndParseClaims(token)), 'ERR_IAM_CLOSED')
    })
  })
})
