/**
 * A value fetched from the IAM and kept fresh in the background, in the manner of jose's remote
 * key set: one fetch in flight at a time, the last good value kept (stale-while-error) when a
 * refresh fails, failed refreshes retried with growing delays, timers from the one scheduler
 * (clamped, `unref()`'d) and one `close()`.
 *
 * jose keeps a sequence guard because its fetches can overlap; here they cannot (a refresh joins
 * the fetch in flight), so there is none.
 */
import type { IamLogger } from './log.js'
import { RateLimitedLog } from './log.js'
import { scheduleTimer } from './scheduler.js'

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
  /** Whether the last attempt failed. */
  failing: boolean
  /** Whether the last attempt failed while an older value is being served. */
  servingStale: boolean
}

/** Options of {@link RemoteResource}. */
export interface RemoteResourceOptions<T> {
  /** Name for logs, e.g. `JWKS`. */
  name: string
  fetch: () => Promise<T>
  /** Called with each newly fetched value. */
  onValue?: (value: T) => void
  /** Time until the next refresh after a success, in ms: fixed, or computed from the value. */
  refreshAfterMs: number | ((value: T) => number)
  /** Longest wait between retries after failures, in ms. */
  retryMaxDelayMs: number
  now: () => number
  logger: IamLogger
  /**
   * When a value stops being usable (epoch ms); past it, a failing refresh is logged once, at
   * error level, as the value lost. Default: never (a stale value keeps serving).
   */
  expiresAt?: (value: T) => number
}

const FIRST_RETRY_DELAY_MS = 1_000
/** While a refresh keeps failing, the warning is repeated at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000

/** A periodically refreshed value. Start with {@link RemoteResource.start}. */
export class RemoteResource<T> {
  readonly #options: RemoteResourceOptions<T>
  readonly #failureLog: RateLimitedLog
  #value: T | undefined
  #loaded = false
  #inFlight: Promise<T> | undefined
  #timer: NodeJS.Timeout | undefined
  #started = false
  #closed = false
  #failures = 0
  #failingSince: number | undefined
  #lossReported = false
  #lastFetchStartedAt = -Infinity
  #lastSuccessAt: number | undefined
  #lastErrorAt: number | undefined
  #lastError: string | undefined

  constructor(options: RemoteResourceOptions<T>) {
    this.#options = options
    this.#failureLog = new RateLimitedLog(FAILURE_LOG_INTERVAL_MS, options.now)
  }

  /** The current value, or `undefined` before the first successful fetch. */
  get value(): T | undefined {
    return this.#value
  }

  /** Whether {@link start} was called. */
  get started(): boolean {
    return this.#started
  }

  /**
   * Fetches now (or joins the fetch in flight) and keeps refreshing in the background. Resolves
   * with the value, or rejects when this fetch fails (retries go on in the background).
   */
  start(): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.#options.name} is closed`))
    this.#started = true
    return this.refresh()
  }

  /** Fetches now (or joins the fetch in flight) and reschedules the next refresh. */
  refresh(): Promise<T> {
    return this.#fetch(false)
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
    const failing = this.#failingSince !== undefined
    return {
      loaded: this.#loaded,
      lastSuccessAt: this.#lastSuccessAt,
      lastErrorAt: this.#lastErrorAt,
      lastError: this.#lastError,
      ageMs:
        this.#lastSuccessAt === undefined ? undefined : this.#options.now() - this.#lastSuccessAt,
      failing,
      servingStale: failing && this.#loaded,
    }
  }

  /** Stops background refreshes. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** `background`: started by this resource's own timer, so nobody else hears of a failure. */
  #fetch(background: boolean): Promise<T> {
    if (this.#inFlight) return this.#inFlight
    const o = this.#options
    this.#lastFetchStartedAt = o.now()
    const promise = o.fetch().then(
      (value) => {
        this.#inFlight = undefined
        this.#value = value
        this.#loaded = true
        o.onValue?.(value)
        if (this.#failingSince !== undefined) {
          o.logger.info?.(
            { resource: o.name, failedForMs: o.now() - this.#failingSince },
            `${o.name} loaded again after ${this.#failures} failed attempt(s)`,
          )
        }
        this.#failures = 0
        this.#failingSince = undefined
        this.#lossReported = false
        this.#lastSuccessAt = o.now()
        this.#lastError = undefined
        this.#schedule(
          typeof o.refreshAfterMs === 'function' ? o.refreshAfterMs(value) : o.refreshAfterMs,
        )
        return value
      },
      (error: unknown) => {
        this.#inFlight = undefined
        this.#failures++
        this.#failingSince ??= o.now()
        this.#lastErrorAt = o.now()
        this.#lastError = error instanceof Error ? error.message : String(error)
        // Never later than the next regular refresh would have been.
        const interval = typeof o.refreshAfterMs === 'number' ? o.refreshAfterMs : Infinity
        const delay = Math.min(
          o.retryMaxDelayMs,
          interval,
          FIRST_RETRY_DELAY_MS * 2 ** (this.#failures - 1),
        )
        // A caller that asked for this fetch gets the error; the warning comes a minute later if
        // the background retries keep failing.
        const value = this.#value
        if (
          o.expiresAt !== undefined &&
          value !== undefined &&
          !this.#lossReported &&
          o.now() >= o.expiresAt(value)
        ) {
          this.#lossReported = true
          o.logger.error?.(
            { err: error, resource: o.name },
            `${o.name} expired and cannot be renewed: ${error instanceof Error ? error.message : String(error)}`,
          )
        }
        if (!background) this.#failureLog.mark()
        else {
          this.#failureLog.maybe(() =>
            o.logger.warn?.(
              {
                err: error,
                resource: o.name,
                retryInMs: delay,
                servingStale: this.#loaded,
                ageMs:
                  this.#lastSuccessAt === undefined ? undefined : o.now() - this.#lastSuccessAt,
              },
              this.#loaded
                ? `refreshing ${o.name} failed; serving the last value loaded, retrying in ${delay} ms`
                : `loading ${o.name} failed; retrying in ${delay} ms`,
            ),
          )
        }
        this.#schedule(delay)
        throw error
      },
    )
    this.#inFlight = promise
    return promise
  }

  #schedule(delayMs: number): void {
    if (!this.#started || this.#closed) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = scheduleTimer(() => {
      this.#timer = undefined
      this.#fetch(true).catch(() => undefined)
    }, delayMs)
  }
}
