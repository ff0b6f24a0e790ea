/**
 * The same protected route on Express, Fastify and Hono on Node (fetch adapter): each framework's
 * `GET /protected` behind `permissionRequired` (header token, direct permission) against the
 * same framework's unprotected `GET /open` (same request, token included), with autocannon on
 * loopback. Rounds are interleaved and each figure is the median of the rounds; the protected
 * throughput is reported as a ratio of the same framework's unprotected throughput measured in
 * the same run, plus p99.
 *
 * The apps (and the emulator they trust) run in a child process so that the load generator does
 * not share their event loop. Run with `npm run bench -- frameworks` or
 * `node --import tsx bench/frameworks.ts`. Bounded: about 75 s.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

import { HTTP_CONNECTIONS as CONNECTIONS, interleavedRounds, withServerProcess } from './measure.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 2)
const WARMUP_SECONDS = 1
const FRAMEWORKS = ['express', 'fastify', 'hono'] as const
type Framework = (typeof FRAMEWORKS)[number]

interface ServerInfo {
  urls: Record<Framework, string>
  token: string
}

/** The child process: the emulator and the three apps; prints their URLs and a token as JSON. */
async function serve(): Promise<void> {
  const { startEmulator } = await import('iam-node-sdk/emulator')
  const emulator = await startEmulator({ port: 0 })
  const ns = emulator.namespace
  const token = await emulator.issueUserToken({
    sub: 'sample-userid',
    namespace: ns,
    permissions: [{ Resource: `NAMESPACE:${ns}:USER:sample-userid`, Action: 4 }],
  })
  const options = {
    baseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    logger: {},
  }
  const permission = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
  const resources = { '{namespace}': ns, '{userId}': 'sample-userid' }

  const { default: express } = await import('express')
  const ex = await import('iam-node-sdk/express')
  const expressApp = express()
  const iam = new ex.IAM(expressApp, options)
  expressApp.get('/open', (_req, res) => res.send('ok'))
  expressApp.get('/protected', ex.permissionRequired(permission, resources), (_req, res) => {
    res.send('ok')
  })
  await iam.ready
  const expressServer = expressApp.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => expressServer.once('listening', resolve))

  const { default: Fastify } = await import('fastify')
  const fa = await import('iam-node-sdk/fastify')
  const fastifyApp = Fastify()
  await fastifyApp.register(fa.iamPlugin, options)
  fastifyApp.get('/open', async () => 'ok')
  fastifyApp.get(
    '/protected',
    { preHandler: fa.permissionRequired(permission, resources) },
    async () => 'ok',
  )
  const fastifyUrl = await fastifyApp.listen({ port: 0, host: '127.0.0.1' })

  const { Hono } = await import('hono')
  const { serve: serveHono } = await import('@hono/node-server')
  const { createIam } = await import('iam-node-sdk/fetch')
  const fetchIam = createIam(options)
  const check = fetchIam.permissionRequired(permission, resources)
  const honoApp = new Hono()
  honoApp.get('/open', (c) => c.text('ok'))
  honoApp.get(
    '/protected',
    async (c, next) => {
      const result = await check(c.req.raw)
      if (result instanceof Response) return result
      await next()
    },
    (c) => c.text('ok'),
  )
  await fetchIam.ready
  const honoServer = await new Promise<ReturnType<typeof serveHono>>((resolve) => {
    const s = serveHono({ fetch: honoApp.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })

  const address = (server: { address(): unknown }) =>
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const info: ServerInfo = {
    urls: { express: address(expressServer), fastify: fastifyUrl, hono: address(honoServer) },
    token,
  }
  process.stdout.write(JSON.stringify(info) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

/** One framework's figures: medians of the rounds. */
export interface FrameworkFigures {
  openRps: number
  protectedRps: number
  /** Protected throughput / unprotected throughput, same framework, same run. */
  ratio: number
  openP99Ms: number
  protectedP99Ms: number
}

/** Runs the benchmark and prints a table; returns the figures. */
export async function benchFrameworks(): Promise<Record<Framework, FrameworkFigures>> {
  return withServerProcess<ServerInfo, Record<Framework, FrameworkFigures>>(
    import.meta.url,
    async (info) => {
      // Both routes get the same request (the token too), so the ratio is the protection alone.
      const headers = { authorization: `Bearer ${info.token}` }
      const cases = FRAMEWORKS.flatMap((fw) => [
        { name: `${fw}/open`, url: `${info.urls[fw]}/open`, headers },
        { name: `${fw}/protected`, url: `${info.urls[fw]}/protected`, headers },
      ])
      const medians = await interleavedRounds(cases, {
        rounds: ROUNDS,
        roundSeconds: ROUND_SECONDS,
        warmupSeconds: WARMUP_SECONDS,
      })
      const out = {} as Record<Framework, FrameworkFigures>
      console.log(
        `\nFrameworks: ${ROUNDS} rounds x ${ROUND_SECONDS}s, ${CONNECTIONS} connections (medians)`,
      )
      console.log(
        'framework   open req/s   protected req/s   ratio   p99 open ms   p99 protected ms',
      )
      for (const fw of FRAMEWORKS) {
        const open = medians[`${fw}/open`] as { rps: number; p99Ms: number }
        const protectedRoute = medians[`${fw}/protected`] as { rps: number; p99Ms: number }
        const f: FrameworkFigures = {
          openRps: open.rps,
          protectedRps: protectedRoute.rps,
          ratio: protectedRoute.rps / open.rps,
          openP99Ms: open.p99Ms,
          protectedP99Ms: protectedRoute.p99Ms,
        }
        out[fw] = f
        console.log(
          `${fw.padEnd(9)} ${f.openRps.toFixed(0).padStart(12)} ${f.protectedRps.toFixed(0).padStart(17)}   ${f.ratio.toFixed(2).padStart(5)} ${f.openP99Ms.toFixed(1).padStart(13)} ${f.protectedP99Ms.toFixed(1).padStart(18)}`,
        )
      }
      mkdirSync('.bench-results', { recursive: true })
      writeFileSync('.bench-results/frameworks.json', JSON.stringify(out, null, 2))
      return out
    },
  )
}

if (process.argv.includes('--serve')) await serve()
else if (process.argv[1] === fileURLToPath(import.meta.url)) await benchFrameworks()
