/**
 * Fetch-standard suite (`npm run bench -- fetch`): the SDK's `protect` wrapper around a web
 * handler (`(request: Request) => Response`, as in Next.js route handlers, Bun or Deno), served on
 * Node by `@hono/node-server` with no router (a table of handlers by path), each server in its own
 * process:
 *
 * - `bare`: the handlers alone (the baseline); controls: `/noop` behind a no-op wrapper, and
 *   `/header` behind one that reads the `Authorization` header (what the server's lazy web
 *   `Headers` costs any handler that reads a header, the SDK and jose included).
 * - `sdk`: `createIam(options)` from `iam-node-sdk/fetch`, `/protected` as
 *   `iam.protect(handler, permission, resources)`.
 * - `jose`: jose's `createRemoteJWKSet` + `jwtVerify` (`issuer`, `audience`) in a wrapper, then
 *   the permission claim.
 */
import { AUDIENCE, grantsBenchPermission, PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { serveFetchHandler } from './measure.js'
import type { HttpSuite } from './measure.js'

type WebHandler = (request: Request) => Response | Promise<Response>

const ok: WebHandler = () => new Response('ok')

/** Serves `/health`, and `/protected` and `/noop` when given, on @hono/node-server. */
async function serveFetch(routes: Record<string, WebHandler> = {}): Promise<string> {
  const notFound = new Response('not found', { status: 404 })
  const handlers: Record<string, WebHandler> = { '/health': ok, ...routes }
  const fetch = (request: Request) => {
    // The path without parsing the URL: what a router's fast path does.
    const url = request.url
    const start = url.indexOf('/', url.indexOf('//') + 2)
    const query = url.indexOf('?', start)
    const handler = handlers[url.slice(start, query === -1 ? undefined : query)]
    return handler ? handler(request) : notFound.clone()
  }
  return serveFetchHandler(fetch)
}

export const suite: HttpSuite = {
  name: 'fetch',
  title: 'Fetch-standard handlers (@hono/node-server, no router)',
  servers: {
    bare: {
      label: 'web handlers',
      bare: true,
      controlRoutes: [
        { path: '/noop', label: 'a no-op wrapper (control)' },
        { path: '/header', label: 'a wrapper reading Authorization (control)' },
      ],
      start: () => {
        const wrap =
          (handler: WebHandler): WebHandler =>
          async (request) =>
            handler(request)
        // What reading one header costs: @hono/node-server builds the web `Headers` on first use.
        const readsHeader: WebHandler = async (request) =>
          request.headers.get('authorization') === null
            ? new Response('', { status: 401 })
            : ok(request)
        return serveFetch({ '/noop': wrap(ok), '/header': readsHeader })
      },
    },
    sdk: {
      label: 'iam-node-sdk',
      cannotRefuse: { audience: 'IAM access tokens are not audience-bound; the SDK checks none' },
      start: async (context: ServerContext) => {
        const { createIam } = await import('iam-node-sdk/fetch')
        const iam = createIam(sdkOptions(context))
        await iam.ready
        return serveFetch({ '/protected': iam.protect(ok, PERMISSION, resources(context)) })
      },
    },
    jose: {
      label: 'jose createRemoteJWKSet',
      start: async (context: ServerContext) => {
        const { createRemoteJWKSet, jwtVerify } = await import('jose')
        const keys = createRemoteJWKSet(new URL(context.jwksUrl))
        const options = { issuer: context.issuer, audience: AUDIENCE, algorithms: ['RS256'] }
        const verified: WebHandler = async (request) => {
          const header = request.headers.get('authorization')
          if (header === null || !header.startsWith('Bearer '))
            return new Response('no token', { status: 401 })
          let payload: unknown
          try {
            payload = (await jwtVerify(header.slice(7), keys, options)).payload
          } catch {
            return new Response('invalid token', { status: 401 })
          }
          if (!grantsBenchPermission(payload, context.namespace))
            return new Response('forbidden', { status: 403 })
          return ok(request)
        }
        return serveFetch({ '/protected': verified })
      },
    },
  },
}
