/**
 * Operations on every adapter: a health endpoint mounted in one line that answers 200/503
 * truthfully (also while the IAM is down at start, and after it recovers); refusals explained at
 * debug level through pino, never with the token; decisions counted as metrics; misspelled
 * options thrown, misspelled `IAM_*` settings and variables warned about.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'

import express from 'express'
import Fastify from 'fastify'
import Router from '@koa/router'
import Koa from 'koa'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import type { DataPoint } from '@opentelemetry/sdk-metrics'
import { pino } from 'pino'

import { IAM, permissionRequired } from '../../src/express/index.js'
import { iamPlugin, permissionRequired as fastifyPermission } from '../../src/fastify/index.js'
import { createIam } from '../../src/fetch/index.js'
import { createIam as createHonoIam } from '../../src/hono/index.js'
import { Hono } from 'hono'
import { listen as listenHono } from '../hono/hono-app.js'
import { createIam as createKoaIam } from '../../src/koa/index.js'
import { METRIC_NAMES } from '../../src/core/metrics.js'
import { serveFetch } from '../fetch/fetch-app.js'
import { listenKoa } from '../koa/koa-app.js'
import { buildNestOperationsApp } from '../nestjs/nestjs-app.js'
import { InMemoryReader } from '../support/metrics.js'
import { sendCaseRequest, setupScenario } from './harness.js'
import type { Scenario } from './harness.js'
import type { CaseRequest } from './cases.js'

const PERMISSION = { action: 4, resource: 'NAMESPACE:{namespace}:USER:{userId}' }

/** A pino logger writing JSON lines into an array. */
function pinoLines(level = 'debug') {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, logger: pino({ level }, stream) }
}

/** One protected route, a health route, and how to reach them; on each adapter. */
interface App {
  url: string
  close(): Promise<void>
}

type Build = (options: Record<string, unknown>) => Promise<App>

