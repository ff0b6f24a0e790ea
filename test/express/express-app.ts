/**
 * The Express "build an app on port 0" function of the case table, for Express 4 and 5.
 */
import type { AddressInfo } from 'node:net'

import type express from 'express'

import { IAM, corsOptions, permissionRequired } from '../../src/express/index.js'
import type { IamExpressOptions } from '../../src/express/index.js'
import { handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec, BuiltApp } from '../adapters/harness.js'

/** Builds the app of `spec` with `factory` (Express 4's or 5's default export). */
export async function buildExpressApp(factory: typeof express, spec: AppSpec): Promise<BuiltApp> {
  const app = factory()
  const iam = new IAM(app, spec.options as IamExpressOptions)
  for (const route of spec.routes) {
    const handlers: express.RequestHandler[] = []
    if (route.cors !== undefined) {
      const cors = corsOptions(route.cors.headers, { preflight: route.cors.preflight ?? true })
      app.options(route.path, cors)
      handlers.push(cors)
    }
    if (route.guard !== undefined) {
      const resources = routeResources<express.Request>(route.guard.resources, (req, name) =>
        req.get(name),
      )
      handlers.push(
        permissionRequired(route.guard.permission as never, resources, routeOptions(route.guard)),
      )
    }
    handlers.push((req, res) => {
      res.json(handlerBody(req.iam))
    })
    for (const method of route.methods) {
      app[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](route.path, ...handlers)
    }
  }
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    ready: iam.ready,
    closeIntegration: () => iam.close(),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await iam.close()
    },
  }
}
