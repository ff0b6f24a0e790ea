/**
 * The gRPC suite's load generator (`bench/grpc.ts`), run in its own process as wrk is for the
 * HTTP suites: unary calls over HTTP/2 with an empty request message, a fixed number in flight
 * at all times, for a fixed time; prints `{ requests, rps, p99Ms, errors }` as JSON.
 *
 * Written here because nothing packaged does it with a token per call: h2load (Debian's
 * nghttp2-client) sends fixed headers only, so it cannot rotate first-seen tokens, and ghz is not
 * packaged. It speaks gRPC's wire format directly on `node:http2` (no `@grpc/grpc-js` client,
 * which costs several times more per call and would starve the server of the second core).
 *
 * Run: `node --import tsx bench/grpc-load.ts '<LoadJob as JSON>'`.
 */
import { readFileSync } from 'node:fs'
import { connect, constants } from 'node:http2'
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2'
import { fileURLToPath } from 'node:url'

/** What one run sends (the gRPC form of measure.ts's `LoadSpec`). */
export interface GrpcLoadJob {
  /** `http://127.0.0.1:port` */
  origin: string
  /** `/package.Service/Method` */
  path: string
  headers?: Record<string, string>
  seconds: number
  /** HTTP/2 connections, and calls in flight on each. */
  connections: number
  streamsPerConnection: number
  /** As in `LoadSpec.pool`: each call sends the next token of `file`, from `start` on. */
  pool?: { file: string; start: number; repeated?: string }
}

/** A length-prefixed gRPC message: not compressed, zero bytes (an empty proto3 message). */
const EMPTY_MESSAGE = Buffer.alloc(5)

/** The HTTP status a gRPC status stands for (the harness checks answers as HTTP statuses). */
export function httpStatusOf(grpcStatus: string | undefined): number {
  switch (grpcStatus) {
    case '0':
      return 200
    case '16': // UNAUTHENTICATED
      return 401
    case '7': // PERMISSION_DENIED
      return 403
    case '14': // UNAVAILABLE
      return 503
    default:
      return 500
  }
}

/** One unary call; resolves with its `grpc-status` (trailers, or headers of a trailers-only answer). */
export function unaryCall(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string>,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let grpcStatus: string | undefined
    const read = (h: IncomingHttpHeaders) => {
      const value = h['grpc-status']
      if (typeof value === 'string') grpcStatus = value
    }
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    })
    // As wrk's --timeout: a call unanswered for 10 s ends as an error instead of hanging the run.
    stream.setTimeout(10_000, () => stream.close(constants.NGHTTP2_CANCEL))
    stream.on('response', read)
    stream.on('trailers', read)
    stream.on('data', () => {})
    stream.once('error', reject)
    stream.once('close', () => resolve(grpcStatus))
    stream.end(EMPTY_MESSAGE)
  })
}

/** Opens an HTTP/2 session and waits until it is connected. */
export function openSession(origin: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(origin)
    session.once('connect', () => {
      // Later session errors reach the calls in flight, which count them.
      session.on('error', () => {})
      resolve(session)
    })
    session.once('error', reject)
  })
}

/** Runs a job; what wrk would report. */
export async function runGrpcLoad(job: GrpcLoadJob) {
  const pool = job.pool
    ? readFileSync(job.pool.file, 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
    : []
  let index = job.pool ? job.pool.start % pool.length : 0
  let sent = 0
  const fixed = job.headers ?? {}
  const headersOfNext = (): Record<string, string> => {
    sent++
    if (job.pool === undefined) return fixed
    if (job.pool.repeated !== undefined && sent % 2 === 0)
      return { authorization: `Bearer ${job.pool.repeated}` }
    const token = pool[index] as string
    index = (index + 1) % pool.length
    return { authorization: `Bearer ${token}` }
  }

  const sessions = await Promise.all(
    Array.from({ length: job.connections }, () => openSession(job.origin)),
  )
  const latenciesUs: number[] = []
  let errors = 0
  const start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(job.seconds * 1e9))
  const worker = async (session: ClientHttp2Session) => {
    while (process.hrtime.bigint() < end) {
      const at = process.hrtime.bigint()
      try {
        if ((await unaryCall(session, job.path, headersOfNext())) !== '0') errors++
      } catch {
        errors++
      }
      latenciesUs.push(Number(process.hrtime.bigint() - at) / 1e3)
    }
  }
  await Promise.all(
    sessions.flatMap((session) =>
      Array.from({ length: job.streamsPerConnection }, () => worker(session)),
    ),
  )
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  for (const session of sessions) session.close()
  latenciesUs.sort((a, b) => a - b)
  const p99 = latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(latenciesUs.length * 0.99))]
  return {
    requests: latenciesUs.length,
    rps: latenciesUs.length / seconds,
    p99Ms: (p99 ?? 0) / 1e3,
    errors,
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const job = JSON.parse(process.argv[2] ?? '') as GrpcLoadJob
  process.stdout.write(JSON.stringify(await runGrpcLoad(job)) + '\n')
}
