import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { checkCsrf, hostnameOf, subdomainMatchesNamespace } from '../../../src/core/http/csrf.js'
import type { CsrfOptions } from '../../../src/core/http/csrf.js'

const base: CsrfOptions = {
  strictReferer: false,
  allowSubdomainReferer: false,
  subdomainValidationEnable: false,
  subdomainValidationExcludedNamespaces: [],
}
const ns = 'sample-namespace'

function check(
  referer: string | undefined,
  origin: string | undefined,
  redirectUri: string,
  options: Partial<CsrfOptions> = {},
) {
  return checkCsrf({ referer, origin, redirectUri, namespace: ns }, { ...base, ...options })
}

describe('checkCsrf: default mode (same origin)', () => {
  const uri = 'https://app.example.com/app'
  test('same origin passes, any path', () => {
    assert.equal(check('https://app.example.com/other/page?x=1', undefined, uri), undefined)
  })
  test('host compared case-insensitively, default port implied', () => {
    assert.equal(check('https://APP.example.com:443/', undefined, uri), undefined)
  })
  test('another port fails', () => {
    assert.equal(check('https://app.example.com:8443/app', undefined, uri), 'referer-not-allowed')
  })
  test('another scheme fails', () => {
    assert.equal(check('http://app.example.com/app', undefined, uri), 'referer-not-allowed')
  })
  test('a subdomain fails without allowSubdomainReferer', () => {
    assert.equal(check('https://x.app.example.com/app', undefined, uri), 'referer-not-allowed')
  })
  test('a host that merely contains the redirect host fails', () => {
    assert.equal(check('https://app.example.com.evil.test/', undefined, uri), 'referer-not-allowed')
    assert.equal(
      check('https://evil.test/https://app.example.com/app', undefined, uri),
      'referer-not-allowed',
    )
  })
  test('userinfo tricks do not change the host', () => {
    assert.equal(check('https://app.example.com@evil.test/', undefined, uri), 'referer-not-allowed')
  })
  test('no Referer and no Origin fails', () => {
    assert.equal(check(undefined, undefined, uri), 'no-referer-or-origin')
    assert.equal(check('', '  ', uri), 'no-referer-or-origin')
  })
  test('unparsable Referer fails', () => {
    assert.equal(check('not a url', undefined, uri), 'referer-unparsable')
  })
  test('any of a comma-separated list of redirect URIs (entries trimmed)', () => {
    const list = 'https://a.example.com/cb, http://localhost:3000 ,'
    assert.equal(check('http://localhost:3000/page', undefined, list), undefined)
    assert.equal(check('https://a.example.com/x', undefined, list), undefined)
    assert.equal(check('http://localhost:3001/page', undefined, list), 'referer-not-allowed')
  })
})

describe('checkCsrf: Origin', () => {
  const uri = 'https://app.example.com'
  test('a good Origin passes without Referer (Referrer-Policy: no-referrer)', () => {
    assert.equal(check(undefined, 'https://app.example.com', uri), undefined)
  })
  test('a foreign Origin fails even with a good Referer', () => {
    assert.equal(
      check('https://app.example.com/page', 'https://evil.test', uri),
      'origin-not-allowed',
    )
  })
  test('a good Origin does not excuse a foreign Referer', () => {
    assert.equal(
      check('https://evil.test/page', 'https://app.example.com', uri),
      'referer-not-allowed',
    )
  })
  test('Origin: null (opaque) fails', () => {
    assert.equal(check(undefined, 'null', uri), 'origin-unparsable')
    assert.equal(check('https://app.example.com/page', 'null', uri), 'origin-unparsable')
  })
  test('Origin with another port fails', () => {
    assert.equal(check(undefined, 'https://app.example.com:444', uri), 'origin-not-allowed')
  })
})

describe('checkCsrf: strict mode', () => {
  const uri = 'https://app.example.com/app'
  const strict = { strictReferer: true }
  test('Referer under the redirect path passes', () => {
    assert.equal(check('https://app.example.com/app', undefined, uri, strict), undefined)
    assert.equal(check('https://app.example.com/app/page', undefined, uri, strict), undefined)
  })
  test('Referer outside the path fails; prefix is on a segment boundary', () => {
    assert.equal(
      check('https://app.example.com/other', undefined, uri, strict),
      'referer-not-allowed',
    )
    assert.equal(
      check('https://app.example.com/application', undefined, uri, strict),
      'referer-not-allowed',
    )
  })
  test('a redirect URI ending in / is a prefix of everything under it', () => {
    assert.equal(
      check('https://app.example.com/app/x', undefined, 'https://app.example.com/app/', strict),
      undefined,
    )
  })
  test('same path on another origin fails', () => {
    assert.equal(check('https://evil.test/app/page', undefined, uri, strict), 'referer-not-allowed')
  })
  test('Origin alone is checked as an origin (it has no path)', () => {
    assert.equal(check(undefined, 'https://app.example.com', uri, strict), undefined)
    assert.equal(check(undefined, 'https://evil.test', uri, strict), 'origin-not-allowed')
  })
})

