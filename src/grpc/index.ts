/**
 * gRPC integration (`@grpc/grpc-js` 1.10+): a server interceptor that protects every RPC the way
 * the HTTP adapters protect routes: the access token from the `authorization` metadata,
 * validated locally, and the permission each RPC declares in its `.proto` file (custom method
 * options) or in a `methods` map. A translator over the adapter kit (`iam-node-sdk/http`): every
 * decision is made there.
 *
 * @example
 * ```ts
 * import { Server, loadPackageDefinition } from '@grpc/grpc-js'
 * import { loadSync } from '@grpc/proto-loader'
 * import { createIamGrpc, requireIam } from 'iam-node-sdk/grpc'
 *
 * const definition = loadSync('guild.proto')
 * const iam = createIamGrpc({ packageDefinition: definition, resources: { '{namespace}': 'my-game' } })
 * const server = new Server({ interceptors: [iam.interceptor] })
 * server.addService(loadPackageDefinition(definition).guild.GuildService.service, {
 *   getGuildProgress: (call, callback) => callback(null, { owner: requireIam(call).claims.sub }),
 * })
 * await iam.ready
 * ```
 * @packageDocumentation
 */
import { Metadata, ServerInterceptingCall, status } from '@grpc/grpc-js'
import type {
  ServerInterceptingCallInterface as InterceptedCall,
  ServerInterceptor,
  ServerMethodDefinition,
  StatusObject,
} from '@grpc/grpc-js'

import {
  HttpProtection,
  IamError,
  createHttpRequest,
  createRouteGuard,
  declaredMethods,
  isIamError,
  requireContext,
} from '../core/http/index.js'
import type {
  HealthResponse,
  IamClient,
  IamProtectionOptions,
  IamRequestContext,
  PackageDefinition,
  PermissionResources,
  ProtoOptionFields,
  RequiredPermission,
  RouteGuard,
  RouteProtectionOptions,
} from '../core/http/index.js'

export type {
  DeclaredMethod,
  HttpProtectionOptions,
  IamErrorCode,
  IamRequestContext,
  PackageDefinition,
  PermissionResources,
  ProtoOptionFields,
  RequiredPermission,
  RouteCheck,
  RouteProtectionOptions,
} from '../core/http/index.js'
export { IamError, declaredMethods, isIamError } from '../core/http/index.js'

/** What a `resources` function and a `check` see of a call. */
export interface GrpcCallInfo {
  /** The RPC, `/package.Service/Method`. */
  readonly path: string
  /** The call's metadata: sent by the client, like HTTP headers. */
  readonly metadata: Metadata
  /** The request of a unary or server-streaming call; `undefined` for client-streaming and bidi. */
  readonly message: unknown
  /** The `:authority` the call was sent to. */
  readonly host: string
}

type GrpcRouteOptions = Omit<RouteProtectionOptions<GrpcCallInfo>, 'csrfProtect'>

/**
 * One RPC's protection in the `methods` option (all of it: its `.proto` options are not read), with
 * the route options `scopes`, `optional` and `check` of the HTTP adapters.
 */
export interface GrpcMethodProtection extends GrpcRouteOptions {
  /** `{ resource, action }`; absent: any valid token. */
  permission?: RequiredPermission | null
  /** Placeholder values, or a function of the call; default: the `resources` option. */
  resources?: PermissionResources<GrpcCallInfo>
}

/** Options of {@link createIamGrpc}: the core client's and the kit's options, plus these. */
export interface IamGrpcOptions extends IamProtectionOptions {
  /** What `@grpc/proto-loader` loaded: each RPC's `(resource)` and `(action)` options are read. */
  packageDefinition?: PackageDefinition
  /** Field numbers of those options. Default `{ resource: 50001, action: 50002 }`. */
  protoOptionFields?: Partial<ProtoOptionFields>
  /** Protection by RPC path (`'/package.Service/Method'`), or `'public'`; wins over the `.proto`. */
  methods?: Readonly<Record<string, GrpcMethodProtection | 'public'>>
  /** Placeholder values of every RPC; the others come from request message fields. */
  resources?: Readonly<Record<string, string>>
  /** An RPC declared nowhere: `'refuse'` (`PERMISSION_DENIED`, the default) or `'requireToken'`. */
  unknownMethods?: 'refuse' | 'requireToken'
}

/** The one table from an error's HTTP status to a gRPC status (anything else: `INTERNAL`). */
const GRPC_STATUS: Readonly<Record<number, status>> = {
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  503: status.UNAVAILABLE,
}

/**
 * The gRPC status of any thrown value: an {@link IamError} by its HTTP status, its wire message
 * as details, and trailing metadata `iam-error-code` (20001) and `iam-sdk-error-code`
 * (`ERR_IAM_TOKEN_EXPIRED`); anything else is `INTERNAL` / 20000 without details.
 *
 * @example
 * ```ts
 * iam.client.validatePermission(claims, required).catch((error) => callback(toGrpcStatus(error)))
 * ```
 */
