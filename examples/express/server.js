// A small service protected by iam-node-sdk's Express integration (Express 5).
//
//   npm run build && npm start          # emulator on :4300, this example on :3000
//
// Imports the package entry points (`iam-node-sdk`, `iam-node-sdk/express`), which resolve to
// dist/ after `npm run build`.
import { URLSearchParams, fileURLToPath } from 'node:url'

import express from 'express'
import { IAM, permissionRequired, tokenRequired, corsOptions } from 'iam-node-sdk/express'

/** Users the page offers (the emulator's demo config). */
export const DEMO_USERS = [
  { username: 'sample-user', password: 'sample-password', label: 'Sample User (allowed)' },
  { username: 'other-user', password: 'other-password', label: 'Other User (denied)' },
]

/**
 * Builds the example app.
 *
 * @param {object} config
 * @param {string} config.iamBaseUrl IAM base URL (`http://localhost:4300/iam` for the emulator)
 * @param {string} config.clientId confidential client of this service
 * @param {string} config.clientSecret its secret
 * @param {string} [config.webClientId] public client the page signs in with (its redirect URIs
 *   must include this service's origin: CSRF protection checks them)
 * @param {{ username: string, password: string, label: string }[]} [config.users]
 * @returns {{ app: import('express').Express, iam: IAM }}
 */
export function createExampleApp({
  iamBaseUrl,
  clientId,
  clientSecret,
  webClientId = 'sample-web-client',
  users = DEMO_USERS,
}) {
  const app = express()
  // Configuration as the seed's Flask page: settings with the IAM_* names.
  app.set('IAM_BASE_URL', iamBaseUrl)
  app.set('IAM_CLIENT_ID', clientId)
  app.set('IAM_CLIENT_SECRET', clientSecret)
  app.set('IAM_TOKEN_LOCATIONS', ['headers', 'cookies'])
  app.set('IAM_CSRF_PROTECTION', true)
  const iam = new IAM(app)

  app.use(express.json())
  app.use(express.static(fileURLToPath(new URL('./public/', import.meta.url))))
  app.get('/users', (_req, res) => {
    res.json(users.map(({ username, label }) => ({ username, label })))
  })

  // Sign in through the IAM's password grant; the token goes into an HttpOnly cookie.
  app.post('/login', async (req, res) => {
    const user = users.find((u) => u.username === req.body?.username)
    if (!user) return void res.status(400).json({ error: 'unknown user' })
    const answer = await fetch(`${iamBaseUrl}/v3/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: user.username,
        password: user.password,
        client_id: webClientId,
      }),
    })
    const body = await answer.json()
    if (!answer.ok) return void res.status(502).json({ error: 'sign-in failed', iam: body })
    res.cookie(iam.options.tokenCookieName, body.access_token, {
      httpOnly: true,
      sameSite: 'lax',
      path: iam.options.tokenCookiePath,
      maxAge: body.expires_in * 1000,
    })
    res.json({ signedIn: user.username })
  })
  app.post('/logout', (_req, res) => {
    res.clearCookie(iam.options.tokenCookieName, { path: iam.options.tokenCookiePath })
    res.json({ signedIn: null })
  })

  // The seed's protected endpoint.
  app.get(
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
  // Any valid token; shows what req.iam holds.
  app.get('/me', tokenRequired(), (req, res) => {
    const { claims, tokenLocation } = req.iam
    res.json({
      sub: claims.sub,
      namespace: claims.namespace,
      tokenLocation,
      permissions: claims.permissions,
    })
  })
  // Placeholders from the route: each user may update only themselves.
  app.put(
    '/users/:userId',
    permissionRequired({ Action: 4, Resource: 'NAMESPACE:sample-namespace:USER:{userId}' }),
    (req, res) => {
      res.json({ updated: req.params.userId })
    },
  )
  // The seed's CORS endpoint.
  const cors = corsOptions({
    'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
  })
  app.options('/cors', cors)
  app.get('/cors', cors, (_req, res) => {
    res.send('You access a CORS page!')
  })
  return { app, iam }
}

/**
 * Starts the example on `port` (default 3000) and waits until the IAM integration is ready.
 *
 * @param {Parameters<typeof createExampleApp>[0] & { port?: number, host?: string }} config
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function startExample({ port = 3000, host = 'localhost', ...config }) {
  const { app, iam } = createExampleApp(config)
  await iam.ready
  const server = app.listen(port, host)
  await new Promise((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const address = server.address()
  return {
    url: `http://localhost:${address.port}`,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await iam.close()
    },
  }
}
