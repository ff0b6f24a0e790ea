/**
 * Web-standard answers (`Request`/`Response`), shared by the adapters whose frameworks speak
 * them (fetch, Hono).
 */
import type { CorsHeaders } from './cors.js'
import { applyCorsHeaders } from './cors.js'
import type { HealthResponse } from './health.js'
import { toHttpErrorResponse } from './response.js'

/**
 * A JSON `Response`. Built with `new Response` rather than `Response.json`: an instance of the
 * current global `Response`, even where a server replaced it (as @hono/node-server does).
 */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, 'content-type': 'application/json' },
  })
}

/**
 * Sets CORS headers on a response (`override`: replace those already set) and merges `Vary`; a
 * response whose headers are immutable (from `fetch`, `Response.redirect`) is copied first.
 */
export function withCors(
  response: Response,
  cors: CorsHeaders | undefined,
  override: boolean,
): Response {
  if (cors === undefined) return response
  const write = (headers: Headers) =>
    applyCorsHeaders(
      cors,
      {
        has: (name) => headers.has(name),
        get: (name) => headers.get(name) ?? undefined,
        set: (name, value) => headers.set(name, value),
      },
      override,
    )
  try {
    write(response.headers)
    return response
  } catch {
    const copy = new Response(response.body, response)
    write(copy.headers)
    return copy
  }
}

/** The answer to a CORS preflight: 200, empty body, the CORS headers. */
export function preflightResponse(cors: CorsHeaders): Response {
  return withCors(new Response(null, { status: 200 }), cors, true)
}

/** The error answer of any thrown value: status, `WWW-Authenticate`, the wire JSON body. */
export function errorResponse(error: unknown, cors?: CorsHeaders): Response {
  const { status, headers, body } = toHttpErrorResponse(error)
  return withCors(jsonResponse(status, body, headers), cors, false)
}

/** The answer of a health endpoint. */
export function healthWebResponse({ status, body }: HealthResponse): Response {
  return jsonResponse(status, body, { 'cache-control': 'no-store' })
}

/** The CORS facts of a web `Request` (the route's methods when the caller knows them). */
export function webCorsInfo(request: Request, routeMethods?: readonly string[]) {
  const header = (name: string) => request.headers.get(name) ?? undefined
  return {
    origin: header('origin'),
    requestHeaders: header('access-control-request-headers'),
    requestMethod: header('access-control-request-method'),
    routeMethods: routeMethods ?? (request.method === 'OPTIONS' ? undefined : [request.method]),
  }
}
