import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'

import { IamError } from '../../src/core/errors.js'
import {
  corsOptions,
  iamPlugin,
  permissionRequired,
  tokenRequired,
} from '../../src/fastify/index.js'
import type { IamFastifyOptions } from '../../src/fastify/index.js'
import { CASES, PROFILES } from '../adapters/cases.js'
import type { CaseRequest, ProfileName, TokenName } from '../adapters/cases.js'
import { buildFastify, buildFastifyApp } from './fastify-app.js'
import {
  assertCase,
  handlerBody,
  runCaseTable,
  sendCaseRequest,
  setupScenario,
  silentLogger,
  caseHeaders,
  forPathResolvingServer,
  withRowFault,
} from '../adapters/harness.js'
import type { CaseResponse, Scenario } from '../adapters/harness.js'

const startsWithoutIam = (profile: ProfileName) => 'fresh' in PROFILES[profile]

// Default mode (`awaitReady: true`): the app does not start without the IAM, so the rows that
// need it serving before the IAM answers run in the second table only.
runCaseTable(
  'Fastify',
  (spec) => buildFastifyApp(spec),
  CASES.filter((row) => !startsWithoutIam(row.profile)),
)
runCaseTable('Fastify (awaitReady: false)', (spec) => buildFastifyApp(spec, { awaitReady: false }))

/** A row's request through `app.inject()` (same headers as the harness sends over HTTP). */
async function inject(
  app: FastifyInstance,
  request: CaseRequest,
  tokens: Readonly<Record<TokenName, string>>,
): Promise<CaseResponse> {
  const headers = caseHeaders(request, tokens, 'http://localhost')
  const res = await app.inject({
    method: (request.method ?? 'GET') as 'GET',
    url: request.path,
    headers,
  })
  const json = /json/.test(String(res.headers['content-type'])) ? res.json() : undefined
  return {
    status: res.statusCode,
    headers: res.headers as CaseResponse['headers'],
    text: res.body,
    json,
  }
}

describe('case table: Fastify through app.inject()', () => {
  let scenario: Scenario
  const apps = new Map<ProfileName, Promise<FastifyInstance>>()
  before(async () => {
    scenario = await setupScenario()
  })
  after(async () => {
    for (const app of apps.values()) await (await app).close()
    await scenario.close()
  })
  // `app.inject` resolves `.` and `..` in the URL before routing.
  for (const row of CASES.filter((r) => !startsWithoutIam(r.profile)).map(forPathResolvingServer)) {
    test(row.name, async () => {
      let app = apps.get(row.profile)
      if (app === undefined) {
        const spec = {
          options: scenario.appOptions(row.profile),
          routes: PROFILES[row.profile].routes,
        }
        app = buildFastify(spec).then(async (built) => {
          await built.ready()
          return built
        })
        apps.set(row.profile, app)
      }
      const built = await app
      assertCase(
        row,
        await withRowFault(scenario, row, () => inject(built, row.request, scenario.tokens)),
      )
    })
  }
})

const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
const RESOURCES = { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }

