/**
 * Helpers for adapters on Node's own `ServerResponse` (Express, NestJS on either platform).
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'

import type { CorsRequestInfo, HeaderSink } from './cors.js'

/** Header access of a Node response, for {@link applyCorsHeaders}. */
export function nodeHeaderSink(res: ServerResponse): HeaderSink {
  return {
    has: (name) => res.hasHeader(name),
    get: (name) => res.getHeader(name)?.toString(),
    set: (name, value) => void res.setHeader(name, value),
  }
}

/**
 * Calls `beforeHead` once, just before `res` sends its head: the route's own headers are set by
 * then and its methods known. A header object given to `writeHead` (Fastify passes its reply's
 * headers there) is moved onto the response first, so that `beforeHead` sees and joins them.
 *
 * @example
 * ```ts
 * beforeWriteHead(res, () => applyCorsHeaders(protection.cors(info), nodeHeaderSink(res), false))
 * ```
 */
export function beforeWriteHead(res: ServerResponse, beforeHead: () => void): void {
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead
    const given = args.findIndex((a) => typeof a === 'object' && a !== null && !Array.isArray(a))
    for (const [name, value] of Object.entries((args[given] ?? {}) as OutgoingHttpHeaders)) {
      if (value !== undefined) res.setHeader(name, value)
    }
    beforeHead()
    const rest = given < 0 ? args : args.slice(0, given)
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, rest)
  } as ServerResponse['writeHead']
}

/** What CORS needs of a Node request; `method`: the matched route's, when known. */
export function nodeCorsRequestInfo(req: IncomingMessage, method?: string): CorsRequestInfo {
  return {
    origin: req.headers.origin,
    requestHeaders: req.headers['access-control-request-headers'],
    requestMethod: req.headers['access-control-request-method'],
    routeMethods: method === undefined ? undefined : [method],
  }
}
