/** Shared test setup: an emulator on an ephemeral port and clients pointed at it. */
import { IamClient, type IamClientOptions, type IamLogger } from '../../src/index.js'
import { startEmulator, type Emulator, type EmulatorConfig } from '../../src/emulator/index.js'

/** One log call kept by {@link memoryLogger}. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  details: Record<string, unknown>
  message: string
}

/** A logger that keeps what it is told for assertions instead of printing it. */
export function memoryLogger(): IamLogger & { messages: string[]; entries: LogEntry[] } {
  const messages: string[] = []
  const entries: LogEntry[] = []
  const keep =
    (level: LogEntry['level']) => (details: Record<string, unknown>, message: string) => {
      messages.push(message)
      entries.push({ level, details, message })
    }
  return {
    messages,
    entries,
    debug: keep('debug'),
    info: keep('info'),
    warn: keep('warn'),
    error: keep('error'),
  }
}

/** Starts an emulator (demo config unless given) on 127.0.0.1:0. */
export function emulator(config?: EmulatorConfig): Promise<Emulator> {
  return startEmulator({ port: 0, config })
}

/** A client for the emulator's default service client, with a silent logger and test-friendly timings. */
export function clientFor(iam: Emulator, options: Partial<IamClientOptions> = {}): IamClient {
  return new IamClient({
    baseUrl: iam.baseUrl,
    basicBaseUrl: iam.basicBaseUrl,
    clientId: iam.clientId,
    clientSecret: iam.clientSecret,
    logger: memoryLogger(),
    // Short enough for tests of an unreachable IAM, long enough for a loaded machine.
    requestBudgetMs: 5_000,
    requestTimeoutMs: 3_000,
    ...options,
  })
}

/** A started client: token granted and local validation loaded. */
export async function startedClientFor(
  iam: Emulator,
  options: Partial<IamClientOptions> = {},
): Promise<IamClient> {
  const client = clientFor(iam, options)
  await client.clientTokenGrant()
  await client.startLocalValidation()
  return client
}

/** Waits until `check()` is true, polling every 20 ms, failing after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Resolves with the IamError code a promise rejects with, or fails. */
export async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (error) {
    return (error as { code?: string }).code ?? `not an IamError: ${String(error)}`
  }
  throw new Error('expected a rejection')
}

/** A compact JWS with arbitrary header and payload and a garbage signature. */
export function forgeToken(header: object, payload: object, signature = 'c2lnbmF0dXJl'): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${b64(header)}.${b64(payload)}.${signature}`
}

/** 'ok' when the promise resolves, else the IamError code it rejects with. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'ok'
  } catch (error) {
    return (error as { code?: string }).code ?? String(error)
  }
}
