/**
 * gRPC suite (`npm run bench -- grpc`, @grpc/grpc-js): the SDK's server interceptor against the
 * bare server and against verifying by hand with jose, each server in its own process, unary
 * calls `bench.Bench/Health` (unprotected; the HTTP suites' `/health`) and `bench.Bench/Protected`
 * (`/protected`) with empty messages:
 *
 * - `bare`: grpc-js alone (the baseline).
 * - `interceptor`: grpc-js with a no-op server interceptor (a control: what an interceptor costs
 *   grpc-js itself; the SDK is one).
 * - `sdk`: `createIamGrpc({ methods })`, `Health` public and `Protected` with the permission, its
 *   interceptor on the server.
 * - `jose`: jose's `createRemoteJWKSet` + `jwtVerify` (`issuer`, `audience`) in a wrapper around
 *   the handler (grpc-js has no per-method middleware), then the permission claim.
 *
 * Load: bench/grpc-load.ts in another process, 4 HTTP/2 connections × 8 calls in flight (32, as
 * wrk's `-c32`).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import type * as Grpc from '@grpc/grpc-js'

import { AUDIENCE, grantsBenchPermission, PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { httpStatusOf, openSession, unaryCall } from './grpc-load.js'
import type { GrpcLoadJob } from './grpc-load.js'
import type { HttpSuite, LoadResult, LoadSpec, LoadTransport } from './measure.js'

const PROTO = fileURLToPath(new URL('./bench.proto', import.meta.url))
const LOAD = fileURLToPath(new URL('./grpc-load.ts', import.meta.url))
/** The HTTP suites' paths as the service's methods. */
const METHODS: Record<string, string> = {
  '/health': '/bench.Bench/Health',
  '/protected': '/bench.Bench/Protected',
}
const CONNECTIONS = 4
const STREAMS_PER_CONNECTION = 8

type Handler = Grpc.handleUnaryCall<object, object>
const answer: Handler = (_call, callback) => callback(null, {})

/** A grpc-js server of the bench service on 127.0.0.1; `Protected` only when given. */
async function serveGrpc(
  protectedHandler?: Handler,
  interceptors: Grpc.ServerInterceptor[] = [],
): Promise<string> {
  const grpc = await import('@grpc/grpc-js')
  const { loadSync } = await import('@grpc/proto-loader')
  const definition = grpc.loadPackageDefinition(loadSync(PROTO)) as unknown as {
    bench: { Bench: { service: Grpc.ServiceDefinition } }
  }
  const server = new grpc.Server({ interceptors })
  const unimplemented: Handler = (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED })
  server.addService(definition.bench.Bench.service, {
    health: answer,
    protected: protectedHandler ?? unimplemented,
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  return `http://127.0.0.1:${port}`
}

/** The origin and method of a case's URL (`http://127.0.0.1:port/health`). */
function target(url: string): { origin: string; path: string } {
  const { origin, pathname } = new URL(url)
  const path = METHODS[pathname]
  if (path === undefined) throw new Error(`no gRPC method for ${pathname}`)
  return { origin, path }
}

/** Load from bench/grpc-load.ts in a child process; one call per check, from this one. */
const GRPC_TRANSPORT: LoadTransport = {
  describe: `unary calls, ${CONNECTIONS} HTTP/2 connections x ${STREAMS_PER_CONNECTION} in flight (bench/grpc-load.ts)`,
  require: () => {},
  async run(spec: LoadSpec): Promise<LoadResult> {
    const job: GrpcLoadJob = {
      ...target(spec.url),
      seconds: spec.seconds,
      connections: CONNECTIONS,
      streamsPerConnection: STREAMS_PER_CONNECTION,
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(spec.pool ? { pool: spec.pool } : {}),
    }
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', LOAD, JSON.stringify(job)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
      child.once('error', reject)
      child.once('exit', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`grpc-load exited with ${code}`)),
      )
    })
    return JSON.parse(out) as LoadResult
  },
  async status(url, headers) {
    const { origin, path } = target(url)
    const session = await openSession(origin)
    try {
      return httpStatusOf(await unaryCall(session, path, headers))
    } finally {
      session.close()
    }
  },
}

export const suite: HttpSuite = {
  name: 'grpc',
  title: 'gRPC (@grpc/grpc-js)',
  transport: GRPC_TRANSPORT,
  servers: {
    bare: { label: 'grpc-js', bare: true, start: () => serveGrpc() },
    interceptor: {
      label: 'grpc-js + a no-op interceptor (control)',
      bare: true,
      baseline: 'bare',
      start: async () => {
        const { ServerInterceptingCall } = await import('@grpc/grpc-js')
        return serveGrpc(undefined, [(_method, call) => new ServerInterceptingCall(call)])
      },
    },
    sdk: {
      label: 'iam-node-sdk',
      cannotRefuse: { audience: 'IAM access tokens are not audience-bound; the SDK checks none' },
      start: async (context: ServerContext) => {
        const { createIamGrpc } = await import('iam-node-sdk/grpc')
        const iam = createIamGrpc({
          ...sdkOptions(context),
          methods: {
            '/bench.Bench/Health': 'public',
            '/bench.Bench/Protected': { permission: PERMISSION, resources: resources(context) },
          },
        })
        await iam.ready
        return serveGrpc(answer, [iam.interceptor])
      },
    },
    jose: {
      label: 'jose createRemoteJWKSet',
      start: async (context: ServerContext) => {
        const { status } = await import('@grpc/grpc-js')
        const { createRemoteJWKSet, jwtVerify } = await import('jose')
        const keys = createRemoteJWKSet(new URL(context.jwksUrl))
        const options = { issuer: context.issuer, audience: AUDIENCE, algorithms: ['RS256'] }
        const verified: Handler = (call, callback) => {
          const header = call.metadata.get('authorization')[0]
          if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
            return callback({ code: status.UNAUTHENTICATED, details: 'no token' })
          }
          jwtVerify(header.slice(7), keys, options).then(
            ({ payload }) =>
              grantsBenchPermission(payload, context.namespace)
                ? answer(call, callback)
                : callback({ code: status.PERMISSION_DENIED, details: 'forbidden' }),
            () => callback({ code: status.UNAUTHENTICATED, details: 'invalid token' }),
          )
        }
        return serveGrpc(verified)
      },
    },
  },
}
