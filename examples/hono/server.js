// A small Hono service on Node protected by iam-node-sdk's Hono adapter, against the emulator.
//
//   npm run build && node examples/hono/server.js   # emulator on a free port, app on :3002
//
// Imports the package entry points (`iam-node-sdk/hono`, `iam-node-sdk/emulator`), which resolve
// to dist/ after `npm run build`. Run directly, it starts the emulator, then the app, and prints
// curl lines with tokens for an allowed and a denied user.
import { fileURLToPath } from 'node:url'

import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { startEmulator } from 'iam-node-sdk/emulator'
import { IamHttpException, createIam } from 'iam-node-sdk/hono'

/**
 * Builds the example: the Hono app and its integration.
 *
 * @param {{ iamBaseUrl: string, clientId: string, clientSecret: string }} config
 */
export function createHonoExample({ iamBaseUrl, clientId, clientSecret }) {
  // Same option names as Express; IAM_* environment variables fill what is not given.
  const iam = createIam({
    baseUrl: iamBaseUrl,
    clientId,
    clientSecret,
    corsEnable: true,
    corsOrigin: 'http://localhost:8080',
  })
  const app = new Hono()
  // App-wide CORS; with the app, preflights of paths served by other methods are answered.
  app.use(iam.middleware({ app }))

  // The seed's protected endpoint.
  app.get(
    '/protected',
    iam.permissionRequired(
      { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
      { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
      { csrfProtect: true },
    ),
    (c) => c.text('You have authorized access!'),
  )
  // Any valid token; shows what the context holds (`c.var.iam`, typed).
  app.get('/me', iam.tokenRequired(), (c) => {
    const { claims, tokenLocation } = c.var.iam
    return c.json({ sub: claims.sub, namespace: claims.namespace, tokenLocation })
  })
  // Placeholders from Hono's route parameters: each user may update only themselves.
  app.put(
    '/users/:userId',
    iam.permissionRequired({ Action: 4, Resource: 'NAMESPACE:sample-namespace:USER:{userId}' }),
    (c) => c.json({ updated: c.req.param('userId') }),
  )
  // Readiness probe.
  app.get('/healthz/iam', iam.healthHandler())
  // Refusals arrive here as an HTTPException whose response is the wire answer.
  app.onError((err, c) =>
    err instanceof IamHttpException ? err.getResponse() : c.text('internal error', 500),
  )
  return { app, iam, fetch: app.fetch }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const emulator = await startEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) })
  const { iam, fetch } = createHonoExample({
    iamBaseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
  })
  await iam.ready // token granted, JWKS and revocation list loaded
  const port = Number(process.env.PORT ?? 3002)
  const server = serve({ fetch, port, hostname: '127.0.0.1' })
  const url = `http://127.0.0.1:${port}`
  const allowed = await emulator.issueUserToken({
    sub: 'sample-userid',
    namespace: 'sample-namespace',
    permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
  })
  const denied = await emulator.issueUserToken({
    sub: 'other-userid',
    namespace: 'sample-namespace',
  })
  console.log(`
IAM emulator   ${emulator.baseUrl}
Hono app       ${url}

Allowed user (sample-userid), expect 200 "You have authorized access!":
  curl -i -H "Authorization: Bearer ${allowed}" ${url}/protected

Denied user (other-userid), expect 403 with errorCode 20013:
  curl -i -H "Authorization: Bearer ${denied}" ${url}/protected

No token, expect 401 with errorCode 20001:
  curl -i ${url}/protected

Route placeholder, expect 200 for sample-userid and 403 for anyone else:
  curl -i -X PUT -H "Authorization: Bearer ${allowed}" ${url}/users/sample-userid

CORS preflight from the allowed origin, expect 200 with Access-Control-Allow-Origin:
  curl -i -X OPTIONS -H "Origin: http://localhost:8080" -H "Access-Control-Request-Method: PUT" ${url}/users/sample-userid

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
