/**
 * Translation between Express's request/response and the core's neutral shapes.
 * @internal
 */
import type { Request, Response } from 'express'

import { mergeVary } from '../core/http/cors.js'
import type { CorsHeaders, CorsRequestInfo } from '../core/http/cors.js'
import { createHttpRequest } from '../core/http/request.js'
import type { HttpRequest } from '../core/http/request.js'

/** The neutral request of an Express request (host from `req.hostname`: proxy-aware). */
export function toHttpRequest(req: Request): HttpRequest {
  return createHttpRequest({
    method: req.method,
    headers: req.headers,
    host: () => req.hostname,
    params: req.params,
    rawHeaders: req.rawHeaders,
    path: () => req.originalUrl,
    route: () => (req.route as { path?: unknown } | undefined)?.path?.toString(),
  })
}

/** Methods of the matched route, or of the `Allow` header Express sets on automatic OPTIONS. */
function routeMethods(req: Request, res: Response): string[] | undefined {
  const methods = (req.route as { methods?: Record<string, boolean> } | undefined)?.methods
  if (methods !== undefined && !methods._all) {
    const list = Object.keys(methods).filter((m) => methods[m])
    if (list.length > 0) return list
  }
  const allow = res.getHeader('Allow')
  if (typeof allow === 'string' && allow !== '') return allow.split(',').map((m) => m.trim())
  return undefined
}

/** What CORS computation needs from an Express request. */
export function corsRequestInfo(req: Request, res: Response): CorsRequestInfo {
  return {
    origin: req.headers.origin,
    requestHeaders: req.get('access-control-request-headers'),
    requestMethod: req.get('access-control-request-method'),
    routeMethods: routeMethods(req, res),
  }
}

/** Sets CORS headers (`override`: per-route values replace earlier ones) and merges `Vary`. */
export function applyCors(res: Response, cors: CorsHeaders, override: boolean): void {
  for (const [name, value] of Object.entries(cors.headers)) {
    if (override || !res.hasHeader(name)) res.setHeader(name, value)
  }
  if (cors.vary.length > 0) {
    const existing = res.getHeader('Vary')
    res.setHeader('Vary', mergeVary(typeof existing === 'string' ? existing : undefined, cors.vary))
  }
}

/** Runs `fn` just before the response's headers are written. */
export function onHeaders(res: Response, fn: () => void): void {
  const writeHead = res.writeHead
  let done = false
  res.writeHead = function (this: Response, ...args: unknown[]) {
    if (!done) {
      done = true
      fn()
    }
    return (writeHead as (...a: unknown[]) => Response).apply(this, args)
  } as Response['writeHead']
}
