/**
 * A bounded in-memory cache whose entries really expire, with single-flight loading: concurrent
 * misses for one key share one request, and failed loads are not cached.
 */

interface Entry<V> {
  value: V
  expiresAt: number
}

/** Options of {@link TtlCache}. */
export interface TtlCacheOptions {
  /** Entries kept at most; the least recently used goes first. */
  maxEntries: number
  /** Default time to live of an entry, in ms. 0 disables storing (loads are still shared). */
  ttlMs: number
  /** Clock in epoch ms. */
  now: () => number
}

/**
 * LRU cache with per-entry TTL and single-flight loads.
 *
 * @example
 * ```ts
 * const roles = new TtlCache<Permission[]>({ maxEntries: 1000, ttlMs: 60_000, now: Date.now })
 * const perms = await roles.getOrLoad(roleId, () => fetchRole(roleId))
 * ```
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #inFlight = new Map<string, Promise<V>>()
  readonly #options: TtlCacheOptions
  /** Bumped by clear() so a load started before it cannot store a stale value after it. */
  #generation = 0

  constructor(options: TtlCacheOptions) {
    this.#options = options
  }

  /** Number of stored (possibly expired) entries. */
  get size(): number {
    return this.#entries.size
  }

  /** The value of a live entry, or `undefined`. Does no I/O. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#options.now()) {
      this.#entries.delete(key)
      return undefined
    }
    // Refresh LRU position only when not already the newest, to keep hits cheap.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  /** Stores a value for `ttlMs` (default: the cache's TTL). */
  set(key: string, value: V, ttlMs: number = this.#options.ttlMs): void {
    if (ttlMs <= 0) return
    this.#entries.delete(key)
    this.#entries.set(key, { value, expiresAt: this.#options.now() + ttlMs })
    while (this.#entries.size > this.#options.maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }

  /**
   * The cached value, or the result of `load()`; concurrent calls for one key share one load.
   * `ttlFor` may choose each value's TTL (e.g. shorter for "not found").
   */
  getOrLoad(key: string, load: () => Promise<V>, ttlFor?: (value: V) => number): Promise<V> {
    const cached = this.get(key)
    if (cached !== undefined) return Promise.resolve(cached)
    const pending = this.#inFlight.get(key)
    if (pending !== undefined) return pending
    const generation = this.#generation
    const promise = load().then(
      (value) => {
        this.#inFlight.delete(key)
        if (generation === this.#generation)
          this.set(key, value, ttlFor ? ttlFor(value) : undefined)
        return value
      },
      (error: unknown) => {
        this.#inFlight.delete(key)
        throw error
      },
    )
    this.#inFlight.set(key, promise)
    return promise
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
}
