/**
 * Metrics as an OpenTelemetry SDK's reader sees them, for tests: a reader that keeps what the
 * SDK aggregated until `collect()`, and lookups of one instrument's data points.
 */
import { AggregationTemporality, MetricReader } from '@opentelemetry/sdk-metrics'
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics'

/** An in-memory reader: each `metrics()` collects what the SDK aggregated so far. */
export class InMemoryReader extends MetricReader {
  constructor(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE) {
    super({ aggregationTemporalitySelector: () => temporality })
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
  /** Every metric of this collection. */
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect()
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
  }
  /** One instrument's metric of this collection, by name. */
  async metric(name: string): Promise<MetricData | undefined> {
    return (await this.metrics()).find((m) => m.descriptor.name === name)
  }
}

/** The data points of the instrument `name` among `all` (none when it reported nothing). */
export function points(all: MetricData[], name: string): DataPoint<unknown>[] {
  return (all.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<unknown>[]
}
