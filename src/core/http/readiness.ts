/**
 * Readiness of a protected service: requests that arrive while the client is still starting
 * (token grant, JWKS, revocation list) wait for it, up to `readyTimeoutMs`, then get the normal
 * answer or a 503. A failed start is retried by later requests (at most once per
 * `retryIntervalMs`) and in the background with growing delays (1 s, 2 s, … up to
 * `retryIntervalMs`), so a service whose IAM was down at start recovers by itself, even with no
 * traffic (a Kubernetes readiness probe keeps traffic away until it is ready).
 */
import { IamError } from '../errors.js'
import type { IamLogger } from '../log.js'
import { RateLimitedLog, rootCauseLine } from '../log.js'
import { scheduleTimer } from '../scheduler.js'

/** What starting needs from the core client. */
export interface StartableClient {
  clientTokenGrant(): Promise<void>
  startLocalValidation(): Promise<void>
}

/** Options of {@link Readiness}. */
export interface ReadinessOptions {
  /** Longest wait of one request for the start, in ms. */
  readonly timeoutMs: number
  /** Least time between two start attempts after a failure, in ms. Default 5000. */
  readonly retryIntervalMs?: number
  /** Clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number
  /**
   * Told once when a start fails (error, with the root cause), when it succeeds after failing
   * (info), and at most once a minute while requests are answered 503 because of it (warn).
   */
  readonly logger?: IamLogger
}

/** While requests are refused because the start failed, the warning is repeated this often. */
const NOT_READY_LOG_INTERVAL_MS = 60_000

/**
 * Tracks the start of a client. `ready` settles with the first attempt; {@link Readiness.wait}
 * is what a request awaits.
 *
 * @example
 * ```ts
 * const readiness = new Readiness(() => start(client), { timeoutMs: 10_000 })
 * await readiness.ready            // rejects when the first attempt fails
 * if (!readiness.isReady) await readiness.wait() // in a request: throws ERR_IAM_NOT_READY
 * ```
 */
export class Readiness {
  /** Settles with the first start attempt. Never an unhandled rejection. */
  readonly ready: Promise<void>
  #isReady = false
  #attempt: Promise<void> | undefined
  #lastError: unknown
  #lastAttemptAt = 0
  #failedAttempts = 0
  #retryTimer: NodeJS.Timeout | undefined
  #closed = false
  readonly #start: () => Promise<void>
  readonly #timeoutMs: number
  readonly #retryIntervalMs: number
  readonly #now: () => number
  readonly #logger: IamLogger
  readonly #refusalLog: RateLimitedLog

  constructor(start: () => Promise<void>, options: ReadinessOptions) {
    this.#start = start
    this.#timeoutMs = options.timeoutMs
    this.#retryIntervalMs = options.retryIntervalMs ?? 5_000
    this.#now = options.now ?? Date.now
    this.#logger = options.logger ?? {}
    this.#refusalLog = new RateLimitedLog(NOT_READY_LOG_INTERVAL_MS, this.#now)
    this.ready = this.#run()
    // Whoever does not await `ready` must not crash the process on a failed start.
    this.ready.catch(() => {})
  }

  /** True once a start attempt succeeded. */
  get isReady(): boolean {
    return this.#isReady
  }

  #run(): Promise<void> {
    this.#lastAttemptAt = this.#now()
    const attempt = Promise.resolve()
      .then(() => this.#start())
      .then(
        () => {
          this.#isReady = true
          this.#lastError = undefined
          if (this.#failedAttempts > 0) {
            this.#logger.info?.(
              { failedAttempts: this.#failedAttempts },
              `IAM integration started after ${this.#failedAttempts} failed attempt(s); protected routes answer again`,
            )
          }
        },
        (error: unknown) => {
          this.#lastError = error
          if (this.#failedAttempts++ === 0 && !this.#closed) {
            this.#logger.error?.(
              { err: error, code: (error as { code?: unknown } | null)?.code },
              `IAM integration could not start: ${rootCauseLine(error)}; protected routes answer 503 until it does`,
            )
            this.#refusalLog.mark()
          }
          this.#scheduleRetry()
          throw error
        },
      )
      .finally(() => {
        if (this.#attempt === attempt) this.#attempt = undefined
      })
    this.#attempt = attempt
    attempt.catch(() => {})
    return attempt
  }

  /** Tries again later, on its own: nobody may send a request until it is ready. */
  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined) return
    const delay = Math.min(
      this.#retryIntervalMs,
      1_000 * 2 ** Math.min(this.#failedAttempts - 1, 20),
    )
    this.#retryTimer = scheduleTimer(() => {
      this.#retryTimer = undefined
      if (!this.#closed && !this.#isReady && this.#attempt === undefined) {
        this.#run().catch(() => undefined)
      }
    }, delay)
  }

  #notReady(cause: unknown): IamError {
    return new IamError('ERR_IAM_NOT_READY', 'the IAM is not reachable yet', { cause })
  }

  /**
   * Resolves when the client is ready; throws `ERR_IAM_NOT_READY` (503) when the start failed
   * or did not finish within `timeoutMs`.
   */
  async wait(): Promise<void> {
    if (this.#closed) throw new IamError('ERR_IAM_CLOSED', 'the IAM integration was closed')
    if (this.#isReady) return
    try {
      let attempt = this.#attempt
      if (attempt === undefined) {
        if (this.#now() - this.#lastAttemptAt < this.#retryIntervalMs)
          throw this.#notReady(this.#lastError)
        attempt = this.#run()
      }
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = scheduleTimer(() => reject(this.#notReady(this.#lastError)), this.#timeoutMs, {
          keepAlive: true,
        })
      })
      try {
        await Promise.race([attempt, timeout])
      } finally {
        clearTimeout(timer)
      }
    } catch (error) {
      const refusal =
        error instanceof IamError && error.code === 'ERR_IAM_NOT_READY'
          ? error
          : this.#notReady(error)
      this.#refusalLog.maybe(() =>
        this.#logger.warn?.(
          { err: refusal.cause },
          `answering 503: the IAM integration has not started (${rootCauseLine(refusal.cause ?? refusal)})`,
        ),
      )
      throw refusal
    }
  }

  /** Stops retrying; later waits throw `ERR_IAM_CLOSED`. */
  close(): void {
    this.#closed = true
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
  }
}

/**
 * The start of a core client: the token grant, then local validation. A grant that already
 * succeeded is not repeated by a retry.
 */
export function clientStarter(client: StartableClient): () => Promise<void> {
  let granted = false
  return async () => {
    if (!granted) {
      await client.clientTokenGrant()
      granted = true
    }
    await client.startLocalValidation()
  }
}
