/**
 * A value fetched from the IAM and kept fresh in the background, in the manner of jose's remote
 * key set: one fetch in flight at a time, the last good value kept (stale-while-error) when a
 * refresh fails, failed refreshes retried with growing delays, timers from the one scheduler
 * (clamped, `unref()`'d) and one `close()`.
 *
 * jose keeps a sequence guard because its fetches can overlap; here they cannot (a refresh joins
 * the fetch in flight), so there is none. A value can also be offered from elsewhere (another
 * replica's fetch, through a shared store): with `fetchedAt`, an older value never replaces a
 * newer one.
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

/**
 * Why a fetch runs: the first load (`start`), the refresh timer (`timer`), an explicit
 * {@link RemoteResource.refresh} (`refresh`), or {@link RemoteResource.refreshIfOlderThan}
 * (`cooldown`). A fetch through a shared store uses it to decide how recent a value fetched by
 * another replica must be.
 */
export type FetchReason = 'start' | 'timer' | 'refresh' | 'cooldown'

/** Options of {@link RemoteResource}. */
export interface RemoteResourceOptions<T> {
  /** Name for logs, e.g. `JWKS`. */
  name: string
  fetch: (reason: FetchReason) => Promise<T>
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
  /**
   * When a value was fetched from its source (epoch ms), for values that may have been fetched
   * elsewhere: its age is counted from then, and an older value never replaces a newer one.
   * Default: a value is as old as its own fetch.
   */
  fetchedAt?: (value: T) => number
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
    return this.#fetch('start')
  }

  /** Fetches now (or joins the fetch in flight) and reschedules the next refresh. */
  refresh(): Promise<T> {
    return this.#fetch('refresh')
  }

  /**
   * Takes a value fetched elsewhere (another replica) when it is newer than the current one (by
   * `fetchedAt`), as a successful load: the refresh timer restarts from it. Returns whether it
   * was taken. Ignored after {@link close}.
   */
  offer(value: T): boolean {
    const o = this.#options
    if (this.#closed || o.fetchedAt === undefined) return false
    const current = this.#value
    if (current !== undefined && o.fetchedAt(value) <= o.fetchedAt(current)) return false
    this.#succeeded(value)
    return true
  }

  /** Refreshes only if the last fetch started at least `cooldownMs` ago; otherwise resolves at once. */
  async refreshIfOlderThan(cooldownMs: number): Promise<void> {
    if (this.#inFlight) {
      await this.#inFlight.catch(() => undefined)
      return
    }
    if (this.#options.now() - this.#lastFetchStartedAt < cooldownMs) return
    await this.#fetch('cooldown').catch(() => undefined)
  }

  /** Health of this resource. */
  health(): ResourceHealth {
    const failing = this.#failingSince !== undefined
    const { fetchedAt, now } = this.#options
    const value = this.#value
    return {
      loaded: this.#loaded,
      lastSuccessAt: this.#lastSuccessAt,
      lastErrorAt: this.#lastErrorAt,
      lastError: this.#lastError,
      ageMs:
        fetchedAt !== undefined && value !== undefined
          ? Math.max(0, now() - fetchedAt(value))
          : this.#lastSuccessAt === undefined
            ? undefined
            : now() - this.#lastSuccessAt,
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

  /** A `timer` fetch was started by this resource's own timer, so nobody else hears of a failure. */
  #fetch(reason: FetchReason): Promise<T> {
    if (this.#inFlight) return this.#inFlight
    const o = this.#options
    const background = reason === 'timer'
    this.#lastFetchStartedAt = o.now()
    const promise = o.fetch(reason).then(
      (fetched) => {
        this.#inFlight = undefined
        // A newer value offered while this fetch ran stays.
        const current = this.#value
        const value =
          o.fetchedAt !== undefined &&
          current !== undefined &&
          o.fetchedAt(current) > o.fetchedAt(fetched)
            ? current
            : fetched
        this.#succeeded(value, value !== current)
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

  /** Records a successful load of `value` (`isNew`: a value not served before). */
  #succeeded(value: T, isNew = true): void {
    const o = this.#options
    this.#value = value
    this.#loaded = true
    if (isNew) o.onValue?.(value)
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
  }

  #schedule(delayMs: number): void {
    if (!this.#started || this.#closed) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = scheduleTimer(() => {
      this.#timer = undefined
      this.#fetch('timer').catch(() => undefined)
    }, delayMs)
  }
}