export function toGrpcStatus(error: unknown): StatusObject {
  const iam = isIamError(error) ? error : new IamError('ERR_IAM_INTERNAL', 'unexpected error')
  const metadata = new Metadata()
  metadata.set('iam-error-code', String(iam.errorCode))
  metadata.set('iam-sdk-error-code', iam.code)
  const code = GRPC_STATUS[iam.status] ?? status.INTERNAL
  return { code, details: iam.body.errorMessage, metadata }
}

/** Contexts by the metadata object the handler's call holds: its identity, never its content. */
const contexts = new WeakMap<Metadata, IamRequestContext | undefined>()

/**
 * The validated context of a call the interceptor let through; `undefined` on a public RPC, or an
 * optional one called without a token.
 *
 * @example
 * ```ts
 * const userId = iamContextOf(call)?.claims.sub
 * ```
 */
export function iamContextOf(call: { readonly metadata: Metadata }): IamRequestContext | undefined {
  return contexts.get(call.metadata)
}

/**
 * The validated context of a call, typed; `ERR_IAM_INTERNAL` when there is none.
 *
 * @example
 * ```ts
 * const { claims } = requireIam(call)
 * ```
 */
export function requireIam(call: { readonly metadata: Metadata }): IamRequestContext {
  return requireContext(contexts.get(call.metadata))
}

/** A guard, and the placeholders whose values come from message fields (as route params). */
type MethodGuard = { readonly guard: RouteGuard<GrpcCallInfo>; readonly fields: string[] }

function methodGuard(
  path: string,
  requestStream: boolean,
  { permission, resources, ...options }: GrpcMethodProtection,
  statics: Readonly<Record<string, string>>,
): MethodGuard {
  const values = resources ?? statics
  let guard: RouteGuard<GrpcCallInfo>
  try {
    guard = createRouteGuard(permission, values, options)
  } catch (error) {
    throw new TypeError(`IAM protection of ${path}: ${(error as Error).message}`)
  }
  const names = [...(guard.permission?.resource.matchAll(/\{([^{}]*)\}/g) ?? [])].map((m) => m[1])
  const fields = [...new Set(names as string[])].filter(
    (name) => typeof values === 'function' || !Object.hasOwn(values, `{${name}}`),
  )
  if (requestStream && fields.length > 0 && typeof values !== 'function') {
    throw new TypeError(
      `IAM protection of ${path}: its requests stream, so it is decided before any message is read; give {${fields.join('}, {')}} a value in the resources option`,
    )
  }
  return { guard, fields }
}

/** A message field as a route parameter: a string or an integer; anything else is refused (''). */
function fieldText(message: unknown, name: string): string {
  const record = Object(message) as Record<string, unknown>
  const camel = name.replace(/_([a-z\d])/g, (_, c: string) => c.toUpperCase())
  const key = Object.hasOwn(record, name) ? name : camel
  const value = Object.hasOwn(record, key) ? record[key] : undefined
  const integer = Number.isSafeInteger(value) || typeof value === 'bigint'
  return typeof value === 'string' || integer ? String(value) : ''
}

/**
 * Builds the protection of a gRPC server and starts its client. Options: the core client's and
 * the kit's (then `IAM_*` environment variables, then defaults), plus `packageDefinition`,
 * `protoOptionFields`, `methods`, `resources` and `unknownMethods`. The token comes from metadata
 * only (`tokenLocations` is `['headers']`). Throws a `TypeError` naming a bad option or RPC.
 *
 * @example
 * ```ts
 * const iam = createIamGrpc({ packageDefinition, methods: { '/grpc.health.v1.Health/Check': 'public' } })
 * const server = new Server({ interceptors: [iam.interceptor] })
 * ```
 */
export function createIamGrpc(options: IamGrpcOptions = {}): IamGrpc {
  if (Object(options) !== options) throw new TypeError('IAM options must be an object')
  const { packageDefinition, protoOptionFields, methods, resources, unknownMethods, ...rest } =
    options
  const fail = (name: string, what: string): never => {
    throw new TypeError(`IAM option ${name} must be ${what}`)
  }
  if (![undefined, 'headers'].includes(rest.tokenLocations?.join())) {
    fail('tokenLocations', "['headers']: gRPC calls carry the token in metadata only")
  }
  if (![undefined, 'refuse', 'requireToken'].includes(unknownMethods)) {
    fail('unknownMethods', "'refuse' or 'requireToken'")
  }
  const statics = resources ?? {}
  createRouteGuard(null, statics) // throws a TypeError for anything but strings
  const declared = packageDefinition
    ? declaredMethods(packageDefinition, protoOptionFields)
    : new Map()
  const table = new Map<string, MethodGuard | 'public'>()
  for (const [path, { requestStream, permission }] of declared) {
    table.set(path, methodGuard(path, requestStream, { permission }, statics))
  }
  for (const [path, method] of Object.entries(methods ?? {})) {
    if (!/^\/[^/]+\/[^/]+$/.test(path)) fail(`methods "${path}"`, 'keyed /package.Service/Method')
    if (method !== 'public' && Object(method) !== method)
      fail(`methods["${path}"]`, "'public' or an object")
    const streams = declared.get(path)?.requestStream === true
    table.set(path, method === 'public' ? method : methodGuard(path, streams, method, statics))
  }
  const fallback = unknownMethods === 'requireToken' ? methodGuard('', false, {}, {}) : undefined
  // Started last: a bad declaration above leaves no client running.
  const protection = HttpProtection.create({
    options: { ...rest, tokenLocations: ['headers'] },
    env: process.env,
  })
  return new IamGrpc(protection, table, fallback)
}

