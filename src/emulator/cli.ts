#!/usr/bin/env node
/**
 * `iam-emulator`: runs the IAM emulator from a shell.
 *
 * ```sh
 * iam-emulator [--config file.json] [--port N] [--host H] [--quiet]
 * ```
 *
 * Defaults: the built-in demo config, port 4300 (fixed so copied curl lines keep working; `--port 0`
 * picks a free one), host 127.0.0.1. Prints the URLs, the default client, the seeded users and
 * ready-to-use curl lines (`--quiet`: only the first line, `IAM emulator listening on <baseUrl>`).
 * Stops cleanly on SIGINT / SIGTERM.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { demoConfig, type EmulatorConfig } from './config.js'
import { startEmulator } from './emulator.js'
import type { Emulator } from './types.js'

const USAGE = `Usage: iam-emulator [--config file.json] [--port N] [--host H] [--quiet]

  --config  JSON config file (see examples/emulator-config.json); default the demo config
  --port    TCP port, 0 for a free one (default 4300)
  --host    interface to listen on (default 127.0.0.1)
  --quiet   print only the "listening on" line
  --help    show this help`

/** Quotes a value for a POSIX shell when it needs it. */
function sh(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}

function banner(emulator: Emulator): string {
  const info = emulator.info()
  const auth = `-u ${sh(`${info.clientId}:${info.clientSecret}`)}`
  const lines = [
    `IAM emulator listening on ${info.baseUrl}`,
    '',
    `  IAM base URL     ${info.baseUrl}`,
    `  Basic base URL   ${info.basicBaseUrl}`,
    `  Client ID        ${info.clientId}`,
    `  Client secret    ${info.clientSecret}`,
    `  Namespace        ${info.namespace} (client namespace: ${info.publisherNamespace})`,
    '',
    '  Users (password grant):',
    ...info.users.map(
      (u) => `    ${u.username} / ${u.password}   id ${u.userId}, namespace ${u.namespace}`,
    ),
  ]
  if (info.users.length === 0) lines.push('    (none)')
  const user = info.users[0]
  lines.push(
    '',
    '  Try:',
    `    curl -s ${auth} -d grant_type=client_credentials ${info.baseUrl}/v3/oauth/token`,
  )
  if (user) {
    lines.push(
      `    curl -s ${auth} -d grant_type=password -d username=${sh(user.username)} -d password=${sh(user.password)} ${info.baseUrl}/v3/oauth/token`,
    )
  }
  lines.push(
    `    curl -s ${auth} ${info.baseUrl}/v3/oauth/jwks`,
    `    curl -s ${auth} ${info.baseUrl}/v3/oauth/revocationlist`,
    `    curl -s -X POST ${info.url}/emulator/tokens -d '{"permissions":[{"Resource":"NAMESPACE:${info.namespace}:USER:*","Action":2}]}'`,
    '',
    `  Admin API: ${info.url}/emulator (no auth; keep it on loopback). Ctrl+C stops.`,
  )
  return lines.join('\n')
}

async function main(argv: string[]): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`)
    return 2
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const port = values.port === undefined ? 4300 : Number(values.port)
  if (!/^\d+$/.test(values.port ?? '4300') || port > 65535) {
    process.stderr.write(`--port must be an integer 0-65535, got ${values.port}\n`)
    return 2
  }
  const host = values.host ?? '127.0.0.1'

  let config: EmulatorConfig = demoConfig()
  if (values.config !== undefined) {
    try {
      config = JSON.parse(await readFile(values.config, 'utf8')) as EmulatorConfig
    } catch (err) {
      process.stderr.write(`cannot read --config ${values.config}: ${(err as Error).message}\n`)
      return 1
    }
  }

  let emulator: Emulator
  try {
    emulator = await startEmulator({ port, host, config })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const message =
      e.code === 'EADDRINUSE' ? `port ${port} is in use (try --port 0)` : (e.message ?? String(e))
    process.stderr.write(`iam-emulator: ${message}\n`)
    return 1
  }
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    process.stderr.write(
      `warning: listening on ${host}; the /emulator admin API has no authentication\n`,
    )
  }
  process.stdout.write(
    `${values.quiet ? `IAM emulator listening on ${emulator.baseUrl}` : banner(emulator)}\n`,
  )

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      if (!values.quiet) process.stdout.write(`\n${signal}: stopping\n`)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await emulator.close()
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`iam-emulator: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exitCode = 1
  },
)
