/**
 * An integration whose configuration arrives after it is constructed (Express's `initApp`,
 * NestJS's `forRootAsync`): `ready` exists from the start, and a start that failed on bad
 * configuration may be tried again with fixed settings.
 */
import type { ConfigSources } from './options.js'
import { HttpProtection } from './protection.js'
import type { IamProtectionOptions } from './protection.js'

/** Sources of {@link HttpProtection.create}. */
export type ProtectionSources = ConfigSources & {
  options?: IamProtectionOptions | undefined
  settingKeys?: (() => Iterable<string>) | undefined
}

/**
 * Holds an {@link HttpProtection} built later.
 *
 * @example
 * ```ts
 * const deferred = new DeferredProtection()
 * deferred.ready.then(() => console.log('IAM ready'))
 * deferred.create({ options, setting: (key) => app.get(key), env: process.env })
 * ```
 */
export class DeferredProtection {
  #protection: HttpProtection | undefined
  #ready!: Promise<void>
  #settle!: { resolve: () => void; reject: (error: unknown) => void }
  #failed = false

  constructor() {
    this.#renew()
  }

  #renew(): void {
    this.#ready = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }))
    this.#ready.catch(() => {}) // nobody has to await it
  }

  /** Settles when the protection is started; rejects with a bad configuration or a failed start. */
  get ready(): Promise<void> {
    return this.#ready
  }

  /** The protection, once {@link DeferredProtection.create} succeeded. */
  get protection(): HttpProtection | undefined {
    return this.#protection
  }

  /**
   * Builds and starts the protection, once: later calls return the first one. After a
   * configuration error (a `TypeError`), a later call tries again.
   */
  create(sources: ProtectionSources): HttpProtection | undefined {
    if (this.#protection !== undefined) return this.#protection
    if (this.#failed) this.#renew()
    try {
      this.#protection = HttpProtection.create(sources)
      this.#protection.ready.then(this.#settle.resolve, this.#settle.reject)
    } catch (error) {
      this.#failed = true
      this.#settle.reject(error)
    }
    return this.#protection
  }

  /** Closes the protection, if there is one. */
  async close(): Promise<void> {
    await this.#protection?.close()
  }
}