const ADAPTERS: Record<string, Build> = {
  Express: async (options) => {
    const app = express()
    const iam = new IAM(app, options)
    app.get('/healthz', iam.healthHandler())
    app.get('/ns/:namespace/users/:userId', permissionRequired(PERMISSION), (_req, res) => {
      res.json({ ok: true })
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const { port } = server.address() as { port: number }
    return {
      url: `http://127.0.0.1:${port}`,
      close: async () => {
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
        await iam.close()
      },
    }
  },
  Fastify: async (options) => {
    const app = Fastify()
    await app.register(iamPlugin, { ...options, awaitReady: false })
    app.get('/healthz', app.iam.healthHandler())
    app.get(
      '/ns/:namespace/users/:userId',
      { preHandler: fastifyPermission(PERMISSION) },
      async () => ({ ok: true }),
    )
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url, close: () => app.close() }
  },
  Hono: async (options) => {
    const iam = createHonoIam(options)
    const app = new Hono()
    app.get('/healthz', iam.healthHandler())
    app.get('/ns/:namespace/users/:userId', iam.permissionRequired(PERMISSION), (c) =>
      c.json({ ok: true }),
    )
    const server = await listenHono(app)
    return {
      url: server.url,
      close: async () => {
        await server.close()
        await iam.close()
      },
    }
  },
  'NestJS on Express': (options) => buildNestOperationsApp('express', options, PERMISSION),
  'NestJS on Fastify': (options) => buildNestOperationsApp('fastify', options, PERMISSION),
  fetch: async (options) => {
    const iam = createIam(options)
    const health = iam.healthHandler()
    const route = iam.protect(() => Response.json({ ok: true }), PERMISSION, undefined, {
      params: (request) => {
        const [, , namespace, , userId] = new URL(request.url).pathname.split('/')
        return { namespace, userId }
      },
    })
    const server = await serveFetch((request) =>
      new URL(request.url).pathname === '/healthz' ? health(request) : route(request),
    )
    return {
      url: server.url,
      close: async () => {
        await server.close()
        await iam.close()
      },
    }
  },
  Koa: async (options) => {
    const iam = createKoaIam(options)
    const app = new Koa()
    app.silent = true
    app.use(iam.middleware())
    const router = new Router()
    router.get('/healthz', iam.healthHandler())
    router.get('/ns/:namespace/users/:userId', iam.permissionRequired(PERMISSION), (ctx) => {
      ctx.body = { ok: true }
    })
    app.use(router.routes()).use(router.allowedMethods())
    const { url, server } = await listenKoa(app)
    return {
      url,
      close: async () => {
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
        await iam.close()
      },
    }
  },
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

for (const [adapter, build] of Object.entries(ADAPTERS)) {
  describe(`operations: ${adapter}`, () => {
    let scenario: Scenario
    before(async () => {
      scenario = await setupScenario()
    })
    after(async () => scenario.close())

    const options = (extra: Record<string, unknown> = {}) => ({
      ...scenario.appOptions('default'),
      ...extra,
    })
    const allowed: CaseRequest = {
      path: '/ns/sample-namespace/users/sample-userid',
      token: 'allowed',
    }
    const denied: CaseRequest = {
      path: '/ns/sample-namespace/users/sample-userid',
      token: 'denied',
    }

    test('health: 503 while the IAM is down at start, 200 once it recovers, with every resource', async () => {
      scenario.emulator.setFault('token', { status: 503 })
      const app = await build(options({ requestBudgetMs: 300 }))
      try {
        const down = await getJson(`${app.url}/healthz`)
        assert.equal(down.status, 503)
        assert.equal(down.body.status, 'not_ready')
        const resources = down.body.resources as Record<string, Record<string, unknown>>
        assert.equal(resources.clientToken?.loaded, false)
        // No request reaches the service meanwhile (a readiness probe keeps traffic away).
        scenario.emulator.setFault('token', null)
        let up = down
        for (let i = 0; i < 60 && up.status !== 200; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100))
          up = await getJson(`${app.url}/healthz`)
        }
        assert.equal(up.status, 200)
        assert.equal(up.body.status, 'ready')
        const ready = up.body.resources as Record<string, Record<string, unknown>>
        for (const name of ['clientToken', 'jwks', 'revocationList']) {
          assert.equal(ready[name]?.loaded, true, name)
          assert.equal(typeof ready[name]?.ageMs, 'number', name)
          assert.equal(ready[name]?.servingStale, false, name)
        }
        assert.equal((await sendCaseRequest(app.url, allowed, scenario.tokens)).status, 200)
      } finally {
        scenario.emulator.setFault('token', null)
        await app.close()
      }
    })

    test('a wrong client secret is logged through pino at error level, with its cause', async () => {
      const { lines, logger } = pinoLines('info')
      const app = await build(options({ clientSecret: 'wrong', logger }))
      try {
        assert.equal((await sendCaseRequest(app.url, allowed, scenario.tokens)).status, 503)
        const errors = lines.filter((l) => l.level === 50)
        assert.equal(errors.length, 1)
        assert.match(String(errors[0]?.msg), /could not start/)
        assert.equal((errors[0]?.err as { type?: string } | undefined)?.type, 'IamError')
        assert.equal(errors[0]?.code, 'ERR_IAM_CLIENT_UNAUTHORIZED')
      } finally {
        await app.close()
      }
    })

    test('a 403 shows its code, reason and explanation at debug level; the token never appears', async () => {
      const { lines, logger } = pinoLines('debug')
      const app = await build(options({ logger }))
      try {
        assert.equal((await sendCaseRequest(app.url, denied, scenario.tokens)).status, 403)
        const refusal = lines.find(
          (l) => l.level === 20 && l.code === 'ERR_IAM_INSUFFICIENT_PERMISSIONS',
        )
        assert.ok(refusal, JSON.stringify(lines))
        assert.equal(refusal.method, 'GET')
        assert.equal(refusal.path, '/ns/sample-namespace/users/sample-userid')
        assert.equal(typeof refusal.tokenFingerprint, 'string')
        assert.deepEqual(refusal.required, {
          resource: 'NAMESPACE:sample-namespace:USER:sample-userid',
          action: 4,
        })
        assert.ok(Array.isArray(refusal.explanation) && refusal.explanation.length > 0)
        assert.equal(
          (await sendCaseRequest(app.url, { path: allowed.path }, scenario.tokens)).status,
          401,
        )
        assert.ok(lines.some((l) => l.code === 'ERR_IAM_TOKEN_MISSING'))
        const text = JSON.stringify(lines)
        assert.ok(!text.includes(scenario.tokens.denied))
        assert.ok(!text.includes(scenario.tokens.denied.split('.')[2] as string))
      } finally {
        await app.close()
      }
    })

    test('decisions are counted: iam.decisions by outcome and error code', async () => {
      const reader = new InMemoryReader()
      const app = await build(options({ meterProvider: new MeterProvider({ readers: [reader] }) }))
      try {
        await sendCaseRequest(app.url, allowed, scenario.tokens)
        await sendCaseRequest(app.url, allowed, scenario.tokens)
        await sendCaseRequest(app.url, denied, scenario.tokens)
        const decisions = await reader.metric(METRIC_NAMES.decisions)
        const value = (outcome: string, code?: string) =>
          (decisions?.dataPoints as DataPoint<number>[] | undefined)?.find(
            (p) =>
              p.attributes['iam.decision.outcome'] === outcome &&
              p.attributes['error.type'] === code,
          )?.value
        assert.equal(value('allowed'), 2)
        assert.equal(value('refused', 'ERR_IAM_INSUFFICIENT_PERMISSIONS'), 1)
      } finally {
        await app.close()
      }
    })

    test('a misspelled option throws, naming the option meant', async () => {
      await assert.rejects(
        build(options({ csrfProtecton: false })),
        (e: unknown) => e instanceof TypeError && /csrfProtecton.*csrfProtection/.test(e.message),
      )
    })

    test('a misspelled IAM_* environment variable is warned about once, at start', async () => {
      const { lines, logger } = pinoLines('info')
      process.env.IAM_CSRF_PROTECTON = 'false'
      try {
        const app = await build(options({ logger }))
        await app.close()
      } finally {
        delete process.env.IAM_CSRF_PROTECTON
      }
      const warnings = lines.filter((l) => l.level === 40 && Array.isArray(l.unknown))
      assert.equal(warnings.length, 1)
      assert.deepEqual(warnings[0]?.unknown, ['IAM_CSRF_PROTECTON'])
      assert.deepEqual(warnings[0]?.nearest, ['IAM_CSRF_PROTECTION'])
    })
  })
}

