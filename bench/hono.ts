/**
 * Hono 4 suite on Node (`@hono/node-server`; `npm run bench -- hono`): the SDK's native Hono
 * middleware against the bare framework and against Hono's own `hono/jwk`, each server in its own
 * process:
 *
 * - `bare`: Hono alone (the baseline).
 * - `sdk`: `createIam(options)` from `iam-node-sdk/hono`, `app.use(iam.middleware({ app }))` as
 *   its README sets it up, and `iam.permissionRequired(...)` on the route.
 * - `honoJwk`: `jwk({ keys, alg: ['RS256'], verification: { iss, aud } })` with the keys fetched
 *   once at start, then the permission claim. With `jwks_uri` instead of `keys`, hono/jwk fetches
 *   the JWKS on every request (no cache): not a setup anyone would run under load.
 */
import { AUDIENCE, grantsBenchPermission, PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { serveFetchHandler } from './measure.js'
import type { HttpSuite } from './measure.js'

type HonoApp = import('hono').Hono

/** A Hono app on @hono/node-server with `/health`; `protect` adds the protected route. */
async function serveHono(protect?: (app: HonoApp) => Promise<void>): Promise<string> {
  const { Hono } = await import('hono')
  const app = new Hono()
  await protect?.(app)
  app.get('/health', (c) => c.text('ok'))
  app.get('/protected', (c) => c.text('ok'))
  app.get('/noop', (c) => c.text('ok'))
  return serveFetchHandler(app.fetch)
}

/** Where hono/jwk puts the verified payload (`c.var.jwtPayload`, untyped on a plain app). */
const jwtPayload = (vars: object) => (vars as { jwtPayload?: unknown }).jwtPayload

export const suite: HttpSuite = {
  name: 'hono',
  title: 'Hono 4 (@hono/node-server)',
  servers: {
    bare: {
      label: 'Hono',
      bare: true,
      controlRoutes: [{ path: '/noop', label: 'a no-op middleware (control)' }],
      start: () =>
        serveHono(async (app) => {
          app.use('/noop', async (_c, next) => {
            await next()
          })
        }),
    },
    sdk: {
      label: 'iam-node-sdk',
      cannotRefuse: { audience: 'IAM access tokens are not audience-bound; the SDK checks none' },
      start: (context: ServerContext) =>
        serveHono(async (app) => {
          const { createIam } = await import('iam-node-sdk/hono')
          const iam = createIam(sdkOptions(context))
          app.use(iam.middleware({ app }))
          app.use('/protected', iam.permissionRequired(PERMISSION, resources(context)))
          await iam.ready
        }),
    },
    honoJwk: {
      label: 'hono/jwk, keys given once',
      start: (context: ServerContext) =>
        serveHono(async (app) => {
          const { jwk } = await import('hono/jwk')
          const { keys } = (await (await fetch(context.jwksUrl)).json()) as {
            keys: Parameters<typeof jwk>[0]['keys']
          }
          app.use(
            '/protected',
            jwk({ keys, alg: ['RS256'], verification: { iss: context.issuer, aud: AUDIENCE } }),
            async (c, next) => {
              if (!grantsBenchPermission(jwtPayload(c.var), context.namespace))
                return c.text('forbidden', 403)
              await next()
            },
          )
        }),
    },
  },
}
