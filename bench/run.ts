/**
 * Runs the benchmarks: `npm run bench` (every suite) or `npm run bench -- core fastify` (some).
 * The HTTP suites (one per framework) need wrk; `core` runs in process. Every figure is a median
 * of interleaved rounds, compared with baselines measured in the same run, because the machines
 * are shared and absolute times are noise. The soak is separate: `npm run bench:soak`.
 */
import { benchIam } from './fixtures.js'
import { runHttpSuite } from './measure.js'
import type { HttpSuite } from './measure.js'

const HTTP_SUITES = ['express', 'fastify', 'hono', 'koa', 'nestjs'] as const
const SUITES = ['core', ...HTTP_SUITES] as const

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !(SUITES as readonly string[]).includes(name))
if (unknown.length > 0) {
  console.error(`unknown suite ${unknown.join(', ')}; suites: ${SUITES.join(', ')}`)
  process.exit(2)
}
try {
  for (const name of SUITES) {
    if (wanted.length > 0 && !wanted.includes(name)) continue
    if (name === 'core') await (await import('./core.js')).benchCore()
    else await runHttpSuite(((await import(`./${name}.js`)) as { suite: HttpSuite }).suite)
  }
} finally {
  await (await benchIam()).close()
}
