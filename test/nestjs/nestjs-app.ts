/**
 * The NestJS "build an app on port 0" function of the case table, on Express or Fastify. Each
 * profile's routes become one controller whose handlers carry the decorators a user would write
 * (`@Get(path)`, `@PermissionRequired(...)`, `@CorsOptions(...)`, `@IamContext()`), applied as
 * functions because the paths come from the table. Route parameters are real Nest parameters.
 */
import 'reflect-metadata'

import {
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Inject,
  Module,
  Options,
  Post,
  Put,
  Res,
} from '@nestjs/common'
import type { INestApplication, Type } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'

import {
  CorsOptions,
  IamContext,
  IamModule,
  IamService,
  PermissionRequired,
  Public,
} from '../../src/nestjs/index.js'
import type { IamHttpRequest, IamNestOptions, IamRequestContext } from '../../src/nestjs/index.js'
import type { RouteSpec } from '../adapters/cases.js'
import { handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec, BuiltApp } from '../adapters/harness.js'

/** The two HTTP platforms of NestJS. */
export type NestPlatform = 'express' | 'fastify'

const METHODS = { GET: Get, POST: Post, PUT: Put, DELETE: Delete } as const

/** A controller serving `routes`, built as a user would write it with decorators. */
export function controllerFor(routes: readonly RouteSpec[]): Type {
  class CaseController {}
  const proto = CaseController.prototype as unknown as Record<string, unknown>
  routes.forEach((route, index) => {
    const decorators: MethodDecorator[] = []
    if (route.guard === undefined) decorators.push(Public())
    else {
      const resources = routeResources<IamHttpRequest>(route.guard.resources, (req, name) =>
        req.headers[name]?.toString(),
      )
      decorators.push(
        PermissionRequired(route.guard.permission as never, resources, routeOptions(route.guard)),
      )
    }
    const cors = route.cors && CorsOptions(route.cors.headers, { preflight: route.cors.preflight })
    const handlers: [string, MethodDecorator[]][] = route.methods.map((method) => [
      method,
      // 200 for every method, as the other adapters' handlers answer (Nest's POST default is 201).
      [METHODS[method](route.path), HttpCode(200), ...decorators, ...(cors ? [cors] : [])],
    ])
    // The route's preflight: an OPTIONS handler with the same CORS (as `app.options(path, cors)`).
    if (cors) handlers.push(['OPTIONS', [Options(route.path), cors]])
    for (const [method, list] of handlers) {
      const name = `${method.toLowerCase()}Route${index}`
      proto[name] = (context: IamRequestContext | undefined) =>
        method === 'OPTIONS' ? undefined : handlerBody(context)
      const descriptor = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor
      for (const decorate of list) decorate(proto, name, descriptor)
      IamContext()(proto, name, 0)
    }
  })
  Controller()(CaseController)
  return CaseController
}

/** The health (readiness) endpoint as the README writes it: 200 or 503, a body per resource. */
@Controller('healthz')
export class HealthController {
  constructor(@Inject(IamService) private readonly iam: IamService) {}

  @Get()
  @Public()
  @Header('Cache-Control', 'no-store')
  health(@Res({ passthrough: true }) res: { status(code: number): unknown }) {
    const { status, body } = this.iam.health()
    res.status(status)
    return body
  }
}

/** A root module importing `IamModule.forRoot(options)` and serving `controllers`. */
export function appModule(options: IamNestOptions, controllers: Type[]): Type {
  class AppModule {}
  Module({ imports: [IamModule.forRoot(options)], controllers })(AppModule)
  return AppModule
}

/** A Nest application of `module` on the platform (not listening yet); logs off. */
export function createNestApp(platform: NestPlatform, module: Type): Promise<INestApplication> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter()
  return NestFactory.create(module, adapter, { logger: false, abortOnError: false })
}

/** Listens on an ephemeral port of 127.0.0.1; the app's origin. */
export async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, '127.0.0.1')
  return (await app.getUrl()).replace('[::1]', '127.0.0.1')
}

/**
 * Builds the app of `spec` on `platform` and listens. `awaitReady: false` makes it serve before
 * the IAM is reached (the case table's readiness rows need that).
 */
export async function buildNestApp(
  platform: NestPlatform,
  spec: AppSpec,
  extra: Partial<IamNestOptions> = {},
): Promise<BuiltApp> {
  const options = { ...(spec.options as IamNestOptions), ...extra }
  const app = await createNestApp(platform, appModule(options, [controllerFor(spec.routes)]))
  let url: string
  try {
    url = await listen(app)
  } catch (error) {
    await app.close()
    throw error
  }
  const iam = app.get(IamService)
  return {
    url,
    ready: iam.ready,
    closeIntegration: () => iam.close(),
    close: () => app.close(),
  }
}

/**
 * The app of the operations tests: `GET /ns/:namespace/users/:userId` requiring `permission`, and
 * the health endpoint at `/healthz`; serving before the IAM answers (`awaitReady: false`).
 */
export async function buildNestOperationsApp(
  platform: NestPlatform,
  options: IamNestOptions,
  permission: { action: number; resource: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const route: RouteSpec = {
    path: '/ns/:namespace/users/:userId',
    methods: ['GET'],
    guard: { permission },
  }
  const module = appModule({ ...options, awaitReady: false }, [
    controllerFor([route]),
    HealthController,
  ])
  const app = await createNestApp(platform, module)
  return { url: await listen(app), close: () => app.close() }
}
