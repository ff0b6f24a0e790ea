/**
 * HTTP plumbing of the IAM emulator (plain `node:http`, no framework): the server and its router,
 * request bodies (1 MiB at most), JSON replies, injected faults, and the waits `close()` cuts
 * short. The routes are elsewhere: `iam-routes.ts` (the emulated IAM, on the state) and
 * `admin-routes.ts` (the `/emulator` API, on the `Emulator` facade).
 *
 * Rules for every request, before its route runs:
 * - IAM paths answer CORS (the request's `Origin` reflected, preflights answered 204), so a
 *   browser app can call them directly;
 * - `/emulator` paths get no CORS and refuse a non-loopback `Origin` (403), so a web page cannot
 *   drive the admin API;
 * - an unknown path answers 404 `{"errorCode":20008,...}`; a known path with another method 405
 *   with `Allow`; a path parameter that is not valid percent-encoding 400;
 * - a request to an emulated endpoint is counted, then its injected fault, if any, applies
 *   (see `faults.ts`): the delay first, then a hang, a replacement body, a streamed body or an
 *   error status.
 *
 * @module
 */
import type { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { ActiveFault, FaultTable } from './faults.js'

/** Largest request body read (bytes); a larger one is answered 413. */
const MAX_BODY = 1 << 20
/** Paths of the admin API start with this. */
const ADMIN_PREFIX = '/emulator'
/** Marks every answer an injected fault made. */
const FAULT_HEADERS: Readonly<Record<string, string>> = { 'X-Emulator-Fault': 'injected' }

/** Raised inside handlers to answer with a given status and body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`)
  }
}

/** What a handler receives. */
export interface RouteRequest {
  req: IncomingMessage
  url: URL
  /** The pattern's capture groups, percent-decoded. */
  params: string[]
}

/** What a handler answers. */
export interface Reply {
  status: number
  /** Sent as is when a string, else serialized as JSON; absent or `''` sends no body. */
  body?: unknown
  headers?: Record<string, string>
}

/** One route of the emulator. */
export interface Route {
  method: string
  pattern: RegExp
  handler: (request: RouteRequest) => Promise<Reply>
  /**
   * Set on emulated IAM endpoints: their requests are counted under `name` and may be faulted;
   * `faultBody` is the error body of an injected error status, in the endpoint's own style.
   */
  endpoint?: { name: string; faultBody(status: number): unknown }
}

/** The raw body of a request, at most {@link MAX_BODY} bytes (else 413). */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new HttpError(413, { error: 'request body too large' })
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The form fields of a request; a non-form body yields no fields (as the real IAM). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req)
  const type = (req.headers['content-type'] ?? '').toLowerCase()
  if (type !== '' && !type.startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams()
  }
  return new URLSearchParams(body)
}

/** The JSON object a request carries (whatever its content type); an empty body is `{}`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = (await readBody(req)).trim()
  if (body === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new HttpError(400, { error: 'body is not valid JSON' })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, { error: 'body must be a JSON object' })
  }
  return parsed as Record<string, unknown>
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const host = new URL(origin).hostname
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
  } catch {
    return false
  }
}

function send(res: ServerResponse, reply: Reply, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const body =
    reply.body === undefined
      ? ''
      : typeof reply.body === 'string'
        ? reply.body
        : JSON.stringify(reply.body)
  const headers: Record<string, string | number> = { ...extraHeaders, ...reply.headers }
  if (body !== '') headers['Content-Type'] = 'application/json'
  headers['Content-Length'] = Buffer.byteLength(body)
  res.writeHead(reply.status, headers)
  res.end(body)
}

/**
 * Waits that `close()` ends at once, so no fault (delay, hang, a stream waiting for its reader)
 * holds the process or `close()` open.
 */
class Waits {
  private readonly pending = new Set<() => void>()
  closed = false

  /**
   * Resolves after `ms` (never, for `Infinity`), on `close()`, or on the first of `events`
   * emitted by `emitter`. `ms` is at most 2^31-1 (faults.ts validates delays).
   */
  wait(ms: number, emitter?: EventEmitter, events: readonly string[] = []): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        for (const event of events) emitter?.off(event, done)
        this.pending.delete(done)
        resolve()
      }
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined
      for (const event of events) emitter?.once(event, done)
      this.pending.add(done)
    })
  }

  close(): void {
    this.closed = true
    for (const done of [...this.pending]) done()
  }
}

/** Size of each chunk of a streamed fault answer. */
const STREAM_CHUNK = 64 * 1024
const STREAM_HEAD = '{"permissions":['
const STREAM_TAIL = ']}'
const STREAM_FILLER = Buffer.alloc(STREAM_CHUNK, ' ')

/**
 * Bytes `[offset, offset + length)` of a streamed answer of `total` bytes: `{"permissions":[`,
 * spaces, `]}` (valid JSON, should a client read it all); below 18 bytes, the start of
 * `{"permissions":[]}`.
 */
