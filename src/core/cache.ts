/**
 * A bounded in-memory cache whose entries really expire, with single-flight loading (concurrent
 * misses for one key share one request; failed loads are not cached) and stale-if-error: while
 * the source is down, an expired entry keeps being served for a bounded time and reloaded in the
 * background with growing delays.
 */
import { clampDelay } from './scheduler.js'

interface Entry<V> {
  value: V
  expiresAt: number
  /** Served stale until then when loads fail with an outage. */
  staleUntil: number
  /** Failed reloads in a row (outages only); 0 when the last load succeeded. */
  failures: number
  /** When the next background reload may start. */
  retryAt: number
}

/**
 * How one lookup was answered (for metrics): from memory (`hit`), from memory past its TTL during
 * an outage (`stale`), by a load from the shared store (`shared`, see {@link CacheStore}) or by
 * a load from the source (`miss`).
 */
export type CacheLookupOutcome = 'hit' | 'miss' | 'stale' | 'shared'

/** What a load of {@link TtlCache.getOrLoadEntry} resolves with. */
export interface LoadedEntry<V> {
  readonly value: V
  /** How long to keep it, in ms (0: not stored). */
  readonly ttlMs: number
  /** Whether it came from the shared store rather than from the source (counted `shared`). */
  readonly shared: boolean
}

/** Options of {@link TtlCache}. */
export interface TtlCacheOptions {
  /** Entries kept at most; the least recently used goes first. */
  maxEntries: number
  /** Default time to live of an entry, in ms. 0 disables storing (loads are still shared). */
  ttlMs: number
  /** Clock in epoch ms. */
  now: () => number
  /** How long past its expiry an entry may be served while loads fail with an outage. Default 0. */
  staleIfErrorMs?: number
  /** Which load failures are outages (the source unreachable), as opposed to answers. */
  isOutage?: (error: unknown) => boolean
  /** Longest wait between background reloads of a stale entry, in ms. Default 30 000. */
  retryMaxDelayMs?: number
  /** Told how each {@link TtlCache.getOrLoad} was answered. */
  onLookup?: ((outcome: CacheLookupOutcome) => void) | undefined
  /** Told when an entry starts being served stale, with the outage that caused it. */
  onStale?: ((error: unknown) => void) | undefined
}

/** What {@link TtlCache.staleness} reports. */
export interface CacheStaleness {
  /** Entries past their TTL being served because reloading them fails. */
  readonly staleEntries: number
  /** Message of the last outage that made an entry be served stale. */
  readonly lastError: string | undefined
}

const FIRST_RETRY_DELAY_MS = 1_000

