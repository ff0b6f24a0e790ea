/** RedisCacheStore against a real redis-server: values with TTLs, the lock, pub/sub, options. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createClient } from 'redis'

import { IamClient } from '../../src/index.js'
import { RedisCacheStore } from '../../src/redis/index.js'
import { eventually } from '../support/iam.js'
import { startRedis, type RedisServer } from './redis-server.js'

const connectAdmin = (url: string) =>
  createClient({ url })
    .on('error', () => undefined)
    .connect()

describe('RedisCacheStore', () => {
  let redis: RedisServer
  let store: RedisCacheStore
  let admin: Awaited<ReturnType<typeof connectAdmin>>

  before(async () => {
    redis = await startRedis()
    store = new RedisCacheStore({ url: redis.url, keyPrefix: 'test:' })
    await store.open()
    admin = await connectAdmin(redis.url)
  })
  after(async () => {
    await store?.close()
    admin?.destroy()
    await redis?.stop()
  })

  it('stores values under its key prefix with a TTL in ms', async () => {
    await store.set('a:b', 'value', 60_000)
    assert.equal(await store.get('a:b'), 'value')
    assert.equal(await store.get('missing'), undefined)
    assert.equal(await admin.get('test:a:b'), 'value')
    const ttl = await admin.pTTL('test:a:b')
    assert.ok(ttl > 0 && ttl <= 60_000, String(ttl))
  })

  it('keeps values byte for byte (a revocation list with 64-bit words)', async () => {
    const body = '{"revoked_tokens":{"m":128,"k":3,"bits":[18446744073709551615,9007199254740993]}}'
    await store.set('raw', body, 1_000)
    assert.equal(await store.get('raw'), body)
  })

  it('gives a lock to one owner at a time and lets only that owner release it', async () => {
    assert.equal(await store.acquireLock('lock', 'owner-1', 10_000), true)
    assert.equal(await store.acquireLock('lock', 'owner-2', 10_000), false)
    await store.releaseLock('lock', 'owner-2') // not the owner: nothing happens
    assert.equal(await admin.get('test:lock'), 'owner-1')
    await store.releaseLock('lock', 'owner-1')
    assert.equal(await admin.get('test:lock'), null)
    assert.equal(await store.acquireLock('lock', 'owner-2', 10_000), true)
    const ttl = await admin.pTTL('test:lock')
    assert.ok(ttl > 0 && ttl <= 10_000, String(ttl))
  })

  it('delivers published messages to subscribers until they unsubscribe', async () => {
    const received: string[] = []
    const unsubscribe = store.subscribe('channel', (message) => received.push(message))
    await eventually(async () => {
      await store.publish('channel', 'ping')
      return received.length > 0
    })
    assert.equal(received[0], 'ping')
    unsubscribe()
    await eventually(async () => (await admin.pubSubNumSub('test:channel'))['test:channel'] === 0)
  })

  it('reports the connection in health(), and fails at once while Redis is down', async () => {
    assert.equal(store.health().available, true)
    const down = new RedisCacheStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })
    void down.open().catch(() => undefined)
    await eventually(() => down.health().lastError !== undefined)
    assert.equal(down.health().available, false)
    await assert.rejects(down.get('x'))
    await down.close()
  })

  it('never closes a client of the application, and closes its own pub/sub connection', async () => {
    const app = await createClient({ url: redis.url }).connect()
    const given = new RedisCacheStore({ client: app })
    await given.open()
    await given.set('given', 'yes', 1_000)
    assert.equal(await app.get('iam:given'), 'yes')
    const before = (await admin.clientList()).length
    await given.close()
    await eventually(async () => (await admin.clientList()).length === before - 1)
    assert.equal(app.isReady, true)
    app.destroy()
  })

  it('authenticates as an ACL user that may touch only its key prefix', async () => {
    const acl = await startRedis([
      '--user',
      'default',
      'off',
      '--user',
      'sdk',
      'on',
      '>sdk-password',
      '~app:*',
      '&app:*',
      '+@all',
    ])
    try {
      const url = `redis://127.0.0.1:${acl.port}`
      const allowed = new RedisCacheStore({
        url,
        username: 'sdk',
        password: 'sdk-password',
        keyPrefix: 'app:',
      })
      await allowed.open()
      await allowed.set('k', 'v', 1_000)
      assert.equal(await allowed.get('k'), 'v')
      assert.equal(await allowed.acquireLock('l', 't', 1_000), true)
      await allowed.publish('c', 'm')
      await allowed.close()
      // The same user outside its prefix is refused by Redis: the ACL is what the test relies on.
      const outside = new RedisCacheStore({
        url,
        username: 'sdk',
        password: 'sdk-password',
        keyPrefix: 'other:',
      })
      await outside.open()
      await assert.rejects(outside.set('k', 'v', 1_000), /NOPERM/)
      await outside.close()
    } finally {
      await acl.stop()
    }
  })

  it('refuses bad options with a TypeError naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [{ url: 'http://127.0.0.1:6379' }, /"url"/],
      [{ commandTimeoutMs: 0 }, /"commandTimeoutMs"/],
      [{ keyPrefix: 5 }, /"keyPrefix"/],
      [{ client: {} }, /"client"/],
      [{ client: createClient(), password: 'x' }, /"password"/],
      [{ tls: 'yes' }, /"tls"/],
      [{ keyprefix: 'x' }, /"keyprefix" is unknown/],
    ]
    for (const [options, message] of bad) {
      assert.throws(
        () => new RedisCacheStore(options as never),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
        JSON.stringify(options),
      )
    }
    assert.throws(
      () =>
        new IamClient({
          baseUrl: 'http://127.0.0.1:1/iam',
          clientId: 'id',
          clientSecret: 's',
          cacheStore: {} as never,
        }),
      (e: unknown) => e instanceof TypeError && /"cacheStore"/.test(e.message),
    )
  })
})
