/**
 * Each IAM call is an OpenTelemetry client span when the application installs a tracer provider
 * (here a minimal recording one, registered through the global API as an SDK would).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'
import type { Emulator } from '../../src/emulator/index.js'
import { clientFor, codeOf, emulator } from '../support/iam.js'

interface Recorded {
  name: string
  kind: SpanKind | undefined
  attributes: Record<string, unknown>
  status?: SpanStatusCode
  ended: boolean
}

function recordingProvider(spans: Recorded[]): TracerProvider {
  const span = (record: Recorded): Span =>
    ({
      setAttribute: (key: string, value: unknown) => (
        (record.attributes[key] = value),
        span(record)
      ),
      setStatus: (status: { code: SpanStatusCode }) => (
        (record.status = status.code),
        span(record)
      ),
      recordException: () => undefined,
      end: () => void (record.ended = true),
      isRecording: () => true,
      spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }),
    }) as unknown as Span
  const tracer = {
    startSpan: (name: string) => span({ name, kind: undefined, attributes: {}, ended: false }),
    startActiveSpan: (
      name: string,
      options: { kind?: SpanKind; attributes?: Record<string, unknown> },
      fn: (s: Span) => unknown,
    ) => {
      const record: Recorded = {
        name,
        kind: options.kind,
        attributes: { ...options.attributes },
        ended: false,
      }
      spans.push(record)
      return fn(span(record))
    },
  } as unknown as Tracer
  return { getTracer: () => tracer }
}

describe('tracing', () => {
  let iam: Emulator
  const spans: Recorded[] = []
  before(async () => {
    iam = await emulator()
    assert.ok(trace.setGlobalTracerProvider(recordingProvider(spans)))
  })
  after(async () => {
    trace.disable()
    await iam.close()
  })

  it('records a client span per IAM call, with method, URL and status', async () => {
    const client = clientFor(iam)
    await client.clientTokenGrant()
    await client.startLocalValidation()
    await client.close()
    const names = spans.map((s) => s.name).sort()
    assert.deepEqual(names, ['IAM GET jwks', 'IAM GET revocation list', 'IAM POST token grant'])
    for (const s of spans) {
      assert.equal(s.kind, SpanKind.CLIENT)
      assert.equal(s.attributes['http.response.status_code'], 200)
      assert.match(String(s.attributes['url.full']), /^http:\/\/127\.0\.0\.1:\d+\/iam\/v3\/oauth\//)
      assert.equal(s.ended, true)
    }
  })

  it('marks a failed call as an error span', async () => {
    spans.length = 0
    const client = clientFor(iam, { requestBudgetMs: 200, requestTimeoutMs: 100 })
    iam.setFault('token', { status: 503 })
    try {
      assert.equal(await codeOf(client.clientTokenGrant()), 'ERR_IAM_UNAVAILABLE')
    } finally {
      iam.setFault('token', null)
      await client.close()
    }
    assert.equal(spans.length, 1)
    assert.equal(spans[0]?.status, SpanStatusCode.ERROR)
    assert.equal(spans[0]?.ended, true)
  })
})
