// A small Koa service with @koa/router, protected by iam-node-sdk's Koa integration, against the
// emulator.
//
//   npm run build && node examples/koa/server.js   # emulator on a free port, app on :3003
//
// Imports the package entry points (`iam-node-sdk/koa`, `iam-node-sdk/emulator`), which resolve
// to dist/ after `npm run build`. Run directly, it starts the emulator, then the app, makes an
// allowed and a refused call and prints their answers, then prints curl lines to try more.
import { fileURLToPath } from 'node:url'

import Router from '@koa/router'
import { startEmulator } from 'iam-node-sdk/emulator'
import { IamError, createIam, requireIam } from 'iam-node-sdk/koa'
import Koa from 'koa'

/**
 * Builds the example app and its IAM integration.
 *
 * @param {{ iamBaseUrl: string, clientId: string, clientSecret: string }} config
 * @returns {{ app: Koa, iam: import('iam-node-sdk/koa').KoaIam }}
 */
export function createKoaExample({ iamBaseUrl, clientId, clientSecret }) {
  // Same option names as Express; IAM_* environment variables fill what is not given.
  const iam = createIam({
    baseUrl: iamBaseUrl,
    clientId,
    clientSecret,
    corsEnable: true,
    corsOrigin: 'http://localhost:8080',
  })
  const app = new Koa()
  // First: renders refusals nobody reshaped as the wire JSON, and adds the app-wide CORS headers.
  app.use(iam.middleware())
  // The app's own error handling sees every refusal: here the /v2 API answers RFC 9457 problems.
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      if (!(error instanceof IamError) || !ctx.path.startsWith('/v2/')) throw error
      ctx.set({ ...error.headers }) // keeps WWW-Authenticate (and Retry-After on a 503)
      ctx.status = error.status
      ctx.body = { type: 'about:blank', title: error.body.errorMessage, status: error.status }
      ctx.type = 'application/problem+json'
    }
  })

  const router = new Router()
  const protectedPage = iam.permissionRequired(
    { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
    { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
  )
  // The seed's protected endpoint, and the same under the problem+json API.
  router.get('/protected', protectedPage, (ctx) => {
    ctx.body = 'You have authorized access!'
  })
  router.get('/v2/protected', protectedPage, (ctx) => {
    ctx.body = { message: 'You have authorized access!' }
  })
  // Any valid token; shows what ctx.state.iam holds.
  router.get('/me', iam.tokenRequired(), (ctx) => {
    const { claims, tokenLocation } = requireIam(ctx)
    ctx.body = { sub: claims.sub, namespace: claims.namespace, tokenLocation }
  })
  // Placeholders from the route: each user may update only themselves.
  router.put(
    '/users/:userId',
    iam.permissionRequired({ Action: 4, Resource: 'NAMESPACE:sample-namespace:USER:{userId}' }),
    (ctx) => {
      ctx.body = { updated: ctx.params.userId }
    },
  )
  // The seed's CORS endpoint: on the route, and on its OPTIONS, which it answers.
  const cors = iam.corsOptions({
    'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
  })
  router.options('/cors', cors)
  router.get('/cors', cors, (ctx) => {
    ctx.body = 'You access a CORS page!'
  })
  router.get('/healthz', iam.healthHandler())
  app.use(router.routes()).use(router.allowedMethods())
  return { app, iam }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const emulator = await startEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) })
  const { app, iam } = createKoaExample({
    iamBaseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
  })
  await iam.ready // token granted, JWKS and revocation list loaded (rejects if the IAM is down)
  const port = Number(process.env.PORT ?? 3003)
  const server = app.listen(port, '127.0.0.1')
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject))
  const url = `http://127.0.0.1:${server.address().port}`
  const allowed = await emulator.issueUserToken({
    sub: 'sample-userid',
    namespace: 'sample-namespace',
    permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
  })
  const denied = await emulator.issueUserToken({
    sub: 'other-userid',
    namespace: 'sample-namespace',
  })

  /** Calls the app and prints the answer's status, `WWW-Authenticate` and body. */
  async function show(label, path, token) {
    const answer = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } })
    const challenge = answer.headers.get('www-authenticate')
    console.log(`${label}: GET ${path} -> ${answer.status}`)
    if (challenge) console.log(`  WWW-Authenticate: ${challenge}`)
    console.log(`  ${answer.headers.get('content-type')}  ${await answer.text()}`)
  }
  console.log(`IAM emulator   ${emulator.baseUrl}\nKoa app        ${url}\n`)
  await show('Allowed user (sample-userid)', '/protected', allowed)
  await show('Refused user (other-userid)', '/protected', denied)
  await show('Refused user, problem+json API', '/v2/protected', denied)
  console.log(`
Try more:
  curl -i -H "Authorization: Bearer ${allowed}" ${url}/me
  curl -i ${url}/protected                                   # no token: 401 / 20001
  curl -i -X PUT -H "Authorization: Bearer ${allowed}" ${url}/users/other-userid   # 403
  curl -i -X OPTIONS -H "Origin: http://localhost:8080" -H "Access-Control-Request-Method: GET" ${url}/cors
  curl -i ${url}/healthz

Ctrl-C to stop.`)
  const stop = async () => {
    server.close()
    await iam.close()
    await emulator.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
