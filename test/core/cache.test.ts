import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TtlCache } from '../../src/core/cache.js'

function clock(start = 1_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

describe('TtlCache', () => {
  it('expires entries after their TTL', () => {
    const c = clock()
    const cache = new TtlCache<string>({ maxEntries: 10, ttlMs: 100, now: c.now })
    cache.set('a', 'A')
    c.advance(99)
    assert.equal(cache.get('a'), 'A')
    c.advance(1)
    assert.equal(cache.get('a'), undefined)
  })

  it('evicts the least recently used entry beyond maxEntries', () => {
    const c = clock()
    const cache = new TtlCache<number>({ maxEntries: 2, ttlMs: 1_000, now: c.now })
    cache.set('a', 1)
    cache.set('b', 2)
    cache.get('a')
    cache.set('c', 3)
    assert.equal(cache.get('b'), undefined)
    assert.equal(cache.get('a'), 1)
    assert.equal(cache.get('c'), 3)
    assert.equal(cache.size, 2)
  })

  it('shares one load between concurrent misses and does not cache failures', async () => {
    const c = clock()
    const cache = new TtlCache<number>({ maxEntries: 10, ttlMs: 1_000, now: c.now })
    let loads = 0
    const load = async () => {
      loads++
      await new Promise((r) => setTimeout(r, 5))
      return 42
    }
    assert.deepEqual(
      await Promise.all([cache.getOrLoad('k', load), cache.getOrLoad('k', load)]),
      [42, 42],
    )
    assert.equal(loads, 1)
    let failures = 0
    const failing = async (): Promise<number> => {
      failures++
      throw new Error('down')
    }
    await assert.rejects(cache.getOrLoad('f', failing))
    await assert.rejects(cache.getOrLoad('f', failing))
    assert.equal(failures, 2)
  })

  it('lets ttlFor choose a TTL per value, and a TTL of 0 stores nothing', async () => {
    const c = clock()
    const cache = new TtlCache<string | null>({ maxEntries: 10, ttlMs: 1_000, now: c.now })
    await cache.getOrLoad(
      'missing',
      async () => null,
      (v) => (v === null ? 10 : 1_000),
    )
    c.advance(11)
    assert.equal(cache.get('missing'), undefined)
    await cache.getOrLoad(
      'zero',
      async () => 'z',
      () => 0,
    )
    assert.equal(cache.get('zero'), undefined)
  })

  it('does not store a load that finishes after clear()', async () => {
    const cache = new TtlCache<number>({ maxEntries: 10, ttlMs: 1_000, now: Date.now })
    let release!: () => void
    const pending = cache.getOrLoad('k', () => new Promise<number>((r) => (release = () => r(1))))
    cache.clear()
    release()
    await pending
    assert.equal(cache.get('k'), undefined)
  })
})
