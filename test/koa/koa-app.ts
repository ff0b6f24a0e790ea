/**
 * The Koa "build an app on port 0" function of the case table, for Koa 2 and 3, with
 * `@koa/router` supplying route parameters (and `allowedMethods()` its automatic OPTIONS).
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

import Router from '@koa/router'
import type Koa from 'koa'

import { createIam } from '../../src/koa/index.js'
import type { IamKoaContext, IamKoaOptions, KoaIam } from '../../src/koa/index.js'
import { handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec, BuiltApp } from '../adapters/harness.js'

/** Koa 2's or 3's default export (both have the same API for what the integration uses). */
export type KoaFactory = new () => Koa

/** Listens on an ephemeral port of 127.0.0.1. */
export async function listenKoa(app: Koa): Promise<{ url: string; server: Server }> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

/** Builds the app of `spec` with `factory`; `setup` may add middleware before the IAM's. */
export async function buildKoaApp(
  factory: KoaFactory,
  spec: AppSpec,
  setup?: (app: Koa, iam: KoaIam) => void,
): Promise<BuiltApp> {
  const iam = createIam(spec.options as IamKoaOptions)
  const app = new factory()
  // Refusals are answers: Koa's default 'error' listener would print each 503's stack.
  app.silent = true
  setup?.(app, iam)
  app.use(iam.middleware())
  const router = new Router()
  for (const route of spec.routes) {
    const handlers: Koa.Middleware[] = []
    if (route.cors !== undefined) {
      const cors = iam.corsOptions(route.cors.headers, { preflight: route.cors.preflight ?? true })
      router.options(route.path, cors)
      handlers.push(cors)
    }
    if (route.guard !== undefined) {
      const resources = routeResources<IamKoaContext>(
        route.guard.resources,
        (ctx, name) => ctx.get(name) || undefined,
      )
      handlers.push(
        iam.permissionRequired(
          route.guard.permission as never,
          resources,
          routeOptions(route.guard),
        ),
      )
    }
    handlers.push((ctx) => {
      ctx.body = handlerBody(ctx.state.iam)
    })
    for (const method of route.methods) {
      router[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](route.path, ...handlers)
    }
  }
  app.use(router.routes()).use(router.allowedMethods())
  const { url, server } = await listenKoa(app)
  return {
    url,
    ready: iam.ready,
    closeIntegration: () => iam.close(),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await iam.close()
    },
  }
}
