import assert from 'node:assert/strict'
import { testClaims } from '../../support/claims.js'
import { describe, test } from 'node:test'

import { IamError } from '../../../src/core/errors.js'
import { resolveHttpProtectionOptions } from '../../../src/core/http/options.js'
import type { HttpProtectionOptions } from '../../../src/core/http/options.js'
import { authorizeRequest, createRouteGuard } from '../../../src/core/http/pipeline.js'
import type { PermissionResources, ProtectionClient } from '../../../src/core/http/pipeline.js'
import { Readiness, clientStarter } from '../../../src/core/http/readiness.js'
import { createHttpRequest } from '../../../src/core/http/request.js'
import { toHttpErrorResponse, wwwAuthenticate } from '../../../src/core/http/response.js'
import type { ClientInformation, JwtClaims, RequiredPermission } from '../../../src/core/types.js'

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'

const claims = testClaims

/** A fake client recording what the pipeline asked. */
function fakeClient(opts: {
  claims?: JwtClaims
  validateError?: unknown
  allow?: (resource: string, action: number) => boolean
  redirectUri?: string
  clientInfoError?: unknown
}) {
  const calls: {
    permission: { resource: string; action: number }
    resources?: Record<string, string>
  }[] = []
  const client: ProtectionClient = {
    async validateAndParseClaims() {
      if (opts.validateError !== undefined) throw opts.validateError
      return opts.claims ?? claims()
    },
    async validatePermission(_c, required: RequiredPermission, resources) {
      const p = required as { resource: string; action: number }
      calls.push({
        permission: p,
        resources: resources === undefined ? undefined : { ...resources },
      })
      return (opts.allow ?? (() => true))(p.resource, p.action)
    },
    async getClientInformation(namespace, clientId) {
      if (opts.clientInfoError !== undefined) throw opts.clientInfoError
      return {
        clientId,
        namespace,
        clientName: 'x',
        baseUri: '',
        redirectUri: opts.redirectUri ?? 'https://app.test',
      } as ClientInformation
    },
  }
  return { client, calls }
}

async function run(
  client: ProtectionClient,
  headers: Record<string, string>,
  guardArgs: [RequiredPermission?, PermissionResources<unknown>?, { csrfProtect?: boolean }?] = [],
  options: HttpProtectionOptions = {},
  params: Record<string, string> = {},
) {
  const request = createHttpRequest({ method: 'GET', headers, params })
  const guard = createRouteGuard(...guardArgs)
  return authorizeRequest(client, resolveHttpProtectionOptions({ options }), guard, request, {
    fake: true,
  })
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (error) {
    assert.ok(error instanceof IamError, `expected an IamError, got ${String(error)}`)
    return error.code
  }
  return 'OK'
}

