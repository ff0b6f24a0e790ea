/**
 * Koa 2 and 3 with `@koa/router`: the whole case table over real HTTP, plus Koa specifics
 * (refusals reaching the app's try/catch, reshaped into problem+json; `ctx.state.iam`;
 * `requireIam`; nested routers; `app.proxy`; health; close).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import Router from '@koa/router'
import Koa from 'koa'
import koa2 from 'koa2'

import { IamError, createIam, requireIam } from '../../src/koa/index.js'
import type { IamKoaOptions, IamRequestContext, KoaIam } from '../../src/koa/index.js'
import type { CaseRequest } from '../adapters/cases.js'
import { buildKoaApp, listenKoa } from './koa-app.js'
import type { KoaFactory } from './koa-app.js'
import { runCaseTable, sendCaseRequest, setupScenario } from '../adapters/harness.js'
import type { CaseResponse, Scenario } from '../adapters/harness.js'

runCaseTable('Koa 3', (spec) => buildKoaApp(Koa, spec))
runCaseTable('Koa 2', (spec) => buildKoaApp(koa2, spec))

const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
const RESOURCES = { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }
const ORIGIN = 'http://front.example'

/** Exact type equality, for compile-time checks (`npm run typecheck`). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

/** The README's reshaping: an RFC 9457 problem, keeping the error's `WWW-Authenticate`. */
const problemDetails: Koa.Middleware = async (ctx, next) => {
  try {
    await next()
  } catch (error) {
    if (!(error instanceof IamError)) throw error
    ctx.set({ ...error.headers }) // WWW-Authenticate, Retry-After
    ctx.status = error.status
    ctx.body = {
      type: `https://errors.example.com/${error.code}`,
      title: error.body.errorMessage,
      status: error.status,
      detail: error.message,
      errorCode: error.errorCode,
    }
    ctx.type = 'application/problem+json' // after the body: Koa 2 sets JSON's type with it
  }
}

