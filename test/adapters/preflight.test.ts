/**
 * App-wide CORS preflights for a path that has routes but no OPTIONS route: Express answers them
 * automatically with the path's methods; the Fastify plugin and the Koa middleware (here without
 * `router.allowedMethods()`) must answer the same way, and leave a path nothing serves a 404.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import Router from '@koa/router'
import Koa from 'koa'
import { IAM } from '../../src/express/index.js'
import { iamPlugin } from '../../src/fastify/index.js'
import { createIam } from '../../src/koa/index.js'
import { listenKoa } from '../koa/koa-app.js'
import { emulator } from '../support/iam.js'
import type { Emulator } from '../../src/emulator/index.js'

const ORIGIN = 'http://front.example'

describe('app-wide CORS preflight for a path without an OPTIONS route', () => {
  let iam: Emulator
  const urls: Record<string, string> = {}
  const closers: Array<() => Promise<unknown>> = []
  before(async () => {
    iam = await emulator()
    const options = {
      baseUrl: iam.baseUrl,
      clientId: iam.clientId,
      clientSecret: iam.clientSecret,
      corsEnable: true,
      corsOrigin: ORIGIN,
      logger: {},
    }
    const ex = express()
    const exIam = new IAM(ex, options)
    ex.get('/items/:id', (_req, res) => res.send('ok'))
    ex.post('/items/:id', (_req, res) => res.send('ok'))
    await exIam.ready
    const server = ex.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    urls.express = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    closers.push(
      () => new Promise((resolve) => server.close(resolve)),
      () => exIam.close(),
    )

    const fa = Fastify()
    await fa.register(iamPlugin, options)
    fa.get('/items/:id', async () => 'ok')
    fa.post('/items/:id', async () => 'ok')
    urls.fastify = await fa.listen({ port: 0, host: '127.0.0.1' })
    closers.push(() => fa.close())

    const koaIam = createIam(options)
    const koa = new Koa()
    koa.use(koaIam.middleware())
    const router = new Router()
    router.get('/items/:id', (ctx) => void (ctx.body = 'ok'))
    router.post('/items/:id', (ctx) => void (ctx.body = 'ok'))
    koa.use(router.routes())
    await koaIam.ready
    const listening = await listenKoa(koa)
    urls.koa = listening.url
    closers.push(
      () => new Promise((resolve) => listening.server.close(resolve)),
      () => koaIam.close(),
    )
  })
  after(async () => {
    for (const close of closers) await close()
    await iam.close()
  })

  const preflight = (base: string, path: string) =>
    fetch(base + path, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    })

  for (const framework of ['express', 'fastify', 'koa']) {
    it(`${framework}: 200 with the path's methods, the origin reflected`, async () => {
      const res = await preflight(urls[framework] as string, '/items/42?x=1')
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN)
      const methods = (res.headers.get('access-control-allow-methods') ?? '').split(', ').sort()
      assert.deepEqual(methods, ['GET', 'HEAD', 'OPTIONS', 'POST'])
    })

    it(`${framework}: a path nothing serves stays a 404`, async () => {
      const res = await preflight(urls[framework] as string, '/nothing-here')
      assert.equal(res.status, 404)
    })
  }
})
