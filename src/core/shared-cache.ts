/**
 * The second cache level, shared by the replicas of a service through a {@link CacheStore}: what
 * one replica learned from the IAM (role permissions, role overrides, client information,
 * namespace contexts, the JWKS and the revocation list) is written to the store, so that the
 * fleet asks the IAM about once per TTL or interval instead of once per replica.
 *
 * - Requests never come here: they read the in-memory caches, which call this only on a miss.
 * - A miss reads the store; when the store has nothing usable, one replica takes a short lock
 *   (owner token, compare-and-delete release) and asks the IAM while the others poll for the
 *   value, bounded by the request budget, then ask the IAM themselves.
 * - Every value is authenticated with an HMAC keyed from the client secret and bound to its key,
 *   so that write access to the store alone cannot make a replica accept a forged key set or a
 *   granted permission. Secrets are never written.
 * - A failing or slow store never fails a call: each store call is bounded, and after a failure
 *   the store is skipped for a growing while (memory and the IAM answer meanwhile).
 */
import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto'

import type { LoadedEntry } from './cache.js'
import { RateLimitedLog, rootCauseLine, type IamLogger } from './log.js'
import { scheduleTimer, sleep } from './scheduler.js'
import type { CacheStore } from './store.js'

/** What {@link IamHealthReport.sharedCache} says about the shared store. */
export interface SharedCacheHealth {
  /** Whether a `cacheStore` is configured. */
  readonly configured: boolean
  /** Whether it is used right now (reachable, and not skipped after a failure). */
  readonly available: boolean
  /** Message of the last store failure seen, if any. */
  readonly lastError: string | undefined
  /** Epoch ms of that failure. */
  readonly lastErrorAt: number | undefined
  /** Store calls that failed or timed out, answered from memory and the IAM instead. */
  readonly fallbacks: number
}

/** A value and when it was fetched from the IAM (epoch ms of the request, by the fetcher's clock). */
export interface Snapshot<T> {
  readonly value: T
  readonly fetchedAt: number
}

/** How a cached IAM answer is written to and read back from the store. */
export interface EntryCodec<V> {
  /** A JSON-able form of the value, without anything secret. */
  encode(value: V): unknown
  /** The value from its JSON form, validated as strictly as an IAM answer; throws when bad. */
  decode(json: unknown): V
}

/** The resources kept as shared snapshots. */
export type SnapshotName = 'jwks' | 'revocation-list'

/** Options of {@link SharedCache}. */
export interface SharedCacheOptions {
  store: CacheStore
  /** Scope of every key: `<iam>:<clientId>`. */
  scope: string
  /** Keys the HMAC of the values (the client secret; never written). */
  secret: string
  /** How long a lock is held at most, in ms (longer than one IAM call may take). */
  lockTtlMs: number
  /** How long a replica waits for another's answer before asking the IAM itself, in ms. */
  waitMs: number
  now: () => number
  logger: IamLogger
}

/** Longest a single store call may take before it counts as failed, in ms. */
const STORE_CALL_TIMEOUT_MS = 1_000
/** How long a client waits for the store to connect on its first use, in ms. */
const FIRST_CONNECT_WAIT_MS = 1_000
const FIRST_SKIP_MS = 500
const MAX_SKIP_MS = 5_000
const FIRST_POLL_MS = 10
const MAX_POLL_MS = 100
const LOG_INTERVAL_MS = 60_000

const FAILED = Symbol('store call failed')
type Failed = typeof FAILED

interface Notice {
  name: SnapshotName
  fetchedAt: number
}

interface SnapshotSubscription<T> {
  parse: (raw: string) => T
  /** `fetchedAt` of the snapshot being served, if any. */
  current: () => number | undefined
  offer: (snapshot: Snapshot<T>) => void
}

/** The shared level below the in-memory caches of one client. Not for the hot path. */
export class SharedCache {
  readonly #o: SharedCacheOptions
  readonly #macKey: Buffer
  readonly #failureLog: RateLimitedLog
  #firstUse: Promise<void> | undefined
  #opened = false
  #closed = false
  #skipUntil = 0
  #failuresInARow = 0
  #fallbacks = 0
  #lastError: string | undefined
  #lastErrorAt: number | undefined
  readonly #latestNotice = new Map<SnapshotName, number>()
  readonly #noticeWaiters = new Set<() => void>()
  readonly #subscriptions = new Map<SnapshotName, SnapshotSubscription<unknown>>()
  readonly #adopting = new Set<SnapshotName>()
  #unsubscribe: (() => void) | undefined

