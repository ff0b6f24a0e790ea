/**
 * The published shape of the package: publint and are-the-types-wrong pass on the packed
 * tarball, and every subpath of the exports map resolves from the built output.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, unknown>
}

describe('package', () => {
  it('passes publint', async () => {
    const { stdout } = await run('npx', ['--no-install', 'publint', '--strict'], { cwd: root })
    assert.match(stdout, /All good/)
  })

  it('passes are-the-types-wrong for ESM consumers', async () => {
    await run(
      'npx',
      ['--no-install', 'attw', '--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped'],
      {
        cwd: root,
      },
    )
  })

  for (const subpath of Object.keys(pkg.exports).filter((s) => s !== './package.json')) {
    it(`resolves ${subpath} from the built output`, async () => {
      const specifier = subpath === '.' ? 'iam-node-sdk' : `iam-node-sdk/${subpath.slice(2)}`
      const mod = (await import(specifier)) as Record<string, unknown>
      assert.ok(Object.keys(mod).length > 0)
    })
  }
})
