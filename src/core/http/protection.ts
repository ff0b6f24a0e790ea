/**
 * One object per protected application: resolved options, the core client, readiness, and the
 * operations every framework adapter calls (authorize a request, compute CORS headers, map an
 * error). Adapters translate their request into an {@link HttpRequest} and back; all decisions
 * are made here.
 */
import { IamClient } from '../client.js'
import type { IamHealthReport } from '../client.js'
import { healthResponse } from './health.js'
import type { HealthResponse } from './health.js'
import { createHash } from 'node:crypto'

import { IamError, isIamError } from '../errors.js'
import { DecisionMetrics } from '../metrics.js'
import type { IamLogger } from '../log.js'
import { assertKnownKeys, describeUnknownKeys, unknownIamKeys } from '../config-check.js'
import { CLIENT_OPTION_ENV, CLIENT_OPTION_NAMES } from '../options.js'
import type { IamClientOptions } from '../options.js'
import { computeCorsHeaders, corsAllowsAnyCredentialedOrigin, mergeCorsPolicies } from './cors.js'
import type { CorsHeaders, CorsPolicy, CorsRequestInfo } from './cors.js'
import {
  HTTP_OPTION_NAMES,
  HTTP_SETTING_KEYS,
  resolveHttpProtectionOptions,
  resolveIamConfig,
  validateHttpProtectionOptions,
} from './options.js'
import type {
  ConfigSources,
  HttpProtectionOptions,
  ResolvedHttpProtectionOptions,
} from './options.js'
import { NEEDS_ASYNC, authorizeRequest, authorizeRequestSync } from './pipeline.js'
import { extractToken } from './token.js'
import type { ProtectionClient, RouteGuard } from './pipeline.js'
import { Readiness, clientStarter } from './readiness.js'
import type { StartableClient } from './readiness.js'
import type { HttpRequest, IamRequestContext } from './request.js'
import type { MeterProvider } from '@opentelemetry/api'
import { formatPermissionDecision } from '../permission.js'
import type { PermissionDecision } from '../permission.js'

/** A client the protection can use: the core {@link IamClient} or anything shaped like it. */
export type ProtectionCoreClient = ProtectionClient &
  StartableClient & { close(): Promise<void>; health?(): IamHealthReport }

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

const EXPLAIN = Object.freeze({ explainRefusals: true })

function hasToken(request: HttpRequest, options: ResolvedHttpProtectionOptions): boolean {
  try {
    extractToken(request, options)
    return true
  } catch (error) {
    return !isIamError(error, 'ERR_IAM_TOKEN_MISSING')
  }
}

/** Every key an integration's options object may have. */
const KNOWN_OPTION_NAMES: readonly string[] = Object.freeze([
  ...CLIENT_OPTION_NAMES,
  ...HTTP_OPTION_NAMES,
  'client',
])

