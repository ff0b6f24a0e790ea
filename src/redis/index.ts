/**
 * `iam-node-sdk/redis`: a {@link CacheStore} on Redis, so that the replicas of a service share
 * what the IAM told one of them (role permissions, role overrides, client information, namespace
 * contexts, the JWKS and the revocation list), make one IAM call where they would make one each,
 * and learn a newer revocation list through pub/sub at once.
 *
 * Built on node-redis (`redis`, an optional peer dependency): Redis's own client, with no
 * dependencies of its own, typed, with TLS, ACL users and an offline mode that fails commands
 * at once instead of queueing them while the connection is down.
 *
 * @example
 * ```ts
 * import { IamClient } from 'iam-node-sdk'
 * import { RedisCacheStore } from 'iam-node-sdk/redis'
 *
 * const iam = new IamClient({
 *   ...options,
 *   cacheStore: new RedisCacheStore({ url: 'rediss://iam-cache:secret@redis.internal:6380' }),
 * })
 * ```
 * @packageDocumentation
 */
import type { ConnectionOptions } from 'node:tls'
import { createClient } from 'redis'

import type { CacheStore, CacheStoreHealth } from '../core/store.js'
import { scheduleTimer } from '../core/scheduler.js'

export type { CacheStore, CacheStoreHealth } from '../core/store.js'

/**
 * The part of a node-redis client (`createClient()` of `redis`) the store uses, for
 * {@link RedisCacheStoreOptions.client}.
 */
export interface RedisClientLike {
  readonly isReady: boolean
  sendCommand(args: string[], options?: { timeout?: number }): Promise<unknown>
  /** A new connection with the same options (the store subscribes on it). */
  duplicate(): RedisSubscriberLike
}

/** The part of a node-redis client the store uses for pub/sub. */
export interface RedisSubscriberLike {
  readonly isReady: boolean
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>
  unsubscribe(channel: string): Promise<unknown>
  destroy(): void
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** Options of {@link RedisCacheStore}. Durations are milliseconds. */
export interface RedisCacheStoreOptions {
  /**
   * `redis[s]://[[username][:password]@][host][:port][/db-number]` (`rediss:` for TLS). Default
   * `redis://127.0.0.1:6379`. Not with `client`.
   */
  url?: string
  /** ACL user name (overrides the URL's). Not with `client`. */
  username?: string
  /** ACL password, or the `requirepass` password (overrides the URL's). Not with `client`. */
  password?: string
  /**
   * TLS: `true`, or Node's `tls.connect` options (`ca`, `cert`, `key`, `servername`, …).
   * Default: TLS only for a `rediss:` URL. Not with `client`.
   */
  tls?: boolean | ConnectionOptions
  /**
   * A node-redis client of the application, which connects and closes it (the store never does);
   * the store only adds one connection of its own for pub/sub (`client.duplicate()`), which it
   * closes. Default: the store makes and owns its connections.
   */
  client?: RedisClientLike
  /** Prefix of every key and channel the store writes. Default `iam:`. */
  keyPrefix?: string
  /** Longest wait for one Redis command, in ms. Default 500. */
  commandTimeoutMs?: number
  /** Longest wait for a connection to open, in ms. Default 2 000. */
  connectTimeoutMs?: number
  /** Longest wait between two reconnection attempts, in ms. Default 5 000. */
  reconnectMaxDelayMs?: number
}

/** Compare-and-delete: releases a lock only for the owner that took it. */
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`

const MAX_DELAY_MS = 2_147_483_647

function fail(option: string, expected: string): never {
  throw new TypeError(`RedisCacheStore option "${option}" must be ${expected}`)
}

function duration(
  options: RedisCacheStoreOptions,
  name: keyof RedisCacheStoreOptions,
  fallback: number,
): number {
  const value = options[name]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_DELAY_MS) {
    fail(name, `a number of milliseconds >= 1 and at most ${MAX_DELAY_MS}`)
  }
  return value
}

const KNOWN_OPTIONS = new Set([
  'url',
  'username',
  'password',
  'tls',
  'client',
  'keyPrefix',
  'commandTimeoutMs',
  'connectTimeoutMs',
  'reconnectMaxDelayMs',
])

/**
 * A {@link CacheStore} on Redis. Connects when the first `IamClient` using it does I/O;
 * reconnects in the background while Redis is down (commands fail at once meanwhile, and the
 * client answers from memory and the IAM); closes the connections it made when the last client
 * using it is closed.
 *
 * Keys: `<keyPrefix><iam>:<clientId>:<kind>:<id>` (and `…:lock` while one replica asks the IAM),
 * channel `<keyPrefix><iam>:<clientId>:snapshots`. Values are authenticated with a key derived
 * from the client secret; no secret and no user token is written.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis'
 * const redis = await createClient({ url: process.env.REDIS_URL }).on('error', console.error).connect()
 * const iam = new IamClient({ ...options, cacheStore: new RedisCacheStore({ client: redis }) })
 * // on shutdown: await iam.close(); redis.destroy() — the application's client is the application's to close
 * ```
 */
export class RedisCacheStore implements CacheStore {
  readonly #given: RedisClientLike | undefined
  readonly #makeClient: () => OwnClient
  readonly #prefix: string
  readonly #commandTimeoutMs: number
  #client: RedisClientLike | undefined
  #own: OwnClient | undefined
  #subscriber: RedisSubscriberLike | undefined
  #users = 0
  #connecting: Promise<void> | undefined
  readonly #listeners = new Map<string, Set<(message: string) => void>>()
  #lastError: string | undefined
  #lastErrorAt: number | undefined

