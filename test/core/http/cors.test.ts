import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import {
  computeCorsHeaders,
  mergeCorsPolicies,
  mergeVary,
  normalizeCorsList,
  normalizeCorsOrigin,
  originAllowed,
  parseRouteCors,
} from '../../../src/core/http/cors.js'
import type { CorsPolicy } from '../../../src/core/http/cors.js'
import { resolveHttpProtectionOptions } from '../../../src/core/http/options.js'

const appWide = (options: Record<string, unknown>): CorsPolicy => {
  const cors = resolveHttpProtectionOptions({ options: { corsEnable: true, ...options } }).cors
  assert.ok(cors)
  return cors
}

describe('origin rules', () => {
  test('* with credentials (the defaults) answers the literal *: no site reads credentialed answers', () => {
    const r = computeCorsHeaders(appWide({}), { origin: 'https://a.test' })
    assert.equal(r.headers['Access-Control-Allow-Origin'], '*')
    assert.deepEqual(r.vary, [])
  })
  test('corsReflectAnyOriginUnsafe: * with credentials reflects the request Origin, Vary: Origin', () => {
    const r = computeCorsHeaders(appWide({ corsReflectAnyOriginUnsafe: true }), {
      origin: 'https://a.test',
    })
    assert.equal(r.headers['Access-Control-Allow-Origin'], 'https://a.test')
    assert.equal(r.headers['Access-Control-Allow-Credentials'], 'true')
    assert.deepEqual(r.vary, ['Origin'])
    // Still only printable values are reflected.
    const bad = computeCorsHeaders(appWide({ corsReflectAnyOriginUnsafe: true }), {
      origin: 'https://a.test\r\nx: y',
    })
    assert.equal(bad.headers['Access-Control-Allow-Origin'], '*')
  })
  test('* without credentials answers *, no Vary, no credentials header', () => {
    const r = computeCorsHeaders(appWide({ corsCredentials: false }), { origin: 'https://a.test' })
    assert.equal(r.headers['Access-Control-Allow-Origin'], '*')
    assert.equal(r.headers['Access-Control-Allow-Credentials'], undefined)
    assert.deepEqual(r.vary, [])
  })
  test('* and no Origin header: *', () => {
    const r = computeCorsHeaders(appWide({}), { origin: undefined })
    assert.equal(r.headers['Access-Control-Allow-Origin'], '*')
  })
  test('a comma-separated list reflects listed origins only', () => {
    const policy = appWide({ corsOrigin: 'https://a.test, http://localhost:3000' })
    assert.equal(
      computeCorsHeaders(policy, { origin: 'http://localhost:3000' }).headers[
        'Access-Control-Allow-Origin'
      ],
      'http://localhost:3000',
    )
    const foreign = computeCorsHeaders(policy, { origin: 'https://evil.test' })
    assert.deepEqual(foreign.headers, {})
    assert.deepEqual(foreign.vary, ['Origin'])
    assert.deepEqual(computeCorsHeaders(policy, { origin: undefined }).headers, {})
  })
  test('an array and a RegExp', () => {
    const list = appWide({ corsOrigin: ['https://a.test'] })
    assert.equal(originAllowed(list.origin!, 'https://A.test'), true)
    assert.equal(originAllowed(list.origin!, 'https://a.test.evil'), false)
    const re = appWide({ corsOrigin: /^https:\/\/[a-z]+\.example\.com$/g })
    assert.equal(originAllowed(re.origin!, 'https://app.example.com'), true)
    // stateful flags dropped: the same answer twice
    assert.equal(originAllowed(re.origin!, 'https://app.example.com'), true)
    assert.equal(originAllowed(re.origin!, 'https://app.example.com.evil.test'), false)
  })
  test("'null' and non-printable origins are never reflected", () => {
    const list = appWide({ corsOrigin: 'https://a.test' })
    assert.equal(originAllowed(list.origin!, 'null'), false)
    const any = computeCorsHeaders(appWide({}), { origin: 'https://a.test\u00ff' })
    assert.equal(any.headers['Access-Control-Allow-Origin'], '*')
  })
  test('bad origin settings are TypeErrors naming the option', () => {
    assert.throws(
      () => normalizeCorsOrigin('', 'corsOrigin'),
      (e: Error) => e instanceof TypeError && /corsOrigin/.test(e.message),
    )
    assert.throws(() => normalizeCorsOrigin('example.com', 'corsOrigin'), TypeError)
    assert.throws(() => normalizeCorsOrigin(42, 'corsOrigin'), TypeError)
    assert.throws(() => normalizeCorsList('a b', 'corsHeaders'), TypeError)
  })
})