describe('checkCsrf: subdomain referer', () => {
  const uri = 'https://example.com/cb'
  const sub = { allowSubdomainReferer: true }
  test('subdomains pass on a dot boundary', () => {
    assert.equal(check('https://app.example.com/x', undefined, uri, sub), undefined)
    assert.equal(check('https://a.b.example.com/x', undefined, uri, sub), undefined)
    assert.equal(check('https://example.com/x', undefined, uri, sub), undefined)
  })
  test('evilexample.com is not a subdomain of example.com', () => {
    assert.equal(check('https://evilexample.com/x', undefined, uri, sub), 'referer-not-allowed')
    assert.equal(check(undefined, 'https://evilexample.com', uri, sub), 'origin-not-allowed')
  })
  test('scheme and port still have to match', () => {
    assert.equal(check('http://app.example.com/x', undefined, uri, sub), 'referer-not-allowed')
    assert.equal(
      check('https://app.example.com:8443/x', undefined, uri, sub),
      'referer-not-allowed',
    )
  })
})

describe('checkCsrf: namespace subdomain (subdomainValidationEnable)', () => {
  const uri = 'https://example.com'
  const on = { subdomainValidationEnable: true }
  test('the Referer host must start with the namespace label', () => {
    assert.equal(check('https://sample-namespace.example.com/x', undefined, uri, on), undefined)
    assert.equal(check('https://SAMPLE-NAMESPACE.example.com/x', undefined, uri, on), undefined)
  })
  test('a label that merely starts with the namespace fails', () => {
    assert.equal(
      check('https://sample-namespace-evil.example.com/x', undefined, uri, on),
      'referer-namespace-subdomain',
    )
  })
  test('another namespace fails, the Origin too', () => {
    assert.equal(
      check('https://other.example.com/x', undefined, uri, on),
      'referer-namespace-subdomain',
    )
    assert.equal(
      check(undefined, 'https://other.example.com', uri, on),
      'origin-namespace-subdomain',
    )
  })
  test('excluded namespaces are exempt', () => {
    assert.equal(
      check('https://other.example.com/x', undefined, uri, {
        ...on,
        subdomainValidationExcludedNamespaces: ['Sample-Namespace'],
      }),
      undefined,
    )
  })
  test('the namespace rule applies before the "no redirect URI" pass, as the reference', () => {
    assert.equal(
      check('https://other.example.com/x', undefined, '', on),
      'referer-namespace-subdomain',
    )
  })
})

describe('checkCsrf: client with no redirect URI', () => {
  test('passes with any or no Referer', () => {
    assert.equal(check('https://evil.test/x', 'https://evil.test', ''), undefined)
    assert.equal(check(undefined, undefined, ''), undefined)
    assert.equal(check('garbage', 'null', ' , '), undefined)
  })
})

describe('subdomainMatchesNamespace', () => {
  test('first label compared case-insensitively, ports ignored', () => {
    assert.equal(subdomainMatchesNamespace('sample-namespace.example.com', ns, []), true)
    assert.equal(subdomainMatchesNamespace('Sample-Namespace.example.com:8080', ns, []), true)
    assert.equal(subdomainMatchesNamespace('other.example.com', ns, []), false)
    assert.equal(subdomainMatchesNamespace('sample-namespacex.example.com', ns, []), false)
    assert.equal(subdomainMatchesNamespace('x.sample-namespace.example.com', ns, []), false)
  })
  test('hosts with fewer than three labels, and IP addresses, pass', () => {
    assert.equal(subdomainMatchesNamespace('localhost:3000', ns, []), true)
    assert.equal(subdomainMatchesNamespace('example.com', ns, []), true)
    assert.equal(subdomainMatchesNamespace('127.0.0.1:3000', ns, []), true)
    assert.equal(subdomainMatchesNamespace('[::1]:3000', ns, []), true)
  })
  test('excluded namespaces pass', () => {
    assert.equal(subdomainMatchesNamespace('other.example.com', ns, ['sample-namespace']), true)
  })
  test('hostnameOf strips ports and brackets', () => {
    assert.equal(hostnameOf('A.B.C:80'), 'a.b.c')
    assert.equal(hostnameOf('[::1]:80'), '::1')
  })
})
