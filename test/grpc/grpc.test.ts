/**
 * `iam-node-sdk/grpc` against the emulator, with real grpc-js servers and clients on loopback:
 * the case table's rows that apply to gRPC (through the `methods` map), permissions from `.proto`
 * method options on every call kind, placeholders from request messages, the status and trailing
 * metadata of each refusal, the IAM down at start and mid-run, and the errors of bad options.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:http2'
import { createConnection } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

import { EMULATOR_ENDPOINTS } from '../../src/emulator/iam-routes.js'
import type { Emulator } from '../../src/emulator/index.js'
import {
  IamError,
  createIamGrpc,
  iamContextOf,
  requireIam,
  toGrpcStatus,
} from '../../src/grpc/index.js'
import type { IamGrpc, IamGrpcOptions, PackageDefinition } from '../../src/grpc/index.js'
import { CASES, PROFILES } from '../adapters/cases.js'
import type { CaseRow, ProfileName } from '../adapters/cases.js'
import { buildGrpcApp, metadataOf, outcome, sendCaseCall } from './grpc-app.js'
import type { CallOutcome, GrpcApp } from './grpc-app.js'
import { setupScenario, silentLogger, withRowFault } from '../adapters/harness.js'
import type { Scenario } from '../adapters/harness.js'

const { status } = grpc

// ---------------------------------------------------------------------------------- case table

/** The gRPC status the interceptor answers for each HTTP status of the case table. */
const GRPC_OF_HTTP: Readonly<Record<number, grpc.status>> = {
  200: status.OK,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  500: status.INTERNAL,
  503: status.UNAVAILABLE,
}

const COOKIES = 'cookies: gRPC reads the token from metadata only, so there is no CSRF check either'
const CORS = 'CORS: answered by HTTP servers (a gRPC gateway), not by a gRPC server'
const SINGLE =
  'HTTP/2 allows authorization once: grpc-js cannot send it twice (see "a raw HTTP/2 client")'

/** Why a row of the HTTP case table cannot be asked of a gRPC server; `undefined` when it can. */
function notForGrpc(row: CaseRow): string | undefined {
  const { request } = row
  const headers = Object.keys(request.headers ?? {}).map((name) => name.toLowerCase())
  if (request.tokenIn === 'cookie' || request.tokenIn === 'both' || headers.includes('cookie')) {
    return COOKIES
  }
  if (Array.isArray(request.headers?.authorization)) return SINGLE
  const corsExpected = Object.keys(row.expect.headers ?? {}).some((h) => h.startsWith('access-'))
  if (request.method === 'OPTIONS' || row.profile.startsWith('cors') || corsExpected) return CORS
  return undefined
}

/** Calls to the IAM's admin endpoints (roles, overrides, clients, namespaces), and unknown ones. */
function adminCalls(emulator: Emulator): number {
  const endpoints = ['role', 'roleOverride', 'clientInfo', 'namespaceContext'] as const
  const counted = endpoints.reduce((sum, e) => sum + emulator.requestCount(e), 0)
  return counted + emulator.unmatchedRequests().length
}

/** Checks a call against a row: the status for its HTTP status, `iam-error-code`, reply fields. */
function assertCall(row: CaseRow, got: CallOutcome): void {
  const where = `${row.name}: got ${status[got.code]} ${got.details} ${JSON.stringify(got.reply)}`
  assert.equal(got.code, GRPC_OF_HTTP[row.expect.status], where)
  const errorCode = row.expect.errorCode === null ? undefined : String(row.expect.errorCode)
  assert.equal(got.iamErrorCode, errorCode, where)
  assert.equal(got.sdkErrorCode === undefined, errorCode === undefined, where)
  for (const [field, expected] of Object.entries(row.expect.body ?? {})) {
    assert.deepEqual(got.reply?.[field], expected, `${where}\nreply field ${field}`)
  }
}

describe('case table: gRPC (methods map)', () => {
  let scenario: Scenario
  const apps = new Map<ProfileName, Promise<GrpcApp>>()
  before(async () => {
    scenario = await setupScenario()
  })
  after(async () => {
    await Promise.allSettled([...apps.values()].map(async (app) => (await app).close()))
    await scenario?.close()
  })
  function shared(profile: ProfileName): Promise<GrpcApp> {
    let app = apps.get(profile)
    if (app === undefined) {
      const spec = { options: scenario.appOptions(profile), routes: PROFILES[profile].routes }
      app = buildGrpcApp(spec).then(async (built) => {
        await built.iam.ready
        return built
      })
      apps.set(profile, app)
    }
    return app
  }

  const rows = CASES.filter((row) => notForGrpc(row) === undefined)
  test('the rows left out are cookie, CORS and repeated-header rows; the token rows all run', () => {
    const reasons = new Set(CASES.map(notForGrpc).filter((r) => r !== undefined))
    assert.deepEqual([...reasons].sort(), [COOKIES, CORS, SINGLE].sort())
    for (const name of [
      'expired token',
      'revoked token',
      'bad signature',
      'alg none',
      'unknown kid',
    ]) {
      assert.ok(
        rows.some((row) => row.name === name),
        name,
      )
    }
    assert.ok(rows.length >= 60, `${rows.length} rows run`)
  })

  for (const row of rows) {
    test(row.name, async () => {
      const profile = PROFILES[row.profile]
      const fresh = 'fresh' in profile
      const iam = 'iam' in profile ? profile.iam : undefined
      if (fresh && iam?.kind === 'slow') {
        scenario.emulator.setFault('token', { delayMs: iam.delayMs, times: 1 })
      }
      const app = fresh
        ? await buildGrpcApp({ options: scenario.appOptions(row.profile), routes: profile.routes })
        : await shared(row.profile)
      try {
        const before = adminCalls(scenario.emulator)
        const got = await withRowFault(scenario, row, () =>
          sendCaseCall(app, profile.routes, row.request, scenario.tokens),
        )
        assertCall(row, got)
        if (row.expect.noIamCalls) {
          assert.equal(adminCalls(scenario.emulator) - before, 0, `${row.name}: the IAM was asked`)
        }
      } finally {
        if (fresh) {
          scenario.emulator.setFault('token', null)
          await app.close()
        }
      }
    })
  }
})

