/**
 * NestJS integration (NestJS 11, on Express or Fastify): `IamModule.forRoot()` or
 * `forRootAsync()`, a global guard (every route needs a valid token unless `@Public()`),
 * `@PermissionRequired`, `@TokenRequired`, `@IamClaims()` and an exception filter rendering
 * refusals as the wire body with their headers. A translator over the adapter kit
 * (`iam-node-sdk/http`): every decision is made there.
 *
 * @example
 * ```ts
 * @Controller()
 * class UsersController {
 *   @Get('ns/:namespace/users/:userId')
 *   @PermissionRequired({ action: 2, resource: 'NAMESPACE:{namespace}:USER:{userId}' })
 *   read(@IamClaims('sub') sub: string) { return { sub } }
 * }
 *
 * @Module({
 *   imports: [IamModule.forRoot({ baseUrl: 'https://demo.accelbyte.io/iam', clientId, clientSecret })],
 *   controllers: [UsersController],
 * })
 * class AppModule {}
 * ```
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

import { Catch } from '@nestjs/common'
import type {
  ArgumentsHost,
  CanActivate,
  DynamicModule,
  ExceptionFilter,
  ExecutionContext,
  InjectionToken,
  MiddlewareConsumer,
  ModuleMetadata,
  NestModule,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
  OptionalFactoryDependency,
  Provider,
} from '@nestjs/common'
import { APP_FILTER, APP_GUARD, HttpAdapterHost, Reflector } from '@nestjs/core'

import {
  HttpProtection,
  IamError,
  applyCorsHeaders,
  beforeWriteHead,
  createHttpRequest,
  createRouteGuard,
  isPreflight,
  nodeCorsRequestInfo,
  nodeHeaderSink,
  setRequestContext,
  toHttpErrorResponse,
  validateProtectionOptions,
} from '../core/http/index.js'
import type {
  HealthResponse,
  IamClient,
  IamRequestContext,
  IamProtectionOptions,
  ResolvedHttpProtectionOptions,
  RouteCors,
  RouteGuard,
} from '../core/http/index.js'
import { IAM_CORS_METADATA, IAM_ROUTE_METADATA, routeCors } from './decorators.js'
import type { IamHttpRequest } from './decorators.js'

export {
  CorsOptions,
  IAM_CORS_METADATA,
  IAM_ROUTE_METADATA,
  IamClaims,
  IamContext,
  PermissionRequired,
  Public,
  TokenRequired,
} from './decorators.js'
export type { IamHttpRequest } from './decorators.js'
export * from '../core/http/adapter-exports.js'
export type { HealthResponse, IamProtectionOptions, JwtClaims } from '../core/http/index.js'
export { toHttpErrorResponse } from '../core/http/index.js'

/** How the module is wired; static, also in `forRootAsync` (the providers depend on it). */
export interface IamModuleSetup {
  /**
   * Wait in `onApplicationBootstrap` for the token grant, JWKS and revocation list, so that
   * `app.init()` and `app.listen()` reject when the IAM cannot be reached. `false`: start at once;
   * protected routes wait for the IAM (up to `readyTimeoutMs`) or answer 503. Default `true`.
   */
  awaitReady?: boolean
  /** Register {@link IamGuard} as a global guard (`APP_GUARD`). Default `true`. */
  globalGuard?: boolean
  /** Register {@link IamExceptionFilter} as a global filter (`APP_FILTER`). Default `true`. */
  exceptionFilter?: boolean
}

/** Options of {@link IamModule.forRoot}: the IAM options plus the {@link IamModuleSetup}. */
export interface IamNestOptions extends IamProtectionOptions, IamModuleSetup {}

/** Options of {@link IamModule.forRootAsync}: the IAM options come from a factory. */
export interface IamModuleAsyncOptions extends IamModuleSetup, Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => IamProtectionOptions | Promise<IamProtectionOptions>
  inject?: (InjectionToken | OptionalFactoryDependency)[]
}

/** The injection token of the IAM options (what `forRoot` was given or the factory returned). */
export const IAM_OPTIONS = 'iam-node-sdk:options'
type Imports = ModuleMetadata['imports']
const ANY_PATH: Readonly<Record<string, string>> = { express: '/{*path}', fastify: '/*' }
const TOKEN_ONLY = createRouteGuard<IamHttpRequest>()
type Protection = RouteGuard<IamHttpRequest> | 'public' | undefined
type Decorators = { controller: object; route: Protection; cors?: RouteCors }
const SETUP_KEYS = ['awaitReady', 'globalGuard', 'exceptionFilter']

/** Node requests a Nest route matched (its method is known), with the route's CORS if any. */
const matched = new WeakMap<object, RouteCors | undefined>()

