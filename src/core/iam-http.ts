/**
 * Every HTTP call to the IAM goes through here: authentication, per-attempt timeouts, retries of
 * 5xx and network failures with jittered exponential backoff inside a total time budget, one
 * client-token refresh on a 401, and an OpenTelemetry client span per call.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { IamError } from './errors.js'
import type { ResolvedIamClientOptions } from './options.js'

/** How a request authenticates: client Basic credentials, or the current client token. */
export type IamAuth = 'basic' | 'bearer'

/** One IAM request. */
export interface IamRequest {
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** Sends requests to the IAM. Stateless apart from its options. */
export class IamHttp {
  readonly #options: ResolvedIamClientOptions
  readonly #basicAuth: string
  #bearer: BearerTokenSource | undefined

  constructor(options: ResolvedIamClientOptions) {
    this.#options = options
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
   * until the budget runs out, then an `ERR_IAM_UNAVAILABLE` is thrown.
   */
  async send(request: IamRequest): Promise<IamResponse> {
    return tracer.startActiveSpan(
      `IAM ${request.method} ${request.endpoint}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': request.method, 'url.full': request.url },
      },
      async (span) => {
        try {
          let response = await this.#sendWithRetries(request)
          if (response.status === 401 && request.auth === 'bearer' && this.#bearer) {
            await this.#bearer.refresh()
            response = await this.#sendWithRetries(request)
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

  async #sendWithRetries(request: IamRequest): Promise<IamResponse> {
    const { now, requestTimeoutMs } = this.#options
    const deadline = now() + request.budgetMs
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
    throw new IamError(
      'ERR_IAM_UNAVAILABLE',
      `IAM ${request.endpoint} ${reason} within ${request.budgetMs} ms`,
      { cause: lastFailure, iamStatus: lastStatus },
    )
  }

  async #attempt(request: IamRequest, timeoutMs: number): Promise<IamResponse> {
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
    const response = await this.#options.fetch(request.url, {
      method: request.method,
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    })
    return { status: response.status, text: await response.text() }
  }
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