// ------------------------------------------------------------------- .proto options, call kinds

const USERS_PROTO = fileURLToPath(new URL('./grpc-users.proto', import.meta.url))
const NUMBERS_PROTO = fileURLToPath(new URL('./grpc-numbers.proto', import.meta.url))
const SAMPLE = { namespace: 'sample-namespace', userId: 'sample-userid' }

type Json = Record<string, unknown>
type ServiceClient = InstanceType<grpc.ServiceClientConstructor>
type UnaryMethod = (
  request: Json,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, reply?: Json) => void,
) => void

function tokenMetadata(token?: string): grpc.Metadata {
  return metadataOf(token === undefined ? {} : { authorization: `Bearer ${token}` })
}

/** A unary call's outcome. */
function unary(client: grpc.Client, name: string, request: Json, token?: string) {
  const method = (client as unknown as Record<string, UnaryMethod>)[name] as UnaryMethod
  return new Promise<CallOutcome>((resolve) =>
    method.call(client, request, tokenMetadata(token), (error, reply) =>
      resolve(outcome(error, reply)),
    ),
  )
}

/** The outcome of a streaming call (status event), with every reply received. */
function streamed(call: grpc.ClientReadableStream<Json> | grpc.ClientDuplexStream<Json, Json>) {
  const replies: Json[] = []
  call.on('data', (reply: Json) => replies.push(reply))
  call.on('error', () => {}) // the status event says it
  return new Promise<CallOutcome & { replies: Json[] }>((resolve) =>
    call.on('status', (s: grpc.StatusObject) =>
      resolve({ ...outcome(s.code === status.OK ? null : (s as grpc.ServiceError)), replies }),
    ),
  )
}

interface UsersServer {
  readonly address: string
  readonly iam: IamGrpc
  readonly users: ServiceClient
  readonly undeclared: ServiceClient
  /** The RPCs whose handler ran, in order. */
  readonly handled: string[]
  /** The `sub` each unary handler read with requireIam, in order. */
  readonly subs: string[]
  close(): Promise<void>
}

/** A server of grpc-users.proto protected by its method options. */
async function startUsersServer(options: IamGrpcOptions): Promise<UsersServer> {
  const definition = protoLoader.loadSync(USERS_PROTO)
  const { 'iam.test.Undeclared': _undeclared, ...declared } = definition
  const iam = createIamGrpc({
    packageDefinition: declared,
    resources: { '{game}': 'sample-namespace' },
    methods: { '/iam.test.Users/Ping': 'public' },
    ...options,
  })
  const pkg = grpc.loadPackageDefinition(definition).iam as grpc.GrpcObject
  const test = pkg.test as Record<string, grpc.ServiceClientConstructor>
  const handled: string[] = []
  const subs: string[] = []
  const sub = (call: { metadata: grpc.Metadata }) => iamContextOf(call)?.claims.sub ?? ''
  const reply: grpc.handleUnaryCall<Json, Json> = (call, callback) => {
    handled.push(call.getPath())
    subs.push(requireIam(call).claims.sub as string)
    callback(null, { sub: requireIam(call).claims.sub, received: [String(call.request.userId)] })
  }
  const server = new grpc.Server({ interceptors: [iam.interceptor] })
  server.addService(test.Users!.service, {
    update: reply,
    updateSnake: reply,
    level: reply,
    byNumber: reply,
    whoami: reply,
    ping: ((call, callback) => {
      handled.push(call.getPath())
      let error = ''
      try {
        requireIam(call)
      } catch (thrown) {
        error = (thrown as IamError).code
      }
      callback(null, { sub: sub(call), received: [error] })
    }) satisfies grpc.handleUnaryCall<Json, Json>,
    watch: ((call) => {
      handled.push(call.getPath())
      for (const n of [1, 2, 3])
        call.write({ sub: sub(call), received: [`${call.request.userId}#${n}`] })
      call.end()
    }) satisfies grpc.handleServerStreamingCall<Json, Json>,
    upload: ((call, callback) => {
      handled.push(call.getPath())
      const received: string[] = []
      call.on('data', (message: Json) => received.push(String(message.userId)))
      call.on('end', () => callback(null, { sub: sub(call), received }))
    }) satisfies grpc.handleClientStreamingCall<Json, Json>,
    chat: ((call) => {
      handled.push(call.getPath())
      call.on('data', (message: Json) =>
        call.write({ sub: sub(call), received: [String(message.userId)] }),
      )
      call.on('end', () => call.end())
    }) satisfies grpc.handleBidiStreamingCall<Json, Json>,
  })
  server.addService(test.Undeclared!.service, { call: reply })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  const address = `127.0.0.1:${port}`
  const users = new test.Users!(address, grpc.credentials.createInsecure())
  const undeclared = new test.Undeclared!(address, grpc.credentials.createInsecure())
  return {
    address,
    iam,
    users,
    undeclared,
    handled,
    subs,
    close: async () => {
      users.close()
      undeclared.close()
      server.forceShutdown()
      await iam.close()
    },
  }
}

