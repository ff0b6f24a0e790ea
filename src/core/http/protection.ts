/**
 * One object per protected application: resolved options, the core client, readiness, and the
 * operations every framework adapter calls (authorize a request, compute CORS headers, map an
 * error). Adapters translate their request into an {@link HttpRequest} and back; all decisions
 * are made here.
 */
import { IamClient } from '../client.js'
import { IamError } from '../errors.js'
import type { IamLogger } from '../log.js'
import type { IamClientOptions } from '../options.js'
import { computeCorsHeaders, corsAllowsAnyCredentialedOrigin, mergeCorsPolicies } from './cors.js'
import type { CorsHeaders, CorsPolicy, CorsRequestInfo } from './cors.js'
import {
  resolveHttpProtectionOptions,
  resolveIamConfig,
  validateHttpProtectionOptions,
} from './options.js'
import type {
  ConfigSources,
  HttpProtectionOptions,
  ResolvedHttpProtectionOptions,
} from './options.js'
import { authorizeRequest } from './pipeline.js'
import type { ProtectionClient, RouteGuard } from './pipeline.js'
import { Readiness, clientStarter } from './readiness.js'
import type { StartableClient } from './readiness.js'
import type { HttpRequest, IamRequestContext } from './request.js'

/** A client the protection can use: the core {@link IamClient} or anything shaped like it. */
export type ProtectionCoreClient = ProtectionClient & StartableClient & { close(): Promise<void> }

/**
 * Options of a framework integration: the core client's options (`baseUrl`, `clientId`,
 * `clientSecret`, ...) plus the HTTP protection options, all optional here because settings and
 * environment variables may supply them.
 */
export interface IamProtectionOptions extends Partial<IamClientOptions>, HttpProtectionOptions {
  /**
   * A client to use instead of building one from the options (to share one client, or to test
   * with a fake). The integration does not close a client it was given.
   */
  client?: ProtectionCoreClient
}

const CORS_WARNING =
  'CORS reflects any origin with credentials (corsReflectAnyOriginUnsafe): any site can send ' +
  'credentialed requests to this service and read the answers. Set corsOrigin (IAM_CORS_ORIGIN) ' +
  'to the list of origins instead.'

/** Warnings and errors to `console` when the application gives no logger. */
const CONSOLE_LOGGER: IamLogger = {
  warn: (details, message) => console.warn(`[iam-node-sdk] ${message}`, details),
  error: (details, message) => console.error(`[iam-node-sdk] ${message}`, details),
}

/**
 * Validates an integration's options object (HTTP options and the `client` option) at
 * construction; throws a `TypeError` naming the bad option.
 */
export function validateProtectionOptions(options: unknown): void {
  validateHttpProtectionOptions(options)
  const client = (options as IamProtectionOptions | undefined)?.client
  if (client !== undefined) {
    for (const method of [
      'validateAndParseClaims',
      'validatePermission',
      'getClientInformation',
      'clientTokenGrant',
      'startLocalValidation',
      'close',
    ] as const) {
      if (typeof (client as unknown as Record<string, unknown>)[method] !== 'function') {
        throw new TypeError(`IAM option "client" must be an IamClient (missing ${method}())`)
      }
    }
  }
}

/**
 * The HTTP protection of one application.
 *
 * @example
 * ```ts
 * const protection = HttpProtection.create({ options, setting: (k) => app.get(k), env: process.env })
 * await protection.ready
 * const context = await protection.authorize(guard, request, req)
 * ```
 */
export class HttpProtection {
  /** The resolved HTTP options (frozen). */
  readonly options: ResolvedHttpProtectionOptions
  /** The core client. */
  readonly client: ProtectionCoreClient
  /** Start of the client; see {@link Readiness}. */
  readonly readiness: Readiness
  /** Where this integration logs: the application's logger, else the console. */
  readonly logger: IamLogger
  readonly #ownsClient: boolean
  #closed = false

  private constructor(
    options: ResolvedHttpProtectionOptions,
    client: ProtectionCoreClient,
    ownsClient: boolean,
    logger: IamLogger | undefined,
    now: (() => number) | undefined,
  ) {
    this.options = options
    this.client = client
    this.#ownsClient = ownsClient
    // A given logger decides (a missing method stays silent); without one, the console.
    this.logger = logger ?? CONSOLE_LOGGER
    this.readiness = new Readiness(clientStarter(client), {
      timeoutMs: options.readyTimeoutMs,
      logger: this.logger,
      now,
    })
    if (options.cors !== undefined && corsAllowsAnyCredentialedOrigin(options.cors)) {
      this.logger.warn?.({ option: 'corsReflectAnyOriginUnsafe' }, CORS_WARNING)
    }
  }

  /**
   * Resolves the configuration (options, then settings, then environment, then defaults), builds
   * the client and starts it. Throws a `TypeError` naming a missing or bad setting.
   */
  static create(
    sources: ConfigSources & { options?: IamProtectionOptions | undefined },
  ): HttpProtection {
    const given = sources.options ?? {}
    validateProtectionOptions(given)
    const { client: injected, ...rest } = given
    if (injected !== undefined) {
      const http = resolveHttpProtectionOptions({ ...sources, options: rest })
      return new HttpProtection(http, injected, false, rest.logger, rest.now)
    }
    const config = resolveIamConfig({ ...sources, options: rest })
    const client = new IamClient(config.client)
    return new HttpProtection(config.http, client, true, config.client.logger, config.client.now)
  }

  /** Settles with the first start attempt (rejects when it fails). */
  get ready(): Promise<void> {
    return this.readiness.ready
  }

  /**
   * Authorizes one request: waits for readiness (bounded), then runs the pipeline. Throws an
   * `IamError` for every refusal.
   */
  async authorize<Req>(
    guard: RouteGuard<Req>,
    request: HttpRequest,
    frameworkRequest: Req,
  ): Promise<IamRequestContext> {
    if (this.#closed) throw new IamError('ERR_IAM_CLOSED', 'the IAM integration was closed')
    if (!this.readiness.isReady) await this.readiness.wait()
    return authorizeRequest(this.client, this.options, guard, request, frameworkRequest)
  }

  /**
   * CORS headers of a response: the app-wide policy (when `corsEnable`), overridden field by
   * field by a route's policy. `undefined` when neither applies.
   */
  cors(request: CorsRequestInfo, route?: CorsPolicy): CorsHeaders | undefined {
    const policy =
      route === undefined ? this.options.cors : mergeCorsPolicies(this.options.cors, route)
    if (policy === undefined) return undefined
    return computeCorsHeaders(policy, request)
  }

  /** Stops the client (when this integration built it) and readiness retries. */
  async close(): Promise<void> {
    this.#closed = true
    this.readiness.close()
    if (this.#ownsClient) await this.client.close()
  }
}

/** Types re-exported for adapters. */
export type { HttpProtectionOptions }
