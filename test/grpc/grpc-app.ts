/**
 * The case table on gRPC: each route of a profile becomes a unary RPC of a service with a JSON
 * codec, protected through the `methods` map (the map path of `iam-node-sdk/grpc`); a row's
 * request becomes a call with the row's headers as metadata, its route parameters as the request
 * message, and its `Host` as the channel's `:authority`.
 */
import * as grpc from '@grpc/grpc-js'
import type { ServiceDefinition } from '@grpc/grpc-js'

import { createIamGrpc, iamContextOf } from '../../src/grpc/index.js'
import type {
  GrpcCallInfo,
  GrpcMethodProtection,
  IamGrpc,
  IamGrpcOptions,
} from '../../src/grpc/index.js'
import type { CaseRequest, RouteSpec, TokenName } from '../adapters/cases.js'
import { caseHeaders, handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec } from '../adapters/harness.js'

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value ?? {})),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.length === 0 ? '{}' : bytes.toString('utf8')),
}

/** The RPC name of a route: `/ns/:namespace/users/:userId` is `ns_namespace_users_userId`. */
export function rpcName(route: RouteSpec): string {
  return route.path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_/, '')
}

/** The service of a profile's routes: one unary RPC per route. */
export function routesService(routes: readonly RouteSpec[]): ServiceDefinition {
  return Object.fromEntries(
    routes.map((route) => [
      rpcName(route),
      {
        path: `/cases.Routes/${rpcName(route)}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: json.serialize,
        requestDeserialize: json.deserialize,
        responseSerialize: json.serialize,
        responseDeserialize: json.deserialize,
      },
    ]),
  )
}

/** A route's protection as a `methods` entry (`'public'` for an unprotected route). */
function methodProtection(route: RouteSpec): GrpcMethodProtection | 'public' {
  const guard = route.guard
  if (guard === undefined) return 'public'
  const { csrfProtect: _csrf, ...options } = routeOptions(guard)
  const resources = routeResources<GrpcCallInfo>(guard.resources, (info, name) =>
    info.metadata.get(name).map(String).join(', '),
  )
  return {
    ...options,
    ...(guard.permission === undefined ? {} : { permission: guard.permission as never }),
    ...(resources === undefined ? {} : { resources }),
  }
}

/** A gRPC server of a profile on a loopback port, and how to call it. */
export interface GrpcApp {
  readonly address: string
  readonly iam: IamGrpc
  readonly service: ServiceDefinition
  close(): Promise<void>
}

/**
 * Builds the server of `spec`. The profile's `tokenLocations` (headers and cookies) becomes
 * `['headers']`: gRPC reads the token from metadata only.
 */
export async function buildGrpcApp(spec: AppSpec): Promise<GrpcApp> {
  const { tokenLocations: _locations, ...options } = spec.options as IamGrpcOptions
  const service = routesService(spec.routes)
  const iam = createIamGrpc({
    ...options,
    methods: Object.fromEntries(
      spec.routes.map((route) => [`/cases.Routes/${rpcName(route)}`, methodProtection(route)]),
    ),
  })
  const server = new grpc.Server({ interceptors: [iam.interceptor] })
  const handler: grpc.handleUnaryCall<unknown, unknown> = (call, callback) =>
    callback(null, handlerBody(iamContextOf(call)))
  server.addService(
    service,
    Object.fromEntries(spec.routes.map((route) => [rpcName(route), handler])),
  )
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  return {
    address: `127.0.0.1:${port}`,
    iam,
    service,
    close: async () => {
      server.forceShutdown()
      await iam.close()
    },
  }
}

/** A call's outcome: the gRPC status, the IAM codes of the trailing metadata, the reply. */
export interface CallOutcome {
  readonly code: grpc.status
  readonly details: string
  readonly iamErrorCode: string | undefined
  readonly sdkErrorCode: string | undefined
  readonly reply: Record<string, unknown> | undefined
}

/** The outcome of a callback-style call's error (or `null`) and reply. */
export function outcome(error: grpc.ServiceError | null, reply?: unknown): CallOutcome {
  const trailer = (key: string) => error?.metadata?.get(key)[0]?.toString()
  return {
    code: error === null ? grpc.status.OK : error.code,
    details: error?.details ?? '',
    iamErrorCode: trailer('iam-error-code'),
    sdkErrorCode: trailer('iam-sdk-error-code'),
    reply: (reply ?? undefined) as Record<string, unknown> | undefined,
  }
}

/** Metadata from HTTP-style headers; a list sends the key once per value. */
export function metadataOf(headers: Readonly<Record<string, string | readonly string[]>>) {
  const metadata = new grpc.Metadata()
  for (const [name, value] of Object.entries(headers)) {
    for (const item of typeof value === 'string' ? [value] : value) metadata.add(name, item)
  }
  return metadata
}

/** The route parameters of `path` for `route` (URL-decoded, as the HTTP frameworks give them). */
function routeParams(route: RouteSpec, path: string): Record<string, string> | undefined {
  const pattern = route.path.split('/')
  const segments = path.split('?')[0]?.split('/') ?? []
  if (pattern.length !== segments.length) return undefined
  const params: Record<string, string> = {}
  for (const [i, part] of pattern.entries()) {
    const segment = segments[i] as string
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(segment)
    else if (part !== segment) return undefined
  }
  return params
}

/** Sends a row's request as a unary call to the route its path names. */
export async function sendCaseCall(
  app: GrpcApp,
  routes: readonly RouteSpec[],
  request: CaseRequest,
  tokens: Readonly<Record<TokenName, string>>,
): Promise<CallOutcome> {
  const match = routes
    .map((route) => ({ route, params: routeParams(route, request.path) }))
    .find((m) => m.params !== undefined)
  if (match === undefined) throw new Error(`no route for ${request.path}`)
  const { host, ...headers } = caseHeaders(request, tokens, `http://${app.address}`)
  const Client = grpc.makeGenericClientConstructor(app.service, 'Routes')
  const client = new Client(
    app.address,
    grpc.credentials.createInsecure(),
    typeof host === 'string' ? { 'grpc.default_authority': host } : {},
  )
  try {
    const method = client[rpcName(match.route)] as (
      message: unknown,
      metadata: grpc.Metadata,
      callback: (error: grpc.ServiceError | null, reply?: unknown) => void,
    ) => void
    return await new Promise<CallOutcome>((resolve) =>
      method.call(client, match.params, metadataOf(headers), (error, reply) =>
        resolve(outcome(error, reply)),
      ),
    )
  } finally {
    client.close()
  }
}