/** Sends two request messages on a unary call, as no grpc-js client would (raw HTTP/2). */
async function twoMessages(address: string, path: string, token: string): Promise<string> {
  const type = protoLoader.loadSync(USERS_PROTO)['iam.test.Users'] as unknown as Record<
    string,
    { requestSerialize: (v: Json) => Buffer }
  >
  const frame = (message: Json) => {
    const body = type.Update!.requestSerialize(message)
    const head = Buffer.alloc(5)
    head.writeUInt32BE(body.length, 1)
    return Buffer.concat([head, body])
  }
  const session = connect(`http://${address}`)
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
    })
    stream.end(Buffer.concat([frame(SAMPLE), frame({ ...SAMPLE, userId: 'other-userid' })]))
    stream.resume()
    return await new Promise<string>((resolve) => {
      let code = ''
      stream.on('response', (headers) => (code = String(headers['grpc-status'] ?? code)))
      stream.on('trailers', (trailers) => (code = String(trailers['grpc-status'] ?? code)))
      stream.on('close', () => resolve(code))
    })
  } finally {
    session.close()
  }
}

/**
 * A call whose HEADERS frame carries `authorization` twice, written byte by byte (no HTTP/2
 * client sends that). Resolves when the server ends the stream.
 */
async function twiceAuthorized(address: string, path: string, first: string, second: string) {
  const [host, port] = address.split(':') as [string, string]
  // HPACK literal fields without indexing or Huffman coding (names and values under 128 bytes
  // take one length byte; a token needs the 7-bit prefixed integer).
  const length = (n: number) =>
    n < 127 ? Buffer.from([n]) : Buffer.from([127, ...varint(n - 127)])
  const varint = (n: number): number[] =>
    n < 128 ? [n] : [(n % 128) + 128, ...varint(Math.floor(n / 128))]
  const field = (name: string, value: string) =>
    Buffer.concat([
      Buffer.from([0]),
      length(name.length),
      Buffer.from(name),
      length(value.length),
      Buffer.from(value),
    ])
  const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
    const head = Buffer.alloc(9)
    head.writeUIntBE(payload.length, 0, 3)
    head.writeUInt8(type, 3)
    head.writeUInt8(flags, 4)
    head.writeUInt32BE(stream, 5)
    return Buffer.concat([head, payload])
  }
  const headers = Buffer.concat([
    field(':method', 'POST'),
    field(':scheme', 'http'),
    field(':path', path),
    field(':authority', address),
    field('content-type', 'application/grpc'),
    field('te', 'trailers'),
    field('authorization', `Bearer ${first}`),
    field('authorization', `Bearer ${second}`),
  ])
  const message = Buffer.alloc(5) // an empty request message, uncompressed
  const socket = createConnection(Number(port), host)
  await new Promise<void>((resolve, reject) => {
    let received = Buffer.alloc(0)
    socket.on('error', reject)
    socket.on('close', () => resolve())
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      while (received.length >= 9) {
        const size = received.readUIntBE(0, 3)
        if (received.length < 9 + size) break
        const [type, flags, stream] = [
          received[3],
          received[4] as number,
          received.readUInt32BE(5) & 0x7fffffff,
        ]
        received = received.subarray(9 + size)
        if (type === 4 && (flags & 1) === 0) socket.write(frame(4, 1, 0, Buffer.alloc(0)))
        if (stream === 1 && (type === 0 || type === 1) && (flags & 1) === 1) socket.end()
      }
    })
    socket.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        frame(4, 0, 0, Buffer.alloc(0)),
        frame(1, 4, 1, headers), // END_HEADERS
        frame(0, 1, 1, message), // END_STREAM
      ]),
    )
  })
}