/** The IAM integration of a Nest app: inject it for the client, the options or health. */
export class IamService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  /** @internal The kit's protection. */
  readonly protection: HttpProtection

  /** @internal Built by {@link IamModule}; a `TypeError` names a bad option. */
  constructor(
    options: IamProtectionOptions,
    private readonly setup: IamModuleSetup,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.protection = HttpProtection.create({ options, env: process.env })
  }

  /** Settles when the client token, JWKS and revocation list are loaded; rejects if it failed. */
  get ready(): Promise<void> {
    return this.protection.ready
  }

  /** The core client (`iam.client.validatePermission(...)`). */
  get client(): IamClient {
    return this.protection.client as IamClient
  }

  /** The resolved HTTP options (frozen). */
  get options(): ResolvedHttpProtectionOptions {
    return this.protection.options
  }

  /** The health (readiness) answer: 200 when requests can be decided, 503 with the same body. */
  health(): HealthResponse {
    return this.protection.health()
  }

  /** With app-wide CORS, answers the preflights that no route of the app answers. */
  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter // none in an application context without HTTP
    const path = ANY_PATH[adapter?.getType() ?? '']
    if (adapter === undefined || path === undefined || !this.protection.options.cors) return
    // Added after the app's routes: Express tries it last, Fastify prefers any other route.
    adapter.options(path, (req: IamHttpRequest, res, next) => {
      if (isPreflight(req.method ?? '', req.headers['access-control-request-method']))
        return adapter.reply(res, undefined, 200)
      return next === undefined ? (res as { callNotFound(): void }).callNotFound() : next()
    })
  }

  /** With `awaitReady` (the default), the app starts only once the IAM answered. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.setup.awaitReady !== false) await this.ready
  }

  /** Closes the client after the server stopped taking requests (`app.close()`). */
  readonly onApplicationShutdown = (): Promise<void> => this.close()

  /** Stops the client's background work (when the integration built the client). */
  async close(): Promise<void> {
    await this.protection.close()
  }

  /** @internal CORS headers (app-wide, and the route's), written when the headers go out. */
  cors(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    beforeWriteHead(res, () => {
      const method = matched.has(req) ? req.method : undefined
      const cors = this.protection.cors(nodeCorsRequestInfo(req, method), matched.get(req)?.policy)
      if (cors !== undefined) applyCorsHeaders(cors, nodeHeaderSink(res), false)
    })
    next()
  }
}

function toHttpRequest(req: IamHttpRequest) {
  return createHttpRequest({
    method: req.method as string, // always set on a server's request
    headers: req.headers,
    host: () => (req.raw !== undefined ? req.host : req.hostname), // proxy-aware on both
    params: req.params as Record<string, unknown> | undefined,
    rawHeaders: (req.raw ?? req).rawHeaders,
    path: () => req.originalUrl ?? req.url,
    route: () => req.routeOptions?.url ?? req.route?.path?.toString(), // Fastify's, Express's
  })
}

/**
 * The guard (global unless `globalGuard: false`; then `@UseGuards(IamGuard)`): a handler needs a
 * valid token unless it or its controller is `@Public()`; `@PermissionRequired` and
 * `@TokenRequired` say more. It puts the context on `request.iam`; a refusal is thrown as an
 * `IamError` to Nest's exception filters.
 */
export class IamGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly iam: IamService,
  ) {}

  /** Each handler's decorators, read once (again when a base method runs for another class). */
  readonly #metadata = new WeakMap<object, Decorators>()

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const { route, cors } = this.#metadataOf(context.getHandler(), context.getClass())
    const http = context.getType() === 'http'
    if (!http && route !== 'public') throw new IamError('ERR_IAM_INTERNAL', 'not an HTTP route')
    if (!http) return true
    const req = context.switchToHttp().getRequest<IamHttpRequest>()
    // Read by the CORS middleware only, and only for a route's policy or the app-wide one.
    if (cors !== undefined || this.iam.protection.options.cors) matched.set(req.raw ?? req, cors)
    // A route with its CORS answers its preflight without authentication (as `corsOptions`).
    if (route === 'public' || (cors?.preflight === true && req.method === 'OPTIONS')) return true
    // Synchronous when the answer is at hand: Nest then skips a promise per request.
    const found = this.iam.protection.decide(route ?? TOKEN_ONLY, toHttpRequest(req), req)
    if (found instanceof Promise) return found.then((c) => withContext(req, c))
    return withContext(req, found)
  }

  #metadataOf(handler: object, controller: object) {
    let found = this.#metadata.get(handler)
    if (found?.controller !== controller) {
      const targets = [handler, controller] as never[]
      const route = this.reflector.getAllAndOverride<Protection>(IAM_ROUTE_METADATA, targets)
      const cors = this.reflector.getAllAndOverride<RouteCors>(IAM_CORS_METADATA, targets)
      this.#metadata.set(handler, (found = { controller, route, cors }))
    }
    return found
  }
}

