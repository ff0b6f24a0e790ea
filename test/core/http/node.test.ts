import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import express from 'express'

import { setRequestContext } from '../../../src/core/http/index.js'

describe('setRequestContext', () => {
  it("on Express's per-request prototype: req.iam reads and writes as a property", () => {
    const app = express()
    const first = Object.create(app.request) as { iam?: unknown }
    const second = Object.create(app.request) as { iam?: unknown }
    setRequestContext(first, 'context-1', app.request)
    assert.equal(first.iam, 'context-1')
    assert.equal(second.iam, undefined, 'one request does not see another one’s context')
    setRequestContext(second, 'context-2', app.request)
    assert.equal(second.iam, 'context-2')
    first.iam = 'set by the app'
    assert.equal(first.iam, 'set by the app')
    assert.equal(Object.keys(first).includes('iam'), false)
  })

  it('keeps an own iam property set before, and a plain property elsewhere', () => {
    const app = express()
    const early = Object.create(app.request) as { iam?: unknown }
    early.iam = 'own'
    setRequestContext(Object.create(app.request), 'defines the accessor', app.request)
    setRequestContext(early, 'context', app.request)
    assert.equal(early.iam, 'context')
    assert.ok(Object.hasOwn(early, 'iam'))
    const plain: { iam?: unknown } = {}
    setRequestContext(plain, 'context')
    assert.ok(Object.hasOwn(plain, 'iam'))
    assert.equal(plain.iam, 'context')
    const other = Object.create(express().request) as { iam?: unknown }
    setRequestContext(other, 'context', app.request)
    assert.ok(Object.hasOwn(other, 'iam'), 'a prototype other than the one named: plain property')
    const unnamed = Object.create(express().request) as { iam?: unknown }
    setRequestContext(unnamed, 'context')
    assert.ok(Object.hasOwn(unnamed, 'iam'), 'no shared prototype named: plain property')
    const noProto = Object.create(null) as { iam?: unknown }
    setRequestContext(noProto, 'context', null)
    assert.equal(noProto.iam, 'context')
  })

  it('leaves an iam property the app defined on its request prototype alone', () => {
    const app = express()
    Object.defineProperty(app.request, 'iam', { value: 'app', writable: true, configurable: true })
    const req = Object.create(app.request) as { iam?: unknown }
    setRequestContext(req, 'context', app.request)
    assert.ok(Object.hasOwn(req, 'iam'))
    assert.equal(req.iam, 'context')
  })
})