describe('gRPC: permissions from .proto method options', () => {
  let scenario: Scenario
  let server: UsersServer
  const warnings: string[] = []
  let levelToken = ''

  before(async () => {
    scenario = await setupScenario()
    levelToken = await scenario.emulator.issueUserToken({
      sub: 'level-user',
      namespace: 'sample-namespace',
      permissions: [{ Resource: 'NAMESPACE:sample-namespace:LEVEL:42', Action: 2 }],
    })
    server = await startUsersServer({
      ...scenario.appOptions('default'),
      logger: {
        ...silentLogger,
        warn: (_details: unknown, message: string) => warnings.push(message),
      },
    })
    await server.iam.ready
  })
  after(async () => {
    await server?.close()
    await scenario?.close()
  })
  const ran = (path: string) => server.handled.includes(path)

  test('unary: {namespace} and {userId} from the request message; the handler reads the context', async () => {
    const got = await unary(server.users, 'update', SAMPLE, scenario.tokens.allowed)
    assert.equal(got.code, status.OK, got.details)
    assert.deepEqual(got.reply, { sub: 'sample-userid', received: ['sample-userid'] })
  })

  test('unary: another user in the message is PERMISSION_DENIED / 20013, the handler never runs', async () => {
    const request = { ...SAMPLE, userId: 'other-userid', namespace: 'sample-namespace' }
    const before = server.handled.length
    const got = await unary(server.users, 'update', request, scenario.tokens.allowed)
    assert.equal(got.code, status.PERMISSION_DENIED)
    assert.equal(got.iamErrorCode, '20013')
    assert.equal(got.sdkErrorCode, 'ERR_IAM_INSUFFICIENT_PERMISSIONS')
    assert.equal(server.handled.length, before)
  })

  for (const [field, value] of [
    ['userId', 'sample-userid:extra'],
    ['userId', '{userId}'],
    ['userId', '..'],
    ['namespace', '.'],
    ['namespace', '..'],
    ['userId', ''],
  ] as const) {
    test(`unary: a message ${field} of ${JSON.stringify(value)} is refused, though USER:* is granted`, async () => {
      // roleOverride grants NAMESPACE:{namespace}:USER:* (4): only the value rules refuse these.
      const got = await unary(
        server.users,
        'update',
        { ...SAMPLE, [field]: value },
        scenario.tokens.roleOverride,
      )
      assert.equal(got.code, status.PERMISSION_DENIED, got.details)
      assert.equal(got.iamErrorCode, '20013')
    })
  }

  test('unary: a field missing from the message is refused (no literal placeholder is checked)', async () => {
    const got = await unary(
      server.users,
      'update',
      { namespace: 'sample-namespace' },
      scenario.tokens.roleOverride,
    )
    assert.equal(got.code, status.PERMISSION_DENIED)
    const allowed = await unary(server.users, 'update', SAMPLE, scenario.tokens.roleOverride)
    assert.equal(allowed.code, status.OK, 'the same token with the field is allowed')
  })

  test('unary: a placeholder spelled as the .proto field ({user_id}) reads the camelCase field', async () => {
    const got = await unary(server.users, 'updateSnake', SAMPLE, scenario.tokens.allowed)
    assert.equal(got.code, status.OK, got.details)
    const other = await unary(
      server.users,
      'updateSnake',
      { ...SAMPLE, userId: 'x' },
      scenario.tokens.allowed,
    )
    assert.equal(other.code, status.PERMISSION_DENIED)
  })

  test('unary: an integer field fills a placeholder', async () => {
    assert.equal((await unary(server.users, 'level', { level: 42 }, levelToken)).code, status.OK)
    assert.equal(
      (await unary(server.users, 'level', { level: 7 }, levelToken)).code,
      status.PERMISSION_DENIED,
    )
  })

  test('an action given as a number, options by their full name', async () => {
    assert.equal(
      (await unary(server.users, 'byNumber', {}, scenario.tokens.allowed)).code,
      status.OK,
    )
    const denied = await unary(server.users, 'byNumber', {}, scenario.tokens.denied)
    assert.equal(denied.code, status.PERMISSION_DENIED)
  })

  test('server streaming: placeholders from the one request; refused: no reply, no handler', async () => {
    const allowed = await streamed(
      server.users.watch!(SAMPLE, tokenMetadata(scenario.tokens.allowed)) as never,
    )
    assert.equal(allowed.code, status.OK, allowed.details)
    assert.deepEqual(
      allowed.replies.map((r) => r.received),
      [['sample-userid#1'], ['sample-userid#2'], ['sample-userid#3']],
    )
    const before = server.handled.length
    const refused = await streamed(
      server.users.watch!(
        { ...SAMPLE, userId: 'other-userid' },
        tokenMetadata(scenario.tokens.allowed),
      ) as never,
    )
    assert.equal(refused.code, status.PERMISSION_DENIED)
    assert.equal(refused.iamErrorCode, '20013')
    assert.deepEqual(refused.replies, [])
    assert.equal(server.handled.length, before)
  })

  test('client streaming: every message reaches the handler, in order, after the decision', async () => {
    // A role the IAM has not been asked about yet, answered slowly: the messages are sent while
    // the decision waits for it.
    const roleId = await scenario.emulator.createRole({
      roleId: 'grpc-upload-role',
      permissions: [{ resource: 'NAMESPACE:{namespace}:USER:*', action: 4 }],
    })
    const token = await scenario.emulator.issueUserToken({
      sub: 'uploader',
      namespace: 'sample-namespace',
      roles: [roleId],
    })
    scenario.emulator.setFault('role', { delayMs: 300, times: 1 })
    try {
      const got = await new Promise<CallOutcome>((resolve) => {
        const call = server.users.upload!(
          tokenMetadata(token),
          (error: grpc.ServiceError | null, reply?: Json) => resolve(outcome(error, reply)),
        ) as grpc.ClientWritableStream<Json>
        for (const userId of ['a', 'b', 'c']) call.write({ ...SAMPLE, userId })
        call.end()
      })
      assert.equal(got.code, status.OK, got.details)
      assert.deepEqual(got.reply, { sub: 'uploader', received: ['a', 'b', 'c'] })
    } finally {
      scenario.emulator.setFault('role', null)
    }
  })

  test('client streaming: refused before any message is read; the handler never runs', async () => {
    const before = server.handled.length
    const got = await new Promise<CallOutcome>((resolve) => {
      const call = server.users.upload!(
        tokenMetadata(scenario.tokens.denied),
        (error: grpc.ServiceError | null) => resolve(outcome(error)),
      ) as grpc.ClientWritableStream<Json>
      call.write(SAMPLE)
      call.end()
    })
    assert.equal(got.code, status.PERMISSION_DENIED)
    assert.equal(got.sdkErrorCode, 'ERR_IAM_INSUFFICIENT_PERMISSIONS')
    assert.equal(server.handled.length, before)
  })

  test('bidi: allowed messages are answered one by one; refused: nothing is', async () => {
    const chat = (token: string) => {
      const call = server.users.chat!(tokenMetadata(token)) as grpc.ClientDuplexStream<Json, Json>
      const done = streamed(call)
      for (const userId of ['x', 'y']) call.write({ ...SAMPLE, userId })
      call.end()
      return done
    }
    const allowed = await chat(scenario.tokens.allowed)
    assert.equal(allowed.code, status.OK, allowed.details)
    assert.deepEqual(allowed.replies, [
      { sub: 'sample-userid', received: ['x'] },
      { sub: 'sample-userid', received: ['y'] },
    ])
    const before = server.handled.length
    const refused = await chat(scenario.tokens.expired)
    assert.equal(refused.code, status.UNAUTHENTICATED)
    assert.equal(refused.sdkErrorCode, 'ERR_IAM_TOKEN_EXPIRED')
    assert.deepEqual(refused.replies, [])
    assert.equal(server.handled.length, before)
  })

  test('an RPC without options needs a valid token: UNAUTHENTICATED / 20001 otherwise', async () => {
    assert.equal((await unary(server.users, 'whoami', {}, scenario.tokens.denied)).code, status.OK)
    for (const [token, code] of [
      [undefined, 'ERR_IAM_TOKEN_MISSING'],
      [scenario.tokens.expired, 'ERR_IAM_TOKEN_EXPIRED'],
      [scenario.tokens.revoked, 'ERR_IAM_TOKEN_REVOKED'],
      [scenario.tokens.badSignature, 'ERR_IAM_TOKEN_SIGNATURE'],
    ] as const) {
      const got = await unary(server.users, 'whoami', {}, token)
      assert.equal(got.code, status.UNAUTHENTICATED, code)
      assert.equal(got.iamErrorCode, '20001', code)
      assert.equal(got.sdkErrorCode, code)
    }
  })

  test('a public RPC needs no token; its handler has no context (requireIam: ERR_IAM_INTERNAL)', async () => {
    const got = await unary(server.users, 'ping', {})
    assert.equal(got.code, status.OK)
    assert.deepEqual(got.reply, { sub: '', received: ['ERR_IAM_INTERNAL'] })
  })

  test('an RPC declared nowhere is refused, even with a valid token, and said once', async () => {
    const before = server.handled.length
    for (let i = 0; i < 2; i++) {
      const got = await unary(server.undeclared, 'call', SAMPLE, scenario.tokens.allowed)
      assert.equal(got.code, status.PERMISSION_DENIED)
      assert.equal(got.sdkErrorCode, 'ERR_IAM_INSUFFICIENT_PERMISSIONS')
    }
    assert.equal(server.handled.length, before)
    assert.equal(warnings.filter((w) => w.includes('/iam.test.Undeclared/Call')).length, 1)
  })

  test('a second request message on a unary call ends it; the handler never sees either', async () => {
    // A role fetched slowly: both messages and the end of the stream are queued before the
    // decision, as a client that sends them at once can arrange.
    const roleId = await scenario.emulator.createRole({
      roleId: 'grpc-two-messages-role',
      permissions: [{ resource: 'NAMESPACE:{namespace}:USER:*', action: 4 }],
    })
    const token = await scenario.emulator.issueUserToken({
      sub: 'two-messages',
      namespace: 'sample-namespace',
      roles: [roleId],
    })
    scenario.emulator.setFault('role', { delayMs: 300, times: 1 })
    const before = server.handled.length
    try {
      const code = await twoMessages(server.address, '/iam.test.Users/Update', token)
      assert.equal(code, String(status.UNIMPLEMENTED))
      assert.equal(server.handled.length, before)
    } finally {
      scenario.emulator.setFault('role', null)
    }
  })

  test('a raw HTTP/2 client sending authorization twice: Node keeps the first, for the decision and the handler alike', async () => {
    // HTTP/2 allows the field once; Node's HTTP/2 server drops the second before grpc-js reads
    // the headers, so the repeat cannot be refused as it is over HTTP/1 (see the README).
    const before = server.subs.length
    await twiceAuthorized(
      server.address,
      '/iam.test.Users/Whoami',
      scenario.tokens.denied,
      scenario.tokens.allowed,
    )
    assert.deepEqual(server.subs.slice(before), ['other-userid'])
  })

  test('concurrent calls each get their own context', async () => {
    const tokens = ['allowed', 'denied', 'roleGlobal', 'roleNamespace', 'scoped'] as const
    const subs = await Promise.all(
      [...tokens, ...tokens].map(async (name) => {
        const got = await unary(server.users, 'whoami', {}, scenario.tokens[name])
        return got.reply?.sub
      }),
    )
    const expected = [
      'sample-userid',
      'other-userid',
      'role-user-2',
      'role-user-1',
      'sample-userid',
    ]
    assert.deepEqual(subs, [...expected, ...expected])
  })

  test('metadata cannot claim a context: only the interceptor sets one', async () => {
    const metadata = tokenMetadata()
    metadata.set('iam-sdk-error-code', 'none')
    metadata.set('x-iam-sub', 'sample-userid')
    const got = await new Promise<CallOutcome>((resolve) =>
      (server.users as unknown as Record<string, UnaryMethod>).ping!.call(
        server.users,
        {},
        metadata,
        (e, r) => resolve(outcome(e, r)),
      ),
    )
    assert.deepEqual(got.reply, { sub: '', received: ['ERR_IAM_INTERNAL'] })
  })

  test('was every handler run at least once (the tests above can fail)', () => {
    for (const rpc of [
      'Update',
      'UpdateSnake',
      'Level',
      'ByNumber',
      'Watch',
      'Upload',
      'Chat',
      'Whoami',
      'Ping',
    ]) {
      assert.ok(ran(`/iam.test.Users/${rpc}`), rpc)
    }
  })
})