  /** Validates the options (a `TypeError` naming a bad one); connects nothing yet. */
  constructor(options: RedisCacheStoreOptions = {}) {
    if (options === null || typeof options !== 'object') fail('options', 'an object')
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`RedisCacheStore option "${key}" is unknown`)
    }
    const { url, username, password, tls, client } = options
    const keyPrefix = options.keyPrefix ?? 'iam:'
    if (typeof keyPrefix !== 'string') fail('keyPrefix', 'a string')
    if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
      fail('url', 'a redis:// or rediss:// URL')
    }
    if (username !== undefined && typeof username !== 'string') fail('username', 'a string')
    if (password !== undefined && typeof password !== 'string') fail('password', 'a string')
    if (
      tls !== undefined &&
      typeof tls !== 'boolean' &&
      (tls === null || typeof tls !== 'object')
    ) {
      fail('tls', 'true, false or tls.connect options')
    }
    if (client !== undefined) {
      if (
        client === null ||
        typeof client !== 'object' ||
        typeof client.sendCommand !== 'function' ||
        typeof client.duplicate !== 'function'
      ) {
        fail('client', 'a node-redis client (createClient() of "redis")')
      }
      for (const name of ['url', 'username', 'password', 'tls'] as const) {
        if (options[name] !== undefined)
          fail(name, 'left out when "client" is given (configure the client)')
      }
    }
    this.#given = client
    this.#prefix = keyPrefix
    this.#commandTimeoutMs = duration(options, 'commandTimeoutMs', 500)
    const connectTimeout = duration(options, 'connectTimeoutMs', 2_000)
    const reconnectMax = duration(options, 'reconnectMaxDelayMs', 5_000)
    this.#makeClient = () =>
      createClient({
        url: url ?? 'redis://127.0.0.1:6379',
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
        // Commands fail at once while disconnected: the SDK then answers without Redis.
        disableOfflineQueue: true,
        socket: {
          connectTimeout,
          // Exponential backoff with jitter, never giving up.
          reconnectStrategy: (retries: number) =>
            Math.round(
              Math.min(reconnectMax, 50 * 2 ** Math.min(retries, 16)) * (0.5 + Math.random() / 2),
            ),
          ...(tls === true ? { tls: true as const } : {}),
          ...(typeof tls === 'object' ? { tls: true as const, ...tls } : {}),
        },
      }) as unknown as OwnClient
  }

  /** Connects (first user) and resolves when Redis answers; later users share the connection. */
  open(): Promise<void> {
    this.#users++
    this.#connecting ??= this.#connect()
    return this.#connecting
  }

  /** Once no client uses the store: closes the pub/sub connection and the client it made. */
  async close(): Promise<void> {
    if (this.#users === 0) return
    if (--this.#users > 0) return
    this.#connecting = undefined
    const subscriber = this.#subscriber
    const own = this.#own
    this.#subscriber = undefined
    this.#own = undefined
    this.#client = undefined
    subscriber?.destroy()
    own?.destroy()
  }

  health(): CacheStoreHealth {
    return {
      available: this.#client?.isReady === true,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
    }
  }

  async get(key: string): Promise<string | undefined> {
    const reply = await this.#command(['GET', this.#prefix + key])
    return typeof reply === 'string' ? reply : undefined
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#command([
      'SET',
      this.#prefix + key,
      value,
      'PX',
      String(Math.max(1, Math.ceil(ttlMs))),
    ])
  }

  async acquireLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#command([
      'SET',
      this.#prefix + key,
      token,
      'PX',
      String(Math.max(1, Math.ceil(ttlMs))),
      'NX',
    ])
    return reply === 'OK'
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.#command(['EVAL', RELEASE_LOCK, '1', this.#prefix + key, token])
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#command(['PUBLISH', this.#prefix + channel, message])
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    const full = this.#prefix + channel
    let listeners = this.#listeners.get(full)
    if (listeners === undefined) {
      listeners = new Set()
      this.#listeners.set(full, listeners)
      this.#subscribeOn(this.#subscriber, full)
    }
    listeners.add(listener)
    return () => {
      const current = this.#listeners.get(full)
      if (current === undefined || !current.delete(listener) || current.size > 0) return
      this.#listeners.delete(full)
      this.#subscriber?.unsubscribe(full).catch((error: unknown) => this.#failed(error))
    }
  }

  async #connect(): Promise<void> {
    let client = this.#given
    if (client === undefined) {
      const own = this.#makeClient()
      own.on('error', (error: Error) => this.#failed(error))
      this.#own = own
      client = own
    }
    this.#client = client
    // Pub/sub needs a connection of its own; it queues its SUBSCRIBEs until connected and
    // subscribes again after a reconnection.
    const subscriber = client.duplicate()
    subscriber.on('error', (error: Error) => this.#failed(error))
    this.#subscriber = subscriber
    for (const channel of this.#listeners.keys()) this.#subscribeOn(subscriber, channel)
    const connections: Promise<unknown>[] = [subscriber.connect()]
    if (this.#own !== undefined) connections.unshift(this.#own.connect())
    await Promise.all(connections)
  }

  #subscribeOn(subscriber: RedisSubscriberLike | undefined, channel: string): void {
    subscriber
      ?.subscribe(channel, (message) => {
        for (const listener of this.#listeners.get(channel) ?? []) listener(message)
      })
      .catch((error: unknown) => this.#failed(error))
  }

  /** One command, failing at once when not connected and after `commandTimeoutMs` otherwise. */
  async #command(args: string[]): Promise<unknown> {
    const client = this.#client
    if (client === undefined || !client.isReady) throw new Error('Redis is not connected')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = scheduleTimer(
        () => reject(new Error(`Redis did not answer within ${this.#commandTimeoutMs} ms`)),
        this.#commandTimeoutMs,
      )
    })
    try {
      return await Promise.race([
        client.sendCommand(args, { timeout: this.#commandTimeoutMs }),
        late,
      ])
    } catch (error) {
      this.#failed(error)
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  #failed(error: unknown): void {
    this.#lastError = error instanceof Error ? error.message : String(error)
    this.#lastErrorAt = Date.now()
  }
}

/** The store's own node-redis client, as far as the store uses it. */
interface OwnClient extends RedisClientLike {
  connect(): Promise<unknown>
  destroy(): void
  on(event: 'error', listener: (error: Error) => void): unknown
}
