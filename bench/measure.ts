/**
 * What the benchmarks share: in-process timing (medians of rounds), and the HTTP harness: one
 * child process per server, wrk as the load generator, the server's own CPU time per request read
 * over IPC, answers checked before anything is timed, interleaved rounds, the table.
 */
import { fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { benchIam, POOL_SIZE, SDK_TOKEN_CACHE_SIZE, WEB_CLIENT } from './fixtures.js'
import type { BenchTokens, Refusal, ServerContext } from './fixtures.js'

// ---------------------------------------------------------------------------------------------
// In process

/** Runs `op` for about `roundMs` (batches of 64, awaiting promises); returns µs per call. */
async function timeRound(op: () => unknown, roundMs: number): Promise<number> {
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(Math.round(roundMs * 1e6))
  let count = 0
  for (;;) {
    // Batches keep the clock reads out of the measurement.
    for (let j = 0; j < 64; j++) {
      const r = op()
      if (r instanceof Promise) await r
    }
    count += 64
    if (process.hrtime.bigint() >= deadline) break
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / count
}

/**
 * Times each operation in `rounds` interleaved rounds (each operation once per round, so that the
 * machine's drifting load hits all alike), after one warm-up round; the median µs per call each.
 */
export async function interleavedOps(
  ops: Record<string, () => unknown>,
  options: { rounds: number; roundMs: number },
): Promise<Record<string, number>> {
  const samples = await interleavedSamples(ops, options)
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))
}

/** {@link interleavedOps}, every round's µs per call (to take differences per round). */
export async function interleavedSamples(
  ops: Record<string, () => unknown>,
  { rounds, roundMs }: { rounds: number; roundMs: number },
): Promise<Record<string, number[]>> {
  for (const op of Object.values(ops)) await timeRound(op, roundMs)
  const samples: Record<string, number[]> = {}
  for (let round = 0; round < rounds; round++) {
    for (const [name, op] of Object.entries(ops))
      (samples[name] ??= []).push(await timeRound(op, roundMs))
  }
  return samples
}

/** The median of `a[i] - b[i]` (rounds taken in the same pass, so drifting load cancels). */
export function pairedMedian(a: readonly number[], b: readonly number[]): number {
  return median(a.map((value, i) => value - (b[i] as number)))
}

/** Formats a number of operations per second. */
export function formatOps(ops: number): string {
  return ops >= 1e6
    ? `${(ops / 1e6).toFixed(2)} M/s`
    : ops >= 1e3
      ? `${(ops / 1e3).toFixed(1)} k/s`
      : `${ops.toFixed(0)} /s`
}

/** The median of a list of numbers (the upper one for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** Writes a suite's figures to `.bench-results/<name>.json` (git-ignored). */
export function writeResults(name: string, figures: unknown): void {
  mkdirSync('.bench-results', { recursive: true })
  writeFileSync(`.bench-results/${name}.json`, JSON.stringify(figures, null, 2) + '\n')
}

// ---------------------------------------------------------------------------------------------
// Servers: one child process each

/** The servers started in this process, by origin: the in-process suite drives them directly. */
export const startedServers = new Map<string, import('node:http').Server>()

/** The origin of a server listening on 127.0.0.1 (what `ServerSpec.start` resolves with). */
export function originOf(server: import('node:http').Server): string {
  const { port } = server.address() as import('node:net').AddressInfo
  const origin = `http://127.0.0.1:${port}`
  startedServers.set(origin, server)
  return origin
}