describe('gRPC: unknownMethods, field numbers, token metadata, a subdomain', () => {
  let scenario: Scenario
  before(async () => {
    scenario = await setupScenario()
  })
  after(async () => scenario?.close())

  test("unknownMethods: 'requireToken' serves an RPC declared nowhere to any valid token", async () => {
    const server = await startUsersServer({
      ...scenario.appOptions('default'),
      unknownMethods: 'requireToken',
    })
    try {
      await server.iam.ready
      assert.equal(
        (await unary(server.undeclared, 'call', SAMPLE, scenario.tokens.denied)).code,
        status.OK,
      )
      const none = await unary(server.undeclared, 'call', SAMPLE)
      assert.equal(none.code, status.UNAUTHENTICATED)
    } finally {
      await server.close()
    }
  })

  test('protoOptionFields: options found by number, whatever their name or package', async () => {
    const definition = protoLoader.loadSync(NUMBERS_PROTO)
    const iam = createIamGrpc({
      ...scenario.appOptions('default'),
      packageDefinition: definition,
      protoOptionFields: { resource: 60001, action: 60002 },
    })
    const server = new grpc.Server({ interceptors: [iam.interceptor] })
    const Numbers = (grpc.loadPackageDefinition(definition).perm as grpc.GrpcObject).v1 as Record<
      string,
      grpc.ServiceClientConstructor
    >
    const empty: grpc.handleUnaryCall<Json, Json> = (_call, callback) => callback(null, {})
    server.addService(Numbers.Numbers!.service, { renamed: empty, otherNumbers: empty })
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    )
    const client = new Numbers.Numbers!(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
    try {
      await iam.ready
      assert.equal((await unary(client, 'renamed', {}, scenario.tokens.allowed)).code, status.OK)
      assert.equal(
        (await unary(client, 'renamed', {}, scenario.tokens.denied)).code,
        status.PERMISSION_DENIED,
      )
      // `(resource)` and `(action)` there have other numbers: only a valid token is required.
      assert.equal(
        (await unary(client, 'otherNumbers', {}, scenario.tokens.denied)).code,
        status.OK,
      )
    } finally {
      client.close()
      server.forceShutdown()
      await iam.close()
    }
  })

  test('a token metadata key sent twice is refused as ambiguous (tokenHeaderName x-access-token)', async () => {
    const server = await startUsersServer({
      ...scenario.appOptions('default'),
      tokenHeaderName: 'x-access-token',
      tokenHeaderType: '',
    })
    try {
      await server.iam.ready
      const call = (values: string[]) =>
        new Promise<CallOutcome>((resolve) =>
          server.users.whoami!(
            {},
            metadataOf({ 'x-access-token': values }),
            (e: grpc.ServiceError | null, r?: Json) => resolve(outcome(e, r)),
          ),
        )
      assert.equal((await call([scenario.tokens.allowed])).code, status.OK)
      const twice = await call([scenario.tokens.allowed, scenario.tokens.allowed])
      assert.equal(twice.code, status.UNAUTHENTICATED)
      assert.equal(twice.sdkErrorCode, 'ERR_IAM_TOKEN_AMBIGUOUS')
    } finally {
      await server.close()
    }
  })

  test('subdomainValidationEnable: the :authority of another namespace is NOT_FOUND / 20030', async () => {
    const server = await startUsersServer({
      ...scenario.appOptions('default'),
      subdomainValidationEnable: true,
    })
    const Users = server.users.constructor as grpc.ServiceClientConstructor
    const via = (authority: string) =>
      new Users(server.address, grpc.credentials.createInsecure(), {
        'grpc.default_authority': authority,
      })
    const [own, other] = [via('sample-namespace.example.com'), via('other-namespace.example.com')]
    try {
      await server.iam.ready
      assert.equal((await unary(own, 'update', SAMPLE, scenario.tokens.allowed)).code, status.OK)
      const got = await unary(other, 'update', SAMPLE, scenario.tokens.allowed)
      assert.equal(got.code, status.NOT_FOUND)
      assert.equal(got.iamErrorCode, '20030')
      assert.equal(got.sdkErrorCode, 'ERR_IAM_SUBDOMAIN_MISMATCH')
    } finally {
      own.close()
      other.close()
      await server.close()
    }
  })
})

