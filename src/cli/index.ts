#!/usr/bin/env node
/**
 * The `iam-node-sdk` command (`npx iam-node-sdk <command>`): decode, verify and check tokens,
 * and show the IAM's revocation list and keys. See `main.ts` and the README's CLI section.
 *
 * @module
 */
import { main } from './main.js'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

// The SDK's timers are unref()'d so that they never keep a service alive; a command waiting on a
// retry would see the process exit under it. This one keeps it alive until the command is done.
const keepAlive = setInterval(() => undefined, 2 ** 30)

main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin,
  env: process.env,
  now: Date.now,
}).then(
  (code) => {
    process.exitCode = code
    clearInterval(keepAlive)
  },
  (error: unknown) => {
    process.stderr.write(`iam-node-sdk: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exitCode = 1
    clearInterval(keepAlive)
  },
)
