/**
 * Translation between web `Request`/`Response` and the core's neutral shapes.
 * @internal
 */
import { mergeVary } from '../core/http/cors.js'
import type { CorsHeaders } from '../core/http/cors.js'
import { createHttpRequest } from '../core/http/request.js'
import type { HttpRequest } from '../core/http/request.js'
import { toHttpErrorResponse } from '../core/http/response.js'

/** The neutral request of a web `Request` (host from `Host`, else from the URL). */
export function toHttpRequest(
  request: Request,
  params: Readonly<Record<string, string | undefined>> | undefined,
): HttpRequest {
  return createHttpRequest({
    method: request.method,
    headers: (name) => request.headers.get(name),
    host: () => request.headers.get('host') ?? hostOf(request.url),
    params,
    path: () => pathOf(request.url),
  })
}

function pathOf(url: string): string | undefined {
  try {
    return new URL(url).pathname
  } catch {
    return undefined
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host || undefined
  } catch {
    return undefined
  }
}

/** The error `Response`: status, `WWW-Authenticate` / `Retry-After`, the wire JSON body. */
export function errorResponse(error: unknown): Response {
  const { status, headers, body } = toHttpErrorResponse(error)
  // `new Response` rather than `Response.json`: an instance of the current global `Response`,
  // even where a server replaced it (as @hono/node-server does), so `instanceof` works.
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, 'content-type': 'application/json' },
  })
}

/**
 * True for a CORS preflight to a path the application serves with other methods (405), or with
 * `methods` known. A 404 stays a 404: nothing serves the path (as on Express and Fastify).
 */
export function isUnanswered(request: Request, response: Response, methodsKnown: boolean): boolean {
  if (!request.headers.has('access-control-request-method')) return false
  return response.status === 405 || (methodsKnown && response.status === 404)
}

/** The answer to a preflight: 200, empty body, the CORS headers. */
export function preflightResponse(cors: CorsHeaders): Response {
  return applyCors(new Response(null, { status: 200 }), cors, true)
}

function setCors(headers: Headers, cors: CorsHeaders, override: boolean): void {
  for (const [name, value] of Object.entries(cors.headers)) {
    if (override || !headers.has(name)) headers.set(name, value)
  }
  if (cors.vary.length > 0) {
    headers.set('Vary', mergeVary(headers.get('vary') ?? undefined, cors.vary))
  }
}

/**
 * Sets CORS headers on a response (`override`: replace values already set) and merges `Vary`.
 * A response with immutable headers (from `fetch`, `Response.redirect`) is copied first.
 */
export function applyCors(
  response: Response,
  cors: CorsHeaders | undefined,
  override: boolean,
): Response {
  if (cors === undefined) return response
  try {
    setCors(response.headers, cors, override)
    return response
  } catch {
    const copy = new Response(response.body, response)
    setCors(copy.headers, cors, override)
    return copy
  }
}
