/**
 * The NestJS integration on Express and on Fastify: the case table over real HTTP against the
 * emulator, then what only NestJS has (modules, decorators on handlers and controllers, the
 * exception filter and filters of the application), written as an application would be.
 */
import 'reflect-metadata'

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import {
  Catch,
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Options,
  Param,
  Post,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common'
import type {
  ArgumentsHost,
  ExceptionFilter,
  ExecutionContext,
  INestApplication,
  Type,
} from '@nestjs/common'
import { APP_FILTER, HttpAdapterHost, NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { Test } from '@nestjs/testing'

import {
  CorsOptions,
  IamClaims,
  IamContext,
  IamError,
  IamGuard,
  IamModule,
  IamService,
  PermissionRequired,
  Public,
  TokenRequired,
} from '../../src/nestjs/index.js'
import type {
  IamHttpRequest,
  IamModuleAsyncOptions,
  IamNestOptions,
  IamRequestContext,
  JwtClaims,
} from '../../src/nestjs/index.js'
import { CASES, PROFILES } from '../adapters/cases.js'
import type { CaseRequest, ProfileName } from '../adapters/cases.js'
import { runCaseTable, sendCaseRequest, setupScenario, silentLogger } from '../adapters/harness.js'
import type { CaseResponse, Scenario } from '../adapters/harness.js'
import { HealthController, appModule, buildNestApp, createNestApp, listen } from './nestjs-app.js'
import type { NestPlatform } from './nestjs-app.js'

const PLATFORMS = [
  ['Express', 'express'],
  ['Fastify', 'fastify'],
] as const

const startsWithoutIam = (profile: ProfileName) => 'fresh' in PROFILES[profile]

// Default mode (`awaitReady: true`): the app does not start without the IAM, so the rows that
// need it serving before the IAM answers run with `awaitReady: false`. No row is left out.
for (const [name, platform] of PLATFORMS) {
  runCaseTable(
    `NestJS on ${name}`,
    (spec) => buildNestApp(platform, spec),
    CASES.filter((row) => !startsWithoutIam(row.profile)),
  )
  runCaseTable(
    `NestJS on ${name} (awaitReady: false)`,
    (spec) => buildNestApp(platform, spec, { awaitReady: false }),
    CASES.filter((row) => startsWithoutIam(row.profile)),
  )
}

const PERMISSION = { action: 4, resource: 'NAMESPACE:{namespace}:USER:{userId}' }

/** A controller as an application writes it: decorators on the class and on its handlers. */
@Controller('users')
@PermissionRequired(PERMISSION, { '{namespace}': 'sample-namespace' })
class UsersController {
  constructor(@Inject(IamService) private readonly iam: IamService) {}

  // The controller's permission, with {userId} from the route.
  @Get(':userId')
  read(@Param('userId') userId: string, @IamClaims() claims: JwtClaims) {
    return { userId, sub: claims.sub }
  }

  // The handler's decorator wins over the controller's.
  @Get(':userId/profile')
  @TokenRequired()
  profile(@IamClaims('sub') sub: string, @IamContext() iam: IamRequestContext) {
    return { sub, tokenLocation: iam.tokenLocation }
  }

  @Get('public/count')
  @Public()
  count(@IamContext() iam: IamRequestContext | undefined) {
    return { count: 2, iam: iam ?? null }
  }

  @Get('me/client')
  @TokenRequired()
  client() {
    return { clientId: this.iam.client.options.clientId }
  }
}

/** No IAM decorator anywhere: the global guard still requires a valid token. */
@Controller('plain')
class PlainController {
  @Get()
  plain(@Req() req: IamHttpRequest) {
    return { sub: req.iam?.claims.sub ?? null }
  }

  @Post('echo')
  @HttpCode(200)
  @Public()
  echo() {
    return { posted: true }
  }

  @Get('missing')
  @Public()
  missing(): never {
    throw new NotFoundException('nothing here')
  }
}

/** A whole controller public, one handler of it protected. */
@Controller('open')
@Public()
class OpenController {
  @Get()
  open() {
    return { open: true }
  }

  @Get('me')
  @TokenRequired({ scopes: ['profile'] })
  me(@IamClaims('sub') sub: string) {
    return { sub }
  }
}

/** The RFC 9457 answer of an application: problem+json, the challenge kept. */
@Catch(IamError)
class ProblemFilter implements ExceptionFilter<IamError> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: IamError, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost
    const res = host.switchToHttp().getResponse()
    for (const [name, value] of Object.entries(error.headers)) {
      httpAdapter.setHeader(res, name, value)
    }
    httpAdapter.setHeader(res, 'Content-Type', 'application/problem+json')
    const problem = {
      type: `https://errors.example.com/${error.code}`,
      title: error.message,
      status: error.status,
      errorCode: error.errorCode,
    }
    // A string body: Nest's Express adapter would reset the type of an object error body to JSON.
    httpAdapter.reply(res, JSON.stringify(problem), error.status)
  }
}
Inject(HttpAdapterHost)(ProblemFilter, undefined, 0)

