/**
 * Faults injected into the emulated endpoints, their request counters, and how much the last
 * streamed answer of each wrote.
 *
 * A fault applies to the next `times` requests of its endpoint (default: until cleared), before
 * authentication, like a proxy in front of the IAM. It waits `delayMs` first, then answers with
 * the first of these that it sets:
 *
 * | field | answer |
 * |---|---|
 * | `hang: true` | none: the request is accepted and never answered, until the client gives up or the emulator closes |
 * | `body` | `status` (default 200) with exactly this body: a string as is, any other JSON value serialized |
 * | `streamBytes` | `status` (default 200), `application/json`, a chunked body of that many bytes (`{"permissions":[`, spaces, `]}`) written in 64 KiB chunks as fast as the client reads; stops when the client goes away or the emulator closes |
 * | `status` | that status with the endpoint's own error body (OAuth style for `token`, `verify`, `revoke`; `{errorCode, errorMessage}` elsewhere) |
 * | none | the normal answer (late, with `delayMs`) |
 *
 * Every faulted answer carries `X-Emulator-Fault: injected`. The bytes a streamed answer wrote
 * are kept per endpoint (`Emulator.streamedBytes`, `streamStopped`), so a test can tell that a
 * client stopped reading early.
 *
 * @module
 */

/**
 * A fault injected into one endpoint (see `Emulator.setFault` and the module table above).
 *
 * @example
 * ```ts
 * emulator.setFault('clientInfo', { body: { redirectUri: null }, times: 1 })
 * emulator.setFault('jwks', { streamBytes: 64 * 1024 * 1024 })
 * emulator.setFault('revocationList', { hang: true })
 * ```
 */
export interface EmulatorFault {
  /**
   * HTTP status (100-599). Alone: answer it with the endpoint's JSON error body. With `body` or
   * `streamBytes`: the status of that answer (default 200).
   */
  status?: number
  /** Wait this many milliseconds (0 to 2^31-1) before answering. Not with `hang`. */
  delayMs?: number
  /** Apply to this many requests (an integer >= 1), then clear itself. Default: until cleared. */
  times?: number
  /**
   * The exact answer body instead of the normal one: a string is sent as is (`''` sends none),
   * any other JSON value (`null` included) is serialized. Not with `streamBytes` or `hang`.
   */
  body?: unknown
  /**
   * Answer with a body of this many bytes (an integer >= 1), streamed in 64 KiB chunks with
   * backpressure, so a client reading slowly or stopping early receives no more than it asks
   * for; see `Emulator.streamedBytes`. Not with `body` or `hang`.
   */
  streamBytes?: number
  /**
   * `true`: accept the request and never answer it, until the client gives up or the emulator
   * closes. Not with `status`, `body`, `streamBytes` or `delayMs`.
   */
  hang?: boolean
}

/** A fault as the HTTP layer applies it to one request. */
export interface ActiveFault {
  delayMs: number
  status: number | undefined
  /** The answer body, serialized. */
  body: string | undefined
  streamBytes: number | undefined
  hang: boolean
}

interface StoredFault extends ActiveFault {
  /** `body` as given (a copy), for listing. */
  bodyValue: unknown
  /** Requests left, or undefined for "until cleared". */
  remaining: number | undefined
}

/** One streamed answer: what it wrote so far, and when it stops. */
export class StreamRecord {
  /** Bytes handed to the response so far. */
  bytes = 0
  private finish!: () => void
  /** Resolves when the answer stops: complete, the client gone, or the emulator closed. */
  readonly stopped = new Promise<void>((resolve) => (this.finish = resolve))

  /** Marks the answer as stopped. */
  stop(): void {
    this.finish()
  }
}

/** Longest delay a Node timer honours (a longer one fires after 1 ms). */
const MAX_DELAY_MS = 2 ** 31 - 1

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

