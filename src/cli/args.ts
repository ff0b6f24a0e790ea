/**
 * Command line of `iam-node-sdk`: flags, their validation, and the client options they make
 * (flags first, then the SDK's `IAM_*` environment variables).
 *
 * @module
 */
import { parseArgs } from 'node:util'

import { optionsFromEnv, type IamClientOptions, type IamLogger } from '../index.js'

/** Exit codes of every command. */
export const EXIT = Object.freeze({
  /** Allowed, valid, not revoked, or the information was printed. */
  ok: 0,
  /** Refused, invalid, revoked, or the token cannot be decoded. */
  refused: 1,
  /** Bad command line or configuration. */
  usage: 2,
  /** The IAM could not be reached or would not answer (credentials, permissions, bad answers). */
  unreachable: 3,
})

/** A command line that cannot be run; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export const COMMANDS = ['decode', 'verify', 'check', 'revocation-list', 'jwks'] as const
export type Command = (typeof COMMANDS)[number]

const OPTIONS = {
  'base-url': { type: 'string' },
  'basic-base-url': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  permission: { type: 'string', short: 'p' },
  action: { type: 'string', short: 'a' },
  resource: { type: 'string', short: 'r', multiple: true },
  token: { type: 'string' },
  user: { type: 'string', multiple: true },
} as const

type Flag = keyof typeof OPTIONS

/** Flags that only some commands take. */
const COMMAND_FLAGS: Readonly<Record<Command, readonly Flag[]>> = {
  decode: [],
  verify: [],
  check: ['permission', 'action', 'resource'],
  'revocation-list': ['token', 'user'],
  jwks: [],
}
const IAM_FLAGS: readonly Flag[] = [
  'base-url',
  'basic-base-url',
  'client-id',
  'client-secret',
  'timeout',
  'verbose',
]

/** A parsed command line. */
export interface Invocation {
  command: Command | undefined
  /** Positional arguments after the command. */
  args: string[]
  json: boolean
  help: boolean
  verbose: boolean
  flags: {
    baseUrl?: string
    basicBaseUrl?: string
    clientId?: string
    clientSecret?: string
    timeout?: string
    permission?: string
    action?: string
    resource: string[]
    token?: string
    user: string[]
  }
}

/**
 * Parses argv (without `node` and the script). Throws {@link UsageError}.
 *
 * @example
 * ```ts
 * parseCommandLine(['check', '-', '-p', 'NAMESPACE:ns:USER:u1:READ', '--json']).command // 'check'
 * ```
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  const [name, ...args] = positionals
  if (name !== undefined && !(COMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`unknown command "${name}" (commands: ${COMMANDS.join(', ')})`)
  }
  const command = name as Command | undefined
  if (command !== undefined && values.help !== true) {
    for (const flag of Object.keys(values) as Flag[]) {
      const own = COMMAND_FLAGS[command].includes(flag)
      const shared = ['json', 'help'].includes(flag)
      const iam = IAM_FLAGS.includes(flag) && command !== 'decode'
      if (!own && !shared && !iam) throw new UsageError(`${command} takes no --${flag}`)
    }
  }
  return {
    command,
    args,
    json: values.json === true,
    help: values.help === true,
    verbose: values.verbose === true,
    flags: {
      baseUrl: values['base-url'],
      basicBaseUrl: values['basic-base-url'],
      clientId: values['client-id'],
      clientSecret: values['client-secret'],
      timeout: values.timeout,
      permission: values.permission,
      action: values.action,
      resource: values.resource ?? [],
      token: values.token,
      user: values.user ?? [],
    },
  }
}

const stderrLogger: IamLogger = {
  debug: (message) => process.stderr.write(`[iam-node-sdk] debug: ${message}\n`),
  info: (message) => process.stderr.write(`[iam-node-sdk] ${message}\n`),
  warn: (message) => process.stderr.write(`[iam-node-sdk] warning: ${message}\n`),
  error: (message) => process.stderr.write(`[iam-node-sdk] error: ${message}\n`),
}

/**
 * Client options from the flags, then `IAM_*` environment variables (`optionsFromEnv`).
 * Throws {@link UsageError} naming what is missing or bad.
 *
 * @example
 * ```ts
 * new IamClient(clientOptions(parseCommandLine(argv), process.env))
 * ```
 */