// --------------------------------------------------------------------------- the IAM unreachable

describe('gRPC: the IAM down at start, mid-run, and the integration closed', () => {
  let scenario: Scenario
  before(async () => {
    scenario = await setupScenario()
  })
  after(async () => {
    for (const endpoint of EMULATOR_ENDPOINTS) scenario?.emulator.setFault(endpoint, null)
    await scenario?.close()
  })

  test('down at start: protected RPCs are UNAVAILABLE (every kind), public ones answer, health is 503', async () => {
    const server = await startUsersServer({ ...scenario.appOptions('down'), readyTimeoutMs: 300 })
    try {
      await server.iam.ready.catch(() => {})
      const unaryCall = await unary(server.users, 'update', SAMPLE, scenario.tokens.allowed)
      const watch = await streamed(
        server.users.watch!(SAMPLE, tokenMetadata(scenario.tokens.allowed)) as never,
      )
      const chat = server.users.chat!(
        tokenMetadata(scenario.tokens.allowed),
      ) as grpc.ClientDuplexStream<Json, Json>
      const chatDone = streamed(chat)
      chat.end()
      for (const got of [unaryCall, watch, await chatDone]) {
        assert.equal(got.code, status.UNAVAILABLE, got.details)
        assert.equal(got.iamErrorCode, '20000')
        assert.match(got.sdkErrorCode ?? '', /^ERR_IAM_(NOT_READY|UNAVAILABLE)$/)
      }
      assert.equal((await unary(server.users, 'ping', {})).code, status.OK)
      assert.equal(server.iam.health().status, 503)
      assert.deepEqual(server.handled, ['/iam.test.Users/Ping'])
    } finally {
      await server.close()
    }
  })

  test('down mid-run: a decision that needs the IAM is UNAVAILABLE, one that does not still passes', async () => {
    const server = await startUsersServer(scenario.appOptions('default'))
    try {
      await server.iam.ready
      assert.equal(server.iam.health().status, 200)
      assert.equal(
        (await unary(server.users, 'update', SAMPLE, scenario.tokens.allowed)).code,
        status.OK,
      )
      for (const endpoint of EMULATOR_ENDPOINTS)
        scenario.emulator.setFault(endpoint, { status: 503 })
      // The token's own permission is decided locally; the role of roleNamespace was never fetched.
      assert.equal(
        (await unary(server.users, 'update', SAMPLE, scenario.tokens.allowed)).code,
        status.OK,
      )
      const got = await unary(
        server.users,
        'update',
        { ...SAMPLE, userId: 'role-user-1' },
        scenario.tokens.roleNamespace,
      )
      assert.equal(got.code, status.UNAVAILABLE, got.details)
      assert.equal(got.iamErrorCode, '20000')
      assert.equal(got.sdkErrorCode, 'ERR_IAM_UNAVAILABLE')
    } finally {
      for (const endpoint of EMULATOR_ENDPOINTS) scenario.emulator.setFault(endpoint, null)
      await server.close()
    }
  })

  test('closed: UNAVAILABLE / ERR_IAM_CLOSED, never INTERNAL', async () => {
    const server = await startUsersServer(scenario.appOptions('default'))
    try {
      await server.iam.ready
      await server.iam.close()
      const got = await unary(server.users, 'update', SAMPLE, scenario.tokens.allowed)
      assert.equal(got.code, status.UNAVAILABLE)
      assert.equal(got.sdkErrorCode, 'ERR_IAM_CLOSED')
    } finally {
      await server.close()
    }
  })
})

