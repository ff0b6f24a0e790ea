/**
 * Metrics through `@opentelemetry/api` only: a no-op until the application installs a
 * MeterProvider (globally, or through the `meterProvider` option). Names and attributes follow
 * OpenTelemetry's semantic conventions: `http.client.request.duration` for the calls to the IAM,
 * `error.type` for why something failed, and `iam.*` names for what is this SDK's own.
 *
 * | instrument | kind, unit | attributes |
 * |---|---|---|
 * | `iam.decisions` | counter (asynchronous), `{decision}` | `iam.decision.outcome` (`allowed`, `refused`, `error`), `error.type` (the `ERR_IAM_*` code) |
 * | `iam.cache.lookups` | counter (asynchronous), `{lookup}` | `iam.cache.name`, `iam.cache.result` (`hit`, `miss`, `stale`, `shared`) |
 * | `http.client.request.duration` | histogram, `s` | `iam.endpoint`, `http.request.method`, `http.response.status_code`, `server.address`, `server.port`, `error.type` |
 * | `iam.resource.age` | gauge, `s` | `iam.resource` (`client_token`, `jwks`, `revocation_list`) |
 */
import { metrics, ValueType } from '@opentelemetry/api'
import type {
  Attributes,
  Histogram,
  Meter,
  MeterProvider,
  MetricOptions,
  ObservableGauge,
} from '@opentelemetry/api'

import type { CacheLookupOutcome } from './cache.js'
import type { IamErrorCode } from './errors.js'
import { SDK_VERSION } from './version.js'

/** The caches whose lookups are counted (`iam.cache.name`). */
export type CacheName = 'roles' | 'role_overrides' | 'client_information' | 'namespace_contexts'

/** The background resources whose age is reported (`iam.resource`). */
export type ResourceName = 'client_token' | 'jwks' | 'revocation_list'

/** How a protected request ended (`iam.decision.outcome`). */
export type DecisionOutcome = 'allowed' | 'refused' | 'error'

/** Every instrument name, for dashboards and tests. */
export const METRIC_NAMES = Object.freeze({
  decisions: 'iam.decisions',
  cacheLookups: 'iam.cache.lookups',
  iamCallDuration: 'http.client.request.duration',
  resourceAge: 'iam.resource.age',
})

/** Semantic-convention buckets for HTTP durations, in seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

const ALLOWED: Attributes = Object.freeze({ 'iam.decision.outcome': 'allowed' })

/** The meter of the SDK, from the given provider or the global one. */
function meterOf(provider: MeterProvider | undefined) {
  return (provider ?? metrics).getMeter('iam-node-sdk', SDK_VERSION)
}

/** One attribute set's count; incrementing `count` is the whole cost of counting. */
interface CountCell {
  readonly attributes: Attributes
  count: number
}

/**
 * A counter kept in process and read at each collection (an asynchronous counter). A synchronous
 * counter's `add` cost about 0.6 µs a decision in the OpenTelemetry SDK (it looks the attributes
 * up on every call), more than the rest of a decision on a token seen before (bench/core.ts); an
 * increment costs nothing measurable. Readers see the same monotonic sum, cumulative or delta.
 */
class InProcessCounter {
  readonly #cells = new Map<string, CountCell>()

  constructor(meter: Meter, name: string, options: MetricOptions) {
    meter.createObservableCounter(name, options).addCallback((result) => {
      for (const { attributes, count } of this.#cells.values()) {
        if (count > 0) result.observe(count, attributes)
      }
    })
  }

  /** The cell of one attribute set, by a key naming it (built on first use); keep it. */
  cell(key: string, attributes: () => Attributes): CountCell {
    let cell = this.#cells.get(key)
    if (cell === undefined) this.#cells.set(key, (cell = { attributes: attributes(), count: 0 }))
    return cell
  }
}

/** One counter per meter and name: every client and protection on one meter adds to it. */
const inProcessCounters = new WeakMap<Meter, Map<string, InProcessCounter>>()

function inProcessCounter(meter: Meter, name: string, options: MetricOptions): InProcessCounter {
  let byName = inProcessCounters.get(meter)
  if (byName === undefined) inProcessCounters.set(meter, (byName = new Map()))
  let counter = byName.get(name)
  if (counter === undefined)
    byName.set(name, (counter = new InProcessCounter(meter, name, options)))
  return counter
}

