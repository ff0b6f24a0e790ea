/**
 * Two builds of the package, side by side in one process: `npm run bench:builds -- <dir>` with
 * `<dir>` another checkout's root, built (`git worktree add /tmp/before HEAD~1`, then
 * `npm run build` there). For a change to the hot path, this separates a microsecond where two
 * separate runs differ by tens: both builds share the process, the machine's state and the
 * tokens, the rounds alternate which build goes first, and the figure is the median of the
 * per-round differences (this build minus the other), with its quartiles. Run it twice; a run
 * of a build against itself shows the harness's own spread.
 *
 * - first-seen: `validateClaimsSync` over the token pool (each build its own client, each its
 *   own walk of the pool, so no token is cached);
 * - Express, repeated token: an Express app per build with `permissionRequired`, requests handed
 *   to each app's server in process (as bench/in-process.ts does).
 *
 * Settings: `BENCH_BUILD_ROUNDS` (first-seen rounds, 21; Express rounds ×10), `BENCH_BATCH`
 * (tokens or requests per round and build, 3 000 and 500).
 */
import { createServer } from 'node:http'
import { readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

import express from 'express'

import { PERMISSION, benchIam, resources, sdkOptions } from './fixtures.js'
import { inject } from './in-process.js'
import { median } from './measure.js'

type Sdk = typeof import('iam-node-sdk')
type ExpressSdk = typeof import('iam-node-sdk/express')

const other = process.argv[2]
if (other === undefined || !statSync(join(other, 'dist', 'index.js'), { throwIfNoEntry: false })) {
  console.error('usage: npm run bench:builds -- <root of another checkout, built>')
  process.exit(2)
}
const ROUNDS = Number(process.env.BENCH_BUILD_ROUNDS ?? 21)
const BATCH = Number(process.env.BENCH_BATCH ?? 0)
const builds = {
  this: resolve('dist'),
  other: resolve(other, 'dist'),
}
const load = async <T>(dir: string, entry: string): Promise<T> =>
  (await import(pathToFileURL(join(dir, entry)).href)) as T

/** Median and quartiles of `this − other` over rounds that alternate which goes first. */
async function paired(
  rounds: number,
  run: Record<'this' | 'other', () => Promise<number> | number>,
): Promise<string> {
  await run.this()
  await run.other()
  const differences: number[] = []
  for (let round = 0; round < rounds; round++) {
    const first = round % 2 === 0 ? await run.this() : await run.other()
    const second = round % 2 === 0 ? await run.other() : await run.this()
    differences.push(round % 2 === 0 ? first - second : second - first)
  }
  const sorted = [...differences].sort((a, b) => a - b)
  const at = (f: number) => (sorted[Math.floor(f * (sorted.length - 1))] as number).toFixed(2)
  return `${median(differences).toFixed(2)} µs (quartiles ${at(0.25)} .. ${at(0.75)})`
}

const { context, tokens } = await benchIam()
try {
  const pool = readFileSync(tokens.poolFile, 'utf8').trim().split('\n')
  const firstSeen = async (dir: string) => {
    const { IamClient } = await load<Sdk>(dir, 'index.js')
    const client = new IamClient(sdkOptions(context))
    await client.clientTokenGrant()
    await client.startLocalValidation()
    let next = 0
    const batch = BATCH || 3000
    const run = () => {
      const start = process.hrtime.bigint()
      for (let i = 0; i < batch; i++)
        client.validateClaimsSync(pool[next++ % pool.length] as string)
      return Number(process.hrtime.bigint() - start) / 1e3 / batch
    }
    return { run, close: () => client.close() }
  }
  const a = await firstSeen(builds.this)
  const b = await firstSeen(builds.other)
  console.log(
    `first-seen token, this − other: ${await paired(ROUNDS, { this: a.run, other: b.run })}`,
  )
  await a.close()
  await b.close()

  const expressApp = async (dir: string) => {
    const { IAM, permissionRequired } = await load<ExpressSdk>(dir, 'express/index.js')
    const app = express()
    const iam = new IAM(app, sdkOptions(context))
    app.get('/protected', permissionRequired(PERMISSION, resources(context)), (_req, res) => {
      res.send('ok')
    })
    await iam.ready
    const server = createServer(app)
    const headers = { authorization: `Bearer ${tokens.repeated}` }
    const batch = BATCH || 500
    const run = async () => {
      const start = process.hrtime.bigint()
      for (let i = 0; i < batch; i++) {
        const status = await inject(server, '/protected', headers)
        if (status !== 200) throw new Error(`Express /protected: HTTP ${status}`)
      }
      return Number(process.hrtime.bigint() - start) / 1e3 / batch
    }
    return { run, close: () => iam.close() }
  }
  const x = await expressApp(builds.this)
  const y = await expressApp(builds.other)
  console.log(
    `Express, repeated token, this − other: ${await paired(ROUNDS * 10, { this: x.run, other: y.run })}`,
  )
  await x.close()
  await y.close()
} finally {
  await (await benchIam()).close()
}
