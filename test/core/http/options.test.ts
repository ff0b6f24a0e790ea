import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import {
  HTTP_PROTECTION_DEFAULTS,
  HTTP_SETTING_KEYS,
  resolveHttpProtectionOptions,
  resolveIamConfig,
  validateHttpProtectionOptions,
} from '../../../src/core/http/options.js'

const creds = { IAM_BASE_URL: 'http://iam.test/iam', IAM_CLIENT_ID: 'id', IAM_CLIENT_SECRET: 's' }

function typeErrorNaming(name: string) {
  return (e: unknown) => e instanceof TypeError && e.message.includes(name)
}

describe('HTTP options', () => {
  test('defaults of docs/iam-wire-protocol.md §5.1', () => {
    const o = resolveHttpProtectionOptions()
    assert.deepEqual(o.tokenLocations, ['header', 'cookie'])
    assert.equal(o.tokenHeaderName, 'Authorization')
    assert.equal(o.tokenHeaderType, 'Bearer')
    assert.equal(o.tokenCookieName, 'access_token')
    assert.equal(o.tokenCookiePath, '/')
    assert.equal(o.csrfProtection, true)
    assert.equal(o.strictReferer, false)
    assert.equal(o.allowSubdomainReferer, false)
    assert.equal(o.subdomainValidationEnable, false)
    assert.deepEqual(o.subdomainValidationExcludedNamespaces, [])
    assert.equal(o.corsEnable, false)
    assert.deepEqual(o.corsOrigin, { kind: 'any' })
    assert.deepEqual(o.corsHeaders, ['*'])
    assert.deepEqual(o.corsMethods, ['*'])
    assert.equal(o.corsCredentials, true)
    assert.equal(o.readyTimeoutMs, 10_000)
    assert.equal(o.cors, undefined)
    assert.ok(Object.isFrozen(o))
  })
  test('every option has its IAM_* key', () => {
    assert.deepEqual(
      Object.keys(HTTP_SETTING_KEYS).sort(),
      Object.keys(HTTP_PROTECTION_DEFAULTS).sort(),
    )
    assert.equal(
      HTTP_SETTING_KEYS.subdomainValidationExcludedNamespaces,
      'IAM_SUBDOMAIN_VALIDATION_EXCLUDED_NAMESPACES',
    )
  })
  test('precedence: options, then settings, then environment, then defaults', () => {
    const settings: Record<string, unknown> = {
      IAM_STRICT_REFERER: true,
      IAM_TOKEN_COOKIE_NAME: 'from-setting',
    }
    const env = {
      IAM_STRICT_REFERER: 'false',
      IAM_TOKEN_COOKIE_NAME: 'from-env',
      IAM_CORS_ENABLE: 'true',
    }
    const o = resolveHttpProtectionOptions({
      options: { tokenCookieName: 'from-option' },
      setting: (k) => settings[k],
      env,
    })
    assert.equal(o.tokenCookieName, 'from-option')
    assert.equal(o.strictReferer, true)
    assert.equal(o.corsEnable, true)
    assert.equal(o.tokenHeaderName, 'Authorization')
  })
  test('settings and environment values are parsed from text', () => {
    const env = {
      IAM_TOKEN_LOCATIONS: '["cookies","headers"]',
      IAM_CSRF_PROTECTION: 'False',
      IAM_SUBDOMAIN_VALIDATION_EXCLUDED_NAMESPACES: 'a, b',
      IAM_CORS_ORIGIN: 'https://a.test,https://b.test',
      IAM_CORS_HEADERS: 'Device-Id, Device-Os',
      IAM_READY_TIMEOUT_MS: '2500',
    }
    const o = resolveHttpProtectionOptions({ env })
    assert.deepEqual(o.tokenLocations, ['cookie', 'header'])
    assert.equal(o.csrfProtection, false)
    assert.deepEqual(o.subdomainValidationExcludedNamespaces, ['a', 'b'])
    assert.deepEqual(o.corsOrigin, { kind: 'list', origins: ['https://a.test', 'https://b.test'] })
    assert.deepEqual(o.corsHeaders, ['Device-Id', 'Device-Os'])
    assert.equal(o.readyTimeoutMs, 2500)
    assert.deepEqual(
      resolveHttpProtectionOptions({ env: { IAM_TOKEN_LOCATIONS: 'cookies' } }).tokenLocations,
      ['cookie'],
    )
  })
  test('a bad option is a TypeError naming it (option, setting or variable)', () => {
    assert.throws(
      () => validateHttpProtectionOptions({ csrfProtection: 'yes' }),
      typeErrorNaming('csrfProtection'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ tokenLocations: ['query'] }),
      typeErrorNaming('tokenLocations'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ tokenLocations: [] }),
      typeErrorNaming('tokenLocations'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ tokenHeaderName: 'Bad Name' }),
      typeErrorNaming('tokenHeaderName'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ tokenHeaderType: 'Bear er' }),
      typeErrorNaming('tokenHeaderType'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ tokenCookiePath: 'x' }),
      typeErrorNaming('tokenCookiePath'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ readyTimeoutMs: -1 }),
      typeErrorNaming('readyTimeoutMs'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ corsOrigin: 3 }),
      typeErrorNaming('corsOrigin'),
    )
    assert.throws(
      () => validateHttpProtectionOptions({ subdomainValidationExcludedNamespaces: 'a' }),
      typeErrorNaming('subdomainValidationExcludedNamespaces'),
    )
    assert.throws(() => validateHttpProtectionOptions('x'), TypeError)
    assert.throws(
      () =>
        resolveHttpProtectionOptions({
          setting: (k) => (k === 'IAM_STRICT_REFERER' ? 'maybe' : undefined),
        }),
      typeErrorNaming('setting IAM_STRICT_REFERER'),
    )
    assert.throws(
      () => resolveHttpProtectionOptions({ env: { IAM_READY_TIMEOUT_MS: 'soon' } }),
      typeErrorNaming('environment variable IAM_READY_TIMEOUT_MS'),
    )
  })
  test('client options in an options object are not HTTP options and pass validation', () => {
    validateHttpProtectionOptions({ baseUrl: 'x', clientId: 'y', rolesCacheTtlMs: 5 })
  })
})

