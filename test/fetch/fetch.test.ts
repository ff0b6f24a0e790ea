import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { IamError } from '../../src/core/errors.js'
import { createIam } from '../../src/fetch/index.js'
import type { FetchIam, IamFetchOptions } from '../../src/fetch/index.js'
import { buildFetchApp } from './fetch-app.js'
import { CASES } from '../adapters/cases.js'
import {
  forPathResolvingServer,
  runCaseTable,
  setupScenario,
  silentLogger,
} from '../adapters/harness.js'
import type { Scenario } from '../adapters/harness.js'

// A web `Request` URL has its `.` and `..` segments resolved before any router sees it.
runCaseTable(
  'fetch (node:http bridge)',
  (spec) => buildFetchApp(spec),
  CASES.map(forPathResolvingServer),
)

const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
const RESOURCES = { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }

describe('fetch adapter specifics (in process, no server)', () => {
  let scenario: Scenario
  let iam: FetchIam
  const others: FetchIam[] = []
  before(async () => {
    scenario = await setupScenario()
    iam = createIam(options())
    await iam.ready
  })
  after(async () => {
    for (const other of others) await other.close()
    await iam?.close()
    await scenario?.close()
  })

  function options(extra: Partial<IamFetchOptions> = {}): IamFetchOptions {
    return {
      baseUrl: scenario.emulator.baseUrl,
      clientId: scenario.emulator.clientId,
      clientSecret: scenario.emulator.clientSecret,
      logger: silentLogger,
      ...extra,
    }
  }
  function other(extra: Partial<IamFetchOptions> = {}): FetchIam {
    const created = createIam(options(extra))
    others.push(created)
    return created
  }
  const request = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    new Request(`http://127.0.0.1${path}`, { method, headers })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  test('a check gives the context, or a Response carrying the error', async () => {
    const check = iam.permissionRequired(PERMISSION, RESOURCES)
    const context = await check(request('/x', bearer(scenario.tokens.allowed)))
    assert.ok(!(context instanceof Response))
    assert.equal(context.claims.sub, 'sample-userid')
    assert.equal(context.tokenLocation, 'header')
    const refused = await check(request('/x', bearer(scenario.tokens.denied)))
    assert.ok(refused instanceof Response)
    assert.equal(refused.status, 403)
    assert.match(refused.headers.get('content-type') ?? '', /^application\/json/)
    assert.match(refused.headers.get('www-authenticate') ?? '', /insufficient_scope/)
    assert.equal(((await refused.json()) as { errorCode: number }).errorCode, 20013)
    const missing = await check(request('/x'))
    assert.ok(missing instanceof Response)
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="iam"')
    assert.equal(iam.tokenRequired, iam.permissionRequired)
  })

  test('route params as the second argument of a check', async () => {
    const check = iam.permissionRequired({
      action: 4,
      resource: 'NAMESPACE:{namespace}:USER:{userId}',
    })
    const token = bearer(scenario.tokens.allowed)
    const ok = await check(request('/x', token), {
      namespace: 'sample-namespace',
      userId: 'sample-userid',
    })
    assert.ok(!(ok instanceof Response))
    const other = await check(request('/x', token), { namespace: 'sample-namespace', userId: 'x' })
    assert.equal((other as Response).status, 403)
  })

  test('protect: request.iam, other arguments passed through, params from them (Next.js style)', async () => {
    let seen: unknown[] = []
    const GET = iam.protect(
      (req, context: { params: Promise<{ namespace: string; userId: string }> }) => {
        seen = [req.iam.claims.sub, context]
        return Response.json({ ok: true })
      },
      PERMISSION,
      undefined,
      { params: (_req, { params }) => params },
    )
    const ctx = {
      params: Promise.resolve({ namespace: 'sample-namespace', userId: 'sample-userid' }),
    }
    const ok = await GET(request('/x', bearer(scenario.tokens.allowed)), ctx)
    assert.equal(ok.status, 200)
    assert.deepEqual(seen, ['sample-userid', ctx])
    const denied = await GET(request('/x', bearer(scenario.tokens.allowed)), {
      params: Promise.resolve({ namespace: 'sample-namespace', userId: 'other' }),
    })
    assert.equal(denied.status, 403)
    // A handler that ignores the other arguments: `params` types them.
    const short = iam.protect((req) => Response.json(req.iam.claims.sub), PERMISSION, undefined, {
      params: (_req, ctx: { id: string }) => ({ namespace: 'sample-namespace', userId: ctx.id }),
    })
    assert.equal(
      (await short(request('/x', bearer(scenario.tokens.allowed)), { id: 'sample-userid' })).status,
      200,
    )
  })

  test('cookies, Referer, Origin and Host are read from the Request', async () => {
    const check = iam.permissionRequired(PERMISSION, RESOURCES)
    const cookie = { cookie: `access_token=${scenario.tokens.allowed}` }
    const good = await check(
      request('/x', { ...cookie, referer: 'https://app.example.com/app/' }, 'POST'),
    )
    assert.ok(!(good instanceof Response))
    assert.equal(good.tokenLocation, 'cookie')
    const evil = await check(
      request('/x', { ...cookie, origin: 'https://evil.example.net' }, 'POST'),
    )
    assert.equal((evil as Response).status, 401)
    assert.equal(((await (evil as Response).json()) as { errorCode: number }).errorCode, 20023)
    // No Host header (a Request built in process): the URL's host counts.
    const sub = other({ subdomainValidationEnable: true }).permissionRequired()
    const wrongHost = await sub(
      new Request('http://other-namespace.example.com/x', {
        headers: bearer(scenario.tokens.allowed),
      }),
    )
    assert.equal((wrongHost as Response).status, 404)
    const rightHost = await sub(
      new Request('http://sample-namespace.example.com/x', {
        headers: bearer(scenario.tokens.allowed),
      }),
    )
    assert.ok(!(rightHost instanceof Response))
  })

  test('app-wide CORS on a response with immutable headers (a proxied fetch, a redirect)', async () => {
    const cors = other({ corsEnable: true, corsOrigin: 'https://a.example' })
    const handler = cors.protect(() => Response.redirect('https://elsewhere.example/', 302))
    const r = await handler(
      request('/x', { ...bearer(scenario.tokens.allowed), origin: 'https://a.example' }),
    )
    assert.equal(r.status, 302)
    assert.equal(r.headers.get('location'), 'https://elsewhere.example/')
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://a.example')
  })

  test('cors: per-route answers OPTIONS itself; app-wide only lets the app answer first', async () => {
    const cors = other({ corsEnable: true, corsOrigin: 'https://a.example' })
    let calls = 0
    const inner = (req: Request) => {
      calls++
      const path = new URL(req.url).pathname
      if (req.method === 'OPTIONS' && path === '/own') return new Response(null, { status: 204 })
      // `/served` has routes for other methods.
      return path === '/served'
        ? new Response(null, { status: 405 })
        : new Response('no route', { status: 404 })
    }
    const preflight = { origin: 'https://a.example', 'access-control-request-method': 'PUT' }
    const route = cors.corsOptions(inner, { 'Access-Control-Allow-Headers': 'Device-Id' })
    const answered = await route(request('/x', preflight, 'OPTIONS'))
    assert.deepEqual([answered.status, calls], [200, 0])
    assert.equal(answered.headers.get('access-control-allow-headers'), 'Device-Id')
    assert.match(answered.headers.get('access-control-allow-methods') ?? '', /PUT/)
    const passOn = cors.corsOptions(
      inner,
      { 'Access-Control-Allow-Headers': 'Device-Id' },
      { preflight: false },
    )
    assert.equal((await passOn(request('/own', preflight, 'OPTIONS'))).status, 204)
    const appWide = cors.corsOptions(inner)
    const own = await appWide(request('/own', preflight, 'OPTIONS'))
    assert.equal(own.status, 204)
    assert.equal(own.headers.get('access-control-allow-origin'), 'https://a.example')
    const unanswered = await appWide(request('/served', preflight, 'OPTIONS'))
    assert.equal(unanswered.status, 200)
    assert.equal(await unanswered.text(), '')
    // A path nothing serves stays a 404, as on Express and Fastify.
    const nothing = await appWide(request('/none', preflight, 'OPTIONS'))
    assert.equal(nothing.status, 404)
    assert.equal(
      (
        await cors.corsOptions(inner, undefined, { methods: ['GET'] })(
          request('/none', preflight, 'OPTIONS'),
        )
      ).status,
      200,
    )
    const notPreflight = await appWide(request('/none', { origin: 'https://a.example' }, 'OPTIONS'))
    assert.equal(notPreflight.status, 404)
    // CORS disabled and no headers: the handler's answer, untouched.
    const plain = iam.corsOptions(inner)
    assert.equal((await plain(request('/none', preflight, 'OPTIONS'))).status, 404)
  })

  test('an unexpected failure answers 500 / 20000 without details; handler errors propagate', async () => {
    const failing = iam.permissionRequired(PERMISSION, () => {
      throw new Error('secret detail')
    })
    const r = (await failing(request('/x', bearer(scenario.tokens.allowed)))) as Response
    assert.equal(r.status, 500)
    const text = await r.text()
    assert.equal((JSON.parse(text) as { errorCode: number }).errorCode, 20000)
    assert.ok(!text.includes('secret'))
    const badParams = iam.protect(() => new Response('x'), PERMISSION, undefined, {
      params: () => {
        throw new Error('secret')
      },
    })
    assert.equal((await badParams(request('/x', bearer(scenario.tokens.allowed)))).status, 500)
    const throwing = iam.protect(() => {
      throw new Error('handler failure')
    })
    await assert.rejects(
      throwing(request('/x', bearer(scenario.tokens.allowed))),
      /handler failure/,
    )
  })

  test('configuration: missing settings and bad options throw a TypeError naming them', () => {
    assert.throws(
      () => createIam({ env: { IAM_CLIENT_ID: 'id' } }),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message.includes('IAM_BASE_URL') &&
        e.message.includes('IAM_CLIENT_SECRET') &&
        !e.message.includes('IAM_CLIENT_ID'),
    )
    assert.throws(() => createIam(options({ csrfProtection: 'no' as never })), /csrfProtection/)
    assert.throws(() => iam.permissionRequired({ Action: 'x' } as never), TypeError)
    assert.throws(
      () => iam.corsOptions(() => new Response(), { 'Access-Control-Allow-Credentials': 'maybe' }),
      TypeError,
    )
    assert.throws(
      () => iam.protect(() => new Response(), null, null, { params: 'x' as never }),
      TypeError,
    )
  })

  test('the env option is read instead of process.env; options win over it', async () => {
    const fromEnv = createIam({
      env: {
        IAM_BASE_URL: scenario.emulator.baseUrl,
        IAM_CLIENT_ID: scenario.emulator.clientId,
        IAM_CLIENT_SECRET: scenario.emulator.clientSecret,
        IAM_STRICT_REFERER: 'true',
        IAM_TOKEN_COOKIE_NAME: 'env-cookie',
      },
      tokenCookieName: 'option-cookie',
      logger: silentLogger,
    })
    others.push(fromEnv)
    await fromEnv.ready
    assert.equal(fromEnv.options.strictReferer, true)
    assert.equal(fromEnv.options.tokenCookieName, 'option-cookie')
    assert.equal(fromEnv.client.options.baseUrl, scenario.emulator.baseUrl)
  })

  test('IAM down: ready rejects, protected handlers answer 503 within readyTimeoutMs', async () => {
    const down = other({
      baseUrl: scenario.deadBaseUrl,
      readyTimeoutMs: 300,
      requestTimeoutMs: 200,
      requestBudgetMs: 200,
    })
    const started = Date.now()
    const r = await down.protect(() => new Response('x'))(
      request('/x', bearer(scenario.tokens.allowed)),
    )
    assert.equal(r.status, 503)
    assert.equal(r.headers.get('retry-after'), '1')
    assert.ok(Date.now() - started < 2_000)
    await assert.rejects(down.ready, IamError)
  })

  test('close() closes the client it built', async () => {
    const created = createIam(options())
    await created.ready
    const close = created.client.close.bind(created.client)
    let closed = 0
    created.client.close = async () => {
      closed++
      await close()
    }
    await created.close()
    assert.equal(closed, 1)
  })

  test('route CORS: its values beat app-wide ones, a handler header beats both (as Express)', async () => {
    const app = other({
      corsEnable: true,
      corsOrigin: 'http://front.example',
      corsHeaders: 'X-App',
    })
    await app.ready
    const plain = app.corsOptions(
      app.protect(() => new Response('ok')),
      { 'Access-Control-Allow-Headers': ['Device-Id'] },
    )
    const own = app.corsOptions(
      app.protect(
        () => new Response('ok', { headers: { 'Access-Control-Allow-Headers': 'Handler-Header' } }),
      ),
      { 'Access-Control-Allow-Headers': ['Device-Id'] },
    )
    const headers = { ...bearer(scenario.tokens.allowed), origin: 'http://front.example' }
    const a = await plain(request('/cors', headers))
    assert.equal(a.status, 200)
    assert.equal(a.headers.get('access-control-allow-headers'), 'Device-Id')
    assert.equal(a.headers.get('access-control-allow-origin'), 'http://front.example')
    const b = await own(request('/cors', headers))
    assert.equal(b.headers.get('access-control-allow-headers'), 'Handler-Header')
  })
})
