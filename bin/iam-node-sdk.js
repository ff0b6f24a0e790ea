#!/usr/bin/env node
// `iam-node-sdk`: runs the built CLI, dist/cli/index.js. The published package always has dist/;
// a clone has it only once built (`npm start` and `npm test` build first; installing runs no
// script), so there it says how to build instead of failing with a stack trace.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli/index.js', import.meta.url)
if (existsSync(cli)) {
  await import(cli.href)
} else {
  process.stderr.write('iam-node-sdk: the package is not built yet; run `npm run build` first\n')
  process.exitCode = 1
}
