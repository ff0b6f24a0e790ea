/**
 * Soak (`npm run bench:soak`; not part of `npm run bench`): the SDK's protected route on Express
 * and on Fastify, each server in its own process, both under full wrk load at once for
 * `SOAK_MINUTES` (default 10). Each request alternates the repeated token and the next token of the
 * first-seen pool, so the verified-token cache is hit, filled and evicted from all along. Every
 * `SOAK_INTERVAL_SECONDS` (default 10) each server is asked for its heap after a forced GC
 * (`--expose-gc`), beside the interval's throughput, p99 and errors.
 *
 * Reported per server, after the warm-up (`SOAK_WARMUP_SECONDS`, default a fifth of the run, at
 * most 60 s): heap growth (median of the last three samples against the first three), p99 of the
 * last third against the first third, and errors. Exits 1 when the heap grew 5 % or more or any
 * request failed. The compiled code's share of the heap is shown beside: the SDK refreshes its
 * JWKS and revocation list once a minute, and V8 compiles that path (Node's `fetch`, web streams)
 * a little more at each refresh for many minutes, which grows the heap with no leak. The bound
 * applies to the whole heap all the same.
 */
import { benchIam } from './fixtures.js'
import type { BenchTokens, ServerContext } from './fixtures.js'
import { median, requireWrk, runWrk, startServer, writeResults } from './measure.js'

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10)
const INTERVAL_SECONDS = Number(process.env.SOAK_INTERVAL_SECONDS ?? 10)
const WARMUP_SECONDS = Number(process.env.SOAK_WARMUP_SECONDS ?? Math.min(60, MINUTES * 12))
interface SoakTarget {
  suite: string
  server: string
  label: string
  path: string
  /** A control: the framework alone under the same requests, to tell its heap from the SDK's. */
  control?: boolean
}
const SERVERS: readonly SoakTarget[] = [
  { suite: 'express', server: 'sdk', label: 'Express 5, iam-node-sdk', path: '/protected' },
  { suite: 'fastify', server: 'sdk', label: 'Fastify 5, iam-node-sdk', path: '/protected' },
  // SOAK_CONTROL=1: the bare frameworks beside, sent the same requests on /health.
  ...(process.env.SOAK_CONTROL === '1'
    ? [
        {
          suite: 'express',
          server: 'bare',
          label: 'Express 5 alone',
          path: '/health',
          control: true,
        },
        {
          suite: 'fastify',
          server: 'bare',
          label: 'Fastify 5 alone',
          path: '/health',
          control: true,
        },
      ]
    : []),
]
/** Heap growth after warm-up at or above which the soak fails. */
const MAX_HEAP_GROWTH = 0.05

interface Sample {
  atSeconds: number
  rps: number
  p99Ms: number
  errors: number
  heapUsedMb: number
  /** Of the heap: compiled code and bytecode (grows while V8 tiers up rarely run functions). */
  codeMb: number
  rssMb: number
}

/** Loads one server for the whole soak, one wrk run per interval; its samples. */
async function soakOne(
  target: SoakTarget,
  context: ServerContext,
  tokens: BenchTokens,
  endAt: number,
  startedAt: number,
): Promise<Sample[]> {
  const server = await startServer(target.suite, target.server, context, { exposeGc: true })
  const samples: Sample[] = []
  let start = 0
  try {
    while (Date.now() < endAt) {
      const seconds = Math.max(
        1,
        Math.min(INTERVAL_SECONDS, Math.round((endAt - Date.now()) / 1000)),
      )
      const load = await runWrk({
        url: server.url + target.path,
        seconds,
        pool: { file: tokens.poolFile, start, repeated: tokens.repeated },
      })
      start += Math.ceil(load.requests / 2) + 64
      const { heapUsed, codeBytes, rss } = await server.stats({ gc: true })
      const sample: Sample = {
        atSeconds: Math.round((Date.now() - startedAt) / 1000),
        rps: load.rps,
        p99Ms: load.p99Ms,
        errors: load.errors,
        heapUsedMb: heapUsed / 2 ** 20,
        codeMb: codeBytes / 2 ** 20,
        rssMb: rss / 2 ** 20,
      }
      samples.push(sample)
      console.log(
        `  ${target.label.padEnd(24)} t=${String(sample.atSeconds).padStart(4)} s  ` +
          `${sample.rps.toFixed(0).padStart(6)} req/s  p99 ${sample.p99Ms.toFixed(2).padStart(6)} ms  ` +
          `heap ${sample.heapUsedMb.toFixed(1).padStart(6)} MB (code ${sample.codeMb.toFixed(2)})  ` +
          `rss ${sample.rssMb.toFixed(0)} MB  ` +
          `errors ${sample.errors}`,
      )
    }
  } finally {
    server.close()
  }
  return samples
}