describe('Fastify integration specifics', () => {
  let scenario: Scenario
  const apps: FastifyInstance[] = []
  before(async () => {
    scenario = await setupScenario()
  })
  after(async () => {
    for (const app of apps.reverse()) await app.close()
    await scenario.close()
  })

  function options(extra: Partial<IamFastifyOptions> = {}): IamFastifyOptions {
    return {
      baseUrl: scenario.emulator.baseUrl,
      clientId: scenario.emulator.clientId,
      clientSecret: scenario.emulator.clientSecret,
      logger: silentLogger,
      ...extra,
    }
  }

  /** A Fastify app with the plugin registered, closed after the suite. */
  async function app(extra: Partial<IamFastifyOptions> = {}): Promise<FastifyInstance> {
    const instance = Fastify()
    apps.push(instance)
    await instance.register(iamPlugin, options(extra))
    return instance
  }

  const send = (instance: FastifyInstance, request: CaseRequest) =>
    inject(instance, request, scenario.tokens)

  test('await app.ready() waits for the IAM; app.iam exposes ready, client and options', async () => {
    const instance = await app({ strictReferer: true })
    await instance.ready()
    await instance.iam.ready
    assert.equal(instance.iam.options.strictReferer, true)
    assert.equal(instance.iam.client.options.baseUrl, scenario.emulator.baseUrl)
  })

  test('IAM down: await app.ready() and app.listen() reject with ERR_IAM_UNAVAILABLE', async () => {
    const down = {
      baseUrl: scenario.deadBaseUrl,
      requestTimeoutMs: 200,
      requestBudgetMs: 200,
    }
    const instance = Fastify()
    await instance.register(iamPlugin, options(down))
    await assert.rejects(
      async () => instance.ready(),
      (e: unknown) => e instanceof IamError && e.code === 'ERR_IAM_UNAVAILABLE',
    )
    await instance.close()
    const other = Fastify()
    await other.register(iamPlugin, options(down))
    await assert.rejects(other.listen({ port: 0, host: '127.0.0.1' }), IamError)
    await other.close()
  })

  test('IAM down with awaitReady: false: the app starts, protected routes answer 503', async () => {
    const instance = Fastify()
    apps.push(instance)
    await instance.register(
      iamPlugin,
      options({
        baseUrl: scenario.deadBaseUrl,
        awaitReady: false,
        readyTimeoutMs: 300,
        requestTimeoutMs: 200,
        requestBudgetMs: 200,
      }),
    )
    instance.get('/p', { preHandler: permissionRequired() }, async () => 'x')
    await instance.ready()
    const r = await send(instance, { path: '/p', token: 'allowed' })
    assert.equal(r.status, 503)
    assert.equal(r.json?.errorCode, 20000)
    assert.equal(r.headers['retry-after'], '1')
    await assert.rejects(instance.iam.ready, IamError)
  })

  test('missing base URL or credentials: app.ready() rejects naming each one', async () => {
    const saved = { ...process.env }
    for (const key of ['IAM_BASE_URL', 'IAM_CLIENT_ID', 'IAM_CLIENT_SECRET'])
      delete process.env[key]
    try {
      const instance = Fastify()
      instance.register(iamPlugin, { clientId: 'only-the-id' })
      await assert.rejects(
        async () => instance.ready(),
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

  test('precedence: options, then environment, then defaults', async () => {
    const saved = { ...process.env }
    Object.assign(process.env, {
      IAM_BASE_URL: scenario.emulator.baseUrl,
      IAM_CLIENT_ID: scenario.emulator.clientId,
      IAM_CLIENT_SECRET: scenario.emulator.clientSecret,
      IAM_TOKEN_COOKIE_NAME: 'env-cookie',
      IAM_TOKEN_HEADER_NAME: 'X-Env',
    })
    try {
      const instance = Fastify()
      apps.push(instance)
      await instance.register(iamPlugin, { tokenCookieName: 'option-cookie', logger: silentLogger })
      await instance.ready()
      assert.equal(instance.iam.options.tokenCookieName, 'option-cookie')
      assert.equal(instance.iam.options.tokenHeaderName, 'X-Env')
      assert.equal(instance.iam.options.tokenHeaderType, 'Bearer')
      assert.equal(instance.iam.client.options.baseUrl, scenario.emulator.baseUrl)
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
      Object.assign(process.env, saved)
    }
  })

  test('bad options throw a TypeError naming the option', async () => {
    for (const [bad, name] of [
      [{ csrfProtection: 'no' }, /csrfProtection/],
      [{ corsOrigin: 42 }, /corsOrigin/],
      [{ awaitReady: 'yes' }, /awaitReady/],
    ] as const) {
      const instance = Fastify()
      instance.register(iamPlugin, options(bad as never))
      await assert.rejects(
        async () => instance.ready(),
        (e: unknown) => e instanceof TypeError && name.test(e.message),
      )
    }
    assert.throws(() => permissionRequired({ Action: 'x' } as never), TypeError)
    assert.throws(() => corsOptions({ 'Access-Control-Allow-Credentials': 'maybe' }), TypeError)
  })

  test('onClose closes the client', async () => {
    const instance = Fastify()
    await instance.register(iamPlugin, options())
    await instance.ready()
    const client = instance.iam.client
    const close = client.close.bind(client)
    let closed = 0
    client.close = async () => {
      closed++
      await close()
    }
    await instance.close()
    assert.equal(closed, 1)
  })

  test('a client given in the options is not closed', async () => {
    const owner = await app()
    await owner.ready()
    const client = owner.iam.client
    const close = client.close
    let closed = 0
    client.close = async () => void closed++
    try {
      const instance = Fastify()
      await instance.register(iamPlugin, { client })
      instance.get('/me', { preHandler: tokenRequired() }, async (request) =>
        handlerBody(request.iam),
      )
      await instance.ready()
      assert.equal((await send(instance, { path: '/me', token: 'allowed' })).status, 200)
      await instance.close()
      assert.equal(closed, 0)
    } finally {
      client.close = close
    }
  })

  test('request.iam holds claims, token and token location; tokenRequired is the same hook', async () => {
    assert.equal(tokenRequired, permissionRequired)
    const instance = await app()
    let seen: unknown
    instance.get('/me', { preHandler: tokenRequired() }, async (request) => {
      // Typed through module augmentation: no cast needed.
      const sub: string | undefined = request.iam?.claims.sub
      seen = request.iam
      return { sub }
    })
    instance.get('/open', async (request) => ({ iam: request.iam ?? null }))
    await instance.ready()
    assert.equal((await send(instance, { path: '/me', token: 'allowed' })).status, 200)
    const context = seen as {
      claims: Record<string, unknown>
      token: string
      tokenLocation: string
    }
    assert.equal(context.token, scenario.tokens.allowed)
    assert.equal(context.tokenLocation, 'header')
    assert.equal(context.claims.sub, 'sample-userid')
    assert.deepEqual((await send(instance, { path: '/open', token: 'allowed' })).json, {
      iam: null,
    })
  })

  test("refusals go through Fastify's error handling: the app's handler can reshape them", async () => {
    const instance = await app()
    const seen: unknown[] = []
    instance.setErrorHandler((error, request, reply) => {
      seen.push(error)
      if (request.url === '/reshaped' && error instanceof IamError) {
        return reply.code(error.statusCode).send({ problem: error.code })
      }
      return reply.send(error) // passed on
    })
    const guard = permissionRequired(PERMISSION, RESOURCES)
    instance.get('/reshaped', { preHandler: guard }, async () => 'x')
    instance.get('/passed-on', { preHandler: guard }, async () => 'x')
    instance.get('/boom', async () => {
      throw Object.assign(new Error('app failure'), { statusCode: 418 })
    })
    await instance.ready()
    const reshaped = await send(instance, { path: '/reshaped', token: 'denied' })
    assert.equal(reshaped.status, 403)
    assert.deepEqual(reshaped.json, { problem: 'ERR_IAM_INSUFFICIENT_PERMISSIONS' })
    const error = seen[0] as IamError & { headers: Record<string, string> }
    assert.equal(error.statusCode, 403)
    assert.match(error.headers['WWW-Authenticate'] ?? '', /insufficient_scope/)
    const passed = await send(instance, { path: '/passed-on', token: 'denied' })
    assert.equal(passed.status, 403)
    assert.equal(passed.json?.errorCode, 20013)
    assert.match(String(passed.headers['www-authenticate']), /insufficient_scope/)
    // Errors that are not the SDK's keep Fastify's own rendering.
    const boom = await send(instance, { path: '/boom' })
    assert.equal(boom.status, 418)
    assert.equal(boom.json?.errorCode, undefined)
    assert.equal(boom.json?.statusCode, 418)
  })

  test('a handler of an encapsulated scope sees refusals first; a route schema is honoured', async () => {
    const instance = await app()
    await instance.register(async (child) => {
      child.setErrorHandler((error, _request, reply) =>
        reply.code(499).send({ scoped: (error as IamError).code }),
      )
      child.get(
        '/scoped',
        { preHandler: permissionRequired(PERMISSION, RESOURCES) },
        async () => 'x',
      )
    })
    instance.get(
      '/outside',
      { preHandler: permissionRequired(PERMISSION, RESOURCES) },
      async () => 'x',
    )
    await instance.ready()
    const scoped = await send(instance, { path: '/scoped', token: 'denied' })
    assert.deepEqual(
      [scoped.status, scoped.json],
      [499, { scoped: 'ERR_IAM_INSUFFICIENT_PERMISSIONS' }],
    )
    const outside = await send(instance, { path: '/outside', token: 'denied' })
    assert.deepEqual([outside.status, outside.json?.errorCode], [403, 20013])
  })

  test('an unexpected failure inside the SDK path answers 500 / 20000 without details', async () => {
    const instance = await app()
    instance.get(
      '/bad-resources',
      {
        preHandler: permissionRequired(PERMISSION, () => {
          throw new Error('secret detail')
        }),
      },
      async () => 'x',
    )
    await instance.ready()
    const r = await send(instance, { path: '/bad-resources', token: 'allowed' })
    assert.equal(r.status, 500)
    assert.equal(r.json?.errorCode, 20000)
    assert.ok(!r.text.includes('secret'))
  })

  test('permissionRequired without the plugin: 503 ERR_IAM_NOT_READY, never a pass', async () => {
    const instance = Fastify()
    apps.push(instance)
    instance.get('/x', { preHandler: permissionRequired() }, async () => 'passed')
    const r = await send(instance, { path: '/x', token: 'allowed' })
    assert.equal(r.status, 503)
    assert.equal(r.json?.code, 'ERR_IAM_NOT_READY')
  })

  test('corsOptions answers the preflight itself as hook or handler; preflight: false passes on', async () => {
    const instance = await app()
    let ran = 0
    const cors = corsOptions({ 'Access-Control-Allow-Headers': ['Device-Id'] })
    instance.route({
      method: ['OPTIONS', 'POST'],
      url: '/cors',
      onRequest: cors,
      preHandler: permissionRequired(),
      handler: async () => {
        ran++
        return 'should not run on OPTIONS'
      },
    })
    const passOn = corsOptions(
      { 'Access-Control-Allow-Headers': 'Device-Id' },
      { preflight: false },
    )
    instance.options('/own-options', { onRequest: passOn }, async (_request, reply) => {
      ran++
      return reply.code(204).send()
    })
    await instance.ready()
    const pre = await send(instance, {
      method: 'OPTIONS',
      path: '/cors',
      headers: { origin: 'http://127.0.0.1' },
    })
    assert.equal(pre.status, 200)
    assert.equal(pre.text, '')
    assert.equal(pre.headers['access-control-allow-headers'], 'Device-Id')
    assert.equal(ran, 0)
    const own = await send(instance, { method: 'OPTIONS', path: '/own-options' })
    assert.equal(own.status, 204)
    assert.equal(own.headers['access-control-allow-headers'], 'Device-Id')
    assert.equal(ran, 1)
  })

  test('app-wide CORS: a preflight to a path without route is answered; other OPTIONS are 404', async () => {
    const instance = await app({ corsEnable: true, corsOrigin: 'http://allowed.example' })
    instance.get('/open', async () => 'x')
    await instance.ready()
    const pre = await send(instance, {
      method: 'OPTIONS',
      path: '/open',
      headers: { origin: 'http://allowed.example', 'access-control-request-method': 'GET' },
    })
    assert.equal(pre.status, 200)
    assert.equal(pre.headers['access-control-allow-origin'], 'http://allowed.example')
    const plain = await send(instance, { method: 'OPTIONS', path: '/open' })
    assert.equal(plain.status, 404)
    const missing = await send(instance, {
      path: '/nowhere',
      headers: { origin: 'http://allowed.example' },
    })
    assert.equal(missing.status, 404)
    assert.equal(missing.headers['access-control-allow-origin'], 'http://allowed.example')
  })

  test('cookie token end to end over real HTTP (seed: csrf_protect)', async () => {
    const instance = await app()
    instance.post(
      '/protected',
      { preHandler: permissionRequired(PERMISSION, RESOURCES, { csrfProtect: true }) },
      async () => 'You have authorized access!',
    )
    const url = await instance.listen({ port: 0, host: '127.0.0.1' })
    const request: CaseRequest = {
      method: 'POST',
      path: '/protected',
      token: 'allowed',
      tokenIn: 'cookie',
      headers: { origin: 'https://app.example.com', referer: 'https://app.example.com/app/' },
    }
    const ok = await sendCaseRequest(url, request, scenario.tokens)
    assert.equal(ok.status, 200)
    assert.equal(ok.text, 'You have authorized access!')
    const evil = await sendCaseRequest(
      url,
      { ...request, headers: { origin: 'https://evil.example.net' } },
      scenario.tokens,
    )
    assert.equal(evil.status, 401)
    assert.equal(evil.json?.errorCode, 20023)
  })
})