for (const [major, factory] of [
  ['Koa 3', Koa],
  ['Koa 2', koa2],
] as [string, KoaFactory][]) {
  describe(`Koa integration specifics: ${major}`, () => {
    let scenario: Scenario
    const cleanups: (() => Promise<void>)[] = []
    before(async () => {
      scenario = await setupScenario()
    })
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
      await scenario.close()
    })

    const options = (extra: IamKoaOptions = {}): IamKoaOptions => ({
      ...(scenario.appOptions('default') as IamKoaOptions),
      ...extra,
    })

    /** Listens, remembers to close the server and the IAM, returns a request function. */
    async function serve(app: Koa, iam?: KoaIam) {
      const { url, server } = await listenKoa(app)
      cleanups.push(async () => {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        await iam?.close()
      })
      return (request: CaseRequest): Promise<CaseResponse> =>
        sendCaseRequest(url, request, scenario.tokens)
    }

    /** An app: `before` middleware, the IAM's, then a router with a `/protected` route. */
    async function protectedApp(iam: KoaIam, before: Koa.Middleware[], after: Koa.Middleware[]) {
      const app = new factory()
      app.silent = true
      for (const middleware of before) app.use(middleware)
      app.use(iam.middleware())
      for (const middleware of after) app.use(middleware)
      const router = new Router()
      router.get('/protected', iam.permissionRequired(PERMISSION, RESOURCES), (ctx) => {
        ctx.body = 'You have authorized access!'
      })
      app.use(router.routes()).use(router.allowedMethods())
      await iam.ready
      return serve(app, iam)
    }

    test('a try/catch before or after iam.middleware() reshapes refusals into problem+json, keeping WWW-Authenticate and CORS', async () => {
      for (const [where, before, after] of [
        ['before', [problemDetails], []],
        ['after', [], [problemDetails]],
      ] as const) {
        const iam = createIam(options({ corsEnable: true, corsOrigin: ORIGIN }))
        const send = await protectedApp(iam, [...before], [...after])
        const missing = await send({ path: '/protected', headers: { origin: ORIGIN } })
        assert.equal(missing.status, 401, where)
        assert.match(String(missing.headers['content-type']), /^application\/problem\+json/)
        assert.deepEqual(missing.json, {
          type: 'https://errors.example.com/ERR_IAM_TOKEN_MISSING',
          title: 'unauthorized access: Missing access token in headers or cookies',
          status: 401,
          detail: 'Missing access token in headers or cookies',
          errorCode: 20001,
        })
        assert.equal(missing.headers['www-authenticate'], 'Bearer realm="iam"', where)
        assert.equal(missing.headers['access-control-allow-origin'], ORIGIN, where)
        const denied = await send({ path: '/protected', token: 'denied' })
        assert.equal(denied.status, 403, where)
        assert.equal(
          denied.json?.type,
          'https://errors.example.com/ERR_IAM_INSUFFICIENT_PERMISSIONS',
        )
        assert.match(String(denied.headers['www-authenticate']), /error="insufficient_scope"/)
        assert.equal((await send({ path: '/protected', token: 'allowed' })).status, 200, where)
      }
    })

    test('a refusal nobody reshapes: the wire JSON and headers, and app.on("error") sees the IamError', async () => {
      const iam = createIam(options())
      const passOn: Koa.Middleware = async (ctx, next) => {
        try {
          await next()
        } catch (error) {
          // An app handler that reshapes its own errors only, and leaves the others.
          if (!(error instanceof TypeError)) throw error
          ctx.body = 'handled'
        }
      }
      const app = new factory()
      const emitted: unknown[] = []
      app.on('error', (error: unknown) => void emitted.push(error))
      app.use(passOn)
      app.use(iam.middleware())
      const router = new Router()
      router.get('/protected', iam.permissionRequired(PERMISSION, RESOURCES), (ctx) => {
        ctx.set('X-Handler', 'ran')
        ctx.body = 'x'
      })
      app.use(router.routes())
      await iam.ready
      const send = await serve(app, iam)
      const denied = await send({ path: '/protected', token: 'denied' })
      assert.equal(denied.status, 403)
      assert.match(String(denied.headers['content-type']), /^application\/json/)
      assert.equal(denied.json?.errorCode, 20013)
      assert.equal(
        denied.json?.errorMessage,
        "insufficient permissions: Access doesn't have required role permission(s).",
      )
      assert.match(String(denied.headers['www-authenticate']), /error="insufficient_scope"/)
      assert.equal(denied.headers['x-handler'], undefined)
      assert.equal(emitted.length, 1)
      assert.ok(emitted[0] instanceof IamError)
      assert.equal(emitted[0].code, 'ERR_IAM_INSUFFICIENT_PERMISSIONS')
    })

    test('without iam.middleware(), a refusal is still the wire JSON', async () => {
      const iam = createIam(options())
      const app = new factory()
      app.silent = true
      const router = new Router()
      router.get('/protected', iam.permissionRequired(PERMISSION, RESOURCES), (ctx) => {
        ctx.body = 'x'
      })
      app.use(router.routes())
      await iam.ready
      const send = await serve(app, iam)
      const r = await send({ path: '/protected', token: 'expired' })
      assert.equal(r.status, 401)
      assert.equal(r.json?.errorCode, 20001)
      assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/)
    })

    test("errors that are not the SDK's go to Koa's own handling, with the app-wide CORS headers", async () => {
      const iam = createIam(options({ corsEnable: true, corsOrigin: ORIGIN }))
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const router = new Router()
      router.get('/boom', () => {
        throw Object.assign(new Error('app failure'), { status: 418, expose: true })
      })
      app.use(router.routes())
      const send = await serve(app, iam)
      const r = await send({ path: '/boom', headers: { origin: ORIGIN } })
      assert.equal(r.status, 418)
      assert.equal(r.text, 'app failure')
      assert.match(String(r.headers['content-type']), /^text\/plain/)
      assert.equal(r.headers['access-control-allow-origin'], ORIGIN)
      assert.match(String(r.headers.vary), /Origin/)
    })

    test('ctx.state.iam holds claims, token and location; requireIam is typed, 500 where there is none', async () => {
      const iam = createIam(options())
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const router = new Router()
      let seen: IamRequestContext | undefined
      router.get('/me', iam.tokenRequired(), (ctx) => {
        const typed: Equal<typeof ctx.state.iam, IamRequestContext | undefined> = true
        assert.ok(typed)
        seen = ctx.state.iam
        ctx.body = { sub: requireIam(ctx).claims.sub }
      })
      router.get('/optional', iam.permissionRequired(null, null, { optional: true }), (ctx) => {
        ctx.body = { sub: requireIam(ctx).claims.sub }
      })
      router.get('/open', (ctx) => {
        ctx.body = { sub: requireIam(ctx).claims.sub }
      })
      app.use(router.routes())
      await iam.ready
      const send = await serve(app, iam)
      const me = await send({ path: '/me', token: 'allowed' })
      assert.equal(me.status, 200)
      assert.deepEqual(me.json, { sub: 'sample-userid' })
      assert.equal(seen?.token, scenario.tokens.allowed)
      assert.equal(seen?.tokenLocation, 'header')
      assert.equal(seen?.claims.namespace, 'sample-namespace')
      assert.equal((await send({ path: '/optional', token: 'denied' })).status, 200)
      for (const path of ['/optional', '/open']) {
        const none = await send({ path })
        assert.equal(none.status, 500, path)
        assert.equal(none.json?.errorCode, 20000, path)
      }
    })

    test('nested routers: placeholders from the merged params; check and resources get the ctx', async () => {
      const iam = createIam(options())
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const users = new Router()
      users.get(
        '/users/:userId',
        iam.permissionRequired({ action: 4, resource: 'NAMESPACE:{namespace}:USER:{userId}' }),
        (ctx) => {
          ctx.body = { userId: ctx.params.userId }
        },
      )
      users.get(
        '/checked/:userId',
        iam.permissionRequired(
          { action: 4, resource: 'NAMESPACE:{namespace}:USER:{id}' },
          (ctx) => ({ '{id}': ctx.params.userId }),
          { check: (_claims, ctx) => ctx.get('x-allow') === 'yes' },
        ),
        (ctx) => {
          ctx.body = 'checked'
        },
      )
      const ns = new Router({ prefix: '/ns/:namespace' })
      ns.use(users.routes())
      app.use(ns.routes())
      await iam.ready
      const send = await serve(app, iam)
      const ok = await send({ path: '/ns/sample-namespace/users/sample-userid', token: 'allowed' })
      assert.equal(ok.status, 200)
      assert.deepEqual(ok.json, { userId: 'sample-userid' })
      const other = await send({
        path: '/ns/other-namespace/users/sample-userid',
        token: 'allowed',
      })
      assert.equal(other.status, 403)
      assert.equal(other.json?.errorCode, 20013)
      const path = '/ns/sample-namespace/checked/sample-userid'
      const allowed = await send({ path, token: 'allowed', headers: { 'x-allow': 'yes' } })
      assert.equal(allowed.status, 200)
      const refused = await send({ path, token: 'allowed', headers: { 'x-allow': 'no' } })
      assert.equal(refused.status, 403)
      assert.equal(refused.json?.errorCode, 20013)
    })

    test('app.proxy: the forwarded host is the one the subdomain check reads', async () => {
      for (const proxy of [true, false]) {
        const iam = createIam(options({ subdomainValidationEnable: true }))
        const app = new factory()
        app.silent = true
        app.proxy = proxy
        app.use(iam.middleware())
        const router = new Router()
        router.get('/me', iam.tokenRequired(), (ctx) => {
          ctx.body = 'x'
        })
        app.use(router.routes())
        await iam.ready
        const send = await serve(app, iam)
        const r = await send({
          path: '/me',
          token: 'allowed',
          headers: {
            host: 'sample-namespace.example.com',
            'x-forwarded-host': 'other.example.com',
          },
        })
        assert.equal(r.status, proxy ? 404 : 200, `proxy ${proxy}`)
        if (proxy) assert.equal(r.json?.errorCode, 20030)
      }
    })

    test('corsOptions answers the preflight itself and nothing after it runs; preflight: false passes on', async () => {
      const iam = createIam(options())
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const router = new Router()
      let ran = 0
      router.options(
        '/cors',
        iam.corsOptions({ 'Access-Control-Allow-Headers': ['Device-Id'] }),
        (ctx) => {
          ran++
          ctx.body = 'should not run'
        },
      )
      router.options(
        '/own-options',
        iam.corsOptions({ 'Access-Control-Allow-Headers': 'Device-Id' }, { preflight: false }),
        (ctx) => {
          ran++
          ctx.status = 204
        },
      )
      app.use(router.routes())
      const send = await serve(app, iam)
      const pre = await send({ method: 'OPTIONS', path: '/cors', headers: { origin: ORIGIN } })
      assert.equal(pre.status, 200)
      assert.equal(pre.text, '')
      assert.equal(pre.headers['content-type'], undefined)
      assert.equal(pre.headers['access-control-allow-headers'], 'Device-Id')
      assert.equal(ran, 0)
      const own = await send({ method: 'OPTIONS', path: '/own-options' })
      assert.equal(own.status, 204)
      assert.equal(own.headers['access-control-allow-headers'], 'Device-Id')
      assert.equal(ran, 1)
    })

    test("a route's CORS origin replaces the app-wide one: an origin it does not list gets none", async () => {
      const iam = createIam(options({ corsEnable: true })) // app-wide: any origin, as '*'
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const router = new Router()
      const cors = iam.corsOptions({ 'Access-Control-Allow-Origin': ORIGIN })
      router.options('/only-front', cors)
      router.get('/only-front', cors, (ctx) => void (ctx.body = 'ok'))
      router.get('/any', (ctx) => void (ctx.body = 'ok'))
      app.use(router.routes())
      const send = await serve(app, iam)
      const other = { origin: 'https://other.example' }
      const refused = await send({ path: '/only-front', headers: other })
      assert.equal(refused.status, 200)
      assert.equal(refused.headers['access-control-allow-origin'], undefined)
      assert.match(String(refused.headers.vary), /Origin/)
      const front = await send({ path: '/only-front', headers: { origin: ORIGIN } })
      assert.equal(front.headers['access-control-allow-origin'], ORIGIN)
      assert.equal(front.headers['access-control-allow-credentials'], 'true')
      const any = await send({ path: '/any', headers: other })
      assert.equal(any.headers['access-control-allow-origin'], '*')
    })

    test('app-wide CORS answers the preflight of a path served by other methods, also without allowedMethods()', async () => {
      const iam = createIam(options({ corsEnable: true, corsOrigin: ORIGIN }))
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const router = new Router()
      router.get('/items/:id', (ctx) => void (ctx.body = 'ok'))
      router.put('/items/:id', iam.tokenRequired(), (ctx) => void (ctx.body = 'ok'))
      app.use(router.routes())
      const send = await serve(app, iam)
      const preflight = (path: string) =>
        send({
          method: 'OPTIONS',
          path,
          headers: { origin: ORIGIN, 'access-control-request-method': 'PUT' },
        })
      const answered = await preflight('/items/42?x=1')
      assert.equal(answered.status, 200)
      assert.equal(answered.text, '')
      assert.equal(answered.headers['www-authenticate'], undefined)
      assert.equal(answered.headers['access-control-allow-origin'], ORIGIN)
      const methods = String(answered.headers['access-control-allow-methods']).split(', ')
      assert.deepEqual(methods.sort(), ['GET', 'HEAD', 'OPTIONS', 'PUT'])
      assert.equal((await preflight('/nothing-here')).status, 404)
      // An OPTIONS request that is no CORS preflight is the router's (here: unanswered, 404).
      assert.equal((await send({ method: 'OPTIONS', path: '/items/42' })).status, 404)
    })

    test('health: 200 with every resource; after close(), 503, and protected routes 503 / 20000', async () => {
      const iam = createIam(options())
      const app = new factory()
      app.silent = true
      app.use(iam.middleware())
      const router = new Router()
      router.get('/healthz', iam.healthHandler())
      router.get('/me', iam.tokenRequired(), (ctx) => void (ctx.body = 'x'))
      app.use(router.routes())
      await iam.ready
      const send = await serve(app, iam)
      const up = await send({ path: '/healthz' })
      assert.equal(up.status, 200)
      assert.equal(up.headers['cache-control'], 'no-store')
      assert.equal(up.json?.status, 'ready')
      const resources = up.json?.resources as Record<string, { loaded?: boolean }>
      for (const name of ['clientToken', 'jwks', 'revocationList']) {
        assert.equal(resources[name]?.loaded, true, name)
      }
      assert.equal(iam.client.options.baseUrl, scenario.emulator.baseUrl)
      assert.equal(iam.options.csrfProtection, true)
      await iam.close()
      const down = await send({ path: '/healthz' })
      assert.equal(down.status, 503)
      assert.equal(down.json?.status, 'not_ready')
      const closed = await send({ path: '/me', token: 'allowed' })
      assert.equal(closed.status, 503)
      assert.equal(closed.json?.errorCode, 20000)
      assert.equal(closed.headers['retry-after'], '1')
    })

    test('bad options and route arguments throw a TypeError naming them, at definition', () => {
      assert.throws(() => createIam(options({ csrfProtection: 'no' as never })), /csrfProtection/)
      assert.throws(
        () => createIam(options({ corsOrgin: '*' } as never)),
        (e: unknown) => e instanceof TypeError && /corsOrgin.*corsOrigin/.test(e.message),
      )
      const iam = createIam(options())
      cleanups.push(() => iam.close())
      assert.throws(() => iam.permissionRequired({ Action: 'x' } as never), TypeError)
      assert.throws(
        () => iam.permissionRequired(null, null, { optinal: true } as never),
        (e: unknown) => e instanceof TypeError && /optinal.*optional/.test(e.message),
      )
      assert.throws(
        () => iam.corsOptions({ 'Access-Control-Allow-Credentials': 'maybe' }),
        TypeError,
      )
      assert.throws(() => iam.corsOptions({}, { preflight: 'yes' as never }), /preflight/)
    })

    test('a missing base URL or credential throws a TypeError naming each one', () => {
      const saved = { ...process.env }
      for (const key of ['IAM_BASE_URL', 'IAM_CLIENT_ID', 'IAM_CLIENT_SECRET'])
        delete process.env[key]
      try {
        assert.throws(
          () => createIam({ clientId: 'only-the-id' }),
          (e: unknown) =>
            e instanceof TypeError &&
            e.message.includes('IAM_BASE_URL') &&
            e.message.includes('IAM_CLIENT_SECRET') &&
            !e.message.includes('IAM_CLIENT_ID'),
        )
      } finally {
        Object.assign(process.env, saved)
      }
    })
  })
}
