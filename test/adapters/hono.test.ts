/**
 * A Hono app on Node (`@hono/node-server`) protected through the fetch adapter: the whole case
 * table, with Hono's router supplying route parameters, plus Hono specifics.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'

import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { MiddlewareHandler } from 'hono'

import { createIam } from '../../src/fetch/index.js'
import type {
  CorsHeaderValue,
  FetchIam,
  IamCheck,
  IamFetchOptions,
  IamRequestContext,
} from '../../src/fetch/index.js'
import {
  forPathResolvingServer,
  handlerBody,
  routeOptions,
  routeResources,
  runCaseTable,
  setupScenario,
  silentLogger,
} from './harness.js'
import type { AppSpec, BuiltApp, CaseResponse, Scenario } from './harness.js'
import { sendCaseRequest } from './harness.js'
import { CASES } from './cases.js'
import type { CaseRequest } from './cases.js'

type Env = { Variables: { iam: IamRequestContext } }

/** A Hono middleware from a check: the context on `c.var.iam`, or the error `Response`. */
function guard(check: IamCheck): MiddlewareHandler<Env> {
  return async (c, next) => {
    const result = await check(c.req.raw, c.req.param())
    if (result instanceof Response) return result
    c.set('iam', result)
    await next()
  }
}

/** A Hono middleware from `iam.cors`: per-route CORS around the rest of the chain. */
function cors(
  iam: FetchIam,
  headers: Readonly<Record<string, CorsHeaderValue>>,
  options?: { preflight?: boolean },
): MiddlewareHandler<Env> {
  return async (c, next) =>
    iam.corsOptions(
      async () => {
        await next()
        return c.res
      },
      headers,
      options,
    )(c.req.raw)
}

async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

async function buildHonoApp(spec: AppSpec): Promise<BuiltApp> {
  const iam = createIam(spec.options as IamFetchOptions)
  const app = new Hono<Env>()
  for (const route of spec.routes) {
    const handlers: MiddlewareHandler<Env>[] = []
    const methods: string[] = [...route.methods]
    if (route.cors !== undefined) {
      handlers.push(cors(iam, route.cors.headers, { preflight: route.cors.preflight ?? true }))
      methods.push('OPTIONS')
    }
    if (route.guard !== undefined) {
      const resources = routeResources<Request>(
        route.guard.resources,
        (req, name) => req.headers.get(name) ?? undefined,
      )
      const options = routeOptions(route.guard)
      handlers.push(
        guard(iam.permissionRequired(route.guard.permission as never, resources, options)),
      )
    }
    for (const handler of handlers) app.on(methods, route.path, handler)
    app.on(methods, route.path, (c) => c.json(handlerBody(c.get('iam'))))
    // Hono answers 404 to a method it has no route for; say 405 here, so that the app-wide
    // `iam.cors` (which keeps a 404 a 404) knows the path is served and answers its preflights.
    if (route.cors === undefined) app.options(route.path, (c) => c.body(null, 405))
  }
  // App-wide CORS (and its preflights) around the whole app.
  const server = await listen(iam.corsOptions(app.fetch))
  return {
    url: server.url,
    ready: iam.ready,
    closeIntegration: () => iam.close(),
    async close() {
      await server.close()
      await iam.close()
    },
  }
}

// @hono/node-server answers 400 to a Host header with upper-case letters before the app runs
// (its host check compares the lower-cased URL host with the raw header): that row is left out.
runCaseTable(
  'Hono on Node (fetch adapter)',
  buildHonoApp,
  CASES.filter((row) => row.name !== 'host label compared case-insensitively, port ignored').map(
    forPathResolvingServer,
  ),
)

describe('Hono specifics', () => {
  let scenario: Scenario
  let iam: FetchIam
  let send: (request: CaseRequest) => Promise<CaseResponse>
  let close: () => Promise<void>
  before(async () => {
    scenario = await setupScenario()
    iam = createIam({
      baseUrl: scenario.emulator.baseUrl,
      clientId: scenario.emulator.clientId,
      clientSecret: scenario.emulator.clientSecret,
      logger: silentLogger,
    })
    const app = new Hono<Env>()
    const permission = { action: 4, resource: 'NAMESPACE:{namespace}:USER:{userId}' }
    // Hono's router gives the parameters; the check reads them from `c.req.param()`.
    app.get('/ns/:namespace/users/:userId', guard(iam.permissionRequired(permission)), (c) =>
      c.json({ sub: c.var.iam.claims.sub, params: c.req.param() }),
    )
    // `protect` on a Hono handler: Hono's context is passed through, params come from it.
    const handler = iam.protect(
      (request, c: { req: { param(): Record<string, string> } }) =>
        Response.json({ sub: request.iam.claims.sub, userId: c.req.param().userId }),
      permission,
      undefined,
      { params: (_request, c) => c.req.param() },
    )
    app.get('/protect/:namespace/:userId', (c) => handler(c.req.raw, c))
    await iam.ready
    const server = await listen(app.fetch)
    close = server.close
    send = (request) => sendCaseRequest(server.url, request, scenario.tokens)
  })
  after(async () => {
    await close?.()
    await iam?.close()
    await scenario?.close()
  })

  test('route parameters from Hono fill the placeholders', async () => {
    const ok = await send({ path: '/ns/sample-namespace/users/sample-userid', token: 'allowed' })
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.json, {
      sub: 'sample-userid',
      params: { namespace: 'sample-namespace', userId: 'sample-userid' },
    })
    const other = await send({ path: '/ns/sample-namespace/users/other-userid', token: 'allowed' })
    assert.equal(other.status, 403)
    assert.equal(other.json?.errorCode, 20013)
    assert.match(String(other.headers['www-authenticate']), /insufficient_scope/)
    const encoded = await send({
      path: '/ns/sample-namespace/users/%7BuserId%7D',
      token: 'allowed',
    })
    assert.equal(encoded.status, 403)
  })

  test('protect with the Hono context passed through', async () => {
    const ok = await send({ path: '/protect/sample-namespace/sample-userid', token: 'allowed' })
    assert.deepEqual([ok.status, ok.json], [200, { sub: 'sample-userid', userId: 'sample-userid' }])
    const missing = await send({ path: '/protect/sample-namespace/sample-userid' })
    assert.equal(missing.status, 401)
    assert.equal(missing.json?.errorCode, 20001)
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="iam"')
  })
})
