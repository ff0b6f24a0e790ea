import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { IamError } from '../../../src/core/errors.js'
import { resolveHttpProtectionOptions } from '../../../src/core/http/options.js'
import { createHttpRequest } from '../../../src/core/http/request.js'
import { extractToken } from '../../../src/core/http/token.js'

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'
const defaults = resolveHttpProtectionOptions()

function req(headers: Record<string, string>) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  return createHttpRequest({ method: 'GET', headers: lower })
}

function code(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    assert.ok(error instanceof IamError, `expected an IamError, got ${String(error)}`)
    return error.code
  }
}

describe('extractToken', () => {
  test('Bearer header, scheme case-insensitive, extra spaces tolerated', () => {
    for (const value of [
      `Bearer ${JWT}`,
      `bearer ${JWT}`,
      `BEARER   ${JWT}  `,
      `\tBearer\t${JWT}`,
    ]) {
      assert.deepEqual(extractToken(req({ Authorization: value }), defaults), {
        token: JWT,
        location: 'header',
      })
    }
  })
  test('cookie when no header', () => {
    assert.deepEqual(extractToken(req({ Cookie: `a=b; access_token=${JWT}` }), defaults), {
      token: JWT,
      location: 'cookie',
    })
  })
  test('header wins over cookie; an empty header counts as absent', () => {
    const both = req({ Authorization: `Bearer ${JWT}`, Cookie: 'access_token=x.y.z' })
    assert.equal(extractToken(both, defaults).location, 'header')
    const empty = req({ Authorization: '   ', Cookie: `access_token=${JWT}` })
    assert.equal(extractToken(empty, defaults).location, 'cookie')
  })
  test('malformed headers are ERR_IAM_TOKEN_MALFORMED (401), even with a good cookie', () => {
    for (const value of [
      'Bearer',
      'Bearer ',
      'Basic',
      `Bearer ${JWT} extra`,
      'Bearer not-a-jwt',
      'Bearer a.b',
      `Bearer ${'a'.repeat(20_000)}.b.c`,
    ]) {
      const r = req({ Authorization: value, Cookie: `access_token=${JWT}` })
      assert.equal(
        code(() => extractToken(r, defaults)),
        'ERR_IAM_TOKEN_MALFORMED',
        value,
      )
    }
  })
  test('another scheme (Basic, DPoP...) is not a bearer token: absent, so the cookie is tried', () => {
    for (const value of [`Basic ${JWT}`, 'Basic dXNlcjpwYXNz', `DPoP ${JWT}`]) {
      assert.equal(
        code(() => extractToken(req({ Authorization: value }), defaults)),
        'ERR_IAM_TOKEN_MISSING',
        value,
      )
      const withCookie = req({ Authorization: value, Cookie: `access_token=${JWT}` })
      assert.equal(extractToken(withCookie, defaults).location, 'cookie', value)
    }
  })
  test('credentials sent twice are ERR_IAM_TOKEN_AMBIGUOUS, whatever the server kept', () => {
    // Joined by the framework (web Headers), or a comma inside one header.
    for (const value of [`Bearer ${JWT}, Bearer ${JWT}`, `Bearer ${JWT},${JWT}`]) {
      assert.equal(
        code(() => extractToken(req({ Authorization: value }), defaults)),
        'ERR_IAM_TOKEN_AMBIGUOUS',
        value,
      )
    }
    // Node keeps only the first Authorization in req.headers; the raw list has both.
    const node = createHttpRequest({
      method: 'GET',
      headers: { authorization: `Bearer ${JWT}` },
      rawHeaders: ['Host', 'x', 'Authorization', `Bearer ${JWT}`, 'authorization', 'Bearer a.b.c'],
    })
    assert.equal(
      code(() => extractToken(node, defaults)),
      'ERR_IAM_TOKEN_AMBIGUOUS',
    )
    const once = createHttpRequest({
      method: 'GET',
      headers: { authorization: `Bearer ${JWT}` },
      rawHeaders: ['Host', 'x', 'Authorization', `Bearer ${JWT}`],
    })
    assert.equal(extractToken(once, defaults).token, JWT)
  })
  test("one vocabulary: 'header'/'cookie', the seed's plurals accepted; the wire text unchanged", () => {
    const seed = resolveHttpProtectionOptions({
      options: { tokenLocations: ['cookies', 'headers'] },
    })
    const ours = resolveHttpProtectionOptions({ options: { tokenLocations: ['cookie', 'header'] } })
    assert.deepEqual(seed.tokenLocations, ['cookie', 'header'])
    assert.deepEqual(ours.tokenLocations, seed.tokenLocations)
    try {
      extractToken(req({}), defaults)
      assert.fail('expected a refusal')
    } catch (error) {
      assert.equal(
        (error as { toJSON(): { errorMessage: string } }).toJSON().errorMessage,
        'unauthorized access: Missing access token in headers or cookies',
      )
    }
  })
  test('no token anywhere is ERR_IAM_TOKEN_MISSING', () => {
    assert.equal(
      code(() => extractToken(req({}), defaults)),
      'ERR_IAM_TOKEN_MISSING',
    )
    assert.equal(
      code(() => extractToken(req({ Cookie: 'access_token=' }), defaults)),
      'ERR_IAM_TOKEN_MISSING',
    )
    assert.equal(
      code(() => extractToken(req({ Cookie: '%%%;;==' }), defaults)),
      'ERR_IAM_TOKEN_MISSING',
    )
  })
  test('locations are honoured in order; a location not listed is ignored', () => {
    const cookiesOnly = resolveHttpProtectionOptions({ options: { tokenLocations: ['cookies'] } })
    assert.equal(
      code(() => extractToken(req({ Authorization: `Bearer ${JWT}` }), cookiesOnly)),
      'ERR_IAM_TOKEN_MISSING',
    )
    const cookieFirst = resolveHttpProtectionOptions({
      options: { tokenLocations: ['cookies', 'headers'] },
    })
    const both = req({ Authorization: 'Bearer', Cookie: `access_token=${JWT}` })
    assert.equal(extractToken(both, cookieFirst).location, 'cookie')
  })
  test('custom header name, type and cookie name', () => {
    const o = resolveHttpProtectionOptions({
      options: { tokenHeaderName: 'X-Token', tokenHeaderType: 'JWT', tokenCookieName: 'tok' },
    })
    assert.equal(extractToken(req({ 'X-Token': `jwt ${JWT}` }), o).token, JWT)
    // Bearer is another scheme than the configured JWT: no token of ours.
    assert.equal(
      code(() => extractToken(req({ 'X-Token': `Bearer ${JWT}` }), o)),
      'ERR_IAM_TOKEN_MISSING',
    )
    assert.equal(
      code(() => extractToken(req({ 'X-Token': `jwt ${JWT} x` }), o)),
      'ERR_IAM_TOKEN_MALFORMED',
    )
    assert.equal(extractToken(req({ Cookie: `tok=${JWT}` }), o).token, JWT)
    assert.equal(
      code(() => extractToken(req({ Authorization: `Bearer ${JWT}` }), o)),
      'ERR_IAM_TOKEN_MISSING',
    )
  })
  test("tokenHeaderType '' means a bare token", () => {
    const o = resolveHttpProtectionOptions({ options: { tokenHeaderType: '' } })
    assert.equal(extractToken(req({ Authorization: JWT }), o).token, JWT)
    assert.equal(
      code(() => extractToken(req({ Authorization: `Bearer ${JWT}` }), o)),
      'ERR_IAM_TOKEN_MALFORMED',
    )
  })
  test('repeated headers (joined by the framework) are ambiguous', () => {
    const r = createHttpRequest({
      method: 'GET',
      headers: { authorization: [`Bearer ${JWT}`, `Bearer ${JWT}`] },
    })
    assert.equal(
      code(() => extractToken(r, defaults)),
      'ERR_IAM_TOKEN_AMBIGUOUS',
    )
  })
})