/** The protection of one gRPC server: its interceptor, readiness, health and client. */
export class IamGrpc {
  /**
   * The server interceptor (`new Server({ interceptors: [iam.interceptor] })`). Put it last, so
   * that the other interceptors see every call and refusal, and the handler gets the metadata
   * object {@link requireIam} reads.
   */
  readonly interceptor: ServerInterceptor = (method, call) => this.#intercept(method, call)
  readonly #warned = new Set<string>()

  /** @internal */
  constructor(
    /** The kit's protection (options, readiness, logger). */
    readonly protection: HttpProtection,
    private readonly methods: ReadonlyMap<string, MethodGuard | 'public'>,
    private readonly fallback: MethodGuard | undefined,
  ) {}

  /** Settles when the client is started (token, JWKS, revocation list); rejects if it failed. */
  get ready(): Promise<void> {
    return this.protection.ready
  }
  /** The core client. */
  get client(): IamClient {
    return this.protection.client as IamClient
  }
  /** `{ status: 200 | 503, body }`: whether calls can be decided, with each background resource. */
  health(): HealthResponse {
    return this.protection.health()
  }
  /** Stops the client; later calls are answered `UNAVAILABLE` (`ERR_IAM_CLOSED`). */
  close(): Promise<void> {
    return this.protection.close()
  }

  /** Refuses an RPC declared nowhere, and says so once per RPC. */
  #undeclared(path: string): IamError {
    const message = `no IAM protection is declared for ${path}`
    if (!this.#warned.has(path) && this.#warned.add(path)) {
      this.protection.logger.warn?.({ method: path }, `${message}: its calls are refused`)
    }
    return new IamError('ERR_IAM_INSUFFICIENT_PERMISSIONS', message)
  }

  /**
   * Holds every inbound event until the decision: the metadata (the handler starts on it) and,
   * for unary and server-streaming calls, the one request message, read first for placeholders.
   * Allowed: the events are passed on in order. Refused: the status is sent, nothing reaches the
   * handler.
   */
  #intercept(method: ServerMethodDefinition<unknown, unknown>, call: InterceptedCall) {
    const path = method.path
    const entry = this.methods.get(path) ?? this.fallback
    if (entry === 'public') return new ServerInterceptingCall(call)
    const readsMessage = !method.requestStream
    const held: (() => void)[] = []
    let [metadata, passMetadata] = [new Metadata(), (_: Metadata): void => {}]
    let [deciding, sawMessage, allowed, ended] = [false, false, false, false]
    const end = (error: unknown, answer = toGrpcStatus(error)) => {
      ended = true
      call.sendStatus(answer)
    }
    const hold = (event: () => void) => (allowed ? event() : held.push(event))
    const decide = (message: unknown) => {
      deciding = true
      if (entry === undefined) return end(this.#undeclared(path))
      const request = createHttpRequest({
        method: 'POST',
        // Every value of a key: a repeated `authorization` is refused as ambiguous.
        headers: (name) =>
          metadata.get(name).length > 0 ? metadata.get(name).map(String) : undefined,
        host: () => call.getHost(),
        params: Object.fromEntries(entry.fields.map((name) => [name, fieldText(message, name)])),
        path,
        route: path,
      })
      const info = { path, metadata, message, host: call.getHost() }
      // At once when the answer is at hand (a token seen before): no promise, no microtask.
      this.protection.authorizeCallback(entry.guard, request, info, (error, context) => {
        if (error !== undefined) return end(error)
        try {
          contexts.set(metadata, context)
          passMetadata(metadata)
          while (held.length > 0 && !ended) held.shift()?.()
          allowed = true
        } catch (thrown) {
          end(thrown)
        }
      })
    }
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (received, pass) => {
            ;[metadata, passMetadata] = [received, pass]
            if (readsMessage && entry !== undefined) call.startRead()
            else decide(undefined)
          },
          onReceiveMessage: (message, pass) => {
            if (ended) return
            // Decided on the first message: a second one must never reach the handler.
            if (readsMessage && sawMessage) {
              const details = `more than one request message for ${path}`
              return end(null, { code: status.UNIMPLEMENTED, details, metadata: new Metadata() })
            }
            sawMessage = true
            hold(() => pass(message))
            if (readsMessage) decide(message)
          },
          onReceiveHalfClose: (pass) => {
            if (ended) return
            if (readsMessage && !deciding) decide(undefined)
            hold(pass)
          },
        }),
    })
  }
}