// ------------------------------------------------------------------------------- status, options

describe('gRPC: status mapping', () => {
  test('toGrpcStatus: one table from the HTTP status, both codes in trailing metadata', () => {
    for (const [code, grpcCode, iamCode] of [
      ['ERR_IAM_TOKEN_EXPIRED', status.UNAUTHENTICATED, '20001'],
      ['ERR_IAM_INVALID_REFERER', status.UNAUTHENTICATED, '20023'],
      ['ERR_IAM_INSUFFICIENT_SCOPE', status.PERMISSION_DENIED, '20013'],
      ['ERR_IAM_SUBDOMAIN_MISMATCH', status.NOT_FOUND, '20030'],
      ['ERR_IAM_UNAVAILABLE', status.UNAVAILABLE, '20000'],
      ['ERR_IAM_INVALID_PERMISSION', status.INTERNAL, '20000'],
    ] as const) {
      const got = toGrpcStatus(new IamError(code, 'x'))
      assert.equal(got.code, grpcCode, code)
      assert.deepEqual(got.metadata.getMap(), {
        'iam-error-code': iamCode,
        'iam-sdk-error-code': code,
      })
    }
  })

  test('toGrpcStatus: anything else is INTERNAL, with nothing of the error in the details', () => {
    const got = toGrpcStatus(new Error('secret detail'))
    assert.equal(got.code, status.INTERNAL)
    assert.doesNotMatch(got.details, /secret/)
    assert.equal(got.metadata.get('iam-sdk-error-code')[0], 'ERR_IAM_INTERNAL')
  })
})