/** Serves a web `fetch` handler with `@hono/node-server` on 127.0.0.1; its origin. */
export async function serveFetchHandler(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<string> {
  const { serve } = await import('@hono/node-server')
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return originOf(server as import('node:http').Server)
}

/** A server of an HTTP suite, started in its own child process by `bench/server.ts`. */
export interface ServerSpec {
  /** Shown in the table: the library and how it is set up. */
  label: string
  /**
   * Starts the server on 127.0.0.1, port 0, serving `GET /health` (answers `ok`, unprotected)
   * and, unless `bare`, `GET /protected` (answers `ok` with the bench permission); resolves with
   * its origin. Runs in the child: import the framework here, not at the module's top.
   */
  start(context: ServerContext): Promise<string>
  /** Only `/health`: the framework with no protection at all, a baseline. */
  bare?: boolean
  /**
   * Routes that pass every request through a no-op middleware of the framework: controls that
   * show what one more route middleware costs the framework itself (sent the repeated token's
   * headers, checked to answer 2xx, never a 401).
   */
  controlRoutes?: readonly { path: string; label: string }[]
  /**
   * The bare server this one is compared with. Default: the suite's first bare server (a bare
   * server: itself; one with a baseline is a control, such as a framework-wide no-op hook).
   */
  baseline?: string
  /** Protected routes measured besides `/protected` with a repeated and with first-seen tokens. */
  extraRoutes?: readonly ExtraRoute[]
  /** Refusals this server cannot check, with why (the table's notes say it). */
  cannotRefuse?: Partial<Record<Refusal, string>>
}

/** A further protected route of a server. */
export interface ExtraRoute {
  path: string
  /** Shown in the table. */
  label: string
  credentials: Credentials
}

/**
 * What a request carries: the repeated token in the `Authorization` header, a role-granted token,
 * the web client's token in the `access_token` cookie with a `Referer` (CSRF), or the next token
 * of the first-seen pool.
 */
export type Credentials = 'repeated' | 'role' | 'cookie' | 'pool'

/** One HTTP suite: a framework's servers (one of them `bare`). */
export interface HttpSuite {
  name: string
  title: string
  servers: Record<string, ServerSpec>
  /** How load and checks reach the servers; default wrk and `fetch` over HTTP/1.1. */
  transport?: LoadTransport
}

/**
 * A load generator in another process and a one-request check, for suites that do not speak
 * HTTP/1.1 (gRPC). Cases keep the HTTP paths `/health` and `/protected`; the transport maps them.
 */
export interface LoadTransport {
  /** Shown in the suite's header line, e.g. `wrk -t1 -c32`. */
  describe: string
  /** Throws with a clear message when the load generator is missing. */
  require(): void
  run(spec: LoadSpec): Promise<LoadResult>
  /** One request's answer as an HTTP status (a gRPC status as its HTTP equivalent). */
  status(url: string, headers: Record<string, string>): Promise<number>
}

/** A running server child. */
export interface ServerProcess {
  readonly url: string
  /** The child's CPU time so far (user + system, every thread), in µs; after a GC if asked. */
  stats(options?: {
    gc?: boolean
  }): Promise<{ cpuUs: number; heapUsed: number; codeBytes: number; rss: number }>
  /** Writes a heap snapshot of the child to `file` (to look for what a soak's heap holds). */
  snapshot(file: string): Promise<string>
  close(): void
}

const SERVER_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url))

/** Starts `suite.servers[server]` in a child process and waits until it listens. */
export async function startServer(
  suite: string,
  server: string,
  context: ServerContext,
  { exposeGc = false }: { exposeGc?: boolean } = {},
): Promise<ServerProcess> {
  const child = fork(SERVER_ENTRY, [], {
    execArgv: ['--import', 'tsx', ...(exposeGc ? ['--expose-gc'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url?: string; error?: string }) =>
      m.url ? resolve(m.url) : reject(new Error(`${suite}/${server}: ${m.error}`)),
    )
    child.once('exit', (code) => reject(new Error(`${suite}/${server} exited with ${code}`)))
    child.send({ suite, server, context })
  })
  return {
    url,
    stats: (options = {}) => ask(child, { stats: true, gc: options.gc === true }),
    snapshot: async (file) => (await ask<{ file: string }>(child, { snapshot: file })).file,
    close: () => void child.kill(),
  }
}

function ask<T>(child: ChildProcess, message: object): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    child.once('message', (m: T) => resolve(m))
    child.send(message, (error) => error && reject(error))
  })
}

// ---------------------------------------------------------------------------------------------
// Load: wrk

/** Connections and threads of wrk in every HTTP benchmark (as in the figures). */
export const WRK = { threads: 1, connections: 32 }
const WRK_PATH = process.env.WRK ?? '/usr/bin/wrk'
const POOL_SCRIPT = fileURLToPath(new URL('./pool.lua', import.meta.url))

/** Stops with a clear message when wrk is missing (it is not needed by `npm test`). */
export function requireWrk(): void {
  try {
    accessSync(WRK_PATH, constants.X_OK)
  } catch {
    throw new Error(`wrk not found at ${WRK_PATH}: apt-get install wrk (or set WRK=/path/to/wrk)`)
  }
}

/** One wrk run's figures. */
export interface LoadResult {
  requests: number
  rps: number
  p99Ms: number
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number
}

