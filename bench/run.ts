/**
 * Runs the benchmarks: `npm run bench` (every suite) or `npm run bench -- core fastify` (some).
 * The HTTP suites (one per framework) need wrk; `grpc` brings its own load generator
 * (bench/grpc-load.ts); `core` runs in process. `in-process` runs the
 * framework suites without sockets (`npm run bench -- in-process hono` for one framework; see
 * bench/in-process.ts). Every figure is a median of interleaved rounds, compared with baselines
 * measured in the same run, because the machines are shared and absolute times are noise. The
 * soak is separate: `npm run bench:soak`.
 */
import { benchIam } from './fixtures.js'
import { runHttpSuite } from './measure.js'
import type { HttpSuite } from './measure.js'

const HTTP_SUITES = ['express', 'fastify', 'hono', 'koa', 'nestjs', 'fetch'] as const
/** Suites under load that the in-process suite cannot drive (not an HTTP/1.1 `'request'` listener). */
const OTHER_SUITES = ['grpc'] as const
const SUITES = ['core', 'in-process', ...HTTP_SUITES, ...OTHER_SUITES] as const

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !(SUITES as readonly string[]).includes(name))
if (unknown.length > 0) {
  console.error(`unknown suite ${unknown.join(', ')}; suites: ${SUITES.join(', ')}`)
  process.exit(2)
}
const load = async (name: string) => ((await import(`./${name}.js`)) as { suite: HttpSuite }).suite
try {
  if (wanted.includes('in-process')) {
    // `in-process` alone: every framework; with names: those, in process only.
    const { runInProcessSuite } = await import('./in-process.js')
    const frameworks = wanted.filter((name) => (HTTP_SUITES as readonly string[]).includes(name))
    for (const name of frameworks.length > 0 ? frameworks : HTTP_SUITES)
      await runInProcessSuite(await load(name))
    if (wanted.includes('core')) await (await import('./core.js')).benchCore()
  } else {
    for (const name of SUITES) {
      if (wanted.length > 0 && !wanted.includes(name)) continue
      if (name === 'core') await (await import('./core.js')).benchCore()
      else if (name === 'in-process') continue
      else await runHttpSuite(await load(name))
    }
  }
} finally {
  await (await benchIam()).close()
}
// Keep-alive sockets of the answer checks and the SDK clients of in-process servers are not
// waited for.
process.exit(process.exitCode ?? 0)
