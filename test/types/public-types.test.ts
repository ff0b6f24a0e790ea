/**
 * Type tests: what users' code sees. Checked by the compiler (`npm test` type-checks first); at
 * run time the assertions are no-ops, so this file only proves it compiles as written.
 */
import { test } from 'node:test'

import { expectTypeOf } from 'expect-type'
import type { Request as ExpressRequest } from 'express'
import type { FastifyRequest } from 'fastify'
import { Hono } from 'hono'

import { IamError, isIamError } from '../../src/index.js'
import type { IamErrorCode, IamErrorDetails } from '../../src/core/errors.js'
import { permissionRequired, requireIam } from '../../src/express/index.js'
import type { IamRequestContext } from '../../src/express/index.js'
import { requireIam as requireFastifyIam } from '../../src/fastify/index.js'
import type { FetchIam, IamRequest, OptionalIamRequest } from '../../src/fetch/index.js'
import type { HonoIam } from '../../src/hono/index.js'
import type { TokenLocation } from '../../src/core/http/index.js'

test('public types (checked by the compiler)', () => {
  // Express: req.iam is the optional context; requireIam gives it without `!`.
  expectTypeOf<ExpressRequest['iam']>().toEqualTypeOf<IamRequestContext | undefined>()
  expectTypeOf(requireIam).returns.toEqualTypeOf<IamRequestContext>()
  expectTypeOf(permissionRequired).parameter(2).exclude<undefined>().toHaveProperty('optional')

  // Fastify: request.iam likewise.
  expectTypeOf<FastifyRequest['iam']>().toEqualTypeOf<IamRequestContext | undefined>()
  expectTypeOf(requireFastifyIam).returns.toEqualTypeOf<IamRequestContext>()

  // One vocabulary for where a token was found.
  expectTypeOf<IamRequestContext['tokenLocation']>().toEqualTypeOf<TokenLocation>()
  expectTypeOf<TokenLocation>().toEqualTypeOf<'header' | 'cookie'>()

  // fetch: protect's handler sees request.iam; with { optional: true } it may be absent.
  type Protect = FetchIam['protect']
  const protect = null as unknown as Protect
  if (protect !== null) {
    protect((request) => {
      expectTypeOf(request).toEqualTypeOf<IamRequest>()
      expectTypeOf(request.iam).toEqualTypeOf<IamRequestContext>()
      return new Response()
    })
    protect(
      (request) => {
        expectTypeOf(request).toEqualTypeOf<OptionalIamRequest>()
        expectTypeOf(request.iam).toEqualTypeOf<IamRequestContext | undefined>()
        return new Response()
      },
      undefined,
      undefined,
      { optional: true },
    )
    // A check resolves to the context or a Response; optional adds undefined.
    type Check = ReturnType<FetchIam['permissionRequired']>
    expectTypeOf<Awaited<ReturnType<Check>>>().toEqualTypeOf<IamRequestContext | Response>()
  }

  // Hono: c.var.iam is typed after permissionRequired.
  const iam = null as unknown as HonoIam
  if (iam !== null) {
    new Hono().get('/x', iam.permissionRequired(), (c) => {
      expectTypeOf(c.var.iam).toEqualTypeOf<IamRequestContext>()
      return c.text('x')
    })
    new Hono().get('/y', iam.permissionRequired(undefined, undefined, { optional: true }), (c) => {
      expectTypeOf(c.var.iam).toEqualTypeOf<IamRequestContext | undefined>()
      return c.text('y')
    })
  }

  // isIamError narrows to the codes given, and types their details.
  const err: unknown = new IamError('ERR_IAM_TOKEN_KEY_UNKNOWN', 'x', { details: { kid: 'k' } })
  if (isIamError(err, 'ERR_IAM_TOKEN_KEY_UNKNOWN', 'ERR_IAM_TOKEN_EXPIRED')) {
    expectTypeOf(err.code).toEqualTypeOf<'ERR_IAM_TOKEN_KEY_UNKNOWN' | 'ERR_IAM_TOKEN_EXPIRED'>()
  }
  if (isIamError(err, 'ERR_IAM_TOKEN_KEY_UNKNOWN')) {
    expectTypeOf(err.details).toEqualTypeOf<{ readonly kid: string } | undefined>()
  }
  if (isIamError(err)) expectTypeOf(err.code).toEqualTypeOf<IamErrorCode>()
  expectTypeOf<IamErrorDetails<'ERR_IAM_INSUFFICIENT_SCOPE'>>().toHaveProperty('missing')
})
