/**
 * Express 5 suite (`npm run bench -- express`): the SDK's `permissionRequired` against the bare
 * framework and against the libraries an Express user would pick instead, each server in its own
 * process, same `GET /health` and `GET /protected` routes answering `ok`:
 *
 * - `bare`: Express alone (the baseline).
 * - `sdk`: `new IAM(app, options)` and `permissionRequired` (header token, direct permission),
 *   plus a role permission (`/role`) and a cookie token with CSRF protection (`/csrf`).
 * - `oauth2`: express-oauth2-jwt-bearer's `auth({ issuer, audience, jwksUri })` and a
 *   `claimCheck` of the permission claim.
 * - `jose`: jose's `createRemoteJWKSet` + `jwtVerify` (`issuer`, `audience`) by hand, then the
 *   permission claim.
 */
import type { NextFunction, Request, Response } from 'express'

import { AUDIENCE, grantsBenchPermission, PERMISSION, resources, sdkOptions } from './fixtures.js'
import type { ServerContext } from './fixtures.js'
import { originOf } from './measure.js'
import type { HttpSuite } from './measure.js'

/** An Express app with `/health`; `protect` adds the protected routes. */
async function serveExpress(
  protect?: (app: import('express').Express) => Promise<void> | void,
): Promise<string> {
  const { default: express } = await import('express')
  const app = express()
  app.get('/health', (_req, res) => void res.send('ok'))
  await protect?.(app)
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return originOf(server as import('node:http').Server)
}

/** The errors express-oauth2-jwt-bearer passes on. */
interface OAuthError {
  status?: number
  headers?: Record<string, string>
  message: string
}

const ok = (_req: Request, res: Response) => void res.send('ok')

export const suite: HttpSuite = {
  name: 'express',
  title: 'Express 5',
  servers: {
    bare: {
      label: 'Express',
      bare: true,
      controlRoutes: [{ path: '/noop', label: 'a no-op middleware (control)' }],
      start: () =>
        serveExpress((app) => {
          app.get('/noop', (_req: Request, _res: Response, next: NextFunction) => next(), ok)
        }),
    },
    sdk: {
      label: 'iam-node-sdk',
      cannotRefuse: { audience: 'IAM access tokens are not audience-bound; the SDK checks none' },
      extraRoutes: [
        { path: '/role', label: 'role permission', credentials: 'role' },
        { path: '/csrf', label: 'cookie token + CSRF', credentials: 'cookie' },
      ],
      start: (context: ServerContext) =>
        serveExpress(async (app) => {
          const { IAM, permissionRequired } = await import('iam-node-sdk/express')
          const iam = new IAM(app, sdkOptions(context))
          const where = resources(context)
          app.get('/protected', permissionRequired(PERMISSION, where), ok)
          app.get('/role', permissionRequired(PERMISSION, where), ok)
          app.get('/csrf', permissionRequired(PERMISSION, where, { csrfProtect: true }), ok)
          await iam.ready
        }),
    },
    oauth2: {
      label: 'express-oauth2-jwt-bearer',
      start: (context: ServerContext) =>
        serveExpress(async (app) => {
          const { auth, claimCheck } = await import('express-oauth2-jwt-bearer')
          app.get(
            '/protected',
            auth({
              issuer: context.issuer,
              audience: AUDIENCE,
              jwksUri: context.jwksUrl,
              tokenSigningAlg: 'RS256',
            }),
            claimCheck((payload) => grantsBenchPermission(payload, context.namespace)),
            ok,
          )
          // Its refusals are errors passed to next(): answer them (Express would log each).
          app.use((error: OAuthError, _req: Request, res: Response, _next: NextFunction) => {
            res
              .status(error.status ?? 500)
              .set(error.headers ?? {})
              .send(error.message)
          })
        }),
    },
    jose: {
      label: 'jose createRemoteJWKSet',
      start: (context: ServerContext) =>
        serveExpress(async (app) => {
          const { createRemoteJWKSet, jwtVerify } = await import('jose')
          const keys = createRemoteJWKSet(new URL(context.jwksUrl))
          const options = { issuer: context.issuer, audience: AUDIENCE, algorithms: ['RS256'] }
          const verifyToken = async (req: Request, res: Response, next: NextFunction) => {
            const header = req.headers.authorization
            if (header === undefined || !header.startsWith('Bearer ')) {
              res.status(401).send('no token')
              return
            }
            let payload: unknown
            try {
              payload = (await jwtVerify(header.slice(7), keys, options)).payload
            } catch {
              res.status(401).send('invalid token')
              return
            }
            if (!grantsBenchPermission(payload, context.namespace)) {
              res.status(403).send('forbidden')
              return
            }
            next()
          }
          app.get('/protected', verifyToken, ok)
        }),
    },
  },
}
