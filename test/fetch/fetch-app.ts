/**
 * The fetch-standard "build an app on port 0" function of the case table: the table's routes as
 * `(request) => Response` handlers behind a tiny router, served by a tiny `node:http` bridge
 * that hands each request to them as a web `Request` (undici's own class).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

import { createIam } from '../../src/fetch/index.js'
import type { FetchIam, IamFetchOptions, IamRequest, RouteParams } from '../../src/fetch/index.js'
import type { RouteSpec } from '../adapters/cases.js'
import { handlerBody, routeOptions, routeResources } from '../adapters/harness.js'
import type { AppSpec, BuiltApp } from '../adapters/harness.js'

type RouteHandler = (request: Request, params: RouteParams) => Promise<Response>

/** Matches `/ns/:namespace/users/:userId` against a path; params are percent-decoded. */
function matcher(pattern: string): (path: string) => RouteParams | undefined {
  const parts = pattern.split('/')
  return (path) => {
    const segments = path.split('/')
    if (segments.length !== parts.length) return undefined
    const params: Record<string, string> = {}
    for (const [i, part] of parts.entries()) {
      const segment = segments[i] as string
      if (part.startsWith(':')) {
        try {
          params[part.slice(1)] = decodeURIComponent(segment)
        } catch {
          return undefined
        }
      } else if (part !== segment) return undefined
    }
    return params
  }
}

/** The handler of one route: `protect` for guarded routes, `cors` around it for CORS routes. */
function routeHandler(iam: FetchIam, route: RouteSpec): RouteHandler {
  const methods = route.methods
  const answer = (request: Request) =>
    Response.json(handlerBody((request as Partial<IamRequest>).iam))
  let handler: RouteHandler
  if (route.guard === undefined) handler = iam.corsOptions(answer, undefined, { methods })
  else {
    const resources = routeResources<Request>(
      route.guard.resources,
      (req, name) => req.headers.get(name) ?? undefined,
    )
    handler = iam.protect(answer, route.guard.permission as never, resources, {
      params: (_request, params: RouteParams) => params,
      methods,
      ...routeOptions(route.guard),
    })
  }
  if (route.cors !== undefined) {
    handler = iam.corsOptions(handler, route.cors.headers, {
      preflight: route.cors.preflight ?? true,
      methods,
    })
  }
  return handler
}

/** A fetch handler for `routes`: 404 for unknown paths, 405 for other methods (not OPTIONS). */
export function fetchRouter(
  iam: FetchIam,
  routes: readonly RouteSpec[],
): (request: Request) => Promise<Response> {
  const table = routes.map((route) => ({
    match: matcher(route.path),
    methods: route.methods as readonly string[],
    handler: routeHandler(iam, route),
  }))
  return async (request) => {
    const path = new URL(request.url).pathname
    for (const route of table) {
      const params = route.match(path)
      if (params === undefined) continue
      if (request.method !== 'OPTIONS' && !route.methods.includes(request.method)) {
        return new Response(null, { status: 405 })
      }
      return route.handler(request, params)
    }
    return new Response('not found', { status: 404 })
  }
}

/** Serves a fetch handler with `node:http` on 127.0.0.1, port 0. */
export async function serveFetch(
  handler: (request: Request) => Response | Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      try {
        // From the raw list, as real servers do (a repeated header is kept, joined).
        const headers = new Headers()
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string)
        }
        let url: URL
        try {
          url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`)
        } catch {
          url = new URL(req.url ?? '/', 'http://127.0.0.1')
        }
        const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined
        const response = await handler(new Request(url, { method: req.method, headers, body }))
        const out: Record<string, string> = {}
        response.headers.forEach((value, name) => (out[name] = value))
        res.writeHead(response.status, out)
        res.end(Buffer.from(await response.arrayBuffer()))
      } catch (error) {
        res.writeHead(500).end(String(error))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Builds the app of `spec` with `createIam` and serves it. */
export async function buildFetchApp(spec: AppSpec): Promise<BuiltApp> {
  const iam = createIam(spec.options as IamFetchOptions)
  const server = await serveFetch(fetchRouter(iam, spec.routes))
  return {
    url: server.url,
    ready: iam.ready,
    closeIntegration: () => iam.close(),
    async close() {
      await server.close()
      await iam.close()
    },
  }
}
