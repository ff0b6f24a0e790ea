/**
 * Express integration throughput: the same route unprotected and behind `permissionRequired`
 * (header token + direct permission; header token + role permission; cookie token with CSRF
 * protection), with autocannon on loopback. Each protected case is reported as a ratio of the
 * unprotected throughput measured in the same run (median of interleaved rounds), plus p99.
 *
 * The app (and the emulator it trusts) runs in a child process so that the load generator does
 * not share its event loop. Run with `npm run bench -- express` or
 * `node --import tsx bench/express.ts`. Bounded: about 70 s.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

import { HTTP_CONNECTIONS as CONNECTIONS, interleavedRounds, withServerProcess } from './measure.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 2.5)
const WARMUP_SECONDS = 1

interface ServerInfo {
  url: string
  headers: Record<string, Record<string, string>>
}

/** The child process: emulator + Express app; prints its URL and per-case headers as JSON. */
async function serve(): Promise<void> {
  const { default: express } = await import('express')
  const { startEmulator } = await import('iam-node-sdk/emulator')
  const { IAM, permissionRequired } = await import('iam-node-sdk/express')
  const emulator = await startEmulator({ port: 0 })
  const ns = emulator.namespace
  await emulator.createClient({
    clientId: 'bench-web',
    clientSecret: '',
    namespace: ns,
    redirectUri: 'http://bench.example.com/app',
  })
  const roleId = await emulator.createRole({
    permissions: [{ resource: 'NAMESPACE:{namespace}:USER:{userId}', action: 4 }],
  })
  const direct = await emulator.issueUserToken({
    sub: 'sample-userid',
    namespace: ns,
    client_id: 'bench-web',
    permissions: [{ Resource: `NAMESPACE:${ns}:USER:sample-userid`, Action: 4 }],
  })
  const role = await emulator.issueUserToken({
    sub: 'sample-userid',
    namespace: ns,
    client_id: 'bench-web',
    namespace_roles: [{ roleId, namespace: ns }],
  })
  const app = express()
  const iam = new IAM(app, {
    baseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    logger: {},
  })
  const permission = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
  const resources = { '{namespace}': ns, '{userId}': 'sample-userid' }
  const answer = (_req: unknown, res: { send(body: string): void }) => res.send('ok')
  app.get('/open', answer)
  app.get('/protected', permissionRequired(permission, resources), answer)
  app.get('/csrf', permissionRequired(permission, resources, { csrfProtect: true }), answer)
  await iam.ready
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const info: ServerInfo = {
    url,
    headers: {
      unprotected: {},
      unprotectedSameHeaders: { authorization: `Bearer ${direct}` },
      direct: { authorization: `Bearer ${direct}` },
      role: { authorization: `Bearer ${role}` },
      cookie: { cookie: `access_token=${direct}`, referer: 'http://bench.example.com/app/page' },
    },
  }
  process.stdout.write(JSON.stringify(info) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

const PATHS: Record<string, string> = {
  unprotected: '/open',
  unprotectedSameHeaders: '/open',
  direct: '/protected',
  role: '/protected',
  cookie: '/csrf',
}

/** Runs the benchmark and prints a table; returns the figures. */
export async function benchExpress(): Promise<
  Record<string, { rps: number; ratio: number; p99Ms: number }>
> {
  return withServerProcess<
    ServerInfo,
    Record<string, { rps: number; ratio: number; p99Ms: number }>
  >(import.meta.url, async (info) => {
    const cases = Object.keys(PATHS).map((name) => ({
      name,
      url: info.url + PATHS[name],
      headers: info.headers[name] ?? {},
    }))
    const medians = await interleavedRounds(cases, {
      rounds: ROUNDS,
      roundSeconds: ROUND_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
    })
    const base = medians.unprotected?.rps ?? NaN
    const out: Record<string, { rps: number; ratio: number; p99Ms: number }> = {}
    console.log(
      `\nExpress ${ROUNDS} rounds x ${ROUND_SECONDS}s, ${CONNECTIONS} connections (medians)`,
    )
    console.log('case          req/s     ratio   p99 ms')
    for (const { name } of cases) {
      const { rps, p99Ms } = medians[name] as { rps: number; p99Ms: number }
      out[name] = { rps, ratio: rps / base, p99Ms }
      console.log(
        `${name.padEnd(12)} ${rps.toFixed(0).padStart(7)}   ${(rps / base).toFixed(2).padStart(5)}   ${p99Ms.toFixed(1).padStart(6)}`,
      )
    }
    mkdirSync('.bench-results', { recursive: true })
    writeFileSync('.bench-results/express.json', JSON.stringify(out, null, 2))
    return out
  })
}

if (process.argv.includes('--serve')) await serve()
else if (process.argv[1] === fileURLToPath(import.meta.url)) await benchExpress()