/** What one wrk run sends. */
export interface LoadSpec {
  url: string
  headers?: Record<string, string>
  seconds: number
  /**
   * The first-seen rotation: each request sends the next token of `file` (one per line), from
   * `start` on; with `repeated`, every other request sends that token instead (the soak's mix).
   */
  pool?: { file: string; start: number; repeated?: string }
}

/** The default transport: wrk for load, `fetch` for the checks. */
export const WRK_TRANSPORT: LoadTransport = {
  describe: `wrk -t${WRK.threads} -c${WRK.connections}`,
  require: requireWrk,
  run: runWrk,
  async status(url, headers) {
    const response = await fetch(url, { headers })
    await response.arrayBuffer()
    return response.status
  },
}

/** Runs wrk once (`-t1 -c32 --latency`) and parses its report. */
export async function runWrk(spec: LoadSpec): Promise<LoadResult> {
  const args = [
    `-t${WRK.threads}`,
    `-c${WRK.connections}`,
    `-d${Math.max(1, Math.round(spec.seconds))}s`,
    '--latency',
    '--timeout',
    '10s',
  ]
  for (const [name, value] of Object.entries(spec.headers ?? {}))
    args.push('-H', `${name}: ${value}`)
  if (spec.pool) args.push('-s', POOL_SCRIPT)
  args.push(spec.url)
  if (spec.pool) {
    args.push('--', spec.pool.file, String(spec.pool.start))
    if (spec.pool.repeated) args.push(spec.pool.repeated)
  }
  const out = await new Promise<string>((resolve, reject) => {
    const wrk = spawn(WRK_PATH, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    wrk.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
    wrk.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
    wrk.once('error', reject)
    wrk.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}:\n${text}`)),
    )
  })
  return parseWrk(out)
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }

/** The figures of a wrk report (its `--latency` distribution gives p99). */
export function parseWrk(out: string): LoadResult {
  const requests = /(\d+) requests in/.exec(out)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out)
  if (!requests || !rps || !p99) throw new Error(`unexpected wrk report:\n${out}`)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  const errors =
    (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
    (non2xx ? Number(non2xx[1]) : 0)
  return {
    requests: Number(requests[1]),
    rps: Number(rps[1]),
    p99Ms: Number(p99[1]) * (UNIT_MS[p99[2] as string] as number),
    errors,
  }
}

/** The headers a request with `credentials` sends (not for the pool, which wrk's script sets). */
export function headersFor(credentials: Credentials, tokens: BenchTokens): Record<string, string> {
  switch (credentials) {
    case 'cookie':
      return { cookie: `access_token=${tokens.web}`, referer: `${WEB_CLIENT.redirectUri}/page` }
    case 'role':
      return { authorization: `Bearer ${tokens.role}` }
    default:
      return { authorization: `Bearer ${tokens.repeated}` }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP suites

/** One measured case: a route of a server with its credentials. */
export interface HttpCase {
  id: string
  server: string
  label: string
  path: string
  /** `undefined`: `/health` (unprotected). */
  credentials: Credentials | undefined
  /** A control route (see `ServerSpec.controlRoutes`): only its 2xx is checked. */
  control?: boolean
}

export function casesOf(suite: HttpSuite): HttpCase[] {
  return Object.entries(suite.servers).flatMap(([server, spec]) => {
    const health: HttpCase = {
      id: `${server} /health`,
      server,
      label:
        spec.bare && spec.baseline === undefined
          ? `${spec.label}: /health (baseline)`
          : `${spec.label}: /health`,
      path: '/health',
      credentials: undefined,
    }
    const controls: HttpCase[] = (spec.controlRoutes ?? []).map((r) => ({
      id: `${server} ${r.path} control`,
      server,
      label: `${spec.label}: ${r.label}`,
      path: r.path,
      credentials: 'repeated',
      control: true,
    }))
    if (spec.bare) return [health, ...controls]
    const routes: ExtraRoute[] = [
      { path: '/protected', label: 'repeated token', credentials: 'repeated' },
      { path: '/protected', label: 'first-seen tokens', credentials: 'pool' },
      ...(spec.extraRoutes ?? []),
    ]
    return [
      health,
      ...controls,
      ...routes.map((r) => ({
        id: `${server} ${r.path} ${r.credentials}`,
        server,
        label: `${spec.label}: ${r.label}`,
        path: r.path,
        credentials: r.credentials,
      })),
    ]
  })
}

/** How an HTTP suite runs (environment: `BENCH_ROUNDS`, `BENCH_ROUND_SECONDS`, `BENCH_WARMUP_SECONDS`). */
export const HTTP_RUN = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 5),
  roundSeconds: Number(process.env.BENCH_ROUND_SECONDS ?? 3),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 2),
}

/** One round of one case. */
interface RoundFigures {
  rps: number
  cpuUsPerRequest: number
  p99Ms: number
}

/** A case's medians over the rounds; differences and ratios are per round, then the median. */
export interface CaseFigures {
  label: string
  rps: number
  cpuUsPerRequest: number
  /** CPU µs per request above the same server's `/health`. */
  addedUs: number
  /** Throughput / the same server's `/health` throughput. */
  ratio: number
  /** CPU µs per request above the bare framework's `/health`. */
  addedVsBareUs: number
  ratioVsBare: number
  p99Ms: number
  rounds: RoundFigures[]
}

/**
 * Runs an HTTP suite: starts each server in its own child process, checks every case's answers,
 * warms every case up, then runs the rounds (every case once per round, interleaved), reading the
 * server's CPU time around each wrk run; prints the table and writes `.bench-results/<name>.json`.
 */
export async function runHttpSuite(suite: HttpSuite): Promise<Record<string, CaseFigures>> {
  const transport = suite.transport ?? WRK_TRANSPORT
  transport.require()
  if (POOL_SIZE <= SDK_TOKEN_CACHE_SIZE)
    console.warn(
      `BENCH_POOL_SIZE=${POOL_SIZE}: the SDK's cache holds them all; first-seen cases hit it`,
    )
  const { context, tokens } = await benchIam()
  const cases = casesOf(suite)
  const firstBare = Object.keys(suite.servers).find((s) => suite.servers[s]?.bare)
  if (firstBare === undefined) throw new Error(`${suite.name}: no bare server`)
  const baselineOf = (server: string) =>
    suite.servers[server]?.baseline ?? (suite.servers[server]?.bare ? server : firstBare)
  const servers: Record<string, ServerProcess> = {}
  try {
    for (const name of Object.keys(suite.servers))
      servers[name] = await startServer(suite.name, name, context)
    for (const c of cases) await checkAnswers(c, servers[c.server] as ServerProcess, suite, tokens)

    const poolSent: Record<string, number> = {}
    const measure = async (c: HttpCase, seconds: number): Promise<RoundFigures> => {
      const server = servers[c.server] as ServerProcess
      const spec: LoadSpec = { url: server.url + c.path, seconds }
      if (c.credentials === 'pool') {
        spec.pool = { file: tokens.poolFile, start: poolSent[c.id] ?? 0 }
      } else spec.headers = headersFor(c.credentials ?? 'repeated', tokens)
      const before = await server.stats()
      const load = await transport.run(spec)
      const after = await server.stats()
      if (load.errors > 0) throw new Error(`${c.id}: ${load.errors} errors or non-2xx answers`)
      // Continue the rotation where it stopped, past the requests in flight at the end.
      if (c.credentials === 'pool') poolSent[c.id] = (poolSent[c.id] ?? 0) + load.requests + 64
      return {
        rps: load.rps,
        cpuUsPerRequest: (after.cpuUs - before.cpuUs) / load.requests,
        p99Ms: load.p99Ms,
      }
    }

    const { rounds, roundSeconds, warmupSeconds } = HTTP_RUN
    console.log(
      `\n${suite.title}: ${cases.length} cases, ${transport.describe}, ` +
        `${rounds} interleaved rounds x ${roundSeconds} s after ${warmupSeconds} s warm-up`,
    )
    for (const c of cases) await measure(c, warmupSeconds)
    const byCase: Record<string, RoundFigures[]> = {}
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) (byCase[c.id] ??= []).push(await measure(c, roundSeconds))
      process.stdout.write(`  round ${round + 1}/${rounds} done\n`)
    }

    const figures: Record<string, CaseFigures> = {}
    for (const c of cases) {
      const own = byCase[`${c.server} /health`] as RoundFigures[]
      const base = byCase[`${baselineOf(c.server)} /health`] as RoundFigures[]
      const mine = byCase[c.id] as RoundFigures[]
      const perRound = (f: (m: RoundFigures, i: number) => number) => median(mine.map(f))
      figures[c.id] = {
        label: c.label,
        rps: perRound((m) => m.rps),
        cpuUsPerRequest: perRound((m) => m.cpuUsPerRequest),
        addedUs: perRound((m, i) => m.cpuUsPerRequest - (own[i] as RoundFigures).cpuUsPerRequest),
        ratio: perRound((m, i) => m.rps / (own[i] as RoundFigures).rps),
        addedVsBareUs: perRound(
          (m, i) => m.cpuUsPerRequest - (base[i] as RoundFigures).cpuUsPerRequest,
        ),
        ratioVsBare: perRound((m, i) => m.rps / (base[i] as RoundFigures).rps),
        p99Ms: perRound((m) => m.p99Ms),
        rounds: mine,
      }
    }
    printTable(suite, figures)
    writeResults(suite.name, {
      suite: suite.title,
      date: new Date().toISOString(),
      node: process.version,
      load: transport.describe,
      run: HTTP_RUN,
      cases: figures,
    })
    return figures
  } finally {
    for (const server of Object.values(servers)) server.close()
  }
}