/** The figures a soak is judged on, over the samples after the warm-up. */
function judge(samples: readonly Sample[]) {
  const steady = samples.filter((s) => s.atSeconds > WARMUP_SECONDS)
  const third = Math.max(1, Math.floor(steady.length / 3))
  const heapStart = median(steady.slice(0, 3).map((s) => s.heapUsedMb))
  const heapEnd = median(steady.slice(-3).map((s) => s.heapUsedMb))
  const codeStart = median(steady.slice(0, 3).map((s) => s.codeMb))
  const codeEnd = median(steady.slice(-3).map((s) => s.codeMb))
  const p99Start = median(steady.slice(0, third).map((s) => s.p99Ms))
  const p99End = median(steady.slice(-third).map((s) => s.p99Ms))
  return {
    steadySamples: steady.length,
    heapStartMb: heapStart,
    heapEndMb: heapEnd,
    heapGrowth: (heapEnd - heapStart) / heapStart,
    codeStartMb: codeStart,
    codeEndMb: codeEnd,
    p99StartMs: p99Start,
    p99EndMs: p99End,
    p99MaxMs: Math.max(...steady.map((s) => s.p99Ms)),
    medianRps: median(steady.map((s) => s.rps)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
  }
}

requireWrk()
const iam = await benchIam()
try {
  console.log(
    `Soak: ${MINUTES} min, intervals of ${INTERVAL_SECONDS} s, warm-up ${WARMUP_SECONDS} s; ` +
      `wrk -t1 -c32 on each server at once; repeated and first-seen tokens alternating`,
  )
  const startedAt = Date.now()
  const endAt = startedAt + MINUTES * 60_000
  const results = await Promise.all(
    SERVERS.map((target) => soakOne(target, iam.context, iam.tokens, endAt, startedAt)),
  )
  let failed = false
  const report: Record<string, unknown> = {}
  console.log('\nAfter warm-up:')
  SERVERS.forEach((target, i) => {
    const samples = results[i] as Sample[]
    const verdict = judge(samples)
    report[target.label] = { ...verdict, samples }
    const bad = !target.control && (verdict.errors > 0 || !(verdict.heapGrowth < MAX_HEAP_GROWTH))
    failed ||= bad
    console.log(
      `  ${target.label}: heap ${verdict.heapStartMb.toFixed(1)} -> ${verdict.heapEndMb.toFixed(1)} MB ` +
        `(${(verdict.heapGrowth * 100).toFixed(1)} %; of it compiled code ${verdict.codeStartMb.toFixed(2)} -> ` +
        `${verdict.codeEndMb.toFixed(2)} MB), p99 ${verdict.p99StartMs.toFixed(2)} -> ` +
        `${verdict.p99EndMs.toFixed(2)} ms (max ${verdict.p99MaxMs.toFixed(2)}), ` +
        `${verdict.medianRps.toFixed(0)} req/s, ${verdict.errors} errors${bad ? '  FAILED' : ''}`,
    )
  })
  writeResults('soak', {
    date: new Date().toISOString(),
    node: process.version,
    minutes: MINUTES,
    intervalSeconds: INTERVAL_SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    servers: report,
  })
  process.exitCode = failed ? 1 : 0
} finally {
  await iam.close()
}
