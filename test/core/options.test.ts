import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { IamClient, optionsFromEnv } from '../../src/index.js'
import { resolveClientOptions } from '../../src/core/options.js'

const base = { baseUrl: 'http://127.0.0.1:4300/iam', clientId: 'id', clientSecret: 'secret' }

function typeErrorNaming(fn: () => unknown, option: string): void {
  assert.throws(
    fn,
    (error: unknown) => error instanceof TypeError && error.message.includes(`"${option}"`),
  )
}

describe('client options', () => {
  it('applies documented defaults and freezes the result', () => {
    const o = resolveClientOptions(base)
    assert.equal(o.rolesCacheTtlMs, 60_000)
    assert.equal(o.jwksRefreshIntervalMs, 60_000)
    assert.equal(o.revocationListRefreshIntervalMs, 60_000)
    assert.equal(o.jwksRefetchCooldownMs, 5_000)
    assert.equal(o.clockToleranceMs, 60_000)
    assert.deepEqual(o.algorithms, ['RS256'])
    assert.equal(o.basicBaseUrl, 'http://127.0.0.1:4300/basic')
    assert.ok(Object.isFrozen(o))
  })

  it('accepts short intervals and a zero tolerance', () => {
    const o = resolveClientOptions({
      ...base,
      jwksRefreshIntervalMs: 100,
      clockToleranceMs: 0,
      rolesCacheTtlMs: 150,
    })
    assert.equal(o.jwksRefreshIntervalMs, 100)
    assert.equal(o.clockToleranceMs, 0)
  })

  const bad: Array<[string, Record<string, unknown>]> = [
    ['baseUrl', { baseUrl: 'not a url' }],
    ['baseUrl', { baseUrl: 'ftp://x/iam' }],
    ['baseUrl', { baseUrl: undefined }],
    ['clientId', { clientId: '' }],
    ['clientSecret', { clientSecret: 42 }],
    ['basicBaseUrl', { basicBaseUrl: 'nope' }],
    ['jwksRefreshIntervalMs', { jwksRefreshIntervalMs: 0 }],
    ['revocationListRefreshIntervalMs', { revocationListRefreshIntervalMs: -1 }],
    ['rolesCacheTtlMs', { rolesCacheTtlMs: Number.NaN }],
    ['clockToleranceMs', { clockToleranceMs: '60' }],
    ['jwksRefetchCooldownMs', { jwksRefetchCooldownMs: Infinity }],
    ['algorithms', { algorithms: ['HS256'] }],
    ['algorithms', { algorithms: ['none'] }],
    ['algorithms', { algorithms: [] }],
    ['fetch', { fetch: 'fetch' }],
    ['cacheMaxEntries', { cacheMaxEntries: 0 }],
  ]
  for (const [option, patch] of bad) {
    it(`names ${option} when it is ${JSON.stringify(Object.values(patch)[0]) ?? 'undefined'}`, () => {
      typeErrorNaming(() => new IamClient({ ...base, ...patch } as never), option)
    })
  }

  it('strips a trailing slash from baseUrl', () => {
    assert.equal(
      resolveClientOptions({ ...base, baseUrl: 'https://iam.example/iam/' }).baseUrl,
      'https://iam.example/iam',
    )
  })
})

describe('optionsFromEnv', () => {
  it('reads the IAM_* variables and leaves unset ones out', () => {
    const o = optionsFromEnv({
      IAM_BASE_URL: 'https://x/iam',
      IAM_CLIENT_ID: 'id',
      IAM_CLIENT_SECRET: 's',
      IAM_JWKS_REFRESH_INTERVAL_MS: '1500',
      IAM_ALGORITHMS: 'RS256, PS256',
      IAM_BASIC_BASE_URL: '',
    })
    assert.deepEqual(o, {
      baseUrl: 'https://x/iam',
      clientId: 'id',
      clientSecret: 's',
      jwksRefreshIntervalMs: 1500,
      algorithms: ['RS256', 'PS256'],
    })
  })

  it('names a variable that is not a number', () => {
    assert.throws(
      () => optionsFromEnv({ IAM_CLOCK_TOLERANCE_MS: 'soon' }),
      (e: unknown) => e instanceof TypeError && e.message.includes('IAM_CLOCK_TOLERANCE_MS'),
    )
  })

  it('reads process.env by default', () => {
    process.env.IAM_CLIENT_ID = 'from-process-env'
    try {
      assert.equal(optionsFromEnv().clientId, 'from-process-env')
    } finally {
      delete process.env.IAM_CLIENT_ID
    }
  })
})
