import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'

import { decodeStrictBase64url } from '../../src/core/base64url.js'

/** The rule, spelled the slow way: the alphabet by regular expression, canonical by re-encoding. */
function oracle(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  return bytes.toString('base64url') === text ? bytes : undefined
}

function agrees(text: string): void {
  const got = decodeStrictBase64url(text)
  const want = oracle(text)
  assert.deepEqual(got, want, JSON.stringify(text))
}

describe('decodeStrictBase64url', () => {
  it('agrees with the slow rule on canonical encodings of any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64url')
        assert.deepEqual(decodeStrictBase64url(text), Buffer.from(bytes))
      }),
    )
  })

  it('agrees with the slow rule on any string (full Unicode, lone surrogates)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), agrees), { numRuns: 2000 })
  })

  it('agrees with the slow rule on mutations of a canonical text', () => {
    const mutation = fc.record({
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      at: fc.nat(),
      unit: fc.oneof(
        fc.constantFrom('+', '/', '=', '.', ' ', '\n', '\t', '\0', '\u00ff', '\u012b', '\u{1f600}'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }),
      ),
      replace: fc.boolean(),
    })
    fc.assert(
      fc.property(mutation, ({ bytes, at, unit, replace }) => {
        const text = Buffer.from(bytes).toString('base64url')
        const i = at % (text.length + 1)
        agrees(text.slice(0, i) + unit + text.slice(replace ? i + 1 : i))
      }),
      { numRuns: 3000 },
    )
  })

  it('refuses every character outside the alphabet, in every position of a part', () => {
    // Exhaustive over UTF-16 code units: Node's decoder reads a unit above 255 by its low byte,
    // so U+012B would otherwise pass as "+", and U+0141 as "A".
    const alphabet = /^[A-Za-z0-9_-]$/
    for (const base of ['QUJD', 'QUJDRA', 'QUJDREU']) {
      for (const i of [0, 2, base.length]) {
        for (let unit = 0; unit < 0x10000; unit++) {
          const c = String.fromCharCode(unit)
          if (alphabet.test(c)) continue
          const inserted = base.slice(0, i) + c + base.slice(i)
          const replaced = base.slice(0, i) + c + base.slice(i + 1)
          if (decodeStrictBase64url(inserted) !== undefined) assert.fail(`inserted U+${unit}`)
          if (decodeStrictBase64url(replaced) !== undefined) assert.fail(`replaced U+${unit}`)
        }
      }
    }
  })

  it('refuses the empty text, padding and non-zero unused bits; decodes the canonical one', () => {
    assert.equal(decodeStrictBase64url(''), undefined)
    assert.equal(decodeStrictBase64url('QQ=='), undefined)
    assert.equal(decodeStrictBase64url('QR'), undefined)
    assert.equal(decodeStrictBase64url('QUJDR'), undefined)
    assert.deepEqual(decodeStrictBase64url('QQ'), Buffer.from('A'))
  })
})
