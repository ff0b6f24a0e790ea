/**
 * Translation between Fastify's request/reply and the core's neutral shapes.
 * @internal
 */
import type { FastifyReply, FastifyRequest } from 'fastify'

import type { IamError } from '../core/errors.js'
import { mergeVary } from '../core/http/cors.js'
import type { CorsHeaders, CorsRequestInfo } from '../core/http/cors.js'
import { createHttpRequest } from '../core/http/request.js'
import type { HttpRequest } from '../core/http/request.js'
import { toHttpErrorResponse } from '../core/http/response.js'

/** The neutral request of a Fastify request (host from `request.host`: `trustProxy`-aware). */
export function toHttpRequest(request: FastifyRequest): HttpRequest {
  return createHttpRequest({
    method: request.method,
    headers: request.headers,
    host: () => request.host,
    params: request.params as Record<string, unknown> | undefined,
    rawHeaders: request.raw.rawHeaders,
    path: () => request.url,
    route: () => request.routeOptions.url,
  })
}

/** What CORS computation needs from a Fastify request; the route's methods come from its options. */
export function corsRequestInfo(request: FastifyRequest): CorsRequestInfo {
  const method = request.routeOptions.method as string | string[] | undefined
  return {
    origin: request.headers.origin,
    requestHeaders: header(request, 'access-control-request-headers'),
    requestMethod: header(request, 'access-control-request-method'),
    routeMethods: method === undefined ? undefined : Array.isArray(method) ? method : [method],
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** Sets CORS headers (`override`: replace values already set) and merges `Vary`. */
export function applyCors(reply: FastifyReply, cors: CorsHeaders, override: boolean): void {
  for (const [name, value] of Object.entries(cors.headers)) {
    if (override || !reply.hasHeader(name)) reply.header(name, value)
  }
  if (cors.vary.length > 0) {
    const existing = reply.getHeader('vary')
    reply.header('Vary', mergeVary(typeof existing === 'string' ? existing : undefined, cors.vary))
  }
}

/**
 * Gives an `IamError` the `headers` Fastify's error handling applies (`WWW-Authenticate`,
 * `Retry-After`), so that the default handler and the application's own see the same error.
 */
export function withHeaders(error: IamError): IamError & { headers: Record<string, string> } {
  const { headers } = toHttpErrorResponse(error)
  Object.defineProperty(error, 'headers', { value: headers, configurable: true, writable: true })
  return error as IamError & { headers: Record<string, string> }
}

/**
 * True when `payload` is Fastify's default rendering of `error` (`{ statusCode, code, error,
 * message }`), i.e. no error handler of the application reshaped it.
 */
export function isDefaultErrorBody(payload: unknown, error: IamError, status: number): boolean {
  if (typeof payload !== 'string' || status !== error.status) return false
  try {
    const body = JSON.parse(payload) as Record<string, unknown>
    return body.statusCode === status && body.code === error.code && body.message === error.message
  } catch {
    return false
  }
}