export function clientOptions(
  invocation: Invocation,
  env: Readonly<Record<string, string | undefined>>,
): IamClientOptions {
  let fromEnv: Partial<IamClientOptions>
  try {
    fromEnv = optionsFromEnv(env)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const f = invocation.flags
  const options: Partial<IamClientOptions> = { ...fromEnv }
  if (f.baseUrl !== undefined) options.baseUrl = f.baseUrl
  if (f.basicBaseUrl !== undefined) options.basicBaseUrl = f.basicBaseUrl
  if (f.clientId !== undefined) options.clientId = f.clientId
  if (f.clientSecret !== undefined) options.clientSecret = f.clientSecret
  const missing: string[] = []
  if (options.baseUrl === undefined) missing.push('--base-url (or IAM_BASE_URL)')
  if (options.clientId === undefined) missing.push('--client-id (or IAM_CLIENT_ID)')
  if (options.clientSecret === undefined) missing.push('--client-secret (or IAM_CLIENT_SECRET)')
  if (missing.length > 0) throw new UsageError(`missing ${missing.join(', ')}`)
  if (f.timeout !== undefined) {
    const ms = Number(f.timeout)
    if (!/^\d+$/.test(f.timeout) || !(ms > 0)) {
      throw new UsageError(`--timeout must be a positive number of milliseconds, got ${f.timeout}`)
    }
    options.requestBudgetMs = ms
    options.requestTimeoutMs = ms
  }
  // The CLI reports failures itself; --verbose shows the SDK's own messages too.
  options.logger = invocation.verbose ? stderrLogger : {}
  return options as IamClientOptions
}

const ACTION_BITS: Readonly<Record<string, number>> = Object.freeze({
  CREATE: 1,
  READ: 2,
  UPDATE: 4,
  DELETE: 8,
})

/**
 * An action as a number (`6`) or bit names (`READ`, `READ|UPDATE`, `read,update`, `READ+UPDATE`).
 * Throws {@link UsageError}.
 *
 * @example
 * ```ts
 * parseAction('READ|UPDATE') // 6
 * ```
 */
export function parseAction(text: string): number {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed)
    if (!Number.isSafeInteger(n)) throw new UsageError(`action ${text} is too large`)
    return n
  }
  const names = trimmed.split(/[|,+]/).map((s) => s.trim().toUpperCase())
  let action = 0
  for (const name of names) {
    const bit = Object.hasOwn(ACTION_BITS, name) ? ACTION_BITS[name] : undefined
    if (bit === undefined) {
      throw new UsageError(
        `action "${text}" is neither a number nor names among CREATE, READ, UPDATE, DELETE`,
      )
    }
    action |= bit
  }
  return action
}

/**
 * `--permission RESOURCE:ACTION` (ACTION is the last `:` section), or `--permission RESOURCE`
 * with `--action ACTION`. Throws {@link UsageError}.
 *
 * @example
 * ```ts
 * parsePermission('NAMESPACE:{namespace}:USER:{userId}:UPDATE', undefined)
 * // { resource: 'NAMESPACE:{namespace}:USER:{userId}', action: 4 }
 * ```
 */
export function parsePermission(
  permission: string | undefined,
  action: string | undefined,
): { resource: string; action: number } {
  if (permission === undefined) {
    throw new UsageError(
      'check needs --permission RESOURCE:ACTION (e.g. NAMESPACE:{namespace}:USER:{userId}:UPDATE)',
    )
  }
  if (action !== undefined) return { resource: permission, action: parseAction(action) }
  const colon = permission.lastIndexOf(':')
  if (colon < 0) {
    throw new UsageError(
      `--permission ${permission} has no ":ACTION" at the end; write RESOURCE:ACTION or add --action`,
    )
  }
  const tail = permission.slice(colon + 1)
  try {
    return { resource: permission.slice(0, colon), action: parseAction(tail) }
  } catch {
    throw new UsageError(
      `--permission ${permission}: its last ":" section must be the action (a number, or names ` +
        `among CREATE, READ, UPDATE, DELETE joined by "|"), got "${tail}"; or give --action`,
    )
  }
}

/**
 * `--resource '{name}=value'` (or `name=value`) values as a placeholder map. Throws
 * {@link UsageError}.
 *
 * @example
 * ```ts
 * parseResources(['{namespace}=ns', 'userId=u1']) // { '{namespace}': 'ns', '{userId}': 'u1' }
 * ```
 */
export function parseResources(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of entries) {
    const eq = entry.indexOf('=')
    if (eq <= 0) throw new UsageError(`--resource ${entry} must be '{name}=value'`)
    const name = entry.slice(0, eq).trim()
    const key = name.startsWith('{') && name.endsWith('}') ? name : `{${name}}`
    out[key] = entry.slice(eq + 1)
  }
  return out
}