describe('operations: adapter specifics', () => {
  let scenario: Scenario
  before(async () => {
    scenario = await setupScenario()
  })
  after(async () => scenario.close())

  test('Express: a misspelled IAM_* app setting is warned about', async () => {
    const { lines, logger } = pinoLines('info')
    const app = express()
    app.set('IAM_STRICT_REFFERER', true)
    const { logger: _silent, ...rest } = scenario.appOptions('default')
    const iam = new IAM(app, { ...rest, logger })
    await iam.ready
    await iam.close()
    const warning = lines.find((l) => l.level === 40 && Array.isArray(l.unknown))
    assert.deepEqual(warning?.unknown, ['IAM_STRICT_REFFERER'])
    assert.deepEqual(warning?.nearest, ['IAM_STRICT_REFERER'])
  })

  test("Fastify: app.log is the SDK's logger unless another is given", async () => {
    const { lines, logger } = pinoLines('debug')
    const app = Fastify({ loggerInstance: logger })
    const { logger: _silent, ...rest } = scenario.appOptions('default')
    await app.register(iamPlugin, rest)
    app.get('/me', { preHandler: fastifyPermission() }, async () => ({ ok: true }))
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      assert.equal((await fetch(`${url}/me`)).status, 401)
      assert.ok(lines.some((l) => l.code === 'ERR_IAM_TOKEN_MISSING' && l.level === 20))
    } finally {
      await app.close()
    }
  })
})
