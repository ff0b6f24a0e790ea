/**
 * Properties: whatever a client sends in headers, cookies, Referer, Origin, Host or route
 * parameters, the pipeline answers with an IamError (never anything else, so never a 500 from
 * the SDK) or lets a request through only when every check passed.
 */
import { testClaims } from '../../support/claims.js'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import fc from 'fast-check'

import { IamError } from '../../../src/core/errors.js'
import { checkCsrf, subdomainMatchesNamespace } from '../../../src/core/http/csrf.js'
import { computeCorsHeaders } from '../../../src/core/http/cors.js'
import { resolveHttpProtectionOptions } from '../../../src/core/http/options.js'
import { authorizeRequest, createRouteGuard } from '../../../src/core/http/pipeline.js'
import type { ProtectionClient } from '../../../src/core/http/pipeline.js'
import { createHttpRequest } from '../../../src/core/http/request.js'
import { toHttpErrorResponse } from '../../../src/core/http/response.js'
import { extractToken } from '../../../src/core/http/token.js'
import type { ClientInformation } from '../../../src/core/types.js'

const GOOD = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln'

/** A fake validator that accepts exactly one token and rejects the rest like the real one. */
const client: ProtectionClient = {
  async validateAndParseClaims(token) {
    if (token !== GOOD) throw new IamError('ERR_IAM_TOKEN_SIGNATURE', 'bad signature')
    return testClaims()
  },
  async validatePermission(_claims, required) {
    return (required as { resource: string }).resource === 'NAMESPACE:ns:USER:u1'
  },
  async getClientInformation(namespace, clientId) {
    return {
      clientId,
      namespace,
      clientName: '',
      baseUri: '',
      redirectUri: 'https://app.test/app',
    } as ClientInformation
  },
}

// Header values as a parser could hand them over: any printable text, including separators.
const text = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.stringMatching(/^[\x20-\x7e]{0,80}$/),
  fc.constantFrom(
    '',
    ' ',
    'Bearer',
    'Bearer ',
    `Bearer ${GOOD}`,
    `bearer  ${GOOD} x`,
    GOOD,
    'null',
    'https://app.test/app/x',
  ),
)
const maybe = fc.option(text, { nil: undefined })

const options = [
  resolveHttpProtectionOptions(),
  resolveHttpProtectionOptions({
    options: { strictReferer: true, subdomainValidationEnable: true },
  }),
  resolveHttpProtectionOptions({
    options: { allowSubdomainReferer: true, tokenLocations: ['cookies'] },
  }),
]

describe('fuzz: the pipeline only ever throws IamErrors', () => {
  test('arbitrary Authorization, Cookie, Referer, Origin, Host and params', async () => {
    const guard = createRouteGuard(
      { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
      { '{namespace}': 'ns' },
    )
    await fc.assert(
      fc.asyncProperty(
        maybe,
        maybe,
        maybe,
        maybe,
        maybe,
        maybe,
        fc.integer({ min: 0, max: options.length - 1 }),
        async (authorization, cookie, referer, origin, host, userId, i) => {
          const headers: Record<string, string> = {}
          if (authorization !== undefined) headers.authorization = authorization
          if (cookie !== undefined) headers.cookie = cookie
          if (referer !== undefined) headers.referer = referer
          if (origin !== undefined) headers.origin = origin
          if (host !== undefined) headers.host = host
          const params = userId === undefined ? {} : { userId }
          const request = createHttpRequest({ method: 'POST', headers, params })
          try {
            const ctx = await authorizeRequest(client, options[i]!, guard, request, undefined)
            // Passing requires the one good token and the one allowed user.
            assert.equal(ctx?.token, GOOD)
            assert.equal(userId, 'u1')
          } catch (error) {
            assert.ok(error instanceof IamError, `non-IamError: ${String(error)}`)
            const response = toHttpErrorResponse(error)
            assert.ok([401, 403, 404].includes(response.status), `status ${response.status}`)
            for (const value of Object.values(response.headers))
              assert.match(value, /^[\x20-\x7e]*$/)
          }
        },
      ),
      { numRuns: 600 },
    )
  })
  test('token extraction never throws anything but an IamError', () => {
    fc.assert(
      fc.property(maybe, maybe, (authorization, cookie) => {
        const headers: Record<string, string> = {}
        if (authorization !== undefined) headers.authorization = authorization
        if (cookie !== undefined) headers.cookie = cookie
        try {
          const { token } = extractToken(createHttpRequest({ method: 'GET', headers }), options[0]!)
          assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/)
        } catch (error) {
          assert.ok(error instanceof IamError)
        }
      }),
      { numRuns: 1000 },
    )
  })
  test('CSRF and subdomain checks are total functions', () => {
    fc.assert(
      fc.property(
        maybe,
        maybe,
        text,
        text,
        fc.boolean(),
        fc.boolean(),
        (referer, origin, redirectUri, host, strict, sub) => {
          const o = {
            strictReferer: strict,
            allowSubdomainReferer: sub,
            subdomainValidationEnable: !sub,
            subdomainValidationExcludedNamespaces: [],
          }
          const r = checkCsrf({ referer, origin, redirectUri, namespace: 'ns' }, o)
          assert.ok(r === undefined || typeof r === 'string')
          assert.equal(typeof subdomainMatchesNamespace(host, 'ns', []), 'boolean')
        },
      ),
      { numRuns: 1000 },
    )
  })
  test('a foreign Referer never passes CSRF for a client with a redirect URI', () => {
    fc.assert(
      fc.property(fc.domain(), fc.webPath(), (domain, path) => {
        fc.pre(domain !== 'app.test')
        const o = options[0]!
        assert.notEqual(
          checkCsrf(
            {
              referer: `https://${domain}${path}`,
              origin: undefined,
              redirectUri: 'https://app.test',
              namespace: 'ns',
            },
            o,
          ),
          undefined,
        )
      }),
      { numRuns: 500 },
    )
  })
  test('CORS never reflects a non-printable value', () => {
    const policy = resolveHttpProtectionOptions({ options: { corsEnable: true } }).cors!
    fc.assert(
      fc.property(maybe, maybe, maybe, (origin, requestHeaders, requestMethod) => {
        const { headers } = computeCorsHeaders(policy, { origin, requestHeaders, requestMethod })
        for (const value of Object.values(headers)) assert.match(value, /^[\x20-\x7e]*$/)
      }),
      { numRuns: 1000 },
    )
  })
})
