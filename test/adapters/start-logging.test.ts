/**
 * Failing loudly, once: a service whose client secret is wrong (and which does not await `ready`)
 * logs the root cause at error level at once, answers 503 while logging that at most once a
 * minute, and logs once more, at info level, when it recovers. On every adapter.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import express from 'express'

import { buildExpressApp } from '../express/express-app.js'
import { buildFastifyApp } from '../fastify/fastify-app.js'
import { buildFetchApp } from '../fetch/fetch-app.js'
import { sendCaseRequest, setupScenario } from './harness.js'
import type { BuildApp, BuiltApp, Scenario } from './harness.js'
import { memoryLogger } from '../support/iam.js'

const ADAPTERS: Record<string, BuildApp> = {
  Express: (spec) => buildExpressApp(express, spec),
  'Fastify (awaitReady: false)': (spec) => buildFastifyApp(spec, { awaitReady: false }),
  fetch: (spec) => buildFetchApp(spec),
}

for (const [adapter, build] of Object.entries(ADAPTERS)) {
  describe(`a failed start is logged once, with its cause: ${adapter}`, () => {
    let scenario: Scenario
    let app: BuiltApp
    let clock = Date.now()
    const logger = memoryLogger()
    before(async () => {
      scenario = await setupScenario()
      app = await build({
        options: {
          ...scenario.appOptions('default'),
          clientSecret: 'not-the-secret',
          logger,
          now: () => clock,
        },
        routes: [{ path: '/me', methods: ['GET'], guard: {} }],
      })
      app.ready.catch(() => undefined) // not awaited, as the README allows
    })
    after(async () => {
      await app?.close()
      await scenario?.close()
    })

    const me = () => sendCaseRequest(app.url, { path: '/me', token: 'allowed' }, scenario.tokens)

    test('error at once with the root cause; 503s; warned at most once a minute', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await me()).status, 503)
      const errors = logger.entries.filter((e) => e.level === 'error')
      assert.equal(errors.length, 1)
      assert.equal(errors[0]?.details.code, 'ERR_IAM_CLIENT_UNAUTHORIZED')
      assert.equal(logger.entries.filter((e) => e.message.startsWith('answering 503')).length, 0)
      clock += 61_000
      for (let i = 0; i < 5; i++) assert.equal((await me()).status, 503)
      assert.equal(logger.entries.filter((e) => e.level === 'error').length, 1)
      assert.equal(logger.entries.filter((e) => e.message.startsWith('answering 503')).length, 1)
    })

    test('logged again, once, at info level when the start succeeds', async () => {
      // The IAM now accepts this secret (an operator fixed the client).
      await scenario.emulator.createClient({
        clientId: scenario.emulator.clientId,
        clientSecret: 'not-the-secret',
        namespace: scenario.emulator.publisherNamespace,
      })
      clock += 61_000
      let status = 0
      for (let i = 0; i < 40 && status !== 200; i++) {
        status = (await me()).status
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
        clock += 6_000
      }
      assert.equal(status, 200)
      const started = logger.entries.filter(
        (e) => e.level === 'info' && /started after/.test(e.message),
      )
      assert.equal(started.length, 1)
    })
  })
}