/** Every `IAM_*` key the SDK reads from settings and the environment. */
const KNOWN_SETTING_KEYS: ReadonlySet<string> = new Set([
  ...Object.keys(CLIENT_OPTION_ENV),
  ...Object.values(HTTP_SETTING_KEYS),
])

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
  if (options !== null && typeof options === 'object') {
    assertKnownKeys(options, KNOWN_OPTION_NAMES, 'IAM option')
  }
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
  readonly #decisions: DecisionMetrics
  #closed = false

  private constructor(
    options: ResolvedHttpProtectionOptions,
    client: ProtectionCoreClient,
    ownsClient: boolean,
    logger: IamLogger | undefined,
    now: (() => number) | undefined,
    meterProvider: MeterProvider | undefined,
  ) {
    this.options = options
    this.client = client
    this.#ownsClient = ownsClient
    this.#decisions = new DecisionMetrics(meterProvider)
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
    sources: ConfigSources & {
      options?: IamProtectionOptions | undefined
      /** The names of the framework's settings, to warn about unknown `IAM_*` ones. */
      settingKeys?: (() => Iterable<string>) | undefined
    },
  ): HttpProtection {
    const given = sources.options ?? {}
    validateProtectionOptions(given)
    const { client: injected, ...rest } = given
    let protection: HttpProtection
    if (injected !== undefined) {
      const http = resolveHttpProtectionOptions({ ...sources, options: rest })
      protection = new HttpProtection(
        http,
        injected,
        false,
        rest.logger,
        rest.now,
        rest.meterProvider,
      )
    } else {
      const config = resolveIamConfig({ ...sources, options: rest })
      const client = new IamClient(config.client)
      protection = new HttpProtection(
        config.http,
        client,
        true,
        config.client.logger,
        config.client.now,
        config.client.meterProvider,
      )
    }
    protection.#warnAboutUnknownKeys(sources.env, sources.settingKeys)
    return protection
  }

  /** One warning per source listing the `IAM_*` keys nobody reads (typos of real ones). */
  #warnAboutUnknownKeys(
    env: Readonly<Record<string, string | undefined>> | undefined,
    settingKeys: (() => Iterable<string>) | undefined,
  ): void {
    const sources = [
      ['environment variables', env === undefined ? [] : Object.keys(env)],
      ['settings', settingKeys?.() ?? []],
    ] as const
    for (const [what, keys] of sources) {
      const unknown = unknownIamKeys(keys, KNOWN_SETTING_KEYS)
      if (unknown.length === 0) continue
      this.logger.warn?.(
        { unknown: unknown.map((u) => u.key), nearest: unknown.map((u) => u.nearest ?? null) },
        `unknown IAM_* ${what} are ignored: ${describeUnknownKeys(unknown)}`,
      )
    }
  }

  /** Settles with the first start attempt (rejects when it fails). */
  get ready(): Promise<void> {
    return this.readiness.ready
  }

  /**
   * Authorizes one request: waits for readiness (bounded), then runs the pipeline. Resolves with
   * the validated context (`undefined` on an optional route without a token); throws an
   * `IamError` for every refusal, and turns anything else thrown inside into `ERR_IAM_INTERNAL`.
   */
  async authorize<Req>(
    guard: RouteGuard<Req>,
    request: HttpRequest,
    frameworkRequest: Req,
  ): Promise<IamRequestContext | undefined> {
    try {
      if (this.#closed) throw new IamError('ERR_IAM_CLOSED', 'the IAM integration was closed')
      // An optional route serves a request without a token even while the IAM is not ready.
      if (guard.optional && !this.readiness.isReady && !hasToken(request, this.options)) {
        return undefined
      }
      if (!this.readiness.isReady) await this.readiness.wait()
      const explainRefusals = this.#debugEnabled()
      const context = await authorizeRequest(
        this.client,
        this.options,
        guard,
        request,
        frameworkRequest,
        explainRefusals ? EXPLAIN : undefined,
      )
      this.#decisions.record('allowed')
      return context
    } catch (thrown) {
      throw this.#refusal(thrown, request)
    }
  }

  /**
   * {@link HttpProtection.authorize} without waiting, when the answer is at hand (a token seen
   * before, a permission the token carries, no CSRF check): the context (`undefined` on an
   * optional route without a token), or {@link NEEDS_ASYNC} to call `authorize` instead.
   * Throws the same refusals. Framework adapters use it to call `next()` at once.
   */
  authorizeSync<Req>(
    guard: RouteGuard<Req>,
    request: HttpRequest,
  ): IamRequestContext | undefined | typeof NEEDS_ASYNC {
    if (this.#closed || !this.readiness.isReady) return NEEDS_ASYNC
    try {
      const context = authorizeRequestSync(this.client, this.options, guard, request)
      if (context !== NEEDS_ASYNC) this.#decisions.record('allowed')
      return context
    } catch (thrown) {
      throw this.#refusal(thrown, request)
    }
  }

  /**
   * The decision for promise-based frameworks: the context at once when the answer is at hand
   * ({@link HttpProtection.authorizeSync}), else the promise of {@link HttpProtection.authorize}.
   * Throws (or rejects with) the same refusals.
   *
   * @example
   * ```ts
   * const found = protection.decide(guard, request, ctx)
   * ctx.state.iam = found instanceof Promise ? await found : found
   * ```
   */
  decide<Req>(
    guard: RouteGuard<Req>,
    request: HttpRequest,
    frameworkRequest: Req,
  ): IamRequestContext | undefined | Promise<IamRequestContext | undefined> {
    const now = this.authorizeSync(guard, request)
    return now === NEEDS_ASYNC ? this.authorize(guard, request, frameworkRequest) : now
  }

  /**
   * Authorizes one request for callback-style frameworks: `done(undefined, context)` or
   * `done(error)`, called synchronously when the answer is at hand, later otherwise.
   *
   * @example
   * ```ts
   * protection.authorizeCallback(guard, request, req, (error, context) => error ? next(error) : next())
   * ```
   */
  authorizeCallback<Req>(
    guard: RouteGuard<Req>,
    request: HttpRequest,
    frameworkRequest: Req,
    done: (error: IamError | undefined, context?: IamRequestContext) => void,
  ): void {
    let context: IamRequestContext | undefined | typeof NEEDS_ASYNC
    try {
      context = this.authorizeSync(guard, request)
    } catch (error) {
      done(error as IamError)
      return
    }
    if (context !== NEEDS_ASYNC) {
      done(undefined, context)
      return
    }
    this.authorize(guard, request, frameworkRequest).then(
      (found) => done(undefined, found),
      (error: IamError) => done(error),
    )
  }

  /** Any thrown value as the refusal to answer, counted and (at debug level) logged. */
  #refusal(thrown: unknown, request: HttpRequest): IamError {
    // Whatever failed inside the SDK is answered 500 without details; the cause is kept.
    const error = isIamError(thrown)
      ? thrown
      : new IamError('ERR_IAM_INTERNAL', 'unexpected error', { cause: thrown })
    this.#decisions.record(error.status >= 500 ? 'error' : 'refused', error.code)
    if (this.#debugEnabled()) this.#logRefusal(error, request)
    return error
  }

  #debugEnabled(): boolean {
    const logger = this.logger
    if (typeof logger.debug !== 'function') return false
    return logger.isLevelEnabled?.('debug') ?? true
  }

  /** Every refusal at debug level: code, reason, route, never the token (a fingerprint of it). */
  #logRefusal(error: IamError, request: HttpRequest): void {
    let fingerprint: string | undefined
    try {
      const { token } = extractToken(request, this.options)
      fingerprint = createHash('sha256').update(token).digest('base64url').slice(0, 12)
    } catch {
      // No usable token: nothing to fingerprint.
    }
    // A permission refusal's explanation is rendered as lines; other details are logged as they are.
    const denied = isIamError(error, 'ERR_IAM_INSUFFICIENT_PERMISSIONS') ? error.details : undefined
    const explanation = denied?.explanation as PermissionDecision | undefined
    const { explanation: _raw, ...details } = (error.details ?? {}) as Record<string, unknown>
    this.logger.debug?.(
      {
        code: error.code,
        status: error.status,
        reason: error.message,
        method: request.method,
        path: request.path,
        route: request.route,
        tokenFingerprint: fingerprint,
        ...details,
        ...(explanation === undefined
          ? {}
          : { explanation: formatPermissionDecision(explanation) }),
        ...(error.cause === undefined ? {} : { err: error.cause }),
      },
      `refused ${request.method} ${request.path ?? ''}: ${error.code} (${error.message})`,
    )
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

  /**
   * The answer of a health (readiness) endpoint: 200 when requests can be decided, 503 when not
   * (not started yet, or closed), with one entry per background resource either way.
   */
  health(): HealthResponse {
    return healthResponse(this.client.health?.(), this.#closed)
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
