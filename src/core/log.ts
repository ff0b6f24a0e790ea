/**
 * The logger the SDK writes to. Its shape is pino's `(details, message)`, which pino, bunyan and
 * Fastify's `app.log` have as they are; `console` needs the one-line wrapper of
 * {@link consoleIamLogger}.
 */

/**
 * Where the SDK writes what it has to say. Each method is optional; a missing one stays silent.
 * `details` holds structured fields (`err`, `resource`, `code`, ...), never a token or a secret.
 *
 * @example
 * ```ts
 * import pino from 'pino'
 * const client = new IamClient({ ...options, logger: pino() })
 * ```
 */
export interface IamLogger {
  debug?(details: Record<string, unknown>, message: string): void
  info?(details: Record<string, unknown>, message: string): void
  warn?(details: Record<string, unknown>, message: string): void
  error?(details: Record<string, unknown>, message: string): void
  /** pino's: lets the SDK skip building debug details nobody will see. */
  isLevelEnabled?(level: string): boolean
}

/**
 * An {@link IamLogger} printing to `console` (`console.warn(message, details)`), from `level` up.
 *
 * @example
 * ```ts
 * const client = new IamClient({ ...options, logger: consoleIamLogger('debug') })
 * ```
 */
export function consoleIamLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): IamLogger {
  const order = ['debug', 'info', 'warn', 'error'] as const
  const logger: IamLogger = {}
  for (const name of order.slice(order.indexOf(level))) {
    logger[name] = (details, message) => console[name](`[iam-node-sdk] ${message}`, details)
  }
  return logger
}

/**
 * One line saying why something failed: the error's message and those of its causes (the
 * deepest is often the real one, e.g. `connect ECONNREFUSED 127.0.0.1:4300`).
 *
 * @example
 * ```ts
 * rootCauseLine(error) // "IAM token grant could not be reached (fetch failed) within 5000 ms: connect ECONNREFUSED 127.0.0.1:4300"
 * ```
 */
export function rootCauseLine(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    const message =
      current instanceof Error
        ? current.message
        : typeof current === 'string'
          ? current
          : String(current)
    if (message !== '' && !parts.some((p) => p.includes(message))) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(': ') || 'unknown error'
}

/** Says something at most once per `intervalMs` (the first time at once). */
export class RateLimitedLog {
  #lastAt = -Infinity
  constructor(
    readonly intervalMs: number,
    readonly now: () => number,
  ) {}

  /** Runs `log` unless it ran less than `intervalMs` ago. */
  maybe(log: () => void): void {
    const now = this.now()
    if (now - this.#lastAt < this.intervalMs) return
    this.#lastAt = now
    log()
  }

  /** Counts as having said it now (someone else said it). */
  mark(): void {
    this.#lastAt = this.now()
  }
}
