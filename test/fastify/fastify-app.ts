/**
 * The Fastify "build an app on port 0" function of the case table.
 */
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'

import { corsOptions, iamPlugin, permissionRequired } from '../../src/fastify/index.js'
import type { IamFastifyOptions, IamGuardHook, IamHook } from '../../src/fastify/index.js'
import { handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec, BuiltApp } from '../adapters/harness.js'

/** Builds (and registers, not starts) the Fastify app of `spec`. */
export async function buildFastify(
  spec: AppSpec,
  extra: Partial<IamFastifyOptions> = {},
): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(iamPlugin, { ...(spec.options as IamFastifyOptions), ...extra })
  for (const route of spec.routes) {
    const onRequest: IamHook[] = []
    const preHandler: IamGuardHook[] = []
    if (route.cors !== undefined) {
      const cors = corsOptions(route.cors.headers, { preflight: route.cors.preflight ?? true })
      app.options(route.path, cors)
      onRequest.push(cors)
    }
    if (route.guard !== undefined) {
      const resources = routeResources<FastifyRequest>(route.guard.resources, (req, name) => {
        const value = req.headers[name]
        return Array.isArray(value) ? value.join(', ') : value
      })
      preHandler.push(
        permissionRequired(route.guard.permission as never, resources, routeOptions(route.guard)),
      )
    }
    app.route({
      method: [...route.methods],
      url: route.path,
      onRequest,
      preHandler,
      handler: async (request) => handlerBody(request.iam),
    })
  }
  return app
}

/**
 * Builds the app of `spec` and listens on an ephemeral port. `awaitReady: false` makes it serve
 * before the IAM is reached (the case table's readiness rows need that).
 */
export async function buildFastifyApp(
  spec: AppSpec,
  extra: Partial<IamFastifyOptions> = {},
): Promise<BuiltApp> {
  const app = await buildFastify(spec, extra)
  let url: string
  try {
    url = await app.listen({ port: 0, host: '127.0.0.1' })
  } catch (error) {
    await app.close()
    throw error
  }
  return {
    url,
    ready: app.iam.ready,
    // The plugin closes with the app; closing its client is what a request can still meet.
    closeIntegration: () => app.iam.client.close(),
    async close() {
      app.server.closeAllConnections()
      await app.close()
    },
  }
}