/** Prints a table: the first column left-aligned, the others right-aligned. */
export function printRows(rows: readonly (readonly string[])[]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)))
  for (const row of rows) {
    console.log(
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  '),
    )
  }
}

export function printTable(suite: HttpSuite, figures: Record<string, CaseFigures>): void {
  const rows = [
    ['case', 'req/s', 'CPU µs/req', '+µs own', 'ratio own', '+µs bare', 'ratio bare', 'p99 ms'],
    ...Object.values(figures).map((f) => [
      f.label,
      f.rps.toFixed(0),
      f.cpuUsPerRequest.toFixed(1),
      f.addedUs.toFixed(1),
      f.ratio.toFixed(2),
      f.addedVsBareUs.toFixed(1),
      f.ratioVsBare.toFixed(2),
      f.p99Ms.toFixed(2),
    ]),
  ]
  printRows(rows)
  console.log(
    "(+µs own / ratio own: against the same server process's /health; bare: against the framework with no protection)",
  )
  for (const spec of Object.values(suite.servers)) {
    for (const [refusal, why] of Object.entries(spec.cannotRefuse ?? {}))
      console.log(`note: ${spec.label} does not refuse a wrong ${refusal}: ${why}`)
  }
}

/** What a protected route must answer for each refusal: 401, or 403 for a missing permission. */
const REFUSED_STATUS: Record<Refusal, readonly number[]> = {
  signature: [401],
  expired: [401],
  issuer: [401],
  audience: [401],
  permission: [401, 403],
}

