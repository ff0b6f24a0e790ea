/**
 * `iam-node-sdk`: a token debugger. Says what a token holds, whether the IAM's keys and
 * revocation list accept it, and why a permission is allowed or refused.
 *
 * @module
 */
import {
  COMMANDS,
  EXIT,
  UsageError,
  clientOptions,
  parseCommandLine,
  parsePermission,
  parseResources,
  type Invocation,
} from './args.js'
import { IamUnreachable, check, jwks, revocationList, verify, type Outcome } from './commands.js'
import { DecodeError, decodeToken, decodedJson, decodedText } from './decode.js'

export const USAGE = `Usage: iam-node-sdk <command> [options]

Commands:
  decode <token>            header and claims, times, flags and bans; verifies nothing
  verify <token>            local validation against the IAM: JWKS, revocation list, revoked users
  check <token> --permission RESOURCE:ACTION [--resource '{name}=value' ...]
                            the decision, and every grant looked at with why it matched or not
  revocation-list [--token <token>] [--user <userId> ...]
                            filter size, false-positive rate, revoked users; membership tests
  jwks                      the IAM's keys: ids, algorithms, sizes

A <token> is given as is, or "-" to read it from standard input ("Bearer " is ignored).

Options of check:
  -p, --permission RESOURCE:ACTION   ACTION is the last ":" section: a number (4) or names (UPDATE,
                                     READ|UPDATE); or --permission RESOURCE with --action ACTION
  -a, --action ACTION
  -r, --resource '{name}=value'      a placeholder value, e.g. '{namespace}=mygame' (repeatable)

IAM options (all but decode; default: the IAM_* environment variables):
  --base-url URL            IAM base URL including /iam            (IAM_BASE_URL)
  --basic-base-url URL      basic service URL, for namespace contexts (IAM_BASIC_BASE_URL)
  --client-id ID            this service's client                 (IAM_CLIENT_ID)
  --client-secret SECRET                                          (IAM_CLIENT_SECRET)
  --timeout MS              time budget of each IAM call (default 5000; IAM_REQUEST_BUDGET_MS)
  --verbose                 also print the SDK's own warnings

  --json                    print one JSON object instead of text
  -h, --help                show this help

Exit codes: 0 allowed / valid / not revoked, 1 refused / invalid / revoked, 2 usage error,
3 IAM unreachable (or it rejected the client's credentials, or answered something unreadable).`

/** Where the CLI reads and writes; the real process in production, a fake in tests. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readStdin(): Promise<string>
  readonly env: Readonly<Record<string, string | undefined>>
  now(): number
}

async function tokenFrom(value: string | undefined, what: string, io: CliIo): Promise<string> {
  if (value === undefined) throw new UsageError(`${what} is missing (give it, or "-" for stdin)`)
  const raw = value === '-' ? await io.readStdin() : value
  const token = raw.trim().replace(/^Bearer\s+/i, '')
  if (token === '') throw new UsageError(`${what} is empty`)
  return token
}

function oneToken(invocation: Invocation): string | undefined {
  const { command, args } = invocation
  if (args.length > 1)
    throw new UsageError(`${command} takes one token, got ${args.length} arguments`)
  return args[0]
}

function noArguments(invocation: Invocation): void {
  if (invocation.args.length > 0) {
    throw new UsageError(
      `${invocation.command} takes no argument, got ${invocation.args.join(' ')}`,
    )
  }
}

async function run(invocation: Invocation, io: CliIo): Promise<Outcome> {
  const now = io.now()
  switch (invocation.command) {
    case 'decode': {
      const token = await tokenFrom(oneToken(invocation), 'the token', io)
      try {
        const decoded = decodeToken(token)
        return {
          exitCode: EXIT.ok,
          lines: decodedText(decoded, now),
          json: decodedJson(decoded, now),
        }
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error
        return {
          exitCode: EXIT.refused,
          lines: [`INVALID ${error.message}`],
          json: { verified: false, error: { code: 'NOT_A_JWT', message: error.message } },
        }
      }
    }
    case 'verify': {
      const token = await tokenFrom(oneToken(invocation), 'the token', io)
      return verify(clientOptions(invocation, io.env), token, now)
    }
    case 'check': {
      const token = await tokenFrom(oneToken(invocation), 'the token', io)
      const { permission, action, resource } = invocation.flags
      const required = parsePermission(permission, action)
      const resources = parseResources(resource)
      return check(clientOptions(invocation, io.env), token, required, resources, now)
    }
    case 'revocation-list': {
      noArguments(invocation)
      const { token, user } = invocation.flags
      const tested = token === undefined ? undefined : await tokenFrom(token, '--token', io)
      return revocationList(clientOptions(invocation, io.env), tested, user, now)
    }
    case 'jwks':
      noArguments(invocation)
      return jwks(clientOptions(invocation, io.env))
    default:
      throw new UsageError(`a command is needed: ${COMMANDS.join(', ')}`)
  }
}

function fail(
  io: CliIo,
  json: boolean,
  exitCode: number,
  code: string,
  message: string,
  hint?: string,
): number {
  if (json) {
    io.stdout.write(`${JSON.stringify({ error: { code, message }, exitCode })}\n`)
  } else {
    io.stderr.write(`iam-node-sdk: ${message}\n${hint === undefined ? '' : `${hint}\n`}`)
  }
  return exitCode
}

/**
 * Runs the CLI; resolves with the exit code. Never throws.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2), { stdout, stderr, readStdin, env, now: Date.now })
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // Known before parsing, so that even a usage error comes out as JSON.
  const json = argv.includes('--json')
  let invocation: Invocation
  try {
    invocation = parseCommandLine(argv)
  } catch (error) {
    return fail(io, json, EXIT.usage, 'USAGE', (error as Error).message, 'Try: iam-node-sdk --help')
  }
  if (invocation.help || invocation.command === undefined) {
    if (!invocation.help) {
      return fail(io, json, EXIT.usage, 'USAGE', 'a command is needed', USAGE)
    }
    io.stdout.write(`${USAGE}\n`)
    return EXIT.ok
  }
  try {
    const outcome = await run(invocation, io)
    io.stdout.write(
      invocation.json
        ? `${JSON.stringify(outcome.json, null, 2)}\n`
        : `${outcome.lines.join('\n')}\n`,
    )
    return outcome.exitCode
  } catch (error) {
    if (error instanceof UsageError) {
      return fail(io, json, EXIT.usage, 'USAGE', error.message, 'Try: iam-node-sdk --help')
    }
    if (error instanceof IamUnreachable) {
      return fail(io, json, EXIT.unreachable, error.code, error.message)
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    return fail(io, json, EXIT.refused, 'INTERNAL', `unexpected failure: ${message}`)
  }
}
