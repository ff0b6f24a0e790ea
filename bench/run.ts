/**
 * Runs the benchmarks: `npm run bench` (all) or `npm run bench -- core express` (some).
 * Every figure is a median of several rounds, reported as a ratio against a baseline measured in
 * the same process, because the machines are shared and absolute times are noise.
 */
import { benchCore } from './core.js'
import { benchExpress } from './express.js'

const suites: Record<string, () => Promise<unknown>> = {
  core: benchCore,
  express: benchExpress,
  frameworks: async () => (await import('./frameworks.js')).benchFrameworks(),
}
const wanted = process.argv.slice(2)
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length === 0 || wanted.includes(name)) await run()
}