describe('authorizeRequest', () => {
  test('header token, no permission: context returned', async () => {
    const { client } = fakeClient({})
    const ctx = await run(client, { authorization: `Bearer ${JWT}` })
    assert.ok(ctx)
    assert.equal(ctx.token, JWT)
    assert.equal(ctx.tokenLocation, 'header')
    assert.equal(ctx.claims.sub, 'u1')
  })
  test('validator errors: IamErrors kept, anything else becomes 401 malformed', async () => {
    const expired = new IamError('ERR_IAM_TOKEN_EXPIRED', 'expired')
    assert.equal(
      await codeOf(
        run(fakeClient({ validateError: expired }).client, { authorization: `Bearer ${JWT}` }),
      ),
      'ERR_IAM_TOKEN_EXPIRED',
    )
    const weird = new RangeError('boom')
    assert.equal(
      await codeOf(
        run(fakeClient({ validateError: weird }).client, { authorization: `Bearer ${JWT}` }),
      ),
      'ERR_IAM_TOKEN_MALFORMED',
    )
  })
  test('CSRF only for cookie tokens, per-route override wins', async () => {
    const { client } = fakeClient({ redirectUri: 'https://app.test' })
    const cookie = { cookie: `access_token=${JWT}`, referer: 'https://evil.test/' }
    assert.equal(await codeOf(run(client, cookie)), 'ERR_IAM_INVALID_REFERER')
    assert.equal(await codeOf(run(client, { ...cookie, referer: 'https://app.test/x' })), 'OK')
    assert.equal(
      await codeOf(run(client, { authorization: `Bearer ${JWT}`, referer: 'https://evil.test/' })),
      'OK',
    )
    assert.equal(
      await codeOf(run(client, cookie, [undefined, undefined, { csrfProtect: false }])),
      'OK',
    )
    assert.equal(await codeOf(run(client, cookie, [], { csrfProtection: false })), 'OK')
    assert.equal(
      await codeOf(
        run(client, cookie, [undefined, undefined, { csrfProtect: true }], {
          csrfProtection: false,
        }),
      ),
      'ERR_IAM_INVALID_REFERER',
    )
  })
  test('CSRF: client lookup failures fail closed; IAM unavailable is 503', async () => {
    const cookie = { cookie: `access_token=${JWT}`, referer: 'https://app.test/' }
    const notFound = fakeClient({ clientInfoError: new IamError('ERR_IAM_NOT_FOUND', 'nope') })
    assert.equal(await codeOf(run(notFound.client, cookie)), 'ERR_IAM_INVALID_REFERER')
    const down = fakeClient({ clientInfoError: new IamError('ERR_IAM_UNAVAILABLE', 'down') })
    assert.equal(await codeOf(run(down.client, cookie)), 'ERR_IAM_UNAVAILABLE')
    const noClientId = fakeClient({ claims: claims({ client_id: undefined }) })
    assert.equal(await codeOf(run(noClientId.client, cookie)), 'ERR_IAM_INVALID_REFERER')
  })
  test('subdomain namespace check on the Host, for header tokens too', async () => {
    const { client } = fakeClient({})
    const h = { authorization: `Bearer ${JWT}` }
    const on = { subdomainValidationEnable: true }
    assert.equal(await codeOf(run(client, { ...h, host: 'ns.example.com:8080' }, [], on)), 'OK')
    assert.equal(
      await codeOf(run(client, { ...h, host: 'other.example.com' }, [], on)),
      'ERR_IAM_SUBDOMAIN_MISMATCH',
    )
    assert.equal(
      await codeOf(run(client, { ...h, host: 'nsx.example.com' }, [], on)),
      'ERR_IAM_SUBDOMAIN_MISMATCH',
    )
    assert.equal(
      await codeOf(
        run(client, { ...h, host: 'other.example.com' }, [], {
          ...on,
          subdomainValidationExcludedNamespaces: ['NS'],
        }),
      ),
      'OK',
    )
    assert.equal(await codeOf(run(client, { ...h, host: 'other.example.com' })), 'OK')
  })
  test('permission: static resources, then function, then route params; denied is 403', async () => {
    const f = fakeClient({ allow: (r) => r === 'NAMESPACE:ns:USER:u1' })
    const h = { authorization: `Bearer ${JWT}` }
    const perm = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
    assert.equal(
      await codeOf(run(f.client, h, [perm, { '{namespace}': 'ns', '{userId}': 'u1' }])),
      'OK',
    )
    assert.deepEqual(f.calls.at(-1), {
      permission: { resource: 'NAMESPACE:ns:USER:u1', action: 4 },
      resources: { '{namespace}': 'ns', '{userId}': 'u1' },
    })
    assert.equal(
      await codeOf(run(f.client, h, [perm, { '{namespace}': 'ns' }], {}, { userId: 'u1' })),
      'OK',
    )
    assert.equal(
      await codeOf(run(f.client, h, [perm, () => ({ '{namespace}': 'ns' })], {}, { userId: 'u2' })),
      'ERR_IAM_INSUFFICIENT_PERMISSIONS',
    )
    assert.equal(
      await codeOf(
        run(f.client, h, [perm, async () => ({ '{namespace}': 'ns', '{userId}': 'u1' })]),
      ),
      'OK',
    )
    // a static value wins over a route parameter
    assert.equal(
      await codeOf(
        run(f.client, h, [perm, { '{namespace}': 'ns', '{userId}': 'u1' }], {}, { userId: 'u2' }),
      ),
      'OK',
    )
  })
  test('request-derived values cannot change the shape of the resource', async () => {
    const f = fakeClient({})
    const h = { authorization: `Bearer ${JWT}` }
    const perm = { action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' }
    for (const bad of ['u1:extra', '{namespace}', 'a}b', '']) {
      assert.equal(
        await codeOf(run(f.client, h, [perm], {}, { namespace: 'ns', userId: bad })),
        'ERR_IAM_INSUFFICIENT_PERMISSIONS',
        bad,
      )
      assert.equal(
        await codeOf(run(f.client, h, [perm, () => ({ '{namespace}': 'ns', '{userId}': bad })])),
        'ERR_IAM_INSUFFICIENT_PERMISSIONS',
        bad,
      )
    }
    assert.equal(
      await codeOf(run(f.client, h, [perm, () => ({ '{namespace}': ['ns'] })])),
      'ERR_IAM_INSUFFICIENT_PERMISSIONS',
    )
    // a placeholder with no value stays literal (only a wildcard grant could match it)
    assert.equal(await codeOf(run(f.client, h, [perm, { '{namespace}': 'ns' }])), 'OK')
    assert.equal(f.calls.at(-1)?.permission.resource, 'NAMESPACE:ns:USER:{userId}')
  })
  test('route guard arguments are validated at definition', () => {
    assert.throws(() => createRouteGuard({ Action: 'x', Resource: 'R' } as never), TypeError)
    assert.throws(() => createRouteGuard({ action: 1 } as never), TypeError)
    assert.throws(
      () => createRouteGuard({ action: 1, resource: 'R' }, { '{a}': 1 } as never),
      TypeError,
    )
    assert.throws(() => createRouteGuard({ action: 1, resource: 'R' }, 'x' as never), TypeError)
    assert.throws(
      () => createRouteGuard(undefined, undefined, { csrfProtect: 'no' } as never),
      TypeError,
    )
    assert.equal(createRouteGuard({ Action: 2, Resource: 'R' }).permission?.resource, 'R')
    assert.equal(createRouteGuard().permission, undefined)
  })
})

describe('toHttpErrorResponse', () => {
  test('missing token: 401 / 20001, challenge without error=', () => {
    const r = toHttpErrorResponse(
      new IamError('ERR_IAM_TOKEN_MISSING', 'Missing access token in headers'),
    )
    assert.equal(r.status, 401)
    assert.equal(r.body.errorCode, 20001)
    assert.equal(r.headers['WWW-Authenticate'], 'Bearer realm="iam"')
  })
  test('invalid token, referer: 401 with error="invalid_token"', () => {
    for (const code of ['ERR_IAM_TOKEN_EXPIRED', 'ERR_IAM_INVALID_REFERER'] as const) {
      const r = toHttpErrorResponse(new IamError(code, 'say "hi"\n\\'))
      assert.equal(r.status, 401)
      assert.match(
        r.headers['WWW-Authenticate'] ?? '',
        /^Bearer realm="iam", error="invalid_token", error_description="say \\"hi\\" \\\\"$/,
      )
    }
    assert.equal(
      toHttpErrorResponse(new IamError('ERR_IAM_INVALID_REFERER', 'x')).body.errorCode,
      20023,
    )
  })
  test('403: insufficient_scope; 404 / 500 / 503: no challenge', () => {
    const forbidden = toHttpErrorResponse(new IamError('ERR_IAM_INSUFFICIENT_PERMISSIONS', 'no'))
    assert.equal(forbidden.status, 403)
    assert.equal(forbidden.body.errorCode, 20013)
    assert.match(forbidden.headers['WWW-Authenticate'] ?? '', /error="insufficient_scope"/)
    const sub = toHttpErrorResponse(
      new IamError('ERR_IAM_SUBDOMAIN_MISMATCH', 'Subdomain mismatch'),
    )
    assert.deepEqual(
      [sub.status, sub.body.errorCode, sub.headers['WWW-Authenticate']],
      [404, 20030, undefined],
    )
    const notReady = toHttpErrorResponse(new IamError('ERR_IAM_NOT_READY', 'x'))
    assert.deepEqual([notReady.status, notReady.body.errorCode], [503, 20000])
    assert.equal(wwwAuthenticate(new IamError('ERR_IAM_INVALID_PERMISSION', 'x')), undefined)
  })
  test('wire body is "<message>: <description>"', () => {
    const r = toHttpErrorResponse(new IamError('ERR_IAM_SUBDOMAIN_MISMATCH', 'Subdomain mismatch'))
    assert.deepEqual(r.body, {
      errorCode: 20030,
      errorMessage: 'subdomain mismatch error: Subdomain mismatch',
    })
  })
  test('anything else: 500 / 20000 and nothing of the error leaks', () => {
    for (const thrown of [new Error('secret /etc/passwd'), 'string', null, { status: 401 }]) {
      const r = toHttpErrorResponse(thrown)
      assert.equal(r.status, 500)
      assert.equal(r.body.errorCode, 20000)
      assert.ok(!JSON.stringify(r).includes('secret'))
    }
  })
})

describe('Readiness', () => {
  test('requests wait for a slow start, then pass', async () => {
    let release!: () => void
    const r = new Readiness(() => new Promise<void>((res) => (release = res)), { timeoutMs: 1000 })
    const waiting = r.wait()
    assert.equal(r.isReady, false)
    await new Promise((resolve) => setImmediate(resolve)) // the start runs on a later tick
    assert.equal(r.isReady, false)
    release()
    await waiting
    await r.ready
    assert.equal(r.isReady, true)
  })
  test('a start slower than the timeout: ERR_IAM_NOT_READY (503)', async () => {
    const r = new Readiness(() => new Promise<void>(() => {}), { timeoutMs: 20 })
    assert.equal(await codeOf(r.wait()), 'ERR_IAM_NOT_READY')
  })
  test('a failed start: ready rejects, requests get 503, a later attempt recovers', async () => {
    let now = 0
    let fail = true
    let attempts = 0
    const r = new Readiness(
      async () => {
        attempts++
        if (fail) throw new IamError('ERR_IAM_UNAVAILABLE', 'down')
      },
      { timeoutMs: 1000, retryIntervalMs: 100, now: () => now },
    )
    await assert.rejects(
      r.ready,
      (e: unknown) => e instanceof IamError && e.code === 'ERR_IAM_UNAVAILABLE',
    )
    assert.equal(await codeOf(r.wait()), 'ERR_IAM_NOT_READY')
    assert.equal(attempts, 1) // within the retry interval: no new attempt
    fail = false
    now = 200
    await r.wait()
    assert.equal(attempts, 2)
    assert.equal(r.isReady, true)
  })
  test('clientStarter does not repeat a successful grant', async () => {
    const calls: string[] = []
    let localFails = true
    const start = clientStarter({
      clientTokenGrant: async () => void calls.push('grant'),
      startLocalValidation: async () => {
        calls.push('local')
        if (localFails) throw new Error('x')
      },
    })
    await assert.rejects(start())
    localFails = false
    await start()
    assert.deepEqual(calls, ['grant', 'local', 'local'])
  })
})
