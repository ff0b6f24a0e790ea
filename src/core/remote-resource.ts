/**
 * A value fetched from the IAM and kept fresh in the background, in the manner of jose's remote
 * key set: one fetch in flight at a time, a sequence guard so an older fetch never overwrites a
 * newer value, the last good value kept (stale-while-error) when a refresh fails, failed refreshes
 * retried with growing delays, `unref()`'d timers and one `close()`.
 */
import type { IamLogger } from './options.js'

/** The state of one background resource, for health reports. */
export interface ResourceHealth {
  /** Whether a value was ever loaded. */
  loaded: boolean
  /** Epoch ms of the last successful fetch. */
  lastSuccessAt: number | undefined
  /** Epoch ms of the last failed fetch. */
  lastErrorAt: number | undefined
  /** Message of the last failure; cleared by the next success. */
  lastError: string | undefined
  /** Age of the value being served, in ms. */
  ageMs: number | undefined
  /** Whether the last attempt failed, so the value being served may be stale. */
  failing: boolean
}

/** Options of {@link RemoteResource}. */
export interface RemoteResourceOptions<T> {
  name: string
  fetch: () => Promise<T>
  /** Called with each newly fetched value, in fetch order. */
  onValue?: (value: T) => void
  /** Refresh interval, in ms. */
  intervalMs: number
  /** Longest wait between retries after failures, in ms. */
  retryMaxDelayMs: number
  now: () => number
  logger: IamLogger
}

const FIRST_RETRY_DELAY_MS = 1_000

/** A periodically refreshed value. Start with {@link RemoteResource.start}. */
export class RemoteResource<T> {
  readonly #options: RemoteResourceOptions<T>
  #value: T | undefined
  #loaded = false
  #inFlight: Promise<T> | undefined
  #sequence = 0
  #appliedSequence = 0
  #timer: NodeJS.Timeout | undefined
  #started = false
  #closed = false
  #failures = 0
  #lastFetchStartedAt = -Infinity
  #lastSuccessAt: number | undefined
  #lastErrorAt: number | undefined
  #lastError: string | undefined
  #lastAttemptFailed = false

  constructor(options: RemoteResourceOptions<T>) {
    this.#options = options
  }

  /** The current value, or `undefined` before the first successful fetch. */
  get value(): T | undefined {
    return this.#value
  }

  /** Whether {@link start} was called. */
  get started(): boolean {
    return this.#started
  }

  /** Epoch ms when the last fetch started (success or not). */
  get lastFetchStartedAt(): number {
    return this.#lastFetchStartedAt
  }

  /**
   * Fetches now and schedules background refreshes. Resolves with the value, or rejects when this
   * first fetch fails (refreshes go on in the background and may still succeed).
   */
  start(): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.#options.name} is closed`))
    this.#started = true
    return this.refresh()
  }

  /** Fetches now (or joins the fetch in flight) and reschedules the next refresh. */
  refresh(): Promise<T> {
    if (this.#inFlight) return this.#inFlight
    const sequence = ++this.#sequence
    this.#lastFetchStartedAt = this.#options.now()
    const promise = this.#options.fetch().then(
      (value) => {
        this.#settle()
        // An older fetch finishing after a newer one must not overwrite it.
        if (sequence > this.#appliedSequence) {
          this.#appliedSequence = sequence
          this.#value = value
          this.#loaded = true
          this.#options.onValue?.(value)
        }
        this.#failures = 0
        this.#lastSuccessAt = this.#options.now()
        this.#lastError = undefined
        this.#lastAttemptFailed = false
        this.#schedule(this.#options.intervalMs)
        return value
      },
      (error: unknown) => {
        this.#settle()
        this.#failures++
        this.#lastErrorAt = this.#options.now()
        this.#lastError = error instanceof Error ? error.message : String(error)
        this.#lastAttemptFailed = true
        const delay = Math.min(
          this.#options.retryMaxDelayMs,
          this.#options.intervalMs,
          FIRST_RETRY_DELAY_MS * 2 ** (this.#failures - 1),
        )
        this.#options.logger.warn?.(
          `refreshing ${this.#options.name} failed; retrying in ${delay} ms`,
          {
            error: this.#lastError,
            servingStaleValue: this.#loaded,
          },
        )
        this.#schedule(delay)
        throw error
      },
    )
    this.#inFlight = promise
    return promise
  }

  /** Refreshes only if the last fetch started at least `cooldownMs` ago; otherwise resolves at once. */
  async refreshIfOlderThan(cooldownMs: number): Promise<void> {
    if (this.#inFlight) {
      await this.#inFlight.catch(() => undefined)
      return
    }
    if (this.#options.now() - this.#lastFetchStartedAt < cooldownMs) return
    await this.refresh().catch(() => undefined)
  }

  /** Health of this resource. */
  health(): ResourceHealth {
    return {
      loaded: this.#loaded,
      lastSuccessAt: this.#lastSuccessAt,
      lastErrorAt: this.#lastErrorAt,
      lastError: this.#lastError,
      ageMs:
        this.#lastSuccessAt === undefined ? undefined : this.#options.now() - this.#lastSuccessAt,
      failing: this.#lastAttemptFailed,
    }
  }

  /** Stops background refreshes. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #settle(): void {
    this.#inFlight = undefined
  }

  #schedule(delayMs: number): void {
    if (!this.#started || this.#closed) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.refresh().catch(() => undefined)
    }, delayMs)
    this.#timer.unref()
  }
}