/** Puts the context on the request; the guard's answer. */
function withContext(req: IamHttpRequest, context: IamRequestContext | undefined): true {
  // On Express, `req.app.request` is each request's prototype (see setRequestContext); on
  // Fastify there is no `app`, and the context is a plain property.
  if (context !== undefined) setRequestContext(req, context, req.app?.request)
  return true
}

/**
 * Renders an `IamError` as the wire JSON body (`{ errorCode, errorMessage }`) with its status and
 * `headers` (`WWW-Authenticate`, `Retry-After`), on Express and Fastify. Global unless
 * `exceptionFilter: false`. A filter of yours for `IamError` given to `app.useGlobalFilters()` or
 * `@UseFilters()` comes first and may reshape the answer (keep `error.headers`); to register yours
 * as an `APP_FILTER` provider instead, set `exceptionFilter: false` (Nest orders providers' filters
 * by module, and this module's would come first).
 *
 * @example
 * ```ts
 * IamModule.forRoot({ ...options, exceptionFilter: false }) // then, in main.ts:
 * app.useGlobalFilters(new IamExceptionFilter(app.get(HttpAdapterHost)))
 * ```
 */
export class IamExceptionFilter implements ExceptionFilter<IamError> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: IamError, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter
    const res = host.switchToHttp().getResponse()
    if (adapter.isHeadersSent(res)) return void adapter.end(res)
    const { status, headers, body } = toHttpErrorResponse(error)
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(res, name, value)
    adapter.reply(res, body, status)
  }
}

/**
 * The IAM module, global: `IamModule.forRoot(options)` or `forRootAsync({ useFactory })`. The
 * options object first, then `IAM_*` environment variables, then defaults.
 */
export class IamModule implements NestModule {
  constructor(private readonly iam: IamService) {}

  /** With the options at hand: `IamModule.forRoot({ baseUrl, clientId, clientSecret })`. */
  static forRoot(options: IamNestOptions = {}): DynamicModule {
    const { awaitReady, globalGuard, exceptionFilter, ...iam } = options
    validateProtectionOptions(iam)
    const setup = { awaitReady, globalGuard, exceptionFilter }
    return IamModule.#module(setup, { provide: IAM_OPTIONS, useValue: iam }, [])
  }

  /** Options from a factory, e.g. of `ConfigService`: `{ imports, inject, useFactory }`. */
  static forRootAsync(options: IamModuleAsyncOptions): DynamicModule {
    const { useFactory, inject = [], imports = [], ...setup } = options
    if (typeof useFactory !== 'function') throw new TypeError('useFactory must be a function')
    return IamModule.#module(setup, { provide: IAM_OPTIONS, useFactory, inject }, imports)
  }

  static #module(setup: IamModuleSetup, options: Provider, imports: Imports): DynamicModule {
    for (const [name, value] of Object.entries(setup)) {
      if (!SETUP_KEYS.includes(name)) throw new TypeError(`IamModule option "${name}" is unknown`)
      if (value !== undefined && typeof value !== 'boolean')
        throw new TypeError(`IAM option ${name} must be a boolean`)
    }
    const service = (o: IamProtectionOptions, h: HttpAdapterHost) => new IamService(o, setup, h)
    const providers: Provider[] = [
      options,
      { provide: IamService, useFactory: service, inject: [IAM_OPTIONS, HttpAdapterHost] },
      IamGuard,
      ...(setup.globalGuard === false ? [] : [{ provide: APP_GUARD, useExisting: IamGuard }]),
      ...(setup.exceptionFilter === false
        ? []
        : [{ provide: APP_FILTER, useClass: IamExceptionFilter }]),
    ]
    const exports = [IamService, IamGuard, IAM_OPTIONS]
    return { module: IamModule, global: true, imports, providers, exports }
  }

  /**
   * @internal CORS on every answer (errors and 404s too), before the app's own middleware; only
   * when there is a policy (app-wide, or a route's `@CorsOptions`), because a middleware on
   * every route costs Nest a path match per request.
   */
  configure(consumer: MiddlewareConsumer): void {
    if (this.iam.protection.options.cors === undefined && !routeCors.declared) return
    consumer.apply(this.iam.cors.bind(this.iam)).forRoutes('*')
  }
}

// No decorator syntax, so the package needs no compiler option: what `@Catch` and the compiler's
// decorator metadata (the constructor's parameter types, read by Nest's injector) would write.
Catch(IamError)(IamExceptionFilter)
Reflect.defineMetadata('design:paramtypes', [Reflector, IamService], IamGuard)
Reflect.defineMetadata('design:paramtypes', [HttpAdapterHost], IamExceptionFilter)
Reflect.defineMetadata('design:paramtypes', [IamService], IamModule)