describe('gRPC: options', () => {
  const base = {
    baseUrl: 'http://127.0.0.1:1/iam',
    clientId: 'c',
    clientSecret: 's',
    logger: silentLogger,
  }
  const users = () => protoLoader.loadSync(USERS_PROTO) as PackageDefinition
  const throwsNaming = (options: IamGrpcOptions, pattern: RegExp) =>
    assert.throws(
      () => createIamGrpc({ ...base, ...options }),
      (e: unknown) => e instanceof TypeError && pattern.test(e.message),
    )

  let dir = ''
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'iam-grpc-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))
  /** A package definition of one service whose RPC has `options`, with the default extensions. */
  function proto(options: string, extra = ''): PackageDefinition {
    const file = join(dir, `p${Math.random().toString(36).slice(2)}.proto`)
    writeFileSync(
      file,
      `syntax = "proto3"; package t; import "google/protobuf/descriptor.proto";
      enum Action { unknown = 0; READ = 2; }
      extend google.protobuf.MethodOptions { string resource = 50001; Action action = 50002; }
      ${extra}
      message M {} service S { rpc R (M) returns (M) { ${options} } }`,
    )
    return protoLoader.loadSync(file) as PackageDefinition
  }

  test('tokens from metadata only: tokenLocations with cookies is refused', () => {
    throwsNaming({ tokenLocations: ['headers', 'cookies'] }, /tokenLocations/)
  })
  test('options that are not an object are refused', () => {
    assert.throws(() => createIamGrpc(5 as never), TypeError)
  })
  test('a misspelled kit option names the option meant', () => {
    throwsNaming({ csrfProtecton: true } as never, /csrfProtecton.*csrfProtection/)
  })
  test('unknownMethods, resources, methods keys and entries are checked', () => {
    throwsNaming({ unknownMethods: 'allow' as never }, /unknownMethods/)
    throwsNaming({ resources: { '{namespace}': 5 as never } }, /resources/)
    throwsNaming({ methods: { GetUser: {} } }, /methods "GetUser"/)
    throwsNaming({ methods: { '/a.S/M': 5 as never } }, /methods\["\/a.S\/M"\]/)
    throwsNaming({ methods: { '/a.S/M': { permision: {} } as never } }, /\/a.S\/M.*permision/)
    throwsNaming(
      { methods: { '/a.S/M': { permission: { resource: 'X' } } as never } },
      /\/a.S\/M.*action/,
    )
  })
  test('a streaming RPC whose placeholder has no static value is refused at construction', () => {
    throwsNaming(
      { packageDefinition: users(), resources: {} },
      /\/iam.test.Users\/Upload.*\{game\}/,
    )
  })
  test('protoOptionFields must be field numbers that the definition declares', () => {
    throwsNaming(
      { packageDefinition: users(), protoOptionFields: { resource: 0 } },
      /protoOptionFields/,
    )
    throwsNaming(
      { packageDefinition: users(), protoOptionFields: { resource: 60001 } },
      /protoOptionFields.*60001/,
    )
  })
  test('an RPC with one option without the other, or an action no enum value has, is refused', () => {
    throwsNaming({ packageDefinition: proto('option (resource) = "A:B";') }, /\/t.S\/R.*only one/)
    throwsNaming({ packageDefinition: proto('option (action) = READ;') }, /\/t.S\/R.*only one/)
    throwsNaming(
      { packageDefinition: proto('option (resource) = "A"; option (action) = WRITE;') },
      /WRITE/,
    )
  })
  test('an option declared inside a message (absent from the descriptors) is refused, not skipped', () => {
    const extra =
      'message Holder { extend google.protobuf.MethodOptions { string scope = 50010; } }'
    throwsNaming(
      { packageDefinition: proto('option (Holder.scope) = "x";', extra) },
      /\(Holder.scope\).*top level/,
    )
  })
  test('a well-formed definition with custom options builds', () => {
    const iam = createIamGrpc({
      ...base,
      packageDefinition: proto('option (resource) = "A:B"; option (action) = READ;'),
    })
    return iam.close()
  })
})
