/**
 * The README says what the code does: its client options table is the one generated from
 * `CLIENT_OPTIONS`, and its error table lists every code with the status and wire code it has.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'

import { IAM_ERROR_HTTP } from '../src/index.js'

const root = new URL('..', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')

describe('README', () => {
  test('the client options table is the one generated from CLIENT_OPTIONS', async () => {
    // Exits 1 when the table differs (the build ran before the tests).
    await promisify(execFile)(process.execPath, ['scripts/readme-options.js', '--check'], {
      cwd: root,
    })
  })

  test('the error table lists every code with its HTTP status and errorCode', () => {
    for (const [code, mapping] of Object.entries(IAM_ERROR_HTTP)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${code}\``))
      assert.ok(row, `${code} is missing from the README's error table`)
      const cells = row.split('|').map((cell) => cell.trim())
      assert.equal(cells[2], String(mapping.status), `${code}: HTTP status`)
      assert.equal(cells[3], String(mapping.errorCode), `${code}: errorCode`)
    }
  })
})
