/**
 * Fastify 5 suite (`npm run bench -- fastify`): the SDK's plugin and `permissionRequired`
 * `preHandler` against the bare framework and against @fastify/jwt with get-jwks, the setup of
 * @fastify/jwt's README ("Verifying with JWKS"), each server in its own process:
 *
 * - `bare`: Fastify alone (the baseline).
 * - `sdk`: `register(iamPlugin, options)`, `preHandler: permissionRequired(...)`.
 * - `fastifyJwt`: @fastify/jwt whose `secret` asks get-jwks for the token's key (`getPublicKey`),
 *   checking `iss` and `aud` (`verify.allowedIss`, `allowedAud`), then the permission claim in an
 *   `onRequest` hook; fast-jwt's verified-token cache off (its default).
 * - `fastifyJwtCache`: the same with `verify: { cache: true }` (1 000 tokens, LRU).
 *
 * get-jwks is pointed at the bench's JWKS server (`domain`), not at the token's `iss`, which is
 * the emulator's (whose JWKS endpoint wants Basic credentials).
 */
import { AUDIENCE, grantsBenchPermission, PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { originOf } from './measure.js'
import type { HttpSuite } from './measure.js'

type FastifyApp = import('fastify').FastifyInstance

/** A Fastify app with `/health`; `protect` registers what the protected route needs. */
async function serveFastify(protect?: (app: FastifyApp) => Promise<void>): Promise<string> {
  const { default: Fastify } = await import('fastify')
  const app = Fastify()
  app.get('/health', async () => 'ok')
  await protect?.(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return originOf(app.server)
}

/** @fastify/jwt + get-jwks as in @fastify/jwt's README; `cache`: fast-jwt's verified-token cache. */
function fastifyJwt(context: ServerContext, cache: boolean) {
  return serveFastify(async (app) => {
    const { default: jwt } = await import('@fastify/jwt')
    const { default: buildGetJwks } = await import('get-jwks')
    const getJwks = buildGetJwks()
    const domain = new URL(context.jwksUrl).origin
    await app.register(jwt, {
      decode: { complete: true },
      secret: async (_request: unknown, token: import('@fastify/jwt').TokenOrHeader) => {
        const { kid, alg } = (token as { header: { kid: string; alg: string } }).header
        return getJwks.getPublicKey({ kid, alg, domain })
      },
      verify: {
        algorithms: ['RS256'],
        allowedIss: context.issuer,
        allowedAud: AUDIENCE,
        ...(cache ? { cache: true } : {}),
      },
    })
    app.get(
      '/protected',
      {
        onRequest: async (request, reply) => {
          await request.jwtVerify()
          if (!grantsBenchPermission(request.user, context.namespace))
            return reply.code(403).send('forbidden')
        },
      },
      async () => 'ok',
    )
  })
}

export const suite: HttpSuite = {
  name: 'fastify',
  title: 'Fastify 5',
  servers: {
    bare: {
      label: 'Fastify',
      bare: true,
      controlRoutes: [{ path: '/noop', label: 'a no-op middleware (control)' }],
      start: () =>
        serveFastify(async (app) => {
          app.get('/noop', { preHandler: (_request, _reply, done) => done() }, async () => 'ok')
        }),
    },
    sdk: {
      label: 'iam-node-sdk',
      cannotRefuse: { audience: 'IAM access tokens are not audience-bound; the SDK checks none' },
      start: (context) =>
        serveFastify(async (app) => {
          const { iamPlugin, permissionRequired } = await import('iam-node-sdk/fastify')
          await app.register(iamPlugin, sdkOptions(context))
          app.get(
            '/protected',
            { preHandler: permissionRequired(PERMISSION, resources(context)) },
            async () => 'ok',
          )
        }),
    },
    fastifyJwt: {
      label: '@fastify/jwt + get-jwks',
      start: (context) => fastifyJwt(context, false),
    },
    fastifyJwtCache: {
      label: '@fastify/jwt + get-jwks, verify.cache',
      start: (context) => fastifyJwt(context, true),
    },
  },
}
