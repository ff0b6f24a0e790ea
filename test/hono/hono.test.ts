/**
 * Hono on Node (`@hono/node-server`) with the native adapter (`iam-node-sdk/hono`): the whole
 * case table, Hono's router supplying route parameters, plus Hono specifics (`c.var.iam`,
 * refusals as `HTTPException` seen by `app.onError`, reshaping into problem+json).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'

import { IamError, IamHttpException, createIam } from '../../src/hono/index.js'
import type { HonoIam } from '../../src/hono/index.js'
import { buildHonoApp, listen } from './hono-app.js'
import {
  forPathResolvingServer,
  runCaseTable,
  sendCaseRequest,
  setupScenario,
} from '../adapters/harness.js'
import type { CaseResponse, Scenario } from '../adapters/harness.js'
import { CASES } from '../adapters/cases.js'
import type { CaseRequest } from '../adapters/cases.js'

// @hono/node-server answers 400 to a Host header with upper-case letters before the app runs
// (its host check compares the lower-cased URL host with the raw header): that row is left out.
// A web `Request` URL has its `.` and `..` segments resolved before any router sees it.
runCaseTable(
  'Hono on Node (iam-node-sdk/hono)',
  buildHonoApp,
  CASES.filter((row) => row.name !== 'host label compared case-insensitively, port ignored').map(
    forPathResolvingServer,
  ),
)

describe('Hono specifics', () => {
  let scenario: Scenario
  let iam: HonoIam
  let send: (request: CaseRequest) => Promise<CaseResponse>
  let close: () => Promise<void>
  const seen: unknown[] = []
  before(async () => {
    scenario = await setupScenario()
    const { logger: _silent, ...options } = scenario.appOptions('default')
    iam = createIam({ ...options, logger: {} })
    const app = new Hono()
    const permission = { action: 4, resource: 'NAMESPACE:{namespace}:USER:{userId}' }
    app.get('/ns/:namespace/users/:userId', iam.permissionRequired(permission), (c) =>
      c.json({ sub: c.var.iam.claims.sub, params: c.req.param() }),
    )
    app.get('/problem/:namespace/users/:userId', iam.permissionRequired(permission), (c) =>
      c.text('x'),
    )
    app.get('/health', iam.healthHandler())
    app.onError((err, c) => {
      seen.push(err)
      // RFC 9457 problem+json for refusals, keeping WWW-Authenticate; others as Hono would.
      if (c.req.path.startsWith('/problem') && err instanceof HTTPException) {
        const cause = err.cause as IamError
        return c.json(
          { type: `urn:iam:${cause.code}`, title: cause.message, status: cause.status },
          cause.status as 403,
          { 'content-type': 'application/problem+json', ...cause.headers },
        )
      }
      return err instanceof HTTPException ? err.getResponse() : c.text('oops', 500)
    })
    await iam.ready
    const server = await listen(app)
    close = server.close
    send = (request) => sendCaseRequest(server.url, request, scenario.tokens)
  })
  after(async () => {
    await close?.()
    await iam?.close()
    await scenario?.close()
  })

  test("route parameters from Hono's router fill the placeholders; c.var.iam is typed", async () => {
    const ok = await send({ path: '/ns/sample-namespace/users/sample-userid', token: 'allowed' })
    assert.deepEqual(
      [ok.status, ok.json],
      [
        200,
        {
          sub: 'sample-userid',
          params: { namespace: 'sample-namespace', userId: 'sample-userid' },
        },
      ],
    )
    const other = await send({ path: '/ns/sample-namespace/users/other-userid', token: 'allowed' })
    assert.equal(other.status, 403)
    assert.equal(other.json?.errorCode, 20013)
    assert.match(String(other.headers['www-authenticate']), /insufficient_scope/)
  })

  test('a refusal reaches app.onError as an HTTPException whose cause is the IamError', async () => {
    seen.length = 0
    const missing = await send({ path: '/ns/sample-namespace/users/sample-userid' })
    assert.equal(missing.status, 401)
    assert.equal(missing.json?.errorCode, 20001)
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="iam"')
    const error = seen[0] as IamHttpException
    assert.ok(error instanceof HTTPException)
    assert.ok(error instanceof IamHttpException)
    assert.ok(error.cause instanceof IamError)
    assert.equal(error.iamError.code, 'ERR_IAM_TOKEN_MISSING')
  })

  test('onError can turn refusals into problem+json and keep WWW-Authenticate', async () => {
    const res = await send({ path: '/problem/sample-namespace/users/x', token: 'denied' })
    assert.equal(res.status, 403)
    assert.match(String(res.headers['content-type']), /application\/problem\+json/)
    assert.match(String(res.headers['www-authenticate']), /insufficient_scope/)
    assert.equal(JSON.parse(res.text).type, 'urn:iam:ERR_IAM_INSUFFICIENT_PERMISSIONS')
  })

  test('health handler', async () => {
    const res = await send({ path: '/health' })
    assert.equal(res.status, 200)
    assert.equal(res.json?.status, 'ready')
  })
})
