/**
 * IamClient with the Redis store, several clients in one process standing for replicas (each with
 * its own store and connections): what is shared and what is not, values authenticated, and Redis
 * down, slow, flushed or killed mid-load never failing a request.
 */
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { createClient } from 'redis'

import type { Emulator } from '../../src/emulator/index.js'
import { IamClient, type IamClientOptions } from '../../src/index.js'
import { RedisCacheStore } from '../../src/redis/index.js'
import {
  clientFor,
  codeOf,
  emulator,
  eventually,
  outcome,
  startedClientFor,
} from '../support/iam.js'
import { startRedis, type RedisServer } from './redis-server.js'

const connectAdmin = (url: string) =>
  createClient({ url })
    .on('error', () => undefined)
    .connect()

describe('IamClient with a Redis cache store', () => {
  let iam: Emulator
  let redis: RedisServer
  let admin: Awaited<ReturnType<typeof connectAdmin>>
  let roleId: string
  const clients: IamClient[] = []

  /** A replica: a client with its own store on `url`. */
  const replica = (options: Partial<IamClientOptions> = {}, url = redis.url) => {
    const client = clientFor(iam, {
      cacheStore: new RedisCacheStore({ url, connectTimeoutMs: 500, reconnectMaxDelayMs: 250 }),
      ...options,
    })
    clients.push(client)
    return client
  }
  /** A replica holding its client token (so that lookups are one IAM request each). */
  const grantedReplica = async (options: Partial<IamClientOptions> = {}) => {
    const client = replica(options)
    await client.clientTokenGrant()
    return client
  }
  const startedReplica = async (options: Partial<IamClientOptions> = {}) => {
    const client = replica(options)
    await client.clientTokenGrant()
    await client.startLocalValidation()
    return client
  }

  before(async () => {
    iam = await emulator()
    redis = await startRedis(['--enable-debug-command', 'yes'])
    admin = await connectAdmin(redis.url)
    roleId = await iam.createRole({
      roleName: 'viewer',
      permissions: [{ resource: `NAMESPACE:${iam.namespace}:USER:*`, action: 2 }],
    })
  })
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    if (admin.isReady) await admin.flushAll()
    iam.resetRequestCounts()
    iam.setFault('role', null)
  })
  after(async () => {
    admin?.destroy()
    await redis?.stop()
    await iam?.close()
  })

  it('answers a second replica from Redis: one IAM call, the same frozen answer', async () => {
    const a = await grantedReplica()
    const b = await grantedReplica()
    const fromIam = await a.getRolePermissions(roleId)
    const fromRedis = await b.getRolePermissions(roleId)
    assert.deepEqual(fromRedis, fromIam)
    assert.ok(Object.isFrozen(fromRedis) && Object.isFrozen(fromRedis[0]))
    assert.equal(iam.requestCount('role'), 1)
    await b.getRoleOverridePermissions(iam.namespace, roleId)
    await a.getRoleOverridePermissions(iam.namespace, roleId)
    assert.equal(iam.requestCount('roleOverride'), 1)
    const info = await a.getClientInformation(iam.publisherNamespace, iam.clientId)
    assert.deepEqual(await b.getClientInformation(iam.publisherNamespace, iam.clientId), info)
    assert.equal(iam.requestCount('clientInfo'), 1)
  })

  it('shares answers that say "no" (unknown role, namespace not found), never errors', async () => {
    const a = await grantedReplica()
    const b = await grantedReplica()
    assert.deepEqual(await a.getRolePermissions('no-such-role'), [])
    assert.deepEqual(await b.getRolePermissions('no-such-role'), [])
    assert.equal(iam.requestCount('role'), 1)
    assert.equal(await a.getNamespaceContext('no-such-namespace'), null)
    assert.equal(await b.getNamespaceContext('no-such-namespace'), null)
    assert.equal(iam.requestCount('namespaceContext'), 1)
    const [ttl] = await Promise.all([
      admin.keys('iam:*:namespace-context:no-such-namespace').then((k) => admin.pTTL(k[0]!)),
    ])
    assert.ok(ttl > 0 && ttl <= 180_000, `not-found TTL ${ttl}`)

    iam.setFault('role', { status: 403, times: 1 })
    assert.equal(await codeOf(a.getRolePermissions(roleId)), 'ERR_IAM_CLIENT_FORBIDDEN')
    assert.equal((await b.getRolePermissions(roleId)).length, 1)
    assert.equal(iam.requestCount('role'), 3)
  })

  it('shares the JWKS and the revocation list: a replica starting later asks the IAM for neither', async () => {
    await startedReplica()
    iam.resetRequestCounts()
    const later = await startedReplica()
    assert.equal(iam.requestCount('jwks'), 0)
    assert.equal(iam.requestCount('revocationList'), 0)
    const token = await iam.issueUserToken({ sub: 'u1' })
    assert.equal((await later.validateAndParseClaims(token)).sub, 'u1')
    assert.equal(later.health().sharedCache.available, true)
  })

  it('learns a rotated key from the replica that fetched it (one JWKS call)', async () => {
    const a = await startedReplica({ jwksRefetchCooldownMs: 0 })
    const b = await startedReplica({ jwksRefetchCooldownMs: 0 })
    await iam.rotateKeys()
    iam.resetRequestCounts()
    const token = await iam.issueUserToken({ sub: 'rotated' })
    await a.validateAndParseClaims(token)
    await b.validateAndParseClaims(token)
    assert.equal(iam.requestCount('jwks'), 1)
  })

  it('adopts a newer revocation list another replica loaded, through pub/sub', async () => {
    const a = await startedReplica()
    const b = await startedReplica()
    const token = await iam.issueUserToken({ sub: 'to-revoke' })
    await b.validateAndParseClaims(token)
    await iam.revokeToken(token)
    iam.resetRequestCounts()
    await a.refresh()
    await eventually(
      async () => (await outcome(b.validateAndParseClaims(token))) === 'ERR_IAM_TOKEN_REVOKED',
    )
    assert.equal(iam.requestCount('revocationList'), 1)
    assert.equal(iam.requestCount('jwks'), 1)
  })

  it('writes nothing secret, only under <prefix><iam>:<clientId>:, and authenticates every value', async () => {
    const a = await startedReplica()
    const userToken = await iam.issueUserToken({ sub: 'secret-holder' })
    await a.validateAndParseClaims(userToken)
    await a.getRolePermissions(roleId)
    await a.getClientInformation(iam.publisherNamespace, iam.clientId)
    await a.getNamespaceContext(iam.namespace)
    await a.delegateToken(iam.namespace)
    const keys = await admin.keys('*')
    assert.ok(keys.length >= 5, keys.join(' '))
    const scope = new RegExp(`^iam:[0-9a-f]{16}:${iam.clientId}:`)
    for (const key of keys) {
      assert.match(key, scope)
      const value = (await admin.get(key)) ?? ''
      for (const secret of [iam.clientSecret, a.clientToken(), userToken]) {
        assert.ok(!value.includes(secret), `${key} holds a secret`)
      }
    }
    assert.ok(!keys.some((k) => /delegate|token/.test(k)), 'delegate tokens are not shared')

    // A value not written by a replica holding the client secret is ignored.
    const roleKey = keys.find((k) => k.endsWith(`:role:${roleId}`))!
    const stored = (await admin.get(roleKey))!
    const forged = stored.replace(/"action":2/, '"action":15')
    assert.notEqual(forged, stored)
    await admin.set(roleKey, forged, { PX: 60_000 })
    const b = await grantedReplica()
    iam.resetRequestCounts()
    assert.equal((await b.getRolePermissions(roleId))[0]!.action, 2)
    assert.equal(iam.requestCount('role'), 1)
  })

  it('works without Redis when it is down at start, says so, and uses it once it is back', async () => {
    const down = await startRedis()
    await down.kill()
    const a = replica({}, down.url)
    await a.clientTokenGrant()
    await a.startLocalValidation()
    assert.equal((await a.getRolePermissions(roleId)).length, 1)
    const health = a.health()
    assert.equal(health.healthy, true)
    assert.equal(health.sharedCache.configured, true)
    assert.equal(health.sharedCache.available, false)
    assert.ok(health.sharedCache.lastError !== undefined)
    await down.restart()
    await eventually(() => a.health().sharedCache.available, 10_000)
    await down.stop()
  })

  it('loses no request when Redis is killed mid-load, and reconnects in the background', async () => {
    const replicas = await Promise.all(
      [1, 2, 3].map(() =>
        startedReplica({ rolesCacheTtlMs: 20, revocationListRefreshIntervalMs: 100 }),
      ),
    )
    const token = await iam.issueUserToken({ sub: 'under-load' })
    const roles = await Promise.all(
      ['r1', 'r2', 'r3', 'r4'].map((name) =>
        iam.createRole({ roleName: name, permissions: [{ resource: 'NAMESPACE:*', action: 2 }] }),
      ),
    )
    let requests = 0
    const failures: unknown[] = []
    let running = true
    const load = replicas.map(async (client) => {
      while (running) {
        await Promise.all([
          client.validateAndParseClaims(token),
          ...roles.map((r) => client.getRolePermissions(r)),
        ]).then(
          (answers) => {
            requests++
            if (answers.slice(1).some((p) => (p as unknown[]).length !== 1))
              failures.push('wrong answer')
          },
          (error: unknown) => failures.push(error),
        )
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })
    // Generous bounds: the suite runs many files at once on a small machine.
    await eventually(() => requests > 30, 15_000)
    await redis.kill()
    const atKill = requests
    await eventually(
      () => requests > atKill + 30 && replicas.every((c) => !c.health().sharedCache.available),
      15_000,
    )
    await redis.restart()
    await eventually(() => replicas.every((c) => c.health().sharedCache.available), 15_000)
    const atRestart = requests
    await eventually(() => requests > atRestart + 30, 15_000)
    running = false
    await Promise.all(load)
    assert.deepEqual(failures, [])
    for (const client of replicas) {
      assert.equal(client.health().healthy, true)
      assert.ok(client.health().sharedCache.fallbacks > 0)
    }
    admin.destroy()
    admin = await connectAdmin(redis.url)
  })

  it('answers from the IAM when Redis is slow (a store call is bounded)', async () => {
    const a = replica()
    await a.clientTokenGrant()
    await a.getRolePermissions('warm-up') // connected
    const sleeper = await connectAdmin(redis.url)
    const sleeping = sleeper.sendCommand(['DEBUG', 'SLEEP', '2'])
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal((await a.getRolePermissions(roleId)).length, 1)
    assert.ok(a.health().sharedCache.fallbacks > 0)
    assert.match(a.health().sharedCache.lastError ?? '', /did not answer/)
    await sleeping
    sleeper.destroy()
  })

  it('writes nothing to Redis for a cache whose TTL is 0', async () => {
    const a = await grantedReplica({ rolesCacheTtlMs: 0 })
    await a.getRolePermissions(roleId)
    await a.getNamespaceContext(iam.namespace)
    const keys = await admin.keys('*')
    assert.ok(!keys.some((k) => k.includes(':role:')), keys.join(' '))
    assert.ok(
      keys.some((k) => k.includes(':namespace-context:')),
      keys.join(' '),
    )
  })

  it('goes to the IAM again after Redis was flushed', async () => {
    const a = await grantedReplica()
    await a.getRolePermissions(roleId)
    await admin.flushAll()
    await (await grantedReplica()).getRolePermissions(roleId)
    assert.equal(iam.requestCount('role'), 2)
  })

  it('without a store, health says it is not configured', async () => {
    const plain = await startedClientFor(iam)
    clients.push(plain)
    assert.deepEqual(plain.health().sharedCache, {
      configured: false,
      available: false,
      lastError: undefined,
      lastErrorAt: undefined,
      fallbacks: 0,
    })
  })
})