/**
 * The decisions counter of protected applications (the adapter kit counts, the client does not
 * see requests), in process (see {@link InProcessCounter}).
 */
export class DecisionMetrics {
  readonly #counter: InProcessCounter
  readonly #allowed: CountCell

  constructor(provider: MeterProvider | undefined) {
    this.#counter = inProcessCounter(meterOf(provider), METRIC_NAMES.decisions, {
      description: 'Decisions on protected requests, by outcome and error code.',
      unit: '{decision}',
      valueType: ValueType.INT,
    })
    this.#allowed = this.#counter.cell('allowed:', () => ALLOWED)
  }

  /** Counts one decision on a protected request. */
  record(outcome: DecisionOutcome, code?: IamErrorCode): void {
    if (outcome === 'allowed') {
      this.#allowed.count++
      return
    }
    const attributes = () =>
      Object.freeze({
        'iam.decision.outcome': outcome,
        ...(code === undefined ? {} : { 'error.type': code }),
      })
    this.#counter.cell(`${outcome}:${code ?? ''}`, attributes).count++
  }
}

/** The instruments of one client. Attribute objects of the hot path are built once and reused. */
export class IamMetrics {
  readonly #lookups: InProcessCounter
  readonly #duration: Histogram
  readonly #age: ObservableGauge
  readonly #ages: () => Iterable<readonly [ResourceName, number | undefined]>
  readonly #observe: Parameters<ObservableGauge['addCallback']>[0]

  constructor(
    provider: MeterProvider | undefined,
    ages: () => Iterable<readonly [ResourceName, number | undefined]>,
  ) {
    const meter = meterOf(provider)
    this.#lookups = inProcessCounter(meter, METRIC_NAMES.cacheLookups, {
      description: 'Lookups in the caches of IAM answers, by cache and result.',
      unit: '{lookup}',
      valueType: ValueType.INT,
    })
    this.#duration = meter.createHistogram(METRIC_NAMES.iamCallDuration, {
      description: 'Duration of HTTP requests to the IAM (one per attempt).',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    })
    this.#age = meter.createObservableGauge(METRIC_NAMES.resourceAge, {
      description: 'Time since each background resource was last loaded.',
      unit: 's',
    })
    this.#ages = ages
    this.#observe = (result) => {
      for (const [resource, ageMs] of this.#ages()) {
        if (ageMs !== undefined) result.observe(ageMs / 1000, { 'iam.resource': resource })
      }
    }
    this.#age.addCallback(this.#observe)
  }

  /** A counter of lookups for one cache (to give to the cache as its `onLookup`). */
  cacheLookups(cache: CacheName): (outcome: CacheLookupOutcome) => void {
    const cells = new Map<CacheLookupOutcome, CountCell>()
    return (outcome) => {
      let cell = cells.get(outcome)
      if (cell === undefined) {
        const attributes = () =>
          Object.freeze({ 'iam.cache.name': cache, 'iam.cache.result': outcome })
        cells.set(outcome, (cell = this.#lookups.cell(`${cache}:${outcome}`, attributes)))
      }
      cell.count++
    }
  }

  /** Records one HTTP attempt to the IAM. */
  iamCall(
    endpoint: string,
    method: string,
    url: string,
    durationMs: number,
    status: number | undefined,
    errorType: string | undefined,
  ): void {
    const attributes: Attributes = { 'iam.endpoint': endpoint, 'http.request.method': method }
    try {
      const parsed = new URL(url)
      attributes['server.address'] = parsed.hostname
      attributes['server.port'] = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80))
    } catch {
      // An unparsable URL failed before any request: no server to name.
    }
    if (status !== undefined) attributes['http.response.status_code'] = status
    if (errorType !== undefined) attributes['error.type'] = errorType
    else if (status !== undefined && status >= 500) attributes['error.type'] = String(status)
    this.#duration.record(durationMs / 1000, attributes)
  }

  /** Stops reporting ages (the client was closed). */
  close(): void {
    this.#age.removeCallback(this.#observe)
  }
}