/**
 * LRU cache with per-entry TTL, single-flight loads and stale-if-error.
 *
 * @example
 * ```ts
 * const roles = new TtlCache<Permission[]>({ maxEntries: 1000, ttlMs: 60_000, now: Date.now })
 * const perms = await roles.getOrLoad(roleId, () => fetchRole(roleId))
 * ```
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #inFlight = new Map<string, Promise<LoadedEntry<V>>>()
  readonly #options: TtlCacheOptions
  readonly #staleIfErrorMs: number
  /** Bumped by clear() so a load started before it cannot store a stale value after it. */
  #generation = 0
  #lastOutage: string | undefined

  constructor(options: TtlCacheOptions) {
    this.#options = options
    this.#staleIfErrorMs = options.staleIfErrorMs ?? 0
  }

  /** Number of stored (possibly expired) entries. */
  get size(): number {
    return this.#entries.size
  }

  /** The value of a live entry, or `undefined`. Does no I/O. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#options.now()) return undefined
    this.#touch(key, entry)
    return entry.value
  }

  /** Stores a value for `ttlMs` (default: the cache's TTL). */
  set(key: string, value: V, ttlMs: number = this.#options.ttlMs): void {
    if (ttlMs <= 0) {
      this.#entries.delete(key)
      return
    }
    const expiresAt = this.#options.now() + ttlMs
    this.#entries.delete(key)
    this.#entries.set(key, {
      value,
      expiresAt,
      staleUntil: expiresAt + this.#staleIfErrorMs,
      failures: 0,
      retryAt: 0,
    })
    while (this.#entries.size > this.#options.maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }

  /**
   * The cached value, or the result of `load()`; concurrent calls for one key share one load.
   * `ttlFor` may choose each value's TTL (e.g. shorter for "not found"). An expired entry whose
   * reload fails with an outage is served for up to `staleIfErrorMs` past its expiry, and then
   * reloaded in the background (never more often than the retry delays allow).
   */
  getOrLoad(key: string, load: () => Promise<V>, ttlFor?: (value: V) => number): Promise<V> {
    return this.#getOrLoad(
      key,
      () =>
        load().then((value) => ({
          value,
          ttlMs: ttlFor ? ttlFor(value) : this.#options.ttlMs,
          shared: false,
        })),
      false,
    )
  }

  /**
   * Like {@link getOrLoad}, with a load that says how long to keep its value and where it came
   * from; a miss is counted when its load settles (`shared` or `miss`), so that a lookup is
   * counted once, under where its answer came from.
   */
  getOrLoadEntry(key: string, load: () => Promise<LoadedEntry<V>>): Promise<V> {
    return this.#getOrLoad(key, load, true)
  }

  #getOrLoad(
    key: string,
    load: () => Promise<LoadedEntry<V>>,
    countWhenSettled: boolean,
  ): Promise<V> {
    const entry = this.#entries.get(key)
    const now = this.#options.now()
    if (entry !== undefined) {
      if (entry.expiresAt > now) {
        this.#touch(key, entry)
        this.#options.onLookup?.('hit')
        return Promise.resolve(entry.value)
      }
      if (entry.staleUntil > now && entry.failures > 0) {
        // A known outage: answer at once, reload in the background when the backoff allows.
        if (now >= entry.retryAt && !this.#inFlight.has(key)) {
          this.#load(key, load, entry).catch(() => undefined)
        }
        this.#options.onLookup?.('stale')
        return Promise.resolve(entry.value)
      }
      if (entry.staleUntil <= now) this.#entries.delete(key)
    }
    if (!countWhenSettled) this.#options.onLookup?.('miss')
    const pending =
      this.#inFlight.get(key) ??
      this.#load(key, load, entry !== undefined && entry.staleUntil > now ? entry : undefined)
    if (!countWhenSettled) return pending.then((loaded) => loaded.value)
    const onLookup = this.#options.onLookup
    return pending.then(
      (loaded) => {
        onLookup?.(loaded.shared ? 'shared' : 'miss')
        return loaded.value
      },
      (error: unknown) => {
        onLookup?.('miss')
        throw error
      },
    )
  }

  /** Forgets one key. */
  delete(key: string): void {
    this.#entries.delete(key)
  }

  /** Forgets everything, including loads in flight (their results are not stored). */
  clear(): void {
    this.#entries.clear()
    this.#inFlight.clear()
    this.#generation++
  }

  /** Entries being served stale right now, and the outage that caused it. Not for the hot path. */
  staleness(): CacheStaleness {
    const now = this.#options.now()
    let staleEntries = 0
    for (const entry of this.#entries.values()) {
      if (entry.failures > 0 && entry.expiresAt <= now && entry.staleUntil > now) staleEntries++
    }
    return { staleEntries, lastError: staleEntries > 0 ? this.#lastOutage : undefined }
  }

  #touch(key: string, entry: Entry<V>): void {
    // Move to the newest LRU position.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
  }

  /** Loads `key`; with a `stale` entry, an outage answers the stale value instead of failing. */
  #load(
    key: string,
    load: () => Promise<LoadedEntry<V>>,
    stale: Entry<V> | undefined,
  ): Promise<LoadedEntry<V>> {
    const generation = this.#generation
    const promise: Promise<LoadedEntry<V>> = load().then(
      (loaded) => {
        if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key)
        if (generation === this.#generation) this.set(key, loaded.value, loaded.ttlMs)
        return loaded
      },
      (error: unknown) => {
        if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key)
        const current = this.#entries.get(key)
        const usable =
          stale !== undefined &&
          current === stale &&
          generation === this.#generation &&
          this.#options.isOutage?.(error) === true &&
          stale.staleUntil > this.#options.now()
        if (!usable) {
          // An answer (403, a bad body...) or a stale window that ran out: no stale "yes".
          if (current === stale) this.#entries.delete(key)
          throw error
        }
        if (stale.failures++ === 0) this.#options.onStale?.(error)
        stale.retryAt =
          this.#options.now() +
          clampDelay(
            Math.min(
              this.#options.retryMaxDelayMs ?? 30_000,
              FIRST_RETRY_DELAY_MS * 2 ** (stale.failures - 1),
            ),
          )
        this.#lastOutage = error instanceof Error ? error.message : String(error)
        return { value: stale.value, ttlMs: 0, shared: false }
      },
    )
    this.#inFlight.set(key, promise)
    return promise
  }
}
