// A small service protected by iam-node-sdk's Express integration (Express 5).
//
//   npm run build && npm start          # emulator on :4300, this example on :3000
//
// Imports the package entry points (`iam-node-sdk`, `iam-node-sdk/express`), which resolve to
// dist/ after `npm run build`.
import { URLSearchParams, fileURLToPath } from 'node:url'

import express from 'express'
import { formatPermissionDecision, isIamError, normalizeRequiredPermission } from 'iam-node-sdk'
import { IAM, permissionRequired, tokenRequired, corsOptions } from 'iam-node-sdk/express'

/** Users the page offers (the emulator's demo config). */
export const DEMO_USERS = [
  { username: 'sample-user', password: 'sample-password', label: 'Sample User (allowed)' },
  { username: 'other-user', password: 'other-password', label: 'Other User (denied)' },
]

/**
 * The protected calls the page makes, with their permission and placeholder values: the routes
 * below are built from this table, and `GET /explain` explains a call from it, so the two agree.
 */
export const CALLS = [
  {
    method: 'GET',
    path: '/protected',
    permission: { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
    resources: () => ({ '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' }),
  },
  // Any valid token.
  { method: 'GET', path: '/me', permission: null, resources: () => ({}) },
  // Placeholders from the route: each user may update only themselves.
  {
    method: 'PUT',
    path: '/users/:userId',
    permission: { Action: 4, Resource: 'NAMESPACE:sample-namespace:USER:{userId}' },
    resources: (params) => ({ '{userId}': params.userId }),
  },
]

/** The call of `CALLS` that `method` and `path` reach, with its route parameters. */
function findCall(method, path) {
  for (const call of CALLS) {
    if (call.method !== method) continue
    const names = []
    const pattern = call.path.replace(/:(\w+)/g, (_, name) => (names.push(name), '([^/]+)'))
    const match = new RegExp(`^${pattern}$`).exec(path)
    if (match) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1])]))
      return { call, params }
    }
  }
  return undefined
}

/** The token of a request where the SDK looks for it: the Authorization header, then the cookie. */
function tokenOf(req, cookieName) {
  const header = req.get('authorization')
  if (header?.toLowerCase().startsWith('bearer '))
    return { token: header.slice(7), location: 'header' }
  for (const pair of (req.get('cookie') ?? '').split(';')) {
    const [name, ...value] = pair.trim().split('=')
    if (name === cookieName)
      return { token: decodeURIComponent(value.join('=')), location: 'cookie' }
  }
  return undefined
}

/** The payload of a JWT, decoded without verification (for a token the SDK refused). */
function unverifiedClaims(token) {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
  } catch {
    return null
  }
}

/**
 * What `GET /explain?method=&path=` answers: the token's claims and why the call is allowed or
 * refused, in the SDK's words (`explainPermission`, `formatPermissionDecision`).
 */
async function explainCall(iam, req, method, path) {
  const found = findCall(method, path)
  if (!found) return { status: 404, body: { error: `no protected call ${method} ${path}` } }
  const { call, params } = found
  const permission = call.permission && normalizeRequiredPermission(call.permission)
  const resources = call.resources(params)
  const answer = { call: `${method} ${path}`, permission, resources }
  const located = tokenOf(req, iam.options.tokenCookieName)
  if (!located) {
    return {
      status: 200,
      body: {
        ...answer,
        token: null,
        explanation: ['REFUSED before any permission: no token (HTTP 401). Sign in first.'],
      },
    }
  }
  let claims
  try {
    claims = await iam.client.validateAndParseClaims(located.token)
  } catch (error) {
    if (!isIamError(error)) throw error
    return {
      status: 200,
      body: {
        ...answer,
        token: {
          location: located.location,
          valid: false,
          error: { code: error.code, message: error.message },
          claims: unverifiedClaims(located.token),
        },
        explanation: [
          `REFUSED before any permission: ${error.code}: ${error.message} (HTTP ${error.status})`,
        ],
      },
    }
  }
  const token = { location: located.location, valid: true, claims }
  if (!permission) {
    return {
      status: 200,
      body: { ...answer, token, explanation: ['ALLOWED: this call needs a valid token only'] },
    }
  }
  const decision = await iam.client.explainPermission(claims, permission, resources)
  return {
    status: 200,
    body: { ...answer, token, decision, explanation: formatPermissionDecision(decision) },
  }
}

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

  // The decoded claims and the explanation of a call, for the page (and for curl).
  app.get('/explain', async (req, res, next) => {
    try {
      const method = String(req.query.method ?? 'GET').toUpperCase()
      const { status, body } = await explainCall(iam, req, method, String(req.query.path ?? ''))
      res.status(status).json(body)
    } catch (error) {
      next(error)
    }
  })

  const [protectedCall, meCall, userCall] = CALLS
  // The seed's protected endpoint.
  app.get(
    protectedCall.path,
    permissionRequired(protectedCall.permission, protectedCall.resources(), { csrfProtect: true }),
    (_req, res) => {
      res.send('You have authorized access!')
    },
  )
  // Any valid token; shows what req.iam holds.
  app.get(meCall.path, tokenRequired(), (req, res) => {
    const { claims, tokenLocation } = req.iam
    res.json({
      sub: claims.sub,
      namespace: claims.namespace,
      tokenLocation,
      permissions: claims.permissions,
    })
  })
  // Placeholders from the route: each user may update only themselves.
  app.put(userCall.path, permissionRequired(userCall.permission), (req, res) => {
    res.json({ updated: req.params.userId })
  })
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
