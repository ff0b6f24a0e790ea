// Runs every test file under test/ with Node's test runner (TypeScript through tsx), after
// type-checking everything (the type tests under test/types are compile-time assertions). The
// whole suite runs under c8 and fails below the coverage floor; a filtered run does not measure.
// Usage: npm test [-- <path filter>...]   e.g. npm test -- bloom express
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
/** Coverage floor of src/ (percent), a little under what the suite reaches, so it can only rise. */
const COVERAGE = { lines: 95, branches: 88, functions: 95 }

function collect(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...collect(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}
function run(command, args) {
  const { status, signal } = spawnSync(command, args, { cwd: root, stdio: 'inherit' })
  if (signal || status !== 0) process.exit(signal ? 1 : (status ?? 1))
}

const filters = process.argv.slice(2)
const files = collect(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
if (files.length === 0) {
  console.error('no test file matches', filters)
  process.exit(1)
}
const bin = (name) => join(root, 'node_modules', '.bin', name)
run(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit'])
const testArgs = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  // As many test files at once as there are cores (2 in CI), at most 4.
  `--test-concurrency=${Math.max(1, Math.min(4, availableParallelism()))}`,
  // Per test, and per file: packing and installing the package takes a while on a loaded machine.
  '--test-timeout=300000',
  ...files,
]
if (filters.length > 0) run(process.execPath, testArgs)
else {
  run(bin('c8'), [
    '--include=src/**',
    '--exclude=src/**/*.d.ts',
    '--reporter=text-summary',
    '--check-coverage',
    `--lines=${COVERAGE.lines}`,
    `--branches=${COVERAGE.branches}`,
    `--functions=${COVERAGE.functions}`,
    process.execPath,
    ...testArgs,
  ])
}