/** The fault validated and normalized; throws a `TypeError` naming the bad field. */
function validateFault(fault: EmulatorFault): StoredFault {
  if (typeof fault !== 'object' || fault === null || Array.isArray(fault)) {
    throw new TypeError(`setFault: fault must be an object or null, got ${describe(fault)}`)
  }
  const { status, delayMs, times, body, streamBytes, hang = false } = fault
  if (status !== undefined && (!Number.isInteger(status) || status < 100 || status > 599)) {
    throw new TypeError(
      `setFault: fault.status must be an HTTP status (100-599), got ${describe(status)}`,
    )
  }
  if (
    delayMs !== undefined &&
    (typeof delayMs !== 'number' || !(delayMs >= 0 && delayMs <= MAX_DELAY_MS))
  ) {
    throw new TypeError(
      `setFault: fault.delayMs must be a number of milliseconds, 0 to ${MAX_DELAY_MS}, got ${describe(delayMs)}`,
    )
  }
  if (times !== undefined && (!Number.isInteger(times) || times < 1)) {
    throw new TypeError(`setFault: fault.times must be an integer >= 1, got ${describe(times)}`)
  }
  if (streamBytes !== undefined && (!Number.isSafeInteger(streamBytes) || streamBytes < 1)) {
    throw new TypeError(
      `setFault: fault.streamBytes must be an integer >= 1, got ${describe(streamBytes)}`,
    )
  }
  if (typeof hang !== 'boolean') {
    throw new TypeError(`setFault: fault.hang must be a boolean, got ${describe(hang)}`)
  }
  let text: string | undefined
  let bodyValue: unknown
  if (body !== undefined) {
    try {
      text = typeof body === 'string' ? body : JSON.stringify(body)
    } catch {
      text = undefined
    }
    if (text === undefined || (typeof body === 'number' && !Number.isFinite(body))) {
      throw new TypeError(
        `setFault: fault.body must be a string or a JSON value, got ${describe(body)}`,
      )
    }
    bodyValue = typeof body === 'string' ? body : JSON.parse(text)
  }
  if (body !== undefined && streamBytes !== undefined) {
    throw new TypeError('setFault: fault.body and fault.streamBytes cannot be combined')
  }
  if (hang) {
    const others = (['status', 'delayMs', 'body', 'streamBytes'] as const).filter(
      (key) => fault[key] !== undefined,
    )
    if (others.length > 0) {
      throw new TypeError(
        `setFault: fault.hang cannot be combined with ${others.map((k) => `fault.${k}`).join(', ')}`,
      )
    }
  }
  return {
    delayMs: delayMs ?? 0,
    status,
    body: text,
    bodyValue,
    streamBytes,
    hang,
    remaining: times,
  }
}

/**
 * The faults, counters and stream records of a fixed set of endpoint names. Endpoint names are
 * checked on every call that takes one (a `TypeError` lists the valid ones).
 */
export class FaultTable<Name extends string = string> {
  private readonly faults = new Map<Name, StoredFault>()
  private readonly counts = new Map<Name, number>()
  private readonly streams = new Map<Name, StreamRecord>()
  /** Requests to paths no route serves (bounded: the latest 100). */
  private readonly unmatched: { method: string; path: string }[] = []

  constructor(readonly endpoints: readonly Name[]) {}

  private check(method: string, endpoint: Name): void {
    if (!this.endpoints.includes(endpoint)) {
      throw new TypeError(
        `${method}: unknown endpoint ${JSON.stringify(endpoint)}; one of ${this.endpoints.join(', ')}`,
      )
    }
  }

  /** Installs or clears (`null`) a fault. */
  set(endpoint: Name, fault: EmulatorFault | null): void {
    this.check('setFault', endpoint)
    if (fault === null) this.faults.delete(endpoint)
    else this.faults.set(endpoint, validateFault(fault))
  }

  /** Active faults by endpoint (`times` = requests left; absent = until cleared). */
  list(): Partial<Record<Name, EmulatorFault>> {
    const out: Partial<Record<Name, EmulatorFault>> = {}
    for (const [endpoint, f] of this.faults) {
      const fault: EmulatorFault = { delayMs: f.delayMs }
      if (f.status !== undefined) fault.status = f.status
      if (f.body !== undefined) fault.body = f.bodyValue
      if (f.streamBytes !== undefined) fault.streamBytes = f.streamBytes
      if (f.hang) fault.hang = true
      if (f.remaining !== undefined) fault.times = f.remaining
      out[endpoint] = fault
    }
    return out
  }

  /** Counts a request and returns the fault that applies to it, consuming one of its `times`. */
  arrive(endpoint: Name): ActiveFault | undefined {
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1)
    const fault = this.faults.get(endpoint)
    if (!fault) return undefined
    if (fault.remaining !== undefined && --fault.remaining <= 0) this.faults.delete(endpoint)
    const { delayMs, status, body, streamBytes, hang } = fault
    return { delayMs, status, body, streamBytes, hang }
  }

  /** Requests received by an endpoint since start or the last reset. */
  count(endpoint: Name): number {
    this.check('requestCount', endpoint)
    return this.counts.get(endpoint) ?? 0
  }

  /** Zeroes every counter. */
  resetCounts(): void {
    this.counts.clear()
    this.unmatched.length = 0
  }

  /** Counts a request to a path that no route serves. */
  arriveUnmatched(method: string, path: string): void {
    if (this.unmatched.length >= 100) this.unmatched.shift()
    this.unmatched.push({ method, path })
  }

  /** Requests to paths no route serves, oldest first, since start or the last reset. */
  unmatchedRequests(): { method: string; path: string }[] {
    return this.unmatched.map((r) => ({ ...r }))
  }

  /** A new record for a streamed answer of `endpoint`, replacing the previous one. */
  startStream(endpoint: Name): StreamRecord {
    const record = new StreamRecord()
    this.streams.set(endpoint, record)
    return record
  }

  /** Bytes written so far by the last streamed answer of `endpoint`; 0 before any. */
  streamedBytes(endpoint: Name): number {
    this.check('streamedBytes', endpoint)
    return this.streams.get(endpoint)?.bytes ?? 0
  }

  /** The final byte count of the last streamed answer of `endpoint`, once it stopped. */
  async streamStopped(endpoint: Name): Promise<number> {
    this.check('streamStopped', endpoint)
    const record = this.streams.get(endpoint)
    if (!record) return 0
    await record.stopped
    return record.bytes
  }
}
