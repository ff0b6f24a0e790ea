/**
 * The counters of the hot path (`iam.decisions`, `iam.cache.lookups`): totals kept in process
 * and reported at each collection, so that a decision or a lookup makes no call into the
 * OpenTelemetry SDK; what a reader sees is a monotonic sum by attributes, with every protection
 * (or client) on one meter counted together.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { AggregationTemporality, MeterProvider } from '@opentelemetry/sdk-metrics'
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics'
import type { Meter, MeterProvider as ApiMeterProvider } from '@opentelemetry/api'

import { DecisionMetrics, IamMetrics, METRIC_NAMES } from '../../src/core/metrics.js'
import { InMemoryReader } from '../support/metrics.js'

function valueOf(metric: MetricData | undefined, outcome: string, code?: string) {
  return (metric?.dataPoints as DataPoint<number>[] | undefined)?.find(
    (p) => p.attributes['iam.decision.outcome'] === outcome && p.attributes['error.type'] === code,
  )?.value
}

describe('iam.decisions', () => {
  it('is a monotonic sum by outcome and code, in its unit', async () => {
    const reader = new InMemoryReader()
    const decisions = new DecisionMetrics(new MeterProvider({ readers: [reader] }))
    assert.equal(valueOf(await reader.metric(METRIC_NAMES.decisions), 'allowed'), undefined) // nothing decided yet
    decisions.record('allowed')
    decisions.record('allowed')
    decisions.record('refused', 'ERR_IAM_TOKEN_EXPIRED')
    decisions.record('error', 'ERR_IAM_NOT_READY')
    decisions.record('refused', 'ERR_IAM_TOKEN_EXPIRED')
    const metric = await reader.metric(METRIC_NAMES.decisions)
    assert.equal(metric?.descriptor.unit, '{decision}')
    assert.equal((metric as { isMonotonic?: boolean } | undefined)?.isMonotonic, true)
    assert.equal(valueOf(metric, 'allowed'), 2)
    assert.equal(valueOf(metric, 'refused', 'ERR_IAM_TOKEN_EXPIRED'), 2)
    assert.equal(valueOf(metric, 'error', 'ERR_IAM_NOT_READY'), 1)
    assert.equal(metric?.dataPoints.length, 3)
  })

  it('adds up across collections, and reads as deltas for a delta reader', async () => {
    const cumulative = new InMemoryReader()
    const delta = new InMemoryReader(AggregationTemporality.DELTA)
    const decisions = new DecisionMetrics(new MeterProvider({ readers: [cumulative, delta] }))
    for (let i = 0; i < 3; i++) decisions.record('allowed')
    assert.equal(valueOf(await cumulative.metric(METRIC_NAMES.decisions), 'allowed'), 3)
    assert.equal(valueOf(await delta.metric(METRIC_NAMES.decisions), 'allowed'), 3)
    for (let i = 0; i < 4; i++) decisions.record('allowed')
    assert.equal(valueOf(await cumulative.metric(METRIC_NAMES.decisions), 'allowed'), 7)
    assert.equal(valueOf(await delta.metric(METRIC_NAMES.decisions), 'allowed'), 4)
  })

  it('counts every protection on one meter provider together, and each provider apart', async () => {
    const reader = new InMemoryReader()
    const provider = new MeterProvider({ readers: [reader] })
    const first = new DecisionMetrics(provider)
    const second = new DecisionMetrics(provider)
    const otherReader = new InMemoryReader()
    const other = new DecisionMetrics(new MeterProvider({ readers: [otherReader] }))
    first.record('allowed')
    second.record('allowed')
    second.record('refused', 'ERR_IAM_INSUFFICIENT_PERMISSIONS')
    other.record('allowed')
    const metric = await reader.metric(METRIC_NAMES.decisions)
    assert.equal(valueOf(metric, 'allowed'), 2)
    assert.equal(valueOf(metric, 'refused', 'ERR_IAM_INSUFFICIENT_PERMISSIONS'), 1)
    assert.equal(valueOf(await otherReader.metric(METRIC_NAMES.decisions), 'allowed'), 1)
  })

  it('a decision makes no call into the metrics SDK (the totals are read at collection)', () => {
    const { provider, calls } = watchedProvider()
    const decisions = new DecisionMetrics(provider)
    const setUp = calls.length
    for (let i = 0; i < 100; i++) decisions.record('allowed')
    decisions.record('refused', 'ERR_IAM_TOKEN_REVOKED')
    decisions.record('refused', 'ERR_IAM_TOKEN_REVOKED')
    assert.deepEqual(calls.slice(setUp), [])
  })
})

describe('iam.cache.lookups', () => {
  it('a lookup makes no call into the metrics SDK, and each collection reads the counts', async () => {
    const { provider, calls, reader } = watchedProvider()
    const lookups = new IamMetrics(provider, () => []).cacheLookups('roles')
    const setUp = calls.length
    for (let i = 0; i < 5; i++) lookups('hit')
    lookups('miss')
    assert.deepEqual(calls.slice(setUp), [])
    const metric = await reader.metric(METRIC_NAMES.cacheLookups)
    const count = (result: string) =>
      (metric?.dataPoints as DataPoint<number>[] | undefined)?.find(
        (p) =>
          p.attributes['iam.cache.name'] === 'roles' && p.attributes['iam.cache.result'] === result,
      )?.value
    assert.equal(count('hit'), 5)
    assert.equal(count('miss'), 1)
  })
})

/**
 * A real MeterProvider whose meters and instruments are wrapped, so that every call the SDK
 * makes on one of them is listed in `calls`.
 */
function watchedProvider(): {
  provider: ApiMeterProvider
  calls: string[]
  reader: InMemoryReader
} {
  const calls: string[] = []
  const reader = new InMemoryReader()
  const real = new MeterProvider({ readers: [reader] })
  const watch = <T extends object>(target: T, name: string, wrapResults: boolean): T =>
    new Proxy(target, {
      get(object, key, receiver) {
        const value = Reflect.get(object, key, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          calls.push(`${name}.${String(key)}`)
          const result = (value as (...a: unknown[]) => unknown).apply(object, args)
          return wrapResults && typeof result === 'object' && result !== null
            ? watch(result, String(key), false)
            : result
        }
      },
    })
  const provider: ApiMeterProvider = {
    getMeter: (...args: Parameters<ApiMeterProvider['getMeter']>) =>
      watch(real.getMeter(...args), 'meter', true) as Meter,
  }
  return { provider, calls, reader }
}
