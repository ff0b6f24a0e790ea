/**
 * NestJS 11 suite (`npm run bench -- nestjs`), on both of Nest's HTTP platforms: the SDK's module
 * (global guard, `@PermissionRequired`) against the same Nest application without it, each server
 * in its own process. No peer: Nest users verify JWKS tokens through @nestjs/passport with
 * passport-jwt and jwks-rsa, whose cost is that of the Express peers plus Passport's; compare
 * those on the Express suite.
 *
 * - `bareExpress`, `bareFastify`: a Nest controller with `GET /health` (the baselines); control:
 *   `GET /noop` behind a guard that allows everything (what one guard costs Nest itself).
 * - `sdkExpress`, `sdkFastify`: the same app importing `IamModule.forRoot(options)`, `/health`
 *   marked `@Public()`, `GET /protected` with `@PermissionRequired(...)` (header token).
 */
import { PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { originOf } from './measure.js'
import type { HttpSuite } from './measure.js'

type Platform = 'express' | 'fastify'

/**
 * A Nest app on `platform` answering `ok` on `/health` and, with the SDK, on `/protected`.
 * Decorators are applied as functions: the framework is imported in the child only.
 */
async function serveNest(platform: Platform, context?: ServerContext): Promise<string> {
  await import('reflect-metadata')
  const { Controller, Get, Module, UseGuards } = await import('@nestjs/common')
  const { NestFactory } = await import('@nestjs/core')
  const { ExpressAdapter } = await import('@nestjs/platform-express')
  const { FastifyAdapter } = await import('@nestjs/platform-fastify')
  const sdk = context === undefined ? undefined : await import('iam-node-sdk/nestjs')

  class BenchController {
    health() {
      return 'ok'
    }
    protected() {
      return 'ok'
    }
    noop() {
      return 'ok'
    }
  }
  class AllowAll {
    canActivate() {
      return true
    }
  }
  const route = (name: 'health' | 'protected' | 'noop', decorators: MethodDecorator[]) => {
    const proto = BenchController.prototype
    const descriptor = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor
    for (const decorate of decorators) decorate(proto, name, descriptor)
  }
  route('health', [Get('health'), ...(sdk ? [sdk.Public()] : [])])
  if (sdk && context)
    route('protected', [Get('protected'), sdk.PermissionRequired(PERMISSION, resources(context))])
  else route('noop', [Get('noop'), UseGuards(AllowAll)])
  Controller()(BenchController)

  class AppModule {}
  Module({
    imports: sdk && context ? [sdk.IamModule.forRoot(sdkOptions(context))] : [],
    controllers: [BenchController],
  })(AppModule)
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter()
  const app = await NestFactory.create(AppModule, adapter, { logger: false })
  await app.listen(0, '127.0.0.1')
  return originOf(app.getHttpServer() as import('node:http').Server)
}

const NOOP_GUARD = { path: '/noop', label: 'a guard that allows all (control)' }

const noAudience = { audience: 'IAM access tokens are not audience-bound; the SDK checks none' }

export const suite: HttpSuite = {
  name: 'nestjs',
  title: 'NestJS 11 (platform-express, platform-fastify)',
  servers: {
    bareExpress: {
      label: 'Nest on Express',
      bare: true,
      controlRoutes: [NOOP_GUARD],
      start: () => serveNest('express'),
    },
    sdkExpress: {
      label: 'iam-node-sdk, Nest on Express',
      baseline: 'bareExpress',
      cannotRefuse: noAudience,
      start: (context) => serveNest('express', context),
    },
    bareFastify: {
      label: 'Nest on Fastify',
      bare: true,
      controlRoutes: [NOOP_GUARD],
      start: () => serveNest('fastify'),
    },
    sdkFastify: {
      label: 'iam-node-sdk, Nest on Fastify',
      baseline: 'bareFastify',
      cannotRefuse: noAudience,
      start: (context) => serveNest('fastify', context),
    },
  },
}