describe('methods and headers', () => {
  test('methods * become the route methods (+HEAD, OPTIONS) when known', () => {
    const r = computeCorsHeaders(appWide({}), {
      origin: 'https://a.test',
      routeMethods: ['get', 'post'],
    })
    assert.equal(r.headers['Access-Control-Allow-Methods'], 'GET, POST, HEAD, OPTIONS')
  })
  test('methods *: a preflight gets the asked method added', () => {
    const r = computeCorsHeaders(appWide({}), {
      origin: 'https://a.test',
      requestMethod: 'put',
      routeMethods: ['OPTIONS'],
    })
    assert.equal(r.headers['Access-Control-Allow-Methods'], 'OPTIONS, PUT')
    assert.ok(r.vary.includes('Access-Control-Request-Method'))
  })
  test('explicit methods are used as given', () => {
    const r = computeCorsHeaders(appWide({ corsMethods: ['GET', 'POST'] }), {
      origin: 'x',
      routeMethods: ['DELETE'],
    })
    assert.equal(r.headers['Access-Control-Allow-Methods'], 'GET, POST')
  })
  test('headers * with credentials reflect the preflight request headers', () => {
    const r = computeCorsHeaders(appWide({}), {
      origin: 'https://a.test',
      requestHeaders: 'device-id, x-y',
    })
    assert.equal(r.headers['Access-Control-Allow-Headers'], 'device-id, x-y')
    assert.ok(r.vary.includes('Access-Control-Request-Headers'))
    const plain = computeCorsHeaders(appWide({}), { origin: 'https://a.test' })
    assert.equal(plain.headers['Access-Control-Allow-Headers'], '*')
  })
})

describe('per-route policy', () => {
  test('parses the seed example and overrides the app-wide values', () => {
    const route = parseRouteCors({
      'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
      'Access-Control-Max-Age': 600,
    })
    const merged = mergeCorsPolicies(
      appWide({ corsHeaders: 'X-Other', corsOrigin: 'http://127.0.0.1' }),
      route,
    )
    const r = computeCorsHeaders(merged, {
      origin: 'http://127.0.0.1',
      routeMethods: ['GET', 'POST'],
    })
    assert.equal(r.headers['Access-Control-Allow-Headers'], 'Device-Id, Device-Os, Device-Type')
    assert.equal(r.headers['Access-Control-Allow-Origin'], 'http://127.0.0.1')
    assert.equal(r.headers['Access-Control-Max-Age'], '600')
    assert.equal(r.headers['Access-Control-Allow-Methods'], 'GET, POST, HEAD, OPTIONS')
  })
  test('without app-wide CORS only the given headers are produced', () => {
    const route = parseRouteCors({ 'Access-Control-Allow-Headers': 'Device-Id' })
    const r = computeCorsHeaders(mergeCorsPolicies(undefined, route), { origin: 'https://a.test' })
    assert.deepEqual(r.headers, { 'Access-Control-Allow-Headers': 'Device-Id' })
  })
  test('a per-route origin list and credentials', () => {
    const route = parseRouteCors({
      'access-control-allow-origin': 'https://a.test',
      'Access-Control-Allow-Credentials': true,
    })
    const ok = computeCorsHeaders(route, { origin: 'https://a.test' })
    assert.equal(ok.headers['Access-Control-Allow-Origin'], 'https://a.test')
    assert.equal(ok.headers['Access-Control-Allow-Credentials'], 'true')
    assert.deepEqual(computeCorsHeaders(route, { origin: 'https://b.test' }).headers, {})
  })
  test('bad per-route values are TypeErrors', () => {
    assert.throws(() => parseRouteCors({ 'Bad Header': 'x' }), TypeError)
    assert.throws(() => parseRouteCors({ 'Access-Control-Allow-Credentials': 'maybe' }), TypeError)
    assert.throws(() => parseRouteCors({ 'Access-Control-Max-Age': { a: 1 } }), TypeError)
    assert.throws(() => parseRouteCors('x'), TypeError)
  })
})

test('mergeVary keeps existing values and avoids duplicates', () => {
  assert.equal(mergeVary(undefined, ['Origin']), 'Origin')
  assert.equal(mergeVary('Accept-Encoding, origin', ['Origin', 'X']), 'Accept-Encoding, origin, X')
  assert.equal(mergeVary('*', ['Origin']), '*')
})
