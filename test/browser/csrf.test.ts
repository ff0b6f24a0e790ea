/**
 * CSRF protection end to end in a real headless Chromium (Debian's `chromium`, driven by
 * `playwright-core`). Two sites: the application on `http://127.0.0.1:PORT` (its client's
 * redirect URI) and an attacker page on `http://localhost:PORT2`.
 *
 * The browser is made as permissive as a real user's can be (third-party cookies allowed, token
 * cookie `SameSite=None`), so the cookie does reach the application on cross-site requests and
 * only the SDK's Referer/Origin check stands between the attacker and the endpoint; each test
 * checks on the server side that the cookie was sent.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'

import express from 'express'
import { chromium } from 'playwright-core'
import type { BrowserContext, Page } from 'playwright-core'

import { startEmulator } from '../../src/emulator/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import { IAM, corsOptions, permissionRequired } from '../../src/express/index.js'

const CHROMIUM = '/usr/bin/chromium'
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const skip = existsSync(CHROMIUM)
  ? false
  : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`

/** What the application saw of one request. */
interface Seen {
  method: string
  path: string
  origin: string | undefined
  cookie: boolean
  status: number
  errorCode: number | undefined
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return (server.address() as AddressInfo).port
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('CSRF in a real browser (headless Chromium)', { skip, timeout: 120_000 }, () => {
  let emulator: Emulator
  let iam: IAM
  let appServer: Server
  let attackerServer: Server
  let context: BrowserContext
  let profileDir: string
  let app = ''
  let attacker = ''
  const seen: Seen[] = []

  before(async () => {
    emulator = await startEmulator({ port: 0 })
    // The attacker's site: pages that post to the application.
    attackerServer = createServer((req, res) => {
      const pages: Record<string, string> = {
        '/form': `<form id="f" method="POST" action="${app}/protected"><input name="a" value="b"></form>
                  <script>document.getElementById('f').submit()</script>`,
        '/fetch': `<script>fetch('${app}/protected', { method: 'POST', credentials: 'include', mode: 'no-cors' })
                  .then(() => { window.done = 'sent' }, (e) => { window.done = 'error ' + e })</script>`,
        '/cors': `<script>fetch('${app}/cors', { method: 'PUT', headers: { 'Device-Id': 'd1' } })
                  .then((r) => r.text()).then((t) => { window.result = t }, (e) => { window.result = 'error ' + e })</script>`,
      }
      res.setHeader('content-type', 'text/html')
      res.end(`<!doctype html><html><body>${pages[req.url ?? ''] ?? 'attacker'}</body></html>`)
    })
    const attackerPort = await listen(attackerServer, '127.0.0.1')
    attacker = `http://localhost:${attackerPort}`

    const web = express()
    appServer = createServer(web)
    const appPort = await listen(appServer, '127.0.0.1')
    app = `http://127.0.0.1:${appPort}`
    // The browser app's client: its redirect URI is the application's own origin.
    await emulator.createClient({
      clientId: 'browser-app',
      clientSecret: '',
      namespace: 'sample-namespace',
      redirectUri: `${app}/app`,
    })
    const token = await emulator.issueUserToken({
      client_id: 'browser-app',
      namespace: 'sample-namespace',
      sub: 'sample-userid',
      permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
    })

    iam = new IAM(web, {
      baseUrl: emulator.baseUrl,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      logger: {},
    })
    web.use((req, res, next) => {
      const entry: Seen = {
        method: req.method,
        path: req.path,
        origin: req.headers.origin,
        cookie: /(^|;\s*)access_token=/.test(req.headers.cookie ?? ''),
        status: 0,
        errorCode: undefined,
      }
      const json = res.json.bind(res)
      res.json = (body: { errorCode?: number }) => {
        entry.errorCode = body?.errorCode
        return json(body)
      }
      res.on('finish', () => {
        entry.status = res.statusCode
        seen.push(entry)
      })
      next()
    })
    web.get('/app/login', (_req, res) => {
      res.setHeader('Set-Cookie', `access_token=${token}; Path=/; HttpOnly; Secure; SameSite=None`)
      res.redirect('/app/page')
    })
    web.get('/app/page', (_req, res) => {
      res.type('html').send('<!doctype html><html><body>app page</body></html>')
    })
    web.post(
      '/protected',
      permissionRequired(
        { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
        { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
        { csrfProtect: true },
      ),
      (_req, res) => {
        res.send('You have authorized access!')
      },
    )
    const cors = corsOptions({
      'Access-Control-Allow-Origin': attacker,
      'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
      'Access-Control-Allow-Methods': ['GET', 'PUT'],
    })
    web.options('/cors', cors)
    web.put('/cors', cors, (_req, res) => {
      res.send('You access a CORS page!')
    })
    await iam.ready

    // A profile that allows third-party cookies: the worst case for CSRF.
    profileDir = mkdtempSync(join(tmpdir(), 'iam-chromium-'))
    mkdirSync(join(profileDir, 'Default'))
    writeFileSync(
      join(profileDir, 'Default', 'Preferences'),
      JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
    )
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
    })
    const page = await context.newPage()
    await page.goto(`${app}/app/login`)
    assert.equal(page.url(), `${app}/app/page`)
    await page.close()
  })

  after(async () => {
    await context?.close()
    if (profileDir) rmSync(profileDir, { recursive: true, force: true })
    appServer?.closeAllConnections()
    attackerServer?.closeAllConnections()
    await new Promise((resolve) => appServer?.close(resolve))
    await new Promise((resolve) => attackerServer?.close(resolve))
    await iam?.close()
    await emulator?.close()
  })

  async function withPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
    const page = await context.newPage()
    try {
      return await fn(page)
    } finally {
      await page.close()
    }
  }

  test('a page of the application, token in a cookie, calls the endpoint: 200', async () => {
    const result = await withPage(async (page) => {
      await page.goto(`${app}/app/page`)
      return page.evaluate(async () => {
        const r = await fetch('/protected', { method: 'POST' })
        return { status: r.status, text: await r.text() }
      })
    })
    assert.deepEqual(result, { status: 200, text: 'You have authorized access!' })
    const entry = seen.findLast((s) => s.method === 'POST' && s.path === '/protected')
    assert.equal(entry?.cookie, true)
    assert.equal(entry?.origin, app)
  })

  test('a cross-site form POST from another origin: 401 / 20023', async () => {
    const body = await withPage(async (page) => {
      await Promise.all([page.waitForURL(`${app}/protected`), page.goto(`${attacker}/form`)])
      return JSON.parse((await page.textContent('body')) ?? '{}') as { errorCode?: number }
    })
    assert.equal(body.errorCode, 20023)
    const entry = seen.findLast((s) => s.path === '/protected' && s.origin === attacker)
    assert.deepEqual(
      { cookie: entry?.cookie, status: entry?.status, errorCode: entry?.errorCode },
      { cookie: true, status: 401, errorCode: 20023 },
    )
  })

  test('a credentialed fetch from another origin: 401 / 20023', async () => {
    const before = seen.length
    await withPage(async (page) => {
      await page.goto(`${attacker}/fetch`)
      await page.waitForFunction(() => (window as unknown as { done?: string }).done !== undefined)
    })
    const entry = await until('the cross-site fetch', () =>
      seen.slice(before).find((s) => s.path === '/protected' && s.origin === attacker),
    )
    assert.deepEqual(
      { cookie: entry.cookie, status: entry.status, errorCode: entry.errorCode },
      { cookie: true, status: 401, errorCode: 20023 },
    )
  })

  test('a CORS preflight from an allowed origin passes, and so does the request', async () => {
    const before = seen.length
    const result = await withPage(async (page) => {
      await page.goto(`${attacker}/cors`)
      await page.waitForFunction(
        () => (window as unknown as { result?: string }).result !== undefined,
      )
      return page.evaluate(() => (window as unknown as { result: string }).result)
    })
    assert.equal(result, 'You access a CORS page!')
    const calls = seen.slice(before).filter((s) => s.path === '/cors')
    assert.deepEqual(
      calls.map((s) => [s.method, s.status]),
      [
        ['OPTIONS', 200],
        ['PUT', 200],
      ],
    )
  })
})
