// A small NestJS 11 service protected by iam-node-sdk, against the emulator, on Express (or on
// Fastify with PLATFORM=fastify):
//
//   npm run build && node --import tsx examples/nestjs/server.ts   # emulator on a free port, app on :3002
//
// TypeScript, as Nest applications are written: tsx runs it with this repository's tsconfig
// (`experimentalDecorators`, as in a Nest CLI project). Injections name their token
// (`@Inject(IamService)`), so it also runs where decorator metadata is not emitted (tsx, esbuild).
// Imports the package entry points (`iam-node-sdk/nestjs`, `iam-node-sdk/emulator`), which resolve
// to dist/ after `npm run build`. Run directly, it starts the emulator, then the app, makes an
// allowed and a refused call, and prints curl lines for more.
import 'reflect-metadata'

import { fileURLToPath } from 'node:url'

import { Controller, Get, Header, Inject, Module, Options, Param, Put, Res } from '@nestjs/common'
import type { INestApplication } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { startEmulator } from 'iam-node-sdk/emulator'
import {
  CorsOptions,
  IamContext,
  IamModule,
  IamService,
  PermissionRequired,
  Public,
} from 'iam-node-sdk/nestjs'
import type { IamRequestContext } from 'iam-node-sdk/nestjs'

// The seed's CORS endpoint: the same headers on the route and on its OPTIONS (the preflight).
const cors = CorsOptions({
  'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
})

@Controller()
class ExampleController {
  constructor(@Inject(IamService) private readonly iam: IamService) {}

  // The seed's protected endpoint.
  @Get('protected')
  @PermissionRequired(
    { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
    { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
    { csrfProtect: true },
  )
  protected() {
    return 'You have authorized access!'
  }

  // No IAM decorator: the module's guard is global, so any valid token. Shows the context.
  @Get('me')
  me(@IamContext() iam: IamRequestContext) {
    return {
      sub: iam.claims.sub,
      namespace: iam.claims.namespace,
      tokenLocation: iam.tokenLocation,
    }
  }

  // Placeholders from the route: each user may update only themselves.
  @Put('users/:userId')
  @PermissionRequired({ Action: 4, Resource: 'NAMESPACE:sample-namespace:USER:{userId}' })
  update(@Param('userId') userId: string) {
    return { updated: userId }
  }

  @Options('cors')
  @cors
  preflight() {}

  @Get('cors')
  @Public()
  @cors
  corsPage() {
    return 'You access a CORS page!'
  }

  // Readiness probe: 200 when the SDK can decide requests, 503 (same body) when it cannot.
  @Get('healthz')
  @Public()
  @Header('Cache-Control', 'no-store')
  health(@Res({ passthrough: true }) res: { status(code: number): unknown }) {
    const { status, body } = this.iam.health()
    res.status(status)
    return body
  }
}

/** Builds the example app (not listening yet) on `platform`. */
export async function createNestExample(
  config: { iamBaseUrl: string; clientId: string; clientSecret: string },
  platform: 'express' | 'fastify' = 'express',
): Promise<INestApplication> {
  @Module({
    imports: [
      // Same option names as Express and Fastify; IAM_* environment variables fill what is not
      // given. forRootAsync({ imports, inject, useFactory }) reads them from a ConfigService.
      IamModule.forRoot({
        baseUrl: config.iamBaseUrl,
        clientId: config.clientId,
        clientSecret: config.clientSecret,
        tokenLocations: ['headers', 'cookies'],
        csrfProtection: true,
      }),
    ],
    controllers: [ExampleController],
  })
  class AppModule {}
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter()
  return NestFactory.create(AppModule, adapter, { logger: ['warn', 'error'] })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const emulator = await startEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) })
  const platform = process.env.PLATFORM === 'fastify' ? 'fastify' : 'express'
  const app = await createNestExample(
    {
      iamBaseUrl: emulator.baseUrl,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
    },
    platform,
  )
  // listen() waits for the IAM: token granted, JWKS and revocation list loaded.
  await app.listen(Number(process.env.PORT ?? 3002), '127.0.0.1')
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1')
  const allowed = await emulator.issueUserToken({
    sub: 'sample-userid',
    namespace: 'sample-namespace',
    permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
  })
  const denied = await emulator.issueUserToken({
    sub: 'other-userid',
    namespace: 'sample-namespace',
  })
  const call = async (token: string) => {
    const res = await fetch(`${url}/protected`, { headers: { authorization: `Bearer ${token}` } })
    return `${res.status} ${await res.text()}`
  }
  console.log(`
IAM emulator   ${emulator.baseUrl}
NestJS app     ${url} (${platform})

Allowed user (sample-userid): GET /protected -> ${await call(allowed)}
Denied user (other-userid):   GET /protected -> ${await call(denied)}

Allowed user, expect 200 "You have authorized access!":
  curl -i -H "Authorization: Bearer ${allowed}" ${url}/protected

Denied user, expect 403 with errorCode 20013:
  curl -i -H "Authorization: Bearer ${denied}" ${url}/protected

No token, expect 401 with errorCode 20001 and WWW-Authenticate:
  curl -i ${url}/me

Route placeholder, expect 200 for sample-userid and 403 for anyone else:
  curl -i -X PUT -H "Authorization: Bearer ${allowed}" ${url}/users/sample-userid

CORS preflight, expect 200 with Access-Control-Allow-Headers:
  curl -i -X OPTIONS -H "Origin: http://localhost" ${url}/cors

Health:
  curl -i ${url}/healthz

Ctrl-C to stop.`)
  const stop = async () => {
    await app.close() // closes the IAM client too (onApplicationShutdown)
    await emulator.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