describe('resolveIamConfig', () => {
  test('client options: options, then settings, then environment', () => {
    const settings: Record<string, unknown> = {
      IAM_CLIENT_ID: 'setting-id',
      IAM_ROLES_CACHE_TTL_MS: 5,
    }
    const { client, http } = resolveIamConfig({
      options: { clientSecret: 'option-secret', strictReferer: true },
      setting: (k) => settings[k],
      env: { ...creds, IAM_CLOCK_TOLERANCE_MS: '0', IAM_JWKS_REFRESH_INTERVAL_MS: '1000' },
    })
    assert.equal(client.baseUrl, 'http://iam.test/iam')
    assert.equal(client.clientId, 'setting-id')
    assert.equal(client.clientSecret, 'option-secret')
    assert.equal(client.rolesCacheTtlMs, 5)
    assert.equal(client.clockToleranceMs, 0)
    assert.equal(client.jwksRefreshIntervalMs, 1000)
    assert.equal(http.strictReferer, true)
    assert.equal((client as unknown as Record<string, unknown>).strictReferer, undefined)
  })
  test('string settings for numeric client options are parsed', () => {
    const { client } = resolveIamConfig({
      setting: (k) => ({ ...creds, IAM_REQUEST_TIMEOUT_MS: '1500' })[k],
    })
    assert.equal(client.requestTimeoutMs, 1500)
    assert.throws(
      () => resolveIamConfig({ setting: (k) => ({ ...creds, IAM_REQUEST_TIMEOUT_MS: 'x' })[k] }),
      typeErrorNaming('setting IAM_REQUEST_TIMEOUT_MS'),
    )
  })
  test('missing base URL or credentials: a TypeError naming each missing one', () => {
    assert.throws(
      () => resolveIamConfig({ env: {} }),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message.includes('IAM_BASE_URL') &&
        e.message.includes('IAM_CLIENT_ID') &&
        e.message.includes('IAM_CLIENT_SECRET'),
    )
    assert.throws(
      () => resolveIamConfig({ env: { IAM_BASE_URL: 'http://x/iam', IAM_CLIENT_SECRET: 's' } }),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message.includes('IAM_CLIENT_ID') &&
        !e.message.includes('IAM_BASE_URL'),
    )
  })
  test('a public client may have an empty secret given as an option', () => {
    const { client } = resolveIamConfig({
      options: { baseUrl: 'http://x/iam', clientId: 'pub', clientSecret: '' },
    })
    assert.equal(client.clientSecret, '')
  })
})
