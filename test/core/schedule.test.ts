import assert from 'node:assert/strict'
import { beforeEach, describe, it } from 'node:test'

import {
  clearScheduleCache,
  effectiveAction,
  hasSchedule,
  isScheduled,
} from '../../src/core/schedule.js'
import type { PermissionLike } from '../../src/core/types.js'

const at = (iso: string): number => Date.parse(iso)
const PLAIN = 2
const SCHED = 8

function cron(schedCron: string): PermissionLike {
  return { Resource: 'R', Action: PLAIN, SchedAction: SCHED, SchedCron: schedCron }
}

function range(...schedRange: unknown[]): PermissionLike {
  return { Resource: 'R', Action: PLAIN, SchedAction: SCHED, SchedRange: schedRange as string[] }
}

beforeEach(() => clearScheduleCache())

describe('effectiveAction without a schedule', () => {
  const cases: [string, PermissionLike, number][] = [
    ['PascalCase', { Resource: 'R', Action: 7 }, 7],
    ['camelCase', { resource: 'R', action: 5 }, 5],
    ['no action', { Resource: 'R' } as PermissionLike, 0],
    ['empty SchedCron', { Resource: 'R', Action: 3, SchedAction: 8, SchedCron: '' }, 3],
    ['empty SchedRange', { Resource: 'R', Action: 3, SchedAction: 8, SchedRange: [] }, 3],
    // Go panics on a one-entry range; we treat it as not scheduled.
    ['one-entry SchedRange', { Resource: 'R', Action: 3, SchedAction: 8, SchedRange: ['x'] }, 3],
  ]
  for (const [name, p, expected] of cases) {
    it(`${name} -> plain action`, () => {
      assert.equal(effectiveAction(p, at('2024-01-01T00:00:59.900Z')), expected)
    })
  }

  it('hasSchedule tells which permissions need a clock', () => {
    assert.equal(hasSchedule({ Resource: 'R', Action: 1 }), false)
    assert.equal(hasSchedule(cron('* * * * *')), true)
    assert.equal(hasSchedule(range('a', 'b')), true)
    assert.equal(hasSchedule(range('a')), false)
  })
})

describe('recurring schedule (SchedCron)', () => {
  // [cron, now, scheduled]
  const cases: [string, string, boolean][] = [
    // next occurrence at most 1000 ms away -> active
    ['* * * * *', '2024-01-01T12:00:59.000Z', true],
    ['* * * * *', '2024-01-01T12:00:59.500Z', true],
    ['* * * * *', '2024-01-01T12:00:58.999Z', false],
    // exactly on an occurrence the next one is a minute away
    ['* * * * *', '2024-01-01T12:01:00.000Z', false],
    ['0 12 * * *', '2024-01-01T11:59:59.500Z', true],
    ['0 12 * * *', '2024-01-01T12:00:00.500Z', false],
    // six fields: seconds first
    ['*/10 * * * * *', '2024-01-01T12:00:09.200Z', true],
    ['*/10 * * * * *', '2024-01-01T12:00:05.000Z', false],
    // macros of gorhill/cronexpr
    ['@hourly', '2024-01-01T12:59:59.500Z', true],
    ['@hourly', '2024-01-01T12:30:00.000Z', false],
    ['@daily', '2024-01-01T23:59:59.500Z', true],
    // unparseable -> active (Go)
    ['not a cron', '2024-01-01T12:30:00.000Z', true],
    ['* * * *', '2024-01-01T12:30:00.000Z', true],
    // seven fields (cronexpr's year form) are not supported
    ['0 0 0 * * * 2024', '2024-01-01T12:30:00.000Z', true],
    ['61 * * * *', '2024-01-01T12:30:00.000Z', true],
    ['@weekdays', '2024-01-01T12:30:00.000Z', true],
    ['@reboot', '2024-01-01T12:30:00.000Z', true],
    // a date that never comes -> inactive (cronexpr parses it and finds no next time)
    ['0 0 30 2 *', '2024-02-29T23:59:59.500Z', false],
  ]
  for (const [expr, now, expected] of cases) {
    it(`${JSON.stringify(expr)} at ${now} -> ${expected ? 'active' : 'inactive'}`, () => {
      assert.equal(isScheduled(cron(expr), at(now)), expected)
      assert.equal(effectiveAction(cron(expr), at(now)), expected ? SCHED : PLAIN)
    })
  }

  it('evaluates in UTC', () => {
    // 12:00 UTC whatever the process time zone.
    assert.equal(isScheduled(cron('0 12 * * *'), at('2024-01-01T11:59:59.500Z')), true)
    assert.equal(isScheduled(cron('0 12 * * *'), at('2024-01-01T11:59:59.500-01:00')), false)
  })

  it('reads camelCase schedule fields, and SchedAction defaults to 0', () => {
    const p: PermissionLike = { resource: 'R', action: PLAIN, schedCron: '* * * * *' }
    assert.equal(effectiveAction(p, at('2024-01-01T12:00:59.500Z')), 0)
    assert.equal(effectiveAction(p, at('2024-01-01T12:00:30.000Z')), PLAIN)
  })

  it('gives the same answers from a warm cache, forwards and backwards in time', () => {
    const p = cron('*/15 * * * * *')
    const start = at('2024-01-01T12:00:00.000Z')
    const times: number[] = []
    for (let ms = 0; ms < 40_000; ms += 250) times.push(start + ms)
    times.push(start + 13_900, start + 100, start + 14_500, start - 600)
    const warm = times.map((t) => isScheduled(p, t))
    const cold = times.map((t) => {
      clearScheduleCache()
      return isScheduled(p, t)
    })
    assert.deepEqual(warm, cold)
    assert.ok(warm.includes(true) && warm.includes(false))
  })
})

describe('range schedule (SchedRange)', () => {
  const NEVER = '0 0 30 2 *'
  const cases: [string, PermissionLike, string, boolean][] = [
    ['start within a second, end ahead', range('0 12 * * *', '0 13 * * *'), '11:59:59.500', true],
    // Go semantics: past the start, the next start is a day away -> inactive
    ['between start and end', range('0 12 * * *', '0 13 * * *'), '12:30:00.000', false],
    ['start never again, end ahead', range(NEVER, '0 13 * * *'), '12:30:00.000', true],
    ['start and end never again', range(NEVER, NEVER), '12:30:00.000', false],
    ['start within a second, end never', range('0 12 * * *', NEVER), '11:59:59.500', false],
    ['unparseable start', range('bad', '0 13 * * *'), '12:30:00.000', true],
    ['unparseable end', range('0 12 * * *', 'bad'), '12:30:00.000', true],
    ['non-string entry', range(12, '0 13 * * *'), '12:30:00.000', true],
    ['extra entries are ignored', range(NEVER, '0 13 * * *', 'bad'), '12:30:00.000', true],
  ]
  for (const [name, p, time, expected] of cases) {
    it(`${name} -> ${expected ? 'active' : 'inactive'}`, () => {
      const now = at(`2024-01-01T${time}Z`)
      assert.equal(isScheduled(p, now), expected)
      assert.equal(effectiveAction(p, now), expected ? SCHED : PLAIN)
    })
  }

  it('is checked when the recurring schedule is inactive (Go falls through)', () => {
    const p: PermissionLike = {
      Resource: 'R',
      Action: PLAIN,
      SchedAction: SCHED,
      SchedCron: '0 0 1 1 *',
      SchedRange: [NEVER, '0 13 * * *'],
    }
    assert.equal(effectiveAction(p, at('2024-06-01T12:30:00.000Z')), SCHED)
  })
})