  constructor(options: SharedCacheOptions) {
    this.#o = options
    this.#macKey = Buffer.from(
      hkdfSync(
        'sha256',
        Buffer.from(options.secret, 'utf8'),
        'iam-node-sdk shared cache',
        options.scope,
        32,
      ),
    )
    this.#failureLog = new RateLimitedLog(LOG_INTERVAL_MS, options.now)
  }

  /** The store key of an entry: `<scope>:<kind>:<part>:…`, each part URI-encoded. */
  key(kind: string, ...parts: string[]): string {
    return [this.#o.scope, kind, ...parts.map((p) => encodeURIComponent(p))].join(':')
  }

  /** Starts connecting the store (no wait). Called when the client first does I/O. */
  open(): void {
    if (this.#firstUse !== undefined || this.#closed) return
    this.#opened = true
    const opened = this.#o.store.open().catch((error: unknown) => this.#failed(error))
    // The first users wait for the connection a little, not for as long as it takes.
    this.#firstUse = Promise.race([opened, sleep(FIRST_CONNECT_WAIT_MS)]).then(() => undefined)
  }

  /** Health of the shared level. */
  health(): SharedCacheHealth {
    const store = this.#o.store.health()
    const storeErrorIsLater = (store.lastErrorAt ?? -Infinity) > (this.#lastErrorAt ?? -Infinity)
    return {
      configured: true,
      available: !this.#closed && store.available && this.#o.now() >= this.#skipUntil,
      lastError: storeErrorIsLater ? store.lastError : this.#lastError,
      lastErrorAt: storeErrorIsLater ? store.lastErrorAt : this.#lastErrorAt,
      fallbacks: this.#fallbacks,
    }
  }

  /**
   * An IAM answer through the store: the store's copy when there is a valid one, else the IAM's
   * (`load`) under the lock, written back for `ttlFor(value)` ms. Errors of `load` are thrown
   * and never shared.
   */
  async loadEntry<V>(
    key: string,
    codec: EntryCodec<V>,
    load: () => Promise<V>,
    ttlFor: (value: V) => number,
  ): Promise<LoadedEntry<V>> {
    const fromIam = async (write: boolean): Promise<LoadedEntry<V>> => {
      const value = await load()
      const ttlMs = ttlFor(value)
      if (write && ttlMs > 0) await this.#writeEntry(key, codec, value, ttlMs)
      return { value, ttlMs, shared: false }
    }
    if (!(await this.#usable())) return fromIam(false)
    const first = await this.#readEntry(key, codec)
    if (first === FAILED) return fromIam(false)
    if (first !== undefined) return first
    const outcome = await this.#underLock(
      key,
      () => this.#readEntry(key, codec),
      () => fromIam(true),
    )
    return outcome ?? fromIam(this.#usableNow(false))
  }

  /**
   * A snapshot of `name` fetched at `minFetchedAt` or later: the store's when it is recent
   * enough, else the IAM's (`fetchRaw`, the body exactly as the IAM sent it, checked by `parse`
   * before it is shared) under the lock, written back for `ttlMs` and announced to every replica.
   */
  async loadSnapshot<T>(
    name: SnapshotName,
    parse: (raw: string) => T,
    fetchRaw: () => Promise<string>,
    minFetchedAt: number,
    ttlMs: number,
  ): Promise<Snapshot<T>> {
    const key = this.key(name)
    const fromIam = async (write: boolean): Promise<Snapshot<T>> => {
      const fetchedAt = this.#o.now()
      const raw = await fetchRaw()
      const snapshot = { value: parse(raw), fetchedAt }
      if (write) await this.#writeSnapshot(name, key, raw, fetchedAt, ttlMs)
      return snapshot
    }
    if (!(await this.#usable())) return fromIam(false)
    const first = await this.#readSnapshot(key, parse, minFetchedAt)
    if (first === FAILED) return fromIam(false)
    if (first !== undefined) return first
    const outcome = await this.#underLock(
      key,
      () => this.#readSnapshot(key, parse, minFetchedAt),
      () => fromIam(true),
      () => (this.#latestNotice.get(name) ?? -Infinity) >= minFetchedAt,
    )
    return outcome ?? fromIam(this.#usableNow(false))
  }

  /**
   * Keeps `subscription` told of every newer snapshot of `name` another replica announces (read
   * from the store, checked and parsed as it would be from the IAM).
   */
  subscribeSnapshots<T>(name: SnapshotName, subscription: SnapshotSubscription<T>): void {
    if (this.#closed) return
    this.#subscriptions.set(name, subscription as SnapshotSubscription<unknown>)
    this.#unsubscribe ??= this.#o.store.subscribe(this.#channel(), (message) =>
      this.#onNotice(message),
    )
  }

  /** Stops listening and tells the store this client is done with it. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#subscriptions.clear()
    for (const wake of this.#noticeWaiters) wake()
    if (this.#opened) await this.#o.store.close().catch(() => undefined)
  }

  // ---------------------------------------------------------------- single flight

  /**
   * Runs `produce` while holding the lock of `key`, unless another replica's answer shows up
   * first (`read`, tried after each poll when `worthReading` says so, and again once the lock is
   * held). `undefined` when the wait ran out or the store failed: the caller asks the IAM itself.
   */
  async #underLock<R>(
    key: string,
    read: () => Promise<R | undefined | Failed>,
    produce: () => Promise<R>,
    worthReading: () => boolean = () => true,
  ): Promise<R | undefined> {
    const lockKey = `${key}:lock`
    const token = randomUUID()
    const deadline = this.#o.now() + this.#o.waitMs
    let delay = FIRST_POLL_MS
    for (;;) {
      const acquired = await this.#call(() =>
        this.#o.store.acquireLock(lockKey, token, this.#o.lockTtlMs),
      )
      if (acquired === FAILED) return undefined
      if (acquired) {
        try {
          // Someone may have finished between our read and our lock.
          const again = await read()
          if (again !== FAILED && again !== undefined) return again
          return await produce()
        } finally {
          void this.#call(() => this.#o.store.releaseLock(lockKey, token))
        }
      }
      if (this.#o.now() + delay > deadline || this.#closed) return undefined
      await this.#pause(delay)
      if (worthReading()) {
        const value = await read()
        if (value === FAILED) return undefined
        if (value !== undefined) return value
      }
      delay = Math.min(delay * 2, MAX_POLL_MS)
    }
  }

  /** Waits `delayMs`, or less when a snapshot is announced meanwhile. */
  #pause(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.#noticeWaiters.delete(wake)
        resolve()
      }
      const timer = scheduleTimer(wake, delayMs)
      this.#noticeWaiters.add(wake)
    })
  }

  // ---------------------------------------------------------------- entries

  async #readEntry<V>(
    key: string,
    codec: EntryCodec<V>,
  ): Promise<LoadedEntry<V> | undefined | Failed> {
    const stored = await this.#call(() => this.#o.store.get(key))
    if (stored === FAILED || stored === undefined) return stored
    const payload = this.#verified(key, stored)
    if (payload === undefined) return undefined
    try {
      const envelope = JSON.parse(payload) as { at?: unknown; ttl?: unknown; value?: unknown }
      const { at, ttl } = envelope
      if (typeof at !== 'number' || typeof ttl !== 'number' || !(ttl > 0)) return undefined
      // Kept in memory only for what is left of its TTL, so that the two levels together never
      // serve an answer longer than one TTL.
      const left = Math.min(ttl, at + ttl - this.#o.now())
      if (!(left > 0)) return undefined
      return { value: codec.decode(envelope.value), ttlMs: left, shared: true }
    } catch (error) {
      this.#badValue(key, error)
      return undefined
    }
  }

  async #writeEntry<V>(key: string, codec: EntryCodec<V>, value: V, ttlMs: number): Promise<void> {
    const payload = JSON.stringify({ at: this.#o.now(), ttl: ttlMs, value: codec.encode(value) })
    await this.#call(() => this.#o.store.set(key, this.#signed(key, payload), ttlMs))
  }

  // ---------------------------------------------------------------- snapshots

  /** The stored snapshot when fetched at `minFetchedAt` or later; `undefined` when older or bad. */
  async #readSnapshot<T>(
    key: string,
    parse: (raw: string) => T,
    minFetchedAt: number,
  ): Promise<Snapshot<T> | undefined | Failed> {
    const stored = await this.#call(() => this.#o.store.get(key))
    if (stored === FAILED || stored === undefined) return stored
    // `<mac>.<fetchedAt>\n<body>`: the time is read before the MAC, so that an old snapshot is
    // skipped without hashing or parsing a large body.
    const dot = stored.indexOf('.')
    const newline = stored.indexOf('\n', dot)
    const fetchedAt = Number(stored.slice(dot + 1, newline))
    if (dot < 0 || newline < 0 || !Number.isSafeInteger(fetchedAt)) {
      this.#badValue(key, new Error('not a snapshot'))
      return undefined
    }
    if (fetchedAt < minFetchedAt) return undefined
    const payload = this.#verified(key, stored)
    if (payload === undefined) return undefined
    try {
      return { value: parse(payload.slice(newline - dot)), fetchedAt }
    } catch (error) {
      this.#badValue(key, error)
      return undefined
    }
  }

  async #writeSnapshot(
    name: SnapshotName,
    key: string,
    raw: string,
    fetchedAt: number,
    ttlMs: number,
  ): Promise<void> {
    const written = await this.#call(() =>
      this.#o.store.set(key, this.#signed(key, `${fetchedAt}\n${raw}`), ttlMs),
    )
    if (written === FAILED) return
    const notice: Notice = { name, fetchedAt }
    await this.#call(() => this.#o.store.publish(this.#channel(), JSON.stringify(notice)))
  }

  #channel(): string {
    return `${this.#o.scope}:snapshots`
  }

  #onNotice(message: string): void {
    let notice: Notice
    try {
      notice = JSON.parse(message) as Notice
    } catch {
      return
    }
    const { name, fetchedAt } = notice
    if ((name !== 'jwks' && name !== 'revocation-list') || !Number.isSafeInteger(fetchedAt)) return
    if (fetchedAt > (this.#latestNotice.get(name) ?? -Infinity)) {
      this.#latestNotice.set(name, fetchedAt)
    }
    for (const wake of [...this.#noticeWaiters]) wake()
    void this.#adopt(name)
  }

  /** Reads the announced snapshot of `name` and offers it, unless the one served is as new. */
  async #adopt(name: SnapshotName): Promise<void> {
    const subscription = this.#subscriptions.get(name)
    const announced = this.#latestNotice.get(name)
    if (subscription === undefined || announced === undefined || this.#adopting.has(name)) return
    if (announced <= (subscription.current() ?? -Infinity)) return
    this.#adopting.add(name)
    try {
      const snapshot = await this.#readSnapshot(this.key(name), subscription.parse, announced)
      if (snapshot !== FAILED && snapshot !== undefined && !this.#closed) {
        subscription.offer(snapshot)
      }
    } finally {
      this.#adopting.delete(name)
    }
    // A newer announcement may have come while this one was read.
    if ((this.#latestNotice.get(name) ?? -Infinity) > announced) void this.#adopt(name)
  }

  // ---------------------------------------------------------------- integrity

  /** `<mac>.<payload>`, the MAC binding the payload to its key. */
  #signed(key: string, payload: string): string {
    return `${this.#mac(key, payload).toString('base64url')}.${payload}`
  }

  /** The payload of a stored value whose MAC checks out; `undefined` (and a warning) otherwise. */
  #verified(key: string, stored: string): string | undefined {
    const dot = stored.indexOf('.')
    const payload = stored.slice(dot + 1)
    const given = Buffer.from(dot < 0 ? '' : stored.slice(0, dot), 'base64url')
    const expected = this.#mac(key, payload)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.#badValue(key, new Error('its MAC does not match (written with another client secret?)'))
      return undefined
    }
    return payload
  }

  #mac(key: string, payload: string): Buffer {
    return createHmac('sha256', this.#macKey).update(key).update('\n').update(payload).digest()
  }

  #badValue(key: string, error: unknown): void {
    this.#o.logger.warn?.(
      { err: error, key },
      `the shared cache store holds an unusable value at ${key}, ignored: ${rootCauseLine(error)}`,
    )
  }

  // ---------------------------------------------------------------- store calls

  /** Whether to use the store now, waiting a little for its first connection. */
  async #usable(): Promise<boolean> {
    if (this.#firstUse === undefined) this.open()
    await this.#firstUse
    return this.#usableNow(true)
  }

  /** `countFallback`: a call that does not use the store because of this counts as a fallback. */
  #usableNow(countFallback: boolean): boolean {
    if (this.#closed) return false
    const usable = this.#o.now() >= this.#skipUntil && this.#o.store.health().available
    if (!usable && countFallback) this.#fallbacks++
    return usable
  }

  /** One bounded store call; {@link FAILED} (and the store skipped for a while) when it fails. */
  async #call<R>(operation: () => Promise<R>): Promise<R | Failed> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = scheduleTimer(
        () => reject(new Error(`the store did not answer within ${STORE_CALL_TIMEOUT_MS} ms`)),
        STORE_CALL_TIMEOUT_MS,
      )
    })
    try {
      const result = await Promise.race([operation(), timeout])
      if (this.#failuresInARow > 0) {
        this.#o.logger.info?.(
          { failures: this.#failuresInARow },
          'the shared cache store answers again: sharing IAM answers across replicas again',
        )
        this.#failuresInARow = 0
      }
      return result
    } catch (error) {
      this.#failed(error)
      return FAILED
    } finally {
      clearTimeout(timer)
    }
  }

  #failed(error: unknown): void {
    const now = this.#o.now()
    this.#fallbacks++
    this.#failuresInARow++
    this.#lastError = rootCauseLine(error)
    this.#lastErrorAt = now
    this.#skipUntil =
      now + Math.min(MAX_SKIP_MS, FIRST_SKIP_MS * 2 ** Math.min(this.#failuresInARow - 1, 10))
    this.#failureLog.maybe(() =>
      this.#o.logger.warn?.(
        { err: error },
        `the shared cache store failed (${this.#lastError}): answering from memory and the IAM until it is back`,
      ),
    )
  }
}
