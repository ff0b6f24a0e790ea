/**
 * The Hono "build an app on port 0" function of the case table, with the native adapter
 * (`iam-node-sdk/hono`) on `@hono/node-server`.
 */
import type { AddressInfo } from 'node:net'

import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { Context, MiddlewareHandler } from 'hono'

import { createIam } from '../../src/hono/index.js'
import type { IamHonoOptions } from '../../src/hono/index.js'
import { handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec, BuiltApp } from '../adapters/harness.js'

/** Serves a Hono app on 127.0.0.1, port 0. */
export async function listen(app: Hono): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The case table's app with the native adapter. */
export async function buildHonoApp(spec: AppSpec): Promise<BuiltApp> {
  const iam = createIam(spec.options as IamHonoOptions)
  const app = new Hono()
  app.use(iam.middleware({ app }))
  for (const route of spec.routes) {
    const handlers: MiddlewareHandler[] = []
    if (route.cors !== undefined) {
      const cors = iam.corsOptions(route.cors.headers, { preflight: route.cors.preflight ?? true })
      app.options(route.path, cors)
      handlers.push(cors)
    }
    if (route.guard !== undefined) {
      const resources = routeResources<Context>(route.guard.resources, (c, name) =>
        c.req.header(name),
      )
      handlers.push(
        iam.permissionRequired(
          route.guard.permission as never,
          resources,
          routeOptions(route.guard),
        ),
      )
    }
    app.on([...route.methods], [route.path], ...handlers, (c: Context) =>
      c.json(handlerBody(c.get('iam' as never))),
    )
  }
  const server = await listen(app)
  return {
    url: server.url,
    ready: iam.ready,
    closeIntegration: () => iam.close(),
    async close() {
      await server.close()
      await iam.close()
    },
  }
}
