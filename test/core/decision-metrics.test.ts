/**
 * The `iam.decisions` counter: totals kept in process and reported at each collection, so that
 * a decision makes no call into the OpenTelemetry SDK; what a reader sees is a monotonic sum by
 * outcome and code, with every protection on one meter counted together.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics'
import type { Meter, MeterProvider as ApiMeterProvider } from '@opentelemetry/api'

import { DecisionMetrics, METRIC_NAMES } from '../../src/core/metrics.js'

class InMemoryReader extends MetricReader {
  constructor(temporality = AggregationTemporality.CUMULATIVE) {
    super({ aggregationTemporalitySelector: () => temporality })
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
  async decisions(): Promise<MetricData | undefined> {
    const { resourceMetrics } = await this.collect()
    return resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .find((m) => m.descriptor.name === METRIC_NAMES.decisions)
  }
}

function valueOf(metric: MetricData | undefined, outcome: string, code?: string) {
  return (metric?.dataPoints as DataPoint<number>[] | undefined)?.find(
    (p) => p.attributes['iam.decision.outcome'] === outcome && p.attributes['error.type'] === code,
  )?.value
}

describe('iam.decisions', () => {
  it('is a monotonic sum by outcome and code, in its unit', async () => {
    const reader = new InMemoryReader()
    const decisions = new DecisionMetrics(new MeterProvider({ readers: [reader] }))
    assert.equal(valueOf(await reader.decisions(), 'allowed'), undefined) // nothing decided yet
    decisions.record('allowed')
    decisions.record('allowed')
    decisions.record('refused', 'ERR_IAM_TOKEN_EXPIRED')
    decisions.record('error', 'ERR_IAM_NOT_READY')
    decisions.record('refused', 'ERR_IAM_TOKEN_EXPIRED')
    const metric = await reader.decisions()
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
    assert.equal(valueOf(await cumulative.decisions(), 'allowed'), 3)
    assert.equal(valueOf(await delta.decisions(), 'allowed'), 3)
    for (let i = 0; i < 4; i++) decisions.record('allowed')
    assert.equal(valueOf(await cumulative.decisions(), 'allowed'), 7)
    assert.equal(valueOf(await delta.decisions(), 'allowed'), 4)
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
    const metric = await reader.decisions()
    assert.equal(valueOf(metric, 'allowed'), 2)
    assert.equal(valueOf(metric, 'refused', 'ERR_IAM_INSUFFICIENT_PERMISSIONS'), 1)
    assert.equal(valueOf(await otherReader.decisions(), 'allowed'), 1)
  })

  it('a decision makes no call into the metrics SDK (the totals are read at collection)', async () => {
    // Every instrument the SDK asks for is wrapped, so that each call it makes on one is seen.
    const calls: string[] = []
    const real = new MeterProvider({ readers: [new InMemoryReader()] })
    const watch = <T extends object>(target: T, name: string): T =>
      new Proxy(target, {
        get(object, key, receiver) {
          const value = Reflect.get(object, key, receiver) as unknown
          if (typeof value !== 'function') return value
          return (...args: unknown[]) => {
            calls.push(`${name}.${String(key)}`)
            return (value as (...a: unknown[]) => unknown).apply(object, args)
          }
        },
      })
    const provider: ApiMeterProvider = {
      getMeter: (...args: Parameters<ApiMeterProvider['getMeter']>) => {
        const meter = real.getMeter(...args)
        return new Proxy(meter, {
          get(object, key, receiver) {
            const value = Reflect.get(object, key, receiver) as unknown
            if (typeof value !== 'function') return value
            return (...a: unknown[]) =>
              watch((value as (...x: unknown[]) => object).apply(object, a), String(key))
          },
        }) as Meter
      },
    }
    const decisions = new DecisionMetrics(provider)
    const setUp = calls.length
    for (let i = 0; i < 100; i++) decisions.record('allowed')
    decisions.record('refused', 'ERR_IAM_TOKEN_REVOKED')
    decisions.record('refused', 'ERR_IAM_TOKEN_REVOKED')
    assert.deepEqual(calls.slice(setUp), [])
  })
})
