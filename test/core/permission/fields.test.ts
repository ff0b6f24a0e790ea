/** The one reader of permission fields in either letter case, and its one rule. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import {
  permissionAction,
  permissionResource,
  permissionSchedAction,
  permissionSchedCron,
  permissionSchedRange,
  readWirePermission,
} from '../../../src/core/permission/fields.js'
import { effectiveAction } from '../../../src/core/schedule.js'
import { normalizeRequiredPermission } from '../../../src/core/permission.js'
import type { PermissionLike } from '../../../src/core/types.js'

const any = (o: Record<string, unknown>) => o as unknown as PermissionLike

describe('permission fields', () => {
  it('reads either casing', () => {
    const pascal = any({ Resource: 'R', Action: 2, SchedAction: 4, SchedCron: '* * * * *' })
    const camel = any({ resource: 'R', action: 2, schedAction: 4, schedRange: ['a', 'b'] })
    assert.equal(permissionResource(pascal), 'R')
    assert.equal(permissionResource(camel), 'R')
    assert.equal(permissionAction(pascal), 2)
    assert.equal(permissionAction(camel), 2)
    assert.equal(permissionSchedAction(pascal), 4)
    assert.equal(permissionSchedAction(camel), 4)
    assert.equal(permissionSchedCron(pascal), '* * * * *')
    assert.deepEqual(permissionSchedRange(camel), ['a', 'b'])
  })

  it('one rule: camelCase wins when both are present; undefined counts as absent', () => {
    const both = any({
      resource: 'camel',
      Resource: 'pascal',
      action: 1,
      Action: 8,
      schedAction: 2,
      SchedAction: 4,
    })
    assert.equal(permissionResource(both), 'camel')
    assert.equal(permissionAction(both), 1)
    assert.equal(permissionSchedAction(both), 2)
    assert.deepEqual(readWirePermission(both), { resource: 'camel', action: 1, schedAction: 2 })
    assert.deepEqual(normalizeRequiredPermission(both), { resource: 'camel', action: 1 })
    assert.equal(permissionResource(any({ resource: undefined, Resource: 'pascal' })), 'pascal')
  })

  it('fails closed on values of the wrong type (null included)', () => {
    const bad = any({ resource: null, Resource: 'pascal', action: '4', Action: 4, SchedCron: 7 })
    assert.equal(permissionResource(bad), undefined)
    assert.equal(permissionAction(bad), 0)
    assert.equal(permissionSchedCron(bad), undefined)
    assert.equal(permissionSchedAction(any({ SchedAction: '4' })), 0)
    assert.equal(permissionSchedCron(any({ SchedCron: '' })), undefined)
    assert.equal(permissionSchedRange(any({ SchedRange: 'a b' })), undefined)
    assert.equal(readWirePermission(bad), undefined)
    assert.throws(() => normalizeRequiredPermission(bad), { code: 'ERR_IAM_INVALID_PERMISSION' })
  })

  it('schedules read through the same rule', () => {
    // Active half a second before a full minute.
    const now = Date.parse('2024-01-01T12:00:59.500Z')
    const both = any({ resource: 'R', action: 2, schedCron: '* * * * *', SchedCron: '0 0 1 1 *' })
    assert.equal(effectiveAction({ ...both, schedAction: 8 } as PermissionLike, now), 8)
    assert.equal(effectiveAction(any({ Resource: 'R', Action: 2, SchedAction: '8' }), now), 2)
  })

  it('readWirePermission keeps usable schedule fields and freezes the result', () => {
    const p = readWirePermission({
      Resource: 'R',
      Action: 2,
      SchedAction: 0,
      SchedCron: '',
      SchedRange: ['a', 3, 'b'],
    })
    assert.deepEqual(p, { resource: 'R', action: 2, schedAction: 0, schedRange: ['a', 'b'] })
    assert.ok(Object.isFrozen(p))
    assert.equal(readWirePermission(null), undefined)
    assert.equal(readWirePermission('R'), undefined)
    assert.equal(readWirePermission({ resource: 'R' }), undefined)
  })
})
