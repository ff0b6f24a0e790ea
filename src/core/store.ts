/**
 * The interface of a cache store shared by the replicas of a service (`iam-node-sdk/redis` is
 * one). It sits below the in-memory caches of {@link IamClient}: requests read memory only, a
 * memory miss or expiry reads the store, and only then asks the IAM, under a lock of the store so
 * that replicas missing the same entry at once make one IAM call. Every method may fail or be
 * slow: the client bounds each call, and a failed call falls back to memory and the IAM.
 *
 * Keys and channels given to a store are already scoped to one IAM and one client id
 * (`<iam>:<clientId>:…`); the store may add its own prefix.
 *
 * @module
 */

/** What {@link CacheStore.health} reports. */
export interface CacheStoreHealth {
  /** Whether the store can serve calls now (e.g. its connection is ready). */
  readonly available: boolean
  /** Message of the last connection or command failure, if any. */
  readonly lastError: string | undefined
  /** Epoch ms of that failure. */
  readonly lastErrorAt: number | undefined
}

/**
 * A store shared by replicas: values with a TTL, a lock with an owner token, and pub/sub.
 *
 * Ownership: {@link CacheStore.open} is called by each {@link IamClient} that uses the store and
 * {@link CacheStore.close} by its `close()`; a store closes the connections it made itself once
 * no client uses it, and never closes a connection the application gave it.
 *
 * @example
 * ```ts
 * import { IamClient } from 'iam-node-sdk'
 * import { RedisCacheStore } from 'iam-node-sdk/redis'
 *
 * const cacheStore = new RedisCacheStore({ url: process.env.REDIS_URL })
 * const iam = new IamClient({ baseUrl, clientId, clientSecret, cacheStore })
 * ```
 */
export interface CacheStore {
  /** The value at `key`, or `undefined` when there is none. */
  get(key: string): Promise<string | undefined>
  /** Stores `value` at `key` for `ttlMs` (at least 1). */
  set(key: string, value: string, ttlMs: number): Promise<void>
  /**
   * Takes the lock `key` for `ttlMs` when nobody holds it (`SET key token NX PX ttlMs`); `true`
   * when this caller now holds it.
   */
  acquireLock(key: string, token: string, ttlMs: number): Promise<boolean>
  /** Releases the lock `key` only if it is still held with `token` (compare and delete). */
  releaseLock(key: string, token: string): Promise<void>
  /** Sends `message` to every subscriber of `channel`, this process included. */
  publish(channel: string, message: string): Promise<void>
  /**
   * Calls `listener` with each message published on `channel` until the returned function is
   * called. Subscribing is best effort: messages sent while the store is unreachable are lost.
   */
  subscribe(channel: string, listener: (message: string) => void): () => void
  /** Whether the store is reachable now, and its last failure. Does no I/O. */
  health(): CacheStoreHealth
  /**
   * A client starts using the store (connects it if it made its own connection). Resolves when
   * the store can serve, rejects when it cannot yet (it goes on reconnecting in the background).
   */
  open(): Promise<void>
  /** A client stopped using the store; once none uses it, the store closes what it opened. */
  close(): Promise<void>
}

/** Methods a {@link CacheStore} must have (checked when the `cacheStore` option is given). */
export const CACHE_STORE_METHODS: readonly (keyof CacheStore)[] = Object.freeze([
  'get',
  'set',
  'acquireLock',
  'releaseLock',
  'publish',
  'subscribe',
  'health',
  'open',
  'close',
])
