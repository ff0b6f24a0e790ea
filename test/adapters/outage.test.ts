/**
 * Riding out an IAM outage on every adapter: after warm-up, the IAM answers nothing but 503 for
 * five minutes (a fake clock moves on), and role, role-override, studio and cookie (CSRF) routes
 * keep answering from what the IAM said last; a "no" is never turned into a stale "yes"; and a
 * request after the integration is closed answers 503 `ERR_IAM_CLOSED`, never 500.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import express from 'express'
import express4 from 'express4'
import Koa from 'koa'

import { EMULATOR_ENDPOINTS } from '../../src/emulator/iam-routes.js'
import { buildExpressApp } from '../express/express-app.js'
import { buildFastifyApp } from '../fastify/fastify-app.js'
import { buildFetchApp } from '../fetch/fetch-app.js'
import { buildHonoApp } from '../hono/hono-app.js'
import { buildKoaApp } from '../koa/koa-app.js'
import { buildNestApp } from '../nestjs/nestjs-app.js'
import { sendCaseRequest, setupScenario, WEB_REDIRECT_URIS } from './harness.js'
import type { BuildApp, BuiltApp, Scenario } from './harness.js'
import type { CaseRequest, RouteSpec } from './cases.js'

const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
const ROUTES: RouteSpec[] = [
  {
    path: '/ns/:namespace/users/:userId',
    methods: ['GET', 'POST'],
    guard: { permission: PERMISSION },
  },
]
const REFERER = `${WEB_REDIRECT_URIS[0]}/page`

/** Requests that each need an IAM answer beyond the keys: role, override, studio, client info. */
const REQUESTS: Record<string, CaseRequest> = {
  namespaceRole: { path: '/ns/sample-namespace/users/role-user-1', token: 'roleNamespace' },
  globalRole: { path: '/ns/sample-namespace/users/role-user-2', token: 'roleGlobal' },
  roleOverride: { path: '/ns/sample-namespace/users/role-user-3', token: 'roleOverride' },
  studio: { path: '/ns/studiogame/users/sample-userid', token: 'studioPermission' },
  cookie: {
    method: 'POST',
    path: '/ns/sample-namespace/users/sample-userid',
    token: 'allowed',
    tokenIn: 'cookie',
    headers: { referer: REFERER },
  },
}

const ADAPTERS: Record<string, BuildApp> = {
  'Express 5': (spec) => buildExpressApp(express, spec),
  'Express 4': (spec) => buildExpressApp(express4, spec),
  Fastify: (spec) => buildFastifyApp(spec),
  fetch: (spec) => buildFetchApp(spec),
  Hono: (spec) => buildHonoApp(spec),
  Koa: (spec) => buildKoaApp(Koa, spec),
  'NestJS on Express': (spec) => buildNestApp('express', spec),
  'NestJS on Fastify': (spec) => buildNestApp('fastify', spec),
}

for (const [adapter, build] of Object.entries(ADAPTERS)) {
  describe(`IAM outage: ${adapter}`, () => {
    let scenario: Scenario
    let app: BuiltApp
    let clock = Date.now()
    const status = async (request: CaseRequest) =>
      (await sendCaseRequest(app.url, request, scenario.tokens)).status

    before(async () => {
      scenario = await setupScenario()
      app = await build({
        options: {
          ...scenario.appOptions('default'),
          now: () => clock,
          // An unreachable IAM is given up on quickly, so a request waits at most this long.
          requestBudgetMs: 300,
          requestTimeoutMs: 200,
        },
        routes: ROUTES,
      })
      await app.ready
    })
    after(async () => {
      for (const endpoint of EMULATOR_ENDPOINTS) scenario.emulator.setFault(endpoint, null)
      await app?.close()
      await scenario?.close()
    })

    test('a 5-minute outage after warm-up costs no request on role, studio or cookie routes', async () => {
      for (const [name, request] of Object.entries(REQUESTS)) {
        assert.equal(await status(request), 200, `warm-up ${name}`)
      }
      for (const endpoint of EMULATOR_ENDPOINTS) {
        scenario.emulator.setFault(endpoint, { status: 503 })
      }
      const start = clock
      while (clock - start < 5 * 60_000) {
        clock += 30_000
        for (const [name, request] of Object.entries(REQUESTS)) {
          assert.equal(await status(request), 200, `${name} at +${(clock - start) / 1000} s`)
        }
      }
      // The IAM was asked (background refreshes), yet every request was answered.
      assert.ok(scenario.emulator.requestCount('role') > 0)
    })

    test('after the outage, a "no" from the IAM replaces the stale "yes"', async () => {
      for (const endpoint of EMULATOR_ENDPOINTS) scenario.emulator.setFault(endpoint, null)
      // Background reloads started during the outage give up within their budget (300 ms).
      await new Promise((resolve) => setTimeout(resolve, 500))
      await scenario.emulator.createRole({ roleId: 'namespace-user-admin', permissions: [] })
      clock += 10 * 60_000 // past every TTL and past the stale window
      assert.equal(await status(REQUESTS.namespaceRole as CaseRequest), 403)
      // A stale window that ran out refuses rather than answering from an old value.
      scenario.emulator.setFault('role', { status: 503 })
      clock += 20 * 60_000
      assert.equal(await status(REQUESTS.globalRole as CaseRequest), 503)
      scenario.emulator.setFault('role', null)
    })

    test('a request after the integration is closed answers 503 ERR_IAM_CLOSED, never 500', async () => {
      await app.closeIntegration()
      const res = await sendCaseRequest(
        app.url,
        REQUESTS.namespaceRole as CaseRequest,
        scenario.tokens,
      )
      assert.equal(res.status, 503)
      assert.equal(res.json?.errorCode, 20000)
    })
  })
}
