// A small service protected by iam-node-sdk's Fastify plugin (Fastify 5), against the emulator.
//
//   npm run build && node examples/fastify/server.js   # emulator on a free port, app on :3001
//
// Imports the package entry points (`iam-node-sdk/fastify`, `iam-node-sdk/emulator`), which
// resolve to dist/ after `npm run build`. Run directly, it starts the emulator, then the app, and
// prints curl lines with tokens for an allowed and a denied user.
import { fileURLToPath } from 'node:url'

import Fastify from 'fastify'
import { startEmulator } from 'iam-node-sdk/emulator'
import { corsOptions, iamPlugin, permissionRequired, tokenRequired } from 'iam-node-sdk/fastify'

/**
 * Builds the example app (registered, not started).
 *
 * @param {{ iamBaseUrl: string, clientId: string, clientSecret: string }} config
 * @returns {Promise<import('fastify').FastifyInstance>}
 */
export async function createFastifyExample({ iamBaseUrl, clientId, clientSecret }) {
  const app = Fastify()
  // Same option names as Express; IAM_* environment variables fill what is not given.
  await app.register(iamPlugin, {
    baseUrl: iamBaseUrl,
    clientId,
    clientSecret,
    tokenLocations: ['headers', 'cookies'],
    csrfProtection: true,
  })

  // The seed's protected endpoint.
  app.get(
    '/protected',
    {
      preHandler: permissionRequired(
        { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
        { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
        { csrfProtect: true },
      ),
    },
    async () => 'You have authorized access!',
  )
  // Any valid token; shows what request.iam holds.
  app.get('/me', { preHandler: tokenRequired() }, async (request) => {
    const { claims, tokenLocation } = request.iam
    return { sub: claims.sub, namespace: claims.namespace, tokenLocation }
  })
  // Placeholders from the route: each user may update only themselves.
  app.put(
    '/users/:userId',
    {
      preHandler: permissionRequired({
        Action: 4,
        Resource: 'NAMESPACE:sample-namespace:USER:{userId}',
      }),
    },
    async (request) => ({ updated: request.params.userId }),
  )
  // The seed's CORS endpoint: the hook on the route, and the handler of its OPTIONS.
  const cors = corsOptions({
    'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
  })
  app.options('/cors', cors)
  app.get('/cors', { onRequest: cors }, async () => 'You access a CORS page!')
  return app
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const emulator = await startEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) })
  const app = await createFastifyExample({
    iamBaseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
  })
  // listen() waits for the plugin's onReady: token granted, JWKS and revocation list loaded.
  const url = await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' })
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
Fastify app    ${url}

Allowed user (sample-userid), expect 200 "You have authorized access!":
  curl -i -H "Authorization: Bearer ${allowed}" ${url}/protected

Denied user (other-userid), expect 403 with errorCode 20013:
  curl -i -H "Authorization: Bearer ${denied}" ${url}/protected

No token, expect 401 with errorCode 20001:
  curl -i ${url}/protected

Route placeholder, expect 200 for sample-userid and 403 for anyone else:
  curl -i -X PUT -H "Authorization: Bearer ${allowed}" ${url}/users/sample-userid

CORS preflight, expect 200 with Access-Control-Allow-Headers:
  curl -i -X OPTIONS -H "Origin: http://localhost" ${url}/cors

Ctrl-C to stop.`)
  const stop = async () => {
    await app.close() // closes the IAM client too (onClose)
    await emulator.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
