/**
 * Koa 3 suite (`npm run bench -- koa`, with @koa/router): the SDK's Koa middleware against the
 * bare framework and against koa-jwt with jwks-rsa's `koaJwtSecret` (the pairing koa-jwt's README
 * shows for a JWKS), each server in its own process:
 *
 * - `bare`: Koa and @koa/router alone (the baseline).
 * - `sdk`: `createIam(options)`, `app.use(iam.middleware())` first, as its README sets it up,
 *   and `iam.permissionRequired(...)` on the route.
 * - `koaJwt`: `jwt({ secret: koaJwtSecret({ jwksUri, cache: true }), issuer, audience })` on the
 *   route, then the permission claim.
 */
import { AUDIENCE, grantsBenchPermission, PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { originOf } from './measure.js'
import type { HttpSuite } from './measure.js'

type KoaApp = import('koa')
type KoaRouter = import('@koa/router').default
type KoaMiddleware = import('koa').Middleware

/** A Koa app with `/health`; `protect` returns the protected route's middleware. */
async function serveKoa(
  protect?: (app: KoaApp) => Promise<KoaMiddleware[]> | KoaMiddleware[],
): Promise<string> {
  const { default: Koa } = await import('koa')
  const { default: Router } = await import('@koa/router')
  const app = new Koa()
  // Refusals are answers; Koa's default 'error' listener would print them.
  app.silent = true
  const router: KoaRouter = new Router()
  const ok: KoaMiddleware = (ctx) => {
    ctx.body = 'ok'
  }
  router.get('/health', ok)
  // The control route of the bare server: one more middleware that passes.
  router.get('/noop', (_ctx, next) => next(), ok)
  if (protect) router.get('/protected', ...(await protect(app)), ok)
  app.use(router.routes()).use(router.allowedMethods())
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return originOf(server as import('node:http').Server)
}

export const suite: HttpSuite = {
  name: 'koa',
  title: 'Koa 3 (@koa/router)',
  servers: {
    bare: {
      label: 'Koa',
      bare: true,
      controlRoutes: [{ path: '/noop', label: 'a no-op middleware (control)' }],
      start: () => serveKoa(),
    },
    sdk: {
      label: 'iam-node-sdk',
      cannotRefuse: { audience: 'IAM access tokens are not audience-bound; the SDK checks none' },
      start: (context: ServerContext) =>
        serveKoa(async (app) => {
          const { createIam } = await import('iam-node-sdk/koa')
          const iam = createIam(sdkOptions(context))
          app.use(iam.middleware())
          await iam.ready
          return [iam.permissionRequired(PERMISSION, resources(context))]
        }),
    },
    koaJwt: {
      label: 'koa-jwt + jwks-rsa',
      start: (context: ServerContext) =>
        serveKoa(async () => {
          const { default: jwt } = await import('koa-jwt')
          const { koaJwtSecret } = await import('jwks-rsa')
          const verify = jwt({
            secret: koaJwtSecret({ jwksUri: context.jwksUrl, cache: true, rateLimit: true }),
            issuer: context.issuer,
            audience: AUDIENCE,
            algorithms: ['RS256'],
          })
          const claim: KoaMiddleware = async (ctx, next) => {
            if (!grantsBenchPermission(ctx.state.user, context.namespace)) ctx.throw(403)
            await next()
          }
          return [verify, claim]
        }),
    },
  },
}
