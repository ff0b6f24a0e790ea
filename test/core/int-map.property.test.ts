import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'

import { IntMap } from '../../src/core/int-map.js'

describe('IntMap', () => {
  it('behaves as a Map for any sequence of sets, deletes and gets (keys that collide too)', () => {
    // Small keys collide in the low bits: long probe runs, wrap-around and backward shifts.
    const key = fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 2 ** 31 - 1 }), fc.constant(64))
    const op = fc.oneof(
      {
        arbitrary: fc.tuple(fc.constant('set' as const), key, fc.nat({ max: 2 ** 31 - 1 })),
        weight: 10,
      },
      { arbitrary: fc.tuple(fc.constant('delete' as const), key, fc.constant(0)), weight: 6 },
      {
        arbitrary: fc.tuple(fc.constant('clear' as const), fc.constant(0), fc.constant(0)),
        weight: 1,
      },
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const map = new IntMap()
        const model = new Map<number, number>()
        for (const [name, k, v] of ops) {
          if (name === 'set') {
            map.set(k, v)
            model.set(k, v)
          } else if (name === 'delete') {
            assert.equal(map.delete(k), model.delete(k))
          } else {
            map.clear()
            model.clear()
          }
          assert.equal(map.size, model.size)
        }
        for (let k = 0; k <= 300; k++) assert.equal(map.get(k), model.get(k) ?? -1)
        for (const [k, v] of model) assert.equal(map.get(k), v)
      }),
      { numRuns: 400 },
    )
  })
})
