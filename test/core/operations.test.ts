/**
 * What operations see of the core client: metrics through an OpenTelemetry SDK's in-memory
 * reader, refresh on demand, option typos caught, and the logger fed in pino's shape.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'

import { MeterProvider } from '@opentelemetry/sdk-metrics'

import { IamClient } from '../../src/index.js'
import { METRIC_NAMES } from '../../src/core/metrics.js'
import { SDK_VERSION } from '../../src/core/version.js'
import type { Emulator } from '../../src/emulator/index.js'
import { codeOf, emulator, memoryLogger, startedClientFor } from '../support/iam.js'
import { InMemoryReader, points } from '../support/metrics.js'

describe('operations: metrics', () => {
  let iam: Emulator
  let reader: InMemoryReader
  let client: IamClient
  before(async () => {
    iam = await emulator()
    reader = new InMemoryReader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    client = await startedClientFor(iam, { meterProvider })
  })
  after(async () => {
    await client.close()
    await iam.close()
  })

  it('the meter is the SDK with its version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    assert.equal(SDK_VERSION, pkg.version)
  })

  it('IAM calls: http.client.request.duration by endpoint and status (seconds)', async () => {
    iam.setFault('role', { status: 503, times: 1 })
    await client.getRolePermissions('some-role')
    const all = await reader.metrics()
    const calls = points(all, METRIC_NAMES.iamCallDuration)
    const descriptor = all.find((m) => m.descriptor.name === METRIC_NAMES.iamCallDuration)
    assert.equal(descriptor?.descriptor.unit, 's')
    const byEndpoint = (endpoint: string, status: number) =>
      calls.find(
        (p) =>
          p.attributes['iam.endpoint'] === endpoint &&
          p.attributes['http.response.status_code'] === status,
      )
    for (const endpoint of ['token grant', 'jwks', 'revocation list']) {
      const point = byEndpoint(endpoint, 200)
      assert.ok(point, endpoint)
      assert.equal(
        point.attributes['http.request.method'],
        endpoint === 'token grant' ? 'POST' : 'GET',
      )
      assert.equal(point.attributes['server.address'], '127.0.0.1')
    }
    assert.equal(byEndpoint('role', 503)?.attributes['error.type'], '503')
    assert.ok(byEndpoint('role', 404), 'the retry after the 503 answered 404')
  })

  it('cache lookups: iam.cache.lookups by cache and hit/miss/stale', async () => {
    const roleId = await iam.createRole({ permissions: [{ resource: 'X', action: 2 }] })
    await client.getRolePermissions(roleId)
    await client.getRolePermissions(roleId)
    const lookups = points(await reader.metrics(), METRIC_NAMES.cacheLookups)
    const count = (result: string) =>
      lookups.find(
        (p) =>
          p.attributes['iam.cache.name'] === 'roles' && p.attributes['iam.cache.result'] === result,
      )?.value
    assert.ok((count('miss') as number) >= 1)
    assert.ok((count('hit') as number) >= 1)
  })

  it('resource ages: iam.resource.age per background resource, in seconds', async () => {
    const ages = points(await reader.metrics(), METRIC_NAMES.resourceAge)
    const names = ages.map((p) => p.attributes['iam.resource']).sort()
    assert.deepEqual(names, ['client_token', 'jwks', 'revocation_list'])
    for (const point of ages)
      assert.ok((point.value as number) >= 0 && (point.value as number) < 60)
  })
})

describe('operations: refresh on demand, option typos', () => {
  let iam: Emulator
  before(async () => {
    iam = await emulator()
  })
  after(async () => iam.close())

  it('refresh() reloads the key set and the revocation list now, one fetch each', async () => {
    const client = await startedClientFor(iam, { revocationListRefreshIntervalMs: 3_600_000 })
    try {
      const token = await iam.issueUserToken({ sub: 'to-revoke' })
      assert.equal((await client.validateAndParseClaims(token)).sub, 'to-revoke')
      await iam.revokeToken(token)
      iam.resetRequestCounts()
      await Promise.all([client.refresh(), client.refresh(), client.refresh()])
      assert.equal(iam.requestCount('jwks'), 1)
      assert.equal(iam.requestCount('revocationList'), 1)
      assert.equal(await codeOf(client.validateAndParseClaims(token)), 'ERR_IAM_TOKEN_REVOKED')
    } finally {
      await client.close()
    }
  })

  it('refresh() before startLocalValidation() says so', async () => {
    const client = new IamClient({ baseUrl: iam.baseUrl, clientId: 'a', clientSecret: 'b' })
    assert.equal(await codeOf(client.refresh()), 'ERR_IAM_LOCAL_VALIDATION_NOT_STARTED')
    await client.close()
  })

  it('an unknown option is a TypeError naming it and the nearest known one', () => {
    const base = { baseUrl: iam.baseUrl, clientId: 'a', clientSecret: 'b' }
    for (const [typo, meant] of [
      ['clockTolerance', 'clockToleranceMs'],
      ['rolesCacheTTLMs', 'rolesCacheTtlMs'],
      ['jwksRefreshInterval', 'jwksRefreshIntervalMs'],
    ]) {
      assert.throws(
        () => new IamClient({ ...base, [typo as string]: 5 } as never),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message.includes(`"${typo}"`) &&
          e.message.includes(`"${meant}"`),
        typo,
      )
    }
    assert.throws(
      () => new IamClient({ ...base, somethingElseEntirely: 1 } as never),
      (e: unknown) => e instanceof TypeError && !e.message.includes('did you mean'),
    )
    // An option spread in as undefined is not a mistake.
    assert.doesNotThrow(() => new IamClient({ ...base, logger: undefined }))
  })

  it('a background refresh failure is warned in pino shape (details, message), never with a token', async () => {
    const logger = memoryLogger()
    const client = await startedClientFor(iam, {
      logger,
      jwksRefreshIntervalMs: 50,
      requestBudgetMs: 500,
    })
    try {
      iam.setFault('jwks', { status: 503 })
      const deadline = Date.now() + 3_000
      while (!logger.entries.some((e) => e.level === 'warn') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const warning = logger.entries.find((e) => e.level === 'warn')
      assert.ok(warning)
      assert.equal(warning.details.resource, 'JWKS')
      assert.equal(warning.details.servingStale, true)
      assert.ok(warning.details.err instanceof Error)
      assert.equal(typeof warning.message, 'string')
      assert.ok(
        !JSON.stringify(logger.entries.map((e) => e.details)).includes(client.clientToken()),
      )
    } finally {
      iam.setFault('jwks', null)
      await client.close()
    }
  })
})
