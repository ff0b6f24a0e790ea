/**
 * Every HTTP call to the IAM goes through here: authentication, per-attempt timeouts, retries of
 * 5xx and network failures with jittered exponential backoff inside a total time budget, one
 * client-token refresh on a 401, and an OpenTelemetry client span per call.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { IamError } from './errors.js'
import type { IamMetrics } from './metrics.js'
import type { ResolvedIamClientOptions } from './options.js'
import { scheduleTimer, sleep } from './scheduler.js'

/** How a request authenticates: client Basic credentials, or the current client token. */
export type IamAuth = 'basic' | 'bearer'

/** One call to the IAM (outgoing; the protection of incoming requests is core/http). */
export interface IamCall {
  /** Short name for spans and errors, e.g. `jwks`, `role`. */
  endpoint: string
  method: 'GET' | 'POST'
  url: string
  auth: IamAuth
  /** Form fields, sent `application/x-www-form-urlencoded`. */
  form?: Record<string, string>
  /** Total time allowed, retries included, in ms. */
  budgetMs: number
}

/** A response with a non-5xx status. */
export interface IamResponse {
  status: number
  text: string
}

/** What the transport needs from the client for bearer calls. */
export interface BearerTokenSource {
  /** The current client token ('' when none). */
  current(): string
  /** Grants a new client token; resolves when it is stored. */
  refresh(): Promise<void>
}

const tracer = trace.getTracer('iam-node-sdk')
const BASE_DELAY_MS = 100
const MAX_DELAY_MS = 2_000

/** Sends requests to the IAM. Stateless apart from its options. */
export class IamTransport {
  readonly #options: ResolvedIamClientOptions
  readonly #metrics: IamMetrics | undefined
  readonly #basicAuth: string
  #bearer: BearerTokenSource | undefined

  constructor(options: ResolvedIamClientOptions, metrics?: IamMetrics) {
    this.#options = options
    this.#metrics = metrics
    this.#basicAuth =
      'Basic ' + Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')
  }

  /** Connects the client-token source used for bearer calls. */
  setBearerSource(source: BearerTokenSource): void {
    this.#bearer = source
  }

  /**
   * Sends a request and returns its response when the status is below 500. A 401 on a bearer
   * call refreshes the client token once and retries once. 5xx and network failures are retried
   * until the budget runs out, then an `ERR_IAM_UNAVAILABLE` is thrown. The budget bounds the
   * whole call: the refresh and the retry after it spend what is left of it.
   */
  async send(request: IamCall): Promise<IamResponse> {
    return tracer.startActiveSpan(
      `IAM ${request.method} ${request.endpoint}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': request.method, 'url.full': request.url },
      },
      async (span) => {
        try {
          const deadline = this.#options.now() + request.budgetMs
          let response = await this.#sendWithRetries(request, deadline)
          if (response.status === 401 && request.auth === 'bearer' && this.#bearer) {
            await this.#beforeDeadline(this.#bearer.refresh(), request, deadline)
            response = await this.#sendWithRetries(request, deadline)
          }
          span.setAttribute('http.response.status_code', response.status)
          return response
        } catch (error) {
          span.recordException(error as Error)
          span.setStatus({ code: SpanStatusCode.ERROR })
          throw error
        } finally {
          span.end()
        }
      },
    )
  }

  /** `work`, unless the deadline comes first (then `ERR_IAM_UNAVAILABLE`; `work` goes on). */
  async #beforeDeadline<T>(work: Promise<T>, request: IamCall, deadline: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = scheduleTimer(
        () => reject(outOfBudget(request, 'could not refresh the client token')),
        deadline - this.#options.now(),
      )
    })
    try {
      return await Promise.race([work, late])
    } finally {
      clearTimeout(timer)
    }
  }

  async #sendWithRetries(request: IamCall, deadline: number): Promise<IamResponse> {
    const { now, requestTimeoutMs } = this.#options
    let lastFailure: unknown
    let lastStatus: number | undefined
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - now()
      if (remaining <= 0) break
      try {
        const response = await this.#attempt(request, Math.min(requestTimeoutMs, remaining))
        if (response.status < 500) return response
        lastStatus = response.status
        lastFailure = undefined
      } catch (error) {
        // An answer we refuse to read (too large) is not an outage: no retry.
        if (error instanceof IamError) throw error
        lastFailure = error
        lastStatus = undefined
      }
      // Full jitter: a random wait up to an exponentially growing cap.
      const delay = Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt)
      if (now() + delay >= deadline) break
      await sleep(delay)
    }
    const reason =
      lastStatus !== undefined
        ? `answered HTTP ${lastStatus}`
        : `could not be reached (${(lastFailure as Error | undefined)?.message ?? 'timeout'})`
    throw outOfBudget(request, reason, lastFailure, lastStatus)
  }

  async #attempt(request: IamCall, timeoutMs: number): Promise<IamResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization:
        request.auth === 'basic' ? this.#basicAuth : `Bearer ${this.#bearer?.current() ?? ''}`,
    }
    let body: string | undefined
    if (request.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(request.form).toString()
    }
    const started = performance.now()
    let status: number | undefined
    try {
      const response = await this.#options.fetch(request.url, {
        method: request.method,
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      })
      status = response.status
      const text = await readBody(request, response, this.#options)
      this.#record(request, started, status, undefined)
      return { status, text }
    } catch (error) {
      const type =
        error instanceof IamError ? error.code : ((error as Error | undefined)?.name ?? 'Error')
      this.#record(request, started, status, type)
      throw error
    }
  }

