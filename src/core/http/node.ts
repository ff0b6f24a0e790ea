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

/** Contexts set through {@link setRequestContext} on requests with a shared prototype. */
const contexts = new WeakMap<object, unknown>()
/** Marks a prototype given the `iam` accessor (read on the request: one lookup, no WeakSet). */
const HAS_ACCESSOR = Symbol('iam-node-sdk: iam accessor')

/**
 * Sets `req.iam`. `sharedPrototype`: the object the framework makes the prototype of every
 * request, when the adapter knows it (Express: `req.app.request`, which Express puts under each
 * request with `Object.setPrototypeOf`). After that call V8 adds an own property to the request
 * slowly: about 4 µs per request here, most of what protecting an Express route cost. So when
 * the request's prototype is that object, the value is kept in a WeakMap behind an `iam`
 * accessor defined once on it (not enumerable: `req.iam` reads and writes as before,
 * `Object.keys(req)` does not list it). Other requests get a plain property (also when
 * `sharedPrototype` is not an object).
 *
 * @example
 * ```ts
 * if (context !== undefined) setRequestContext(req, context, req.app.request)
 * ```
 */
export function setRequestContext(req: object, context: unknown, sharedPrototype?: unknown): void {
  if ((req as { [HAS_ACCESSOR]?: true })[HAS_ACCESSOR] !== true) {
    if (
      typeof sharedPrototype !== 'object' ||
      sharedPrototype === null ||
      Object.getPrototypeOf(req) !== sharedPrototype ||
      !defineAccessor(sharedPrototype)
    ) {
      ;(req as { iam?: unknown }).iam = context
      return
    }
  }
  if (Object.hasOwn(req, 'iam')) {
    // Set as an own property before the accessor existed: it hides the accessor.
    ;(req as { iam?: unknown }).iam = context
  } else {
    contexts.set(req, context)
  }
}

/** Defines the `iam` accessor on a shared request prototype; whether it did. */
function defineAccessor(proto: object): boolean {
  // The app's own `iam` property (a value or accessor it defined) is left alone.
  if (Object.getOwnPropertyDescriptor(proto, 'iam') !== undefined) return false
  Object.defineProperty(proto, 'iam', {
    configurable: true,
    enumerable: false,
    get(this: object) {
      return contexts.get(this)
    },
    set(this: object, value: unknown) {
      contexts.set(this, value)
    },
  })
  Object.defineProperty(proto, HAS_ACCESSOR, { value: true })
  return true
}
