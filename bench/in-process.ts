/**
 * The framework suites without sockets (`npm run bench -- in-process`, or `in-process express`):
 * the same servers as the wrk suites, started in this process, each request handed to the
 * server's own `'request'` listeners as real `IncomingMessage` / `ServerResponse` objects over a
 * socket that discards what is written. What is timed is the framework's and the protection's
 * CPU work per request, one request after another, with no kernel, no load generator and no
 * network in the figure. On a shared machine those are most of a wrk figure and most of its
 * noise; here a difference of a microsecond between two routes is visible.
 *
 * Every case runs a batch per round, interleaved with the others; a case's figures are medians
 * over the rounds of its per-round difference with the same server's `/health` (µs added) and
 * their quotient (the throughput ratio a CPU-bound server would show). Answers are checked over
 * HTTP first, as in the wrk suites.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { IncomingMessage as Request, ServerResponse as Response } from 'node:http'
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Duplex } from 'node:stream'

import { benchIam, verifySignatureOnly } from './fixtures.js'
import {
  casesOf,
  checkAnswers,
  headersFor,
  median,
  printRows,
  startedServers,
  writeResults,
} from './measure.js'
import type { HttpCase, HttpSuite, ServerProcess } from './measure.js'

// Many short rounds: the figures are medians of differences taken per round, and a long round
// lets the drift of a shared machine into one case and not the other.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25)
const BATCH = Number(process.env.BENCH_BATCH ?? 500)

/** Where responses are written: accepts everything at once, never reads. */
const sink = new Duplex({
  write(_chunk, _encoding, callback) {
    callback()
  },
  read() {},
})

/** Hands one GET to `server` as Node would; resolves with the status once the response ends. */
export function inject(
  server: Server,
  url: string,
  headers: Record<string, string>,
): Promise<number> {
  return new Promise((resolve) => {
    const req: IncomingMessage = new Request(sink as never)
    req.method = 'GET'
    req.url = url
    req.headers = { host: '127.0.0.1', ...headers }
    req.rawHeaders = Object.entries(req.headers).flat() as string[]
    req.push(null)
    const res: ServerResponse = new Response(req)
    res.assignSocket(sink as never)
    res.once('finish', () => {
      res.detachSocket(sink as never)
      resolve(res.statusCode)
    })
    server.emit('request', req, res)
  })
}

/** One case's medians; differences and quotients are taken per round, then the median. */
export interface InProcessFigures {
  label: string
  usPerRequest: number
  /** µs per request above the same server's `/health`. */
  addedUs: number
  /** The same server's `/health` time over this case's. */
  ratio: number
  /** µs per request above the bare framework's `/health`. */
  addedVsBareUs: number
}

/** Runs one framework suite in process; prints its table and writes `.bench-results/in-process-<name>.json`. */
export async function runInProcessSuite(
  suite: HttpSuite,
): Promise<Record<string, InProcessFigures>> {
  const { context, tokens } = await benchIam()
  const pool = readFileSync(tokens.poolFile, 'utf8').trim().split('\n')
  const cases = casesOf(suite)
  const firstBare = Object.keys(suite.servers).find((s) => suite.servers[s]?.bare) as string
  const servers: Record<string, Server> = {}
  for (const [name, spec] of Object.entries(suite.servers)) {
    const origin = await spec.start(context)
    servers[name] = startedServers.get(origin) as Server
    const process: ServerProcess = {
      url: origin,
      stats: () => Promise.reject(new Error('not used in process')),
      snapshot: () => Promise.reject(new Error('not used in process')),
      close: () => undefined,
    }
    for (const c of cases.filter((c) => c.server === name))
      await checkAnswers(c, process, suite, tokens)
  }
  // One cursor per case over the whole pool: a shared one made the cases' shares of the pool
  // repeat round after round, so a server saw a few thousand tokens again and again and cached
  // them (a "first-seen" figure below the bare verify).
  const cursors = new Map<string, number>()
  const nextToken = (id: string): string => {
    const at = cursors.get(id) ?? 0
    cursors.set(id, at + 1)
    return pool[at % pool.length] as string
  }
  const headersOf = (c: HttpCase): Record<string, string> =>
    c.credentials === 'pool'
      ? { authorization: `Bearer ${nextToken(c.id)}` }
      : c.credentials === undefined
        ? {}
        : headersFor(c.credentials, tokens)
  const fixed = new Map(cases.map((c) => [c.id, headersOf(c)]))
  const batch = async (c: HttpCase): Promise<number> => {
    const server = servers[c.server] as Server
    const start = process.hrtime.bigint()
    for (let i = 0; i < BATCH; i++) {
      const status = await inject(
        server,
        c.path,
        c.credentials === 'pool' ? headersOf(c) : (fixed.get(c.id) as Record<string, string>),
      )
      if (status < 200 || status >= 300) throw new Error(`${c.id}: HTTP ${status}`)
    }
    return Number(process.hrtime.bigint() - start) / 1e3 / BATCH
  }

  // The floor of a first-seen token, timed beside the cases: the RS256 verify alone.
  const jwk = ((await (await fetch(context.jwksUrl)).json()) as { keys: object[] }).keys[0]
  const key = createPublicKey({ key: jwk as never, format: 'jwk' })
  const floor = (): number => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < BATCH; i++) {
      verifySignatureOnly(nextToken('floor'), key)
    }
    return Number(process.hrtime.bigint() - start) / 1e3 / BATCH
  }
  const floors: number[] = []

  console.log(
    `\n${suite.title}, in process: ${cases.length} cases, ${ROUNDS} interleaved rounds of ` +
      `${BATCH} requests each, one at a time`,
  )
  for (const c of cases) await batch(c)
  const byCase: Record<string, number[]> = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) (byCase[c.id] ??= []).push(await batch(c))
    floors.push(floor())
  }
  const figures: Record<string, InProcessFigures> = {}
  for (const c of cases) {
    const mine = byCase[c.id] as number[]
    const own = byCase[`${c.server} /health`] as number[]
    const spec = suite.servers[c.server]
    const bareServer = spec?.bare ? c.server : (spec?.baseline ?? firstBare)
    const bare = byCase[`${bareServer} /health`] as number[]
    figures[c.id] = {
      label: c.label,
      usPerRequest: median(mine),
      addedUs: median(mine.map((m, i) => m - (own[i] as number))),
      ratio: median(mine.map((m, i) => (own[i] as number) / m)),
      addedVsBareUs: median(mine.map((m, i) => m - (bare[i] as number))),
    }
  }
  const rows = [
    ['case', 'µs/req', '+µs own', 'ratio own', '+µs bare'],
    ...Object.values(figures).map((f) => [
      f.label,
      f.usPerRequest.toFixed(2),
      f.addedUs.toFixed(2),
      f.ratio.toFixed(2),
      f.addedVsBareUs.toFixed(2),
    ]),
  ]
  printRows(rows)
  console.log(
    `RS256 verify alone (the floor of a first-seen token): ${median(floors).toFixed(2)} µs`,
  )
  writeResults(`in-process-${suite.name}`, {
    suite: suite.title,
    date: new Date().toISOString(),
    node: process.version,
    rounds: ROUNDS,
    batch: BATCH,
    rs256VerifyUs: median(floors),
    cases: figures,
  })
  for (const server of Object.values(servers)) server.close()
  return figures
}