/**
 * Before anything is timed: the case answers 2xx with its credentials; a protected one answers
 * 401 without a token and refuses every bad token its library can check (signature, `exp`,
 * `iss`, `aud`, the permission claim).
 */
export async function checkAnswers(
  c: HttpCase,
  server: ServerProcess,
  suite: HttpSuite,
  tokens: BenchTokens,
): Promise<void> {
  const url = server.url + c.path
  const expect = async (
    headers: Record<string, string>,
    ok: readonly number[] | 'ok',
    what: string,
  ) => {
    const status = await (suite.transport ?? WRK_TRANSPORT).status(url, headers)
    const good = ok === 'ok' ? status >= 200 && status < 300 : ok.includes(status)
    if (!good) throw new Error(`${c.id}: ${what}: HTTP ${status}`)
  }
  if (c.credentials === 'pool') {
    for (const token of tokens.poolSamples)
      await expect({ authorization: `Bearer ${token}` }, 'ok', 'a pool token')
  } else await expect(headersFor(c.credentials ?? 'repeated', tokens), 'ok', 'the token')
  if (c.credentials === undefined || c.control === true) return
  await expect(
    c.credentials === 'cookie' ? { referer: `${WEB_CLIENT.redirectUri}/page` } : {},
    [401],
    'no token',
  )
  const cannot = suite.servers[c.server]?.cannotRefuse ?? {}
  for (const [refusal, token] of Object.entries(tokens.refused) as [Refusal, string][]) {
    if (cannot[refusal] !== undefined) continue
    const headers: Record<string, string> =
      c.credentials === 'cookie'
        ? { cookie: `access_token=${token}`, referer: `${WEB_CLIENT.redirectUri}/page` }
        : { authorization: `Bearer ${token}` }
    await expect(headers, REFUSED_STATUS[refusal], `a token with a wrong ${refusal}`)
  }
}