  #record(request: IamCall, started: number, status: number | undefined, error?: string): void {
    this.#metrics?.iamCall(
      request.endpoint,
      request.method,
      request.url,
      performance.now() - started,
      status,
      error,
    )
  }
}

function outOfBudget(
  request: IamCall,
  reason: string,
  cause?: unknown,
  iamStatus?: number,
): IamError {
  return new IamError(
    'ERR_IAM_UNAVAILABLE',
    `IAM ${request.endpoint} ${reason} within ${request.budgetMs} ms`,
    { cause, iamStatus },
  )
}

/**
 * Reads a body as text, at most `maxResponseBytes` of it: a longer body (announced or streamed)
 * ends the read early with `ERR_IAM_BAD_RESPONSE`, so a broken IAM cannot fill the memory.
 */
async function readBody(
  request: IamCall,
  response: Response,
  options: Pick<ResolvedIamClientOptions, 'maxResponseBytes'>,
): Promise<string> {
  const max = options.maxResponseBytes
  const tooLarge = () =>
    new IamError(
      'ERR_IAM_BAD_RESPONSE',
      `IAM ${request.endpoint} answered a body larger than maxResponseBytes (${max} bytes)`,
      { iamStatus: response.status },
    )
  const announced = Number(response.headers.get('content-length'))
  if (announced > max) {
    await response.body?.cancel().catch(() => undefined)
    throw tooLarge()
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => undefined)
      throw tooLarge()
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks, size).toString('utf8')
}

/** Parses a JSON body, turning bad JSON into `ERR_IAM_BAD_RESPONSE`. */
export function parseJsonBody(endpoint: string, response: IamResponse): unknown {
  try {
    return JSON.parse(response.text)
  } catch (error) {
    throw new IamError('ERR_IAM_BAD_RESPONSE', `IAM ${endpoint} answered with invalid JSON`, {
      cause: error,
      iamStatus: response.status,
    })
  }
}

/** Builds the error for an IAM answer the caller did not expect. */
export function unexpectedStatus(endpoint: string, response: IamResponse): IamError {
  const detail = response.text.length > 200 ? response.text.slice(0, 200) + '…' : response.text
  if (response.status === 401) {
    return new IamError(
      'ERR_IAM_CLIENT_UNAUTHORIZED',
      `IAM ${endpoint} rejected this service's client credentials (HTTP 401): check clientId and clientSecret`,
      { iamStatus: 401 },
    )
  }
  if (response.status === 403) {
    return new IamError(
      'ERR_IAM_CLIENT_FORBIDDEN',
      `IAM ${endpoint} refused this service's client (HTTP 403): the client lacks a permission it needs. ${detail}`,
      { iamStatus: 403 },
    )
  }
  return new IamError(
    'ERR_IAM_BAD_RESPONSE',
    `IAM ${endpoint} answered HTTP ${response.status}: ${detail}`,
    {
      iamStatus: response.status,
    },
  )
}