@Controller('reshaped')
@UseFilters(ProblemFilter)
class ReshapedController {
  @Get()
  reshaped() {
    return { ok: true }
  }
}

/** A configuration provider, as `@nestjs/config`'s `ConfigService` is. */
@Injectable()
class AppConfig {
  static values: Record<string, unknown> = {}
  get(key: string): unknown {
    return AppConfig.values[key]
  }
}

@Module({ providers: [AppConfig], exports: [AppConfig] })
class AppConfigModule {}

for (const [name, platform] of PLATFORMS) {
  describe(`NestJS integration specifics: ${name}`, () => {
    let scenario: Scenario
    const apps: INestApplication[] = []
    before(async () => {
      scenario = await setupScenario()
    })
    after(async () => {
      for (const app of apps.reverse()) await app.close()
      await scenario.close()
    })

    const options = (extra: Partial<IamNestOptions> = {}): IamNestOptions => ({
      baseUrl: scenario.emulator.baseUrl,
      clientId: scenario.emulator.clientId,
      clientSecret: scenario.emulator.clientSecret,
      logger: silentLogger,
      ...extra,
    })

    /** An app of `module`, listening; closed after the suite. */
    async function start(module: Type): Promise<{ app: INestApplication; url: string }> {
      const app = await createNestApp(platform as NestPlatform, module)
      apps.push(app)
      return { app, url: await listen(app) }
    }

    const controllers = [UsersController, PlainController, OpenController, ReshapedController]
    const send = (url: string, request: CaseRequest): Promise<CaseResponse> =>
      sendCaseRequest(url, request, scenario.tokens)

    test('decorators on controllers and handlers; a handler without any needs a token', async () => {
      const { url } = await start(appModule(options(), controllers))
      const read = await send(url, { path: '/users/sample-userid', token: 'allowed' })
      assert.deepEqual(
        [read.status, read.json],
        [200, { userId: 'sample-userid', sub: 'sample-userid' }],
      )
      const other = await send(url, { path: '/users/other-userid', token: 'allowed' })
      assert.deepEqual([other.status, other.json?.errorCode], [403, 20013])
      // The handler's @TokenRequired overrides the controller's permission.
      const profile = await send(url, { path: '/users/other-userid/profile', token: 'denied' })
      assert.deepEqual(profile.json, { sub: 'other-userid', tokenLocation: 'header' })
      const count = await send(url, { path: '/users/public/count', token: 'allowed' })
      assert.deepEqual(count.json, { count: 2, iam: null })
      assert.equal((await send(url, { path: '/plain' })).status, 401)
      assert.deepEqual((await send(url, { path: '/plain', token: 'denied' })).json, {
        sub: 'other-userid',
      })
      // A public controller with one protected handler.
      assert.deepEqual((await send(url, { path: '/open' })).json, { open: true })
      const me = await send(url, { path: '/open/me', token: 'allowed' })
      assert.equal(me.status, 403)
      assert.match(String(me.headers['www-authenticate']), /scope="profile"/)
      assert.deepEqual((await send(url, { path: '/open/me', token: 'scoped' })).json, {
        sub: 'sample-userid',
      })
    })

    test("refusals: the wire body and headers; other exceptions keep Nest's rendering", async () => {
      const { url } = await start(appModule(options(), controllers))
      const missing = await send(url, { path: '/plain' })
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="iam"')
      assert.match(String(missing.headers['content-type']), /^application\/json/)
      assert.equal(missing.json?.errorCode, 20001)
      const notFound = await send(url, { path: '/plain/missing' })
      assert.deepEqual([notFound.status, notFound.json?.message], [404, 'nothing here'])
      assert.equal(notFound.json?.errorCode, undefined)
      const noRoute = await send(url, { path: '/nowhere', token: 'allowed' })
      assert.deepEqual([noRoute.status, noRoute.json?.statusCode], [404, 404])
    })

    test('a filter of the application reshapes refusals to problem+json, keeping the challenge', async () => {
      const { url } = await start(appModule(options(), controllers))
      const reshaped = await send(url, { path: '/reshaped', token: 'expired' })
      assert.equal(reshaped.status, 401)
      assert.match(String(reshaped.headers['content-type']), /^application\/problem\+json/)
      assert.match(String(reshaped.headers['www-authenticate']), /error="invalid_token"/)
      const problem = JSON.parse(reshaped.text) as Record<string, unknown>
      assert.equal(problem.type, 'https://errors.example.com/ERR_IAM_TOKEN_EXPIRED')
      assert.equal(problem.errorCode, 20001)
      // Other controllers keep the wire body.
      assert.equal((await send(url, { path: '/plain' })).json?.errorCode, 20001)
      // A global filter of the application comes before the module's.
      const app = await createNestApp(platform as NestPlatform, appModule(options(), controllers))
      apps.push(app)
      app.useGlobalFilters(new ProblemFilter(app.get(HttpAdapterHost)))
      const global = await send(await listen(app), { path: '/plain', token: 'revoked' })
      assert.match(String(global.headers['content-type']), /^application\/problem\+json/)
      assert.match(String(global.headers['www-authenticate']), /error="invalid_token"/)
    })

    test('an APP_FILTER provider of the application renders refusals with exceptionFilter: false', async () => {
      @Module({
        imports: [IamModule.forRoot(options({ exceptionFilter: false }))],
        providers: [{ provide: APP_FILTER, useClass: ProblemFilter }],
        controllers,
      })
      class ProblemModule {}
      const { url } = await start(ProblemModule)
      const refused = await send(url, { path: '/plain', token: 'expired' })
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/)
      assert.match(String(refused.headers['www-authenticate']), /error="invalid_token"/)
    })

    test('exceptionFilter: false leaves IamError to the application', async () => {
      const { url } = await start(appModule(options({ exceptionFilter: false }), controllers))
      const refused = await send(url, { path: '/plain' })
      // Nest's own rendering of an error with a statusCode: the status, but neither body nor challenge.
      assert.equal(refused.status, 401)
      assert.equal(refused.json?.errorCode, undefined)
      assert.equal(refused.headers['www-authenticate'], undefined)
    })

    test('globalGuard: false: routes are open unless @UseGuards(IamGuard)', async () => {
      @Controller('guarded')
      @UseGuards(IamGuard)
      class GuardedController {
        @Get()
        guarded(@IamClaims('sub') sub: string) {
          return { sub }
        }
      }
      const { url } = await start(
        appModule(options({ globalGuard: false }), [PlainController, GuardedController]),
      )
      assert.deepEqual((await send(url, { path: '/plain' })).json, { sub: null })
      assert.equal((await send(url, { path: '/guarded' })).status, 401)
      assert.deepEqual((await send(url, { path: '/guarded', token: 'denied' })).json, {
        sub: 'other-userid',
      })
    })

    test('forRootAsync: options from a factory of injected providers', async () => {
      AppConfig.values = {
        IAM_BASE_URL: scenario.emulator.baseUrl,
        IAM_CLIENT_ID: scenario.emulator.clientId,
        IAM_CLIENT_SECRET: scenario.emulator.clientSecret,
      }
      const async: IamModuleAsyncOptions = {
        imports: [AppConfigModule],
        inject: [AppConfig],
        useFactory: async (config: AppConfig) => ({
          baseUrl: config.get('IAM_BASE_URL') as string,
          clientId: config.get('IAM_CLIENT_ID') as string,
          clientSecret: config.get('IAM_CLIENT_SECRET') as string,
          strictReferer: true,
          logger: silentLogger,
        }),
      }
      @Module({
        imports: [IamModule.forRootAsync(async)],
        controllers: [UsersController, HealthController],
      })
      class AsyncModule {}
      const { app, url } = await start(AsyncModule)
      const iam = app.get(IamService)
      assert.equal(iam.options.strictReferer, true)
      assert.equal(iam.client.options.baseUrl, scenario.emulator.baseUrl)
      assert.equal(
        (await send(url, { path: '/users/sample-userid', token: 'allowed' })).status,
        200,
      )
      const health = await send(url, { path: '/healthz' })
      assert.deepEqual([health.status, health.json?.status], [200, 'ready'])
      assert.equal(health.headers['cache-control'], 'no-store')
      const client = await send(url, { path: '/users/me/client', token: 'allowed' })
      assert.deepEqual(client.json, { clientId: scenario.emulator.clientId })
    })

    test('bad options: a TypeError naming the option, at forRoot or when the app is created', async () => {
      assert.throws(
        () => IamModule.forRoot({ csrfProtecton: false } as never),
        /csrfProtecton.*csrfProtection/,
      )
      assert.throws(() => IamModule.forRoot({ awaitReady: 'yes' } as never), /awaitReady/)
      assert.throws(() => IamModule.forRootAsync({ useFactory: 1 } as never), /useFactory/)
      assert.throws(
        () => IamModule.forRootAsync({ useFactory: () => ({}), awaitReddy: false } as never),
        /awaitReddy/,
      )
      assert.throws(() => PermissionRequired({ Action: 'x' } as never), TypeError)
      assert.throws(() => CorsOptions({ 'Access-Control-Allow-Credentials': 'maybe' }), TypeError)
      @Module({
        imports: [
          IamModule.forRootAsync({ useFactory: () => options({ corsOrigin: 42 as never }) }),
        ],
      })
      class BadModule {}
      await assert.rejects(
        createNestApp(platform as NestPlatform, BadModule),
        (e: unknown) => e instanceof TypeError && /corsOrigin/.test(e.message),
      )
    })

    test('IAM down: app.listen() rejects with ERR_IAM_UNAVAILABLE; with awaitReady: false it serves 503', async () => {
      const down = { baseUrl: scenario.deadBaseUrl, requestTimeoutMs: 200, requestBudgetMs: 200 }
      const app = await createNestApp(
        platform as NestPlatform,
        appModule(options(down), controllers),
      )
      await assert.rejects(
        listen(app),
        (e: unknown) => e instanceof IamError && e.code === 'ERR_IAM_UNAVAILABLE',
      )
      await app.close()
      const { url } = await start(
        appModule(options({ ...down, awaitReady: false, readyTimeoutMs: 300 }), controllers),
      )
      const refused = await send(url, { path: '/plain', token: 'allowed' })
      assert.deepEqual([refused.status, refused.json?.errorCode], [503, 20000])
      assert.equal(refused.headers['retry-after'], '1')
      assert.equal((await send(url, { path: '/open' })).status, 200)
    })

    test('app.close() closes the client the module built, not a client it was given', async () => {
      const owner = await createNestApp(platform as NestPlatform, appModule(options(), []))
      await owner.init()
      const client = owner.get(IamService).client
      const close = client.close.bind(client)
      let closed = 0
      client.close = async () => {
        closed++
        await close()
      }
      const { app: borrower, url } = await start(appModule({ client }, controllers))
      assert.equal((await send(url, { path: '/plain', token: 'allowed' })).status, 200)
      await borrower.close()
      apps.splice(apps.indexOf(borrower), 1)
      assert.equal(closed, 0)
      await owner.close()
      assert.equal(closed, 1)
    })

    test('CORS: preflights of paths without OPTIONS handler are answered; other OPTIONS are 404', async () => {
      @Controller('cors')
      class CorsController {
        @Options('own')
        @CorsOptions({ 'Access-Control-Allow-Headers': 'Device-Id' }, { preflight: false })
        @HttpCode(204)
        own() {}

        @Get('own')
        @Public()
        get() {
          return 'x'
        }
      }
      const { url } = await start(
        appModule(options({ corsEnable: true, corsOrigin: 'http://allowed.example' }), [
          CorsController,
          PlainController,
        ]),
      )
      const preflight = {
        origin: 'http://allowed.example',
        'access-control-request-method': 'POST',
      }
      const echo = await send(url, { method: 'OPTIONS', path: '/plain/echo', headers: preflight })
      assert.equal(echo.status, 200)
      assert.equal(echo.text, '')
      assert.equal(echo.headers['access-control-allow-origin'], 'http://allowed.example')
      // As app.enableCors(): any path's preflight, as Nest cannot look its routes up by path.
      const unknown = await send(url, { method: 'OPTIONS', path: '/nowhere', headers: preflight })
      assert.deepEqual([unknown.status, unknown.text], [200, ''])
      const plain = await send(url, { method: 'OPTIONS', path: '/plain/echo' })
      assert.equal(plain.status, 404)
      // A 404 carries the CORS headers too.
      const nowhere = await send(url, {
        path: '/nowhere',
        headers: { origin: 'http://allowed.example' },
      })
      assert.deepEqual(
        [nowhere.status, nowhere.headers['access-control-allow-origin']],
        [404, 'http://allowed.example'],
      )
      // preflight: false: the route's OPTIONS handler is authenticated like any other.
      const own = await send(url, { method: 'OPTIONS', path: '/cors/own', headers: preflight })
      assert.equal(own.status, 401)
      assert.equal(own.headers['access-control-allow-headers'], 'Device-Id')
      const ownOk = await send(url, {
        method: 'OPTIONS',
        path: '/cors/own',
        token: 'allowed',
        headers: preflight,
      })
      assert.deepEqual(
        [ownOk.status, ownOk.headers['access-control-allow-headers']],
        [204, 'Device-Id'],
      )
    })

    test('an end-to-end test module (@nestjs/testing) gets the guard, the filter and CORS', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          IamModule.forRoot(options({ corsEnable: true, corsOrigin: 'http://allowed.example' })),
        ],
        controllers,
      }).compile()
      const app = moduleRef.createNestApplication(
        platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
        { logger: false },
      )
      apps.push(app)
      const url = await listen(app)
      const origin = { origin: 'http://allowed.example' }
      const refused = await send(url, { path: '/plain', headers: origin })
      assert.deepEqual([refused.status, refused.json?.errorCode], [401, 20001])
      assert.equal(refused.headers['access-control-allow-origin'], 'http://allowed.example')
      const read = await send(url, { path: '/users/sample-userid', token: 'allowed' })
      assert.equal(read.status, 200)
    })

    test('an application context without HTTP: the client, no guard to run', async () => {
      @Module({ imports: [IamModule.forRoot(options())] })
      class WorkerModule {}
      const context = await NestFactory.createApplicationContext(WorkerModule, {
        logger: false,
        abortOnError: false,
      })
      try {
        const claims = await context
          .get(IamService)
          .client.validateAndParseClaims(scenario.tokens.allowed)
        assert.equal(claims.sub, 'sample-userid')
      } finally {
        await context.close()
      }
    })

    test('a handler of another transport is refused unless @Public(), never let through', async () => {
      const { app } = await start(appModule(options(), []))
      const guard = app.get(IamGuard)
      const rpc = (handler: (...args: never[]) => unknown, controller: Type, type = 'rpc') =>
        ({
          getType: () => type,
          getHandler: () => handler,
          getClass: () => controller,
        }) as unknown as ExecutionContext
      // Thrown synchronously: Nest's guard runner turns it into the request's error.
      assert.throws(
        () => guard.canActivate(rpc(PlainController.prototype.plain, PlainController)),
        (e: unknown) => e instanceof IamError && e.code === 'ERR_IAM_INTERNAL',
      )
      assert.throws(
        () => guard.canActivate(rpc(OpenController.prototype.me, OpenController, 'ws')),
        IamError,
      )
      assert.equal(
        await guard.canActivate(rpc(OpenController.prototype.open, OpenController)),
        true,
      )
    })

    test('a global prefix: route parameters still fill the placeholders', async () => {
      const app = await createNestApp(platform as NestPlatform, appModule(options(), controllers))
      apps.push(app)
      app.setGlobalPrefix('api')
      const url = await listen(app)
      const read = await send(url, { path: '/api/users/sample-userid', token: 'allowed' })
      assert.equal(read.status, 200)
      const other = await send(url, { path: '/api/users/other-userid', token: 'allowed' })
      assert.equal(other.status, 403)
    })
  })
}
