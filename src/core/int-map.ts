/**
 * A map from non-negative 31-bit integers to non-negative 31-bit integers in two `Int32Array`s
 * (open addressing, linear probing, deletion by backward shift, so no tombstones). Written by hand
 * for the verifier's list of one-time tokens: each first-seen token costs a lookup, a deletion and
 * an insertion there, which on a `Map` of 10 000 numbers cost a few hundred ns each in a server
 * (scattered heap objects); here they touch one compact array. Keys are expected to be random
 * bits already (they are parts of signatures), so the key itself is the hash.
 */
const EMPTY = -1
const MIN_CAPACITY = 64

export class IntMap {
  #keys = new Int32Array(MIN_CAPACITY).fill(EMPTY)
  #values = new Int32Array(MIN_CAPACITY)
  #mask = MIN_CAPACITY - 1
  #size = 0

  /** Number of keys. */
  get size(): number {
    return this.#size
  }

  /** The value of `key`, or -1. */
  get(key: number): number {
    const keys = this.#keys
    for (let i = key & this.#mask; ; i = (i + 1) & this.#mask) {
      const found = keys[i] as number
      if (found === key) return this.#values[i] as number
      if (found === EMPTY) return -1
    }
  }

  /** Sets `key` to `value` (both integers in [0, 2^31 - 1]). */
  set(key: number, value: number): void {
    if ((this.#size + 1) * 2 > this.#keys.length) this.#grow()
    const keys = this.#keys
    let i = key & this.#mask
    for (; ; i = (i + 1) & this.#mask) {
      const found = keys[i] as number
      if (found === key) break
      if (found === EMPTY) {
        keys[i] = key
        this.#size++
        break
      }
    }
    this.#values[i] = value
  }

  /** Removes `key`; whether it was there. */
  delete(key: number): boolean {
    const keys = this.#keys
    const values = this.#values
    const mask = this.#mask
    let i = key & mask
    for (; ; i = (i + 1) & mask) {
      const found = keys[i] as number
      if (found === EMPTY) return false
      if (found === key) break
    }
    // Backward shift: move up every later key of the run that may sit in the freed place.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const next = keys[j] as number
      if (next === EMPTY) break
      const home = next & mask
      // `next` stays when its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue
      keys[i] = next
      values[i] = values[j] as number
      i = j
    }
    keys[i] = EMPTY
    this.#size--
    return true
  }

  /** Removes every key. */
  clear(): void {
    this.#keys = new Int32Array(MIN_CAPACITY).fill(EMPTY)
    this.#values = new Int32Array(MIN_CAPACITY)
    this.#mask = MIN_CAPACITY - 1
    this.#size = 0
  }

  #grow(): void {
    const oldKeys = this.#keys
    const oldValues = this.#values
    const capacity = oldKeys.length * 2
    this.#keys = new Int32Array(capacity).fill(EMPTY)
    this.#values = new Int32Array(capacity)
    this.#mask = capacity - 1
    this.#size = 0
    for (let i = 0; i < oldKeys.length; i++) {
      const key = oldKeys[i] as number
      if (key !== EMPTY) this.set(key, oldValues[i] as number)
    }
  }
}