function streamSlice(offset: number, length: number, total: number): Buffer {
  const head =
    total < STREAM_HEAD.length + STREAM_TAIL.length ? STREAM_HEAD + STREAM_TAIL : STREAM_HEAD
  const tailAt = Math.max(head.length, total - STREAM_TAIL.length)
  if (offset >= head.length && offset + length <= tailAt) return STREAM_FILLER.subarray(0, length)
  const out = Buffer.alloc(length, ' ')
  for (let i = 0; i < length; i++) {
    const at = offset + i
    if (at < head.length) out[i] = head.charCodeAt(at)
    else if (at >= tailAt) out[i] = STREAM_TAIL.charCodeAt(at - tailAt)
  }
  return out
}

/** The emulator's HTTP server and a way to stop what is in flight. */
export interface EmulatorServer {
  server: Server
  /** Ends every pending wait (delays, hangs, streams); their requests are then dropped. */
  abortWaits(): void
}

/**
 * Builds the HTTP server over the routes (first match wins, in order) and the fault table their
 * emulated endpoints count into.
 */
export function createHttpServer(routes: readonly Route[], faults: FaultTable): EmulatorServer {
  const waits = new Waits()

  /** Writes a streamed fault answer as fast as the client reads it, until done or cut off. */
  async function stream(
    res: ServerResponse,
    name: string,
    status: number,
    total: number,
    headers: Record<string, string>,
  ): Promise<void> {
    const record = faults.startStream(name)
    let gone = res.socket?.destroyed ?? true
    res.once('close', () => (gone = true))
    try {
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json' })
      while (record.bytes < total && !gone && !waits.closed) {
        const chunk = streamSlice(record.bytes, Math.min(STREAM_CHUNK, total - record.bytes), total)
        // Written only while the client keeps up, so at most this chunk waits in Node's buffer.
        record.bytes += chunk.length
        if (!res.write(chunk)) await waits.wait(Infinity, res, ['drain', 'close'])
      }
      if (record.bytes < total || waits.closed) res.destroy()
      else res.end()
    } finally {
      record.stop()
    }
  }

  /** Applies an injected fault; true when it answered (or dropped) the request. */
  async function applyFault(
    fault: ActiveFault,
    endpoint: NonNullable<Route['endpoint']>,
    req: IncomingMessage,
    res: ServerResponse,
    cors: Record<string, string>,
  ): Promise<boolean> {
    await waits.wait(fault.delayMs)
    if (waits.closed) {
      res.destroy()
      return true
    }
    const { hang, body, streamBytes, status } = fault
    // A delay alone: the route answers, and reads the request body itself.
    if (!hang && body === undefined && streamBytes === undefined && status === undefined) {
      return false
    }
    req.resume() // the fault answers; the request body is not needed
    if (hang) {
      if (!req.socket.destroyed) await waits.wait(Infinity, res, ['close'])
      res.destroy()
    } else if (body !== undefined) {
      send(res, { status: status ?? 200, body, headers: FAULT_HEADERS }, cors)
    } else if (streamBytes !== undefined) {
      await stream(res, endpoint.name, status ?? 200, streamBytes, { ...cors, ...FAULT_HEADERS })
    } else if (status !== undefined) {
      send(res, { status, body: endpoint.faultBody(status), headers: FAULT_HEADERS }, cors)
    }
    return true
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator')
    const path = url.pathname
    const isAdmin = path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)
    const origin = req.headers.origin
    // CORS for the IAM paths only, so a browser app can call them directly; never for /emulator.
    const cors: Record<string, string> =
      !isAdmin && origin ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {}
    if (isAdmin && origin !== undefined && !isLoopbackOrigin(origin)) {
      return send(res, { status: 403, body: { error: 'cross-origin requests are refused' } })
    }
    if (req.method === 'OPTIONS' && !isAdmin) {
      return send(
        res,
        { status: 204 },
        {
          ...cors,
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers':
            req.headers['access-control-request-headers'] ?? 'Authorization, Content-Type',
          'Access-Control-Max-Age': '600',
        },
      )
    }
    const onPath = routes.filter((r) => r.pattern.test(path))
    if (onPath.length === 0) {
      if (!isAdmin) faults.arriveUnmatched(req.method ?? 'GET', path)
      return send(res, { status: 404, body: { errorCode: 20008, errorMessage: 'not found' } }, cors)
    }
    const route = onPath.find((r) => r.method === req.method)
    if (!route) {
      const allow = [...new Set(onPath.map((r) => r.method))].join(', ')
      return send(
        res,
        {
          status: 405,
          body: { errorCode: 20000, errorMessage: 'method not allowed' },
          headers: { Allow: allow },
        },
        cors,
      )
    }
    let params: string[]
    try {
      params = route.pattern
        .exec(path)!
        .slice(1)
        .map((p) => decodeURIComponent(p))
    } catch {
      return send(
        res,
        { status: 400, body: { errorCode: 20002, errorMessage: 'malformed path' } },
        cors,
      )
    }
    if (route.endpoint) {
      const fault = faults.arrive(route.endpoint.name)
      if (fault && (await applyFault(fault, route.endpoint, req, res, cors))) return
    }
    let reply: Reply
    try {
      reply = await route.handler({ req, url, params })
    } catch (err) {
      reply =
        err instanceof HttpError
          ? { status: err.status, body: err.body, headers: err.headers }
          : { status: 500, body: { error: err instanceof Error ? err.message : String(err) } }
    }
    req.resume()
    send(res, reply, cors)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  return { server, abortWaits: () => waits.close() }
}
