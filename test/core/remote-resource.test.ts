/**
 * The background resource on a fake clock (Node's mock timers, and an injected `now`): single
 * flight, growing retry delays with their cap, refresh delays clamped to what Node's timers
 * honour, a value computed refresh delay, close().
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'

import { RemoteResource } from '../../src/core/remote-resource.js'
import { MAX_TIMER_DELAY_MS, clampDelay } from '../../src/core/scheduler.js'
import { memoryLogger } from '../support/iam.js'

describe('RemoteResource on a fake clock', () => {
  let clock = 0
  beforeEach(() => {
    clock = 1_000_000
    mock.timers.enable({ apis: ['setTimeout'] })
  })
  afterEach(() => mock.timers.reset())

  /** Moves the fake clock and the mocked timers together, then lets promises settle. */
  async function advance(ms: number): Promise<void> {
    clock += ms
    mock.timers.tick(ms)
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }

  function resource(
    fetch: () => Promise<number>,
    refreshAfterMs: number | ((v: number) => number),
  ) {
    return new RemoteResource<number>({
      name: 'test resource',
      fetch,
      refreshAfterMs,
      retryMaxDelayMs: 8_000,
      now: () => clock,
      logger: memoryLogger(),
    })
  }

  it('single flight: concurrent refreshes share one fetch', async () => {
    let calls = 0
    let release!: (v: number) => void
    const r = resource(() => {
      calls++
      return new Promise<number>((resolve) => (release = resolve))
    }, 60_000)
    const all = Promise.all([r.start(), r.refresh(), r.refresh(), r.refreshIfOlderThan(0)])
    release(7)
    const [value] = await all
    assert.equal(value, 7)
    assert.equal(calls, 1)
    r.close()
  })

  it('refreshes on its interval after a success', async () => {
    let calls = 0
    const r = resource(async () => ++calls, 60_000)
    await r.start()
    await advance(59_999)
    assert.equal(calls, 1)
    await advance(1)
    assert.equal(calls, 2)
    assert.equal(r.value, 2)
    r.close()
  })

  it('retries failures after 1 s, 2 s, 4 s, then the cap (8 s), keeping the stale value', async () => {
    let calls = 0
    let failing = false
    const r = resource(async () => {
      calls++
      if (failing) throw new Error('down')
      return calls
    }, 60_000)
    await r.start()
    failing = true
    await advance(60_000) // the refresh fails
    assert.equal(calls, 2)
    const expected = [1_000, 2_000, 4_000, 8_000, 8_000]
    for (const delay of expected) {
      await advance(delay - 1)
      const before: number = calls
      await advance(1)
      assert.equal(calls, before + 1, `retry after ${delay} ms`)
    }
    assert.equal(r.value, 1, 'the last good value is served')
    assert.equal(r.health().servingStale, true)
    failing = false
    await advance(8_000)
    assert.equal(r.health().failing, false)
    r.close()
  })

  it('never retries later than the regular interval', async () => {
    let calls = 0
    const r = resource(async () => {
      calls++
      throw new Error('down')
    }, 500)
    await r.start().catch(() => undefined)
    await advance(500)
    await advance(500)
    assert.equal(calls, 3)
    r.close()
  })

  it('a refresh delay computed from the value is clamped (a 35-day token: one fetch)', async () => {
    let calls = 0
    const r = resource(
      async () => ++calls,
      () => 3_000_000 * 1000 * 0.8,
    )
    await r.start()
    await advance(60_000)
    assert.equal(calls, 1)
    await advance(MAX_TIMER_DELAY_MS - 60_000)
    assert.equal(calls, 2, 'refreshed at the longest delay Node honours, not after 1 ms')
    r.close()
  })

  it('close() stops the timers', async () => {
    let calls = 0
    const r = resource(async () => ++calls, 1_000)
    await r.start()
    r.close()
    await advance(10_000)
    assert.equal(calls, 1)
  })
})

describe('clampDelay', () => {
  it('keeps every delay within what Node honours; NaN is the longest, never "at once"', () => {
    assert.equal(clampDelay(-5), 0)
    assert.equal(clampDelay(0), 0)
    assert.equal(clampDelay(1_500), 1_500)
    assert.equal(clampDelay(2 ** 31), MAX_TIMER_DELAY_MS)
    assert.equal(clampDelay(Infinity), MAX_TIMER_DELAY_MS)
    assert.equal(clampDelay(Number.NaN), MAX_TIMER_DELAY_MS)
  })
})
