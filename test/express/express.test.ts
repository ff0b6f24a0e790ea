import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'

import express from 'express'
import express4 from 'express4'

import { IamError } from '../../src/core/errors.js'
import {
  IAM,
  corsOptions,
  iamErrorHandler,
  permissionRequired,
  requireIam,
  tokenRequired,
} from '../../src/express/index.js'
import { buildExpressApp } from './express-app.js'
import {
  handlerBody,
  runCaseTable,
  sendCaseRequest,
  setupScenario,
  silentLogger,
} from '../adapters/harness.js'
import type { CaseResponse, Scenario } from '../adapters/harness.js'
import type { CaseRequest } from '../adapters/cases.js'

runCaseTable('Express 5', (spec) => buildExpressApp(express, spec))
runCaseTable('Express 4', (spec) => buildExpressApp(express4, spec))

const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
const RESOURCES = { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }

async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

for (const [major, factory] of [
  ['Express 5', express],
  ['Express 4', express4],
] as const) {
  describe(`Express integration specifics: ${major}`, () => {
    let scenario: Scenario
    const cleanups: (() => Promise<void>)[] = []
    before(async () => {
      scenario = await setupScenario()
    })
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
      await scenario.close()
    })

    /** Listens, remembers to close the server and the IAM, returns a request function. */
    async function serve(app: express.Express, iam?: IAM) {
      const server = await listen(app)
      cleanups.push(async () => {
        await server.close()
        await iam?.close()
      })
      return (request: CaseRequest): Promise<CaseResponse> =>
        sendCaseRequest(server.url, request, scenario.tokens)
    }

    function credentials(app: express.Express) {
      app.set('IAM_BASE_URL', scenario.emulator.baseUrl)
      app.set('IAM_CLIENT_ID', scenario.emulator.clientId)
      app.set('IAM_CLIENT_SECRET', scenario.emulator.clientSecret)
    }

    test('configuration by settings, as the seed', async () => {
      const app = factory()
      credentials(app)
      app.set('IAM_STRICT_REFERER', true)
      app.set('IAM_TOKEN_LOCATIONS', ['cookies'])
      const iam = new IAM(app, { logger: silentLogger })
      await iam.ready
      assert.equal(iam.options.strictReferer, true)
      assert.deepEqual(iam.options.tokenLocations, ['cookie'])
      assert.equal(iam.client.options.baseUrl, scenario.emulator.baseUrl)
      await iam.close()
    })

    test('precedence: options, then settings, then environment, then defaults', async () => {
      const saved = { ...process.env }
      process.env.IAM_BASE_URL = scenario.emulator.baseUrl
      process.env.IAM_CLIENT_ID = 'from-env'
      process.env.IAM_CLIENT_SECRET = scenario.emulator.clientSecret
      process.env.IAM_TOKEN_COOKIE_NAME = 'env-cookie'
      process.env.IAM_TOKEN_HEADER_NAME = 'X-Env'
      process.env.IAM_STRICT_REFERER = 'true'
      try {
        const app = factory()
        app.set('IAM_CLIENT_ID', scenario.emulator.clientId)
        app.set('IAM_TOKEN_COOKIE_NAME', 'setting-cookie')
        app.set('IAM_STRICT_REFERER', false)
        const iam = new IAM(app, { tokenCookieName: 'option-cookie', logger: silentLogger })
        await iam.ready
        assert.equal(iam.options.tokenCookieName, 'option-cookie') // option over setting and env
        assert.equal(iam.options.strictReferer, false) // setting over env
        assert.equal(iam.options.tokenHeaderName, 'X-Env') // env over default
        assert.equal(iam.options.tokenHeaderType, 'Bearer') // default
        assert.equal(iam.client.options.clientId, scenario.emulator.clientId) // setting over env
        assert.equal(iam.client.options.baseUrl, scenario.emulator.baseUrl) // env
        await iam.close()
      } finally {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
        Object.assign(process.env, saved)
      }
    })

    test('req.iam on the app and on a mounted app: an accessor, not an own property', async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      await iam.ready
      const seen = (req: express.Request) => ({
        ...handlerBody(req.iam),
        own: Object.hasOwn(req, 'iam'),
        listed: Object.keys(req).includes('iam'),
      })
      app.get('/protected', permissionRequired(PERMISSION, RESOURCES), (req, res) => {
        res.json(seen(req))
      })
      const sub = factory()
      sub.get('/protected', permissionRequired(PERMISSION, RESOURCES), (req, res) => {
        res.json(seen(req))
      })
      app.use('/sub', sub)
      const send = await serve(app, iam)
      for (const path of ['/protected', '/sub/protected']) {
        const response = await send({ path, token: 'allowed' })
        assert.equal(response.status, 200, path)
        assert.equal(response.json?.sub, 'sample-userid', path)
        assert.equal(response.json?.own, false, path)
        assert.equal(response.json?.listed, false, path)
      }
    })

    test('factory pattern: new IAM() then initApp(app), which returns iam.ready', async () => {
      const iam = new IAM(undefined, { logger: silentLogger })
      function createApp() {
        const app = factory()
        credentials(app)
        const ready = iam.initApp(app)
        assert.equal(ready, iam.ready)
        app.get('/protected', permissionRequired(PERMISSION, RESOURCES), (req, res) => {
          res.json(handlerBody(req.iam))
        })
        return app
      }
      const send = await serve(createApp(), iam)
      await iam.ready
      const ok = await send({ path: '/protected', token: 'allowed' })
      assert.equal(ok.status, 200)
      const denied = await send({ path: '/protected', token: 'denied' })
      assert.equal(denied.status, 403)
      assert.equal(denied.json?.errorCode, 20013)
    })

    test('missing base URL or credentials: initApp rejects naming each one; requests get 503', async () => {
      const saved = { ...process.env }
      for (const key of ['IAM_BASE_URL', 'IAM_CLIENT_ID', 'IAM_CLIENT_SECRET'])
        delete process.env[key]
      try {
        const iam = new IAM()
        const app = factory()
        app.set('IAM_CLIENT_ID', 'only-the-id')
        await assert.rejects(
          iam.initApp(app),
          (e: unknown) =>
            e instanceof TypeError &&
            e.message.includes('IAM_BASE_URL') &&
            e.message.includes('IAM_CLIENT_SECRET') &&
            !e.message.includes('IAM_CLIENT_ID'),
        )
        const app2 = factory()
        const iam2 = new IAM(app2)
        await assert.rejects(iam2.ready, TypeError)
        app2.get('/protected', permissionRequired(), (_req, res) => {
          res.send('x')
        })
        const send = await serve(app2, iam2)
        const r = await send({ path: '/protected', token: 'allowed' })
        assert.equal(r.status, 503)
        assert.equal(r.json?.errorCode, 20000)
      } finally {
        Object.assign(process.env, saved)
      }
    })

    test('bad options throw a TypeError naming the option, at construction', () => {
      assert.throws(() => new IAM(undefined, { csrfProtection: 'no' as never }), /csrfProtection/)
      assert.throws(() => new IAM(undefined, { corsOrigin: 42 as never }), /corsOrigin/)
      assert.throws(() => permissionRequired({ Action: 'x' } as never), TypeError)
      assert.throws(() => corsOptions({ 'Access-Control-Allow-Credentials': 'maybe' }), TypeError)
      assert.throws(() => new IAM().initApp({} as never), TypeError)
    })

    test('req.iam holds claims, token and token location; tokenRequired is the same middleware', async () => {
      assert.equal(tokenRequired, permissionRequired)
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      let seen: unknown
      app.get('/me', tokenRequired(), (req, res) => {
        seen = req.iam
        res.json({ ok: true })
      })
      const send = await serve(app, iam)
      await iam.ready
      assert.equal((await send({ path: '/me', token: 'allowed' })).status, 200)
      const context = seen as {
        claims: Record<string, unknown>
        token: string
        tokenLocation: string
      }
      assert.equal(context.token, scenario.tokens.allowed)
      assert.equal(context.tokenLocation, 'header')
      assert.equal(context.claims.sub, 'sample-userid')
      assert.equal(context.claims.namespace, 'sample-namespace')
      assert.deepEqual(context.claims.permissions, [
        { Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 },
      ])
    })

    test("the app's own error handler after its routes runs first and can reshape errors", async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      app.get('/reshaped', permissionRequired(PERMISSION, RESOURCES), (_req, res) => {
        res.send('x')
      })
      app.get('/passed-on', permissionRequired(PERMISSION, RESOURCES), (_req, res) => {
        res.send('x')
      })
      app.use((_req: express.Request, res: express.Response) => {
        res.status(404).json({ notFound: true })
      })
      app.use(
        (err: unknown, req: express.Request, res: express.Response, next: express.NextFunction) => {
          if (req.path === '/reshaped' && err instanceof IamError) {
            res.status(err.status).json({ problem: err.code })
          } else next(err)
        },
      )
      const send = await serve(app, iam)
      await iam.ready
      const reshaped = await send({ path: '/reshaped', token: 'denied' })
      assert.equal(reshaped.status, 403)
      assert.deepEqual(reshaped.json, { problem: 'ERR_IAM_INSUFFICIENT_PERMISSIONS' })
      const passed = await send({ path: '/passed-on', token: 'denied' })
      assert.equal(passed.status, 403)
      assert.equal(passed.json?.errorCode, 20013)
      assert.match(String(passed.headers['www-authenticate']), /insufficient_scope/)
      const missing = await send({ path: '/nowhere' })
      assert.deepEqual(missing.json, { notFound: true })
    })

    test('no router layer without app-wide CORS; SDK errors are rendered from the first request on', async () => {
      // Express 5: app.router; Express 4: app._router (its app.router throws).
      const routerOf = (app: express.Express) =>
        (major === 'Express 4'
          ? (app as unknown as { _router: { stack: unknown[] } })._router
          : (app as unknown as { router: { stack: unknown[] } }).router) as { stack: unknown[] }
      const app = factory()
      credentials(app)
      // requireIam on a route without permissionRequired: an IamError before any protected request.
      app.get('/unprotected', (req) => void requireIam(req))
      const layers = routerOf(app).stack.length
      const iam = new IAM(app, { logger: silentLogger })
      assert.equal(routerOf(app).stack.length, layers)
      const send = await serve(app, iam)
      const r = await send({ path: '/unprotected' })
      assert.equal(r.status, 500)
      assert.equal(r.json?.errorCode, 20000)
      assert.equal(routerOf(app).stack.length, layers + 1) // the error handler, appended once
      assert.equal((await send({ path: '/unprotected' })).json?.errorCode, 20000)
      assert.equal(routerOf(app).stack.length, layers + 1)

      const withCors = factory()
      credentials(withCors)
      withCors.get('/unprotected', (_req, res) => void res.send('ok'))
      const before = routerOf(withCors).stack.length
      const corsIam = new IAM(withCors, {
        logger: silentLogger,
        corsEnable: true,
        corsOrigin: 'https://a.example',
      })
      assert.equal(routerOf(withCors).stack.length, before + 1)
      await corsIam.close()
    })

    test('errors that are not the SDK’s are left to the app (Express default handler)', async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      app.get('/boom', () => {
        throw Object.assign(new Error('app failure'), { status: 418 })
      })
      const send = await serve(app, iam)
      const r = await send({ path: '/boom' })
      assert.equal(r.status, 418)
      assert.equal(r.json, undefined)
    })

    test('an unexpected failure inside the SDK path answers 500 / 20000 without details', async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      app.get(
        '/bad-resources',
        permissionRequired(PERMISSION, () => {
          throw new Error('secret detail')
        }),
        (_req, res) => {
          res.send('x')
        },
      )
      const send = await serve(app, iam)
      await iam.ready
      const r = await send({ path: '/bad-resources', token: 'allowed' })
      assert.equal(r.status, 500)
      assert.equal(r.json?.errorCode, 20000)
      assert.ok(!r.text.includes('secret'))
    })

    test('permissionRequired in a mounted sub-app finds the IAM of the parent', async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      const admin = factory()
      admin.get(
        '/users/:userId',
        permissionRequired({ action: 4, resource: 'NAMESPACE:sample-namespace:USER:{userId}' }),
        (req, res) => {
          res.json(handlerBody(req.iam))
        },
      )
      app.use('/admin', admin)
      const send = await serve(app, iam)
      await iam.ready
      assert.equal(
        (await send({ path: '/admin/users/sample-userid', token: 'allowed' })).status,
        200,
      )
      const denied = await send({ path: '/admin/users/other-userid', token: 'allowed' })
      assert.equal(denied.status, 403)
      assert.equal(denied.json?.errorCode, 20013)
    })

    test('permissionRequired on an app without IAM: 503 from the framework, never a pass', async () => {
      const app = factory()
      app.get('/x', permissionRequired(), (_req, res) => {
        res.send('passed')
      })
      app.use(iamErrorHandler())
      const send = await serve(app)
      const r = await send({ path: '/x', token: 'allowed' })
      assert.equal(r.status, 503)
      assert.equal(r.json?.errorCode, 20000)
    })

    test('corsOptions answers the preflight itself; nothing after it runs; preflight: false passes on', async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      let after = 0
      const cors = corsOptions({ 'Access-Control-Allow-Headers': ['Device-Id'] })
      app.options('/cors', cors, (_req, res) => {
        after++
        res.send('should not run')
      })
      const passOn = corsOptions(
        { 'Access-Control-Allow-Headers': 'Device-Id' },
        { preflight: false },
      )
      app.options('/own-options', passOn, (_req, res) => {
        after++
        res.status(204).end()
      })
      const send = await serve(app, iam)
      const pre = await send({
        method: 'OPTIONS',
        path: '/cors',
        headers: { origin: 'http://127.0.0.1' },
      })
      assert.equal(pre.status, 200)
      assert.equal(pre.text, '')
      assert.equal(pre.headers['access-control-allow-headers'], 'Device-Id')
      assert.equal(after, 0)
      const own = await send({ method: 'OPTIONS', path: '/own-options' })
      assert.equal(own.status, 204)
      assert.equal(own.headers['access-control-allow-headers'], 'Device-Id')
      assert.equal(after, 1)
    })

    test('CORS reflecting any origin with credentials: one warning at start-up, only when asked for', async () => {
      const warnings: unknown[] = []
      const logger = { warn: (details: Record<string, unknown>) => void warnings.push(details) }
      const unsafe = (w: unknown) =>
        (w as { option?: string }).option === 'corsReflectAnyOriginUnsafe'
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { corsEnable: true, corsReflectAnyOriginUnsafe: true, logger })
      await iam.ready
      assert.equal(warnings.filter(unsafe).length, 1)
      const byDefault = factory()
      credentials(byDefault)
      const safe = new IAM(byDefault, { corsEnable: true, logger })
      await safe.ready
      const listed = new IAM(factory(), {
        corsEnable: true,
        corsOrigin: ['https://a.example'],
        baseUrl: scenario.emulator.baseUrl,
        clientId: scenario.emulator.clientId,
        clientSecret: scenario.emulator.clientSecret,
        logger,
      })
      await listed.ready
      assert.equal(warnings.filter(unsafe).length, 1)
      await safe.close()
      await iam.close()
      await listed.close()
    })

    test('IAM down at start: ready rejects, protected routes 503 within readyTimeoutMs', async () => {
      const app = factory()
      const iam = new IAM(app, {
        baseUrl: scenario.deadBaseUrl,
        clientId: 'x',
        clientSecret: 'y',
        readyTimeoutMs: 300,
        requestTimeoutMs: 200,
        requestBudgetMs: 200,
        logger: silentLogger,
      })
      app.get('/p', permissionRequired(), (_req, res) => {
        res.send('x')
      })
      const send = await serve(app, iam)
      const started = Date.now()
      const r = await send({ path: '/p', token: 'allowed' })
      assert.equal(r.status, 503)
      assert.equal(r.json?.errorCode, 20000)
      assert.ok(Date.now() - started < 2_000)
      await assert.rejects(iam.ready, (e: unknown) => e instanceof IamError)
    })

    test('cookie token end to end with a page of the registered origin (seed: csrf_protect)', async () => {
      const app = factory()
      credentials(app)
      const iam = new IAM(app, { logger: silentLogger })
      app.post(
        '/protected',
        permissionRequired(PERMISSION, RESOURCES, { csrfProtect: true }),
        (_req, res) => {
          res.send('You have authorized access!')
        },
      )
      const send = await serve(app, iam)
      await iam.ready
      const ok = await send({
        method: 'POST',
        path: '/protected',
        token: 'allowed',
        tokenIn: 'cookie',
        headers: { origin: 'https://app.example.com', referer: 'https://app.example.com/app/' },
      })
      assert.equal(ok.status, 200)
      assert.equal(ok.text, 'You have authorized access!')
    })
  })
}
