/**
 * Layers depend downward only: src/core imports no framework and nothing above it; the emulator
 * and testing entries use the public core API only; the CLI uses the public core API only, and
 * no framework, adapter or emulator. Checked on the import statements themselves.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'

const root = new URL('..', import.meta.url).pathname
const FRAMEWORKS =
  /^(express|express4|fastify|fastify-plugin|@fastify\/.*|hono|hono\/.*|next|next\/.*|koa|redis|@redis\/.*|ioredis)$/

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : []
  })
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] as string)
}

describe('layering', () => {
  it('src/core imports no framework and nothing outside src/core', () => {
    const offenders: string[] = []
    for (const file of sources(join(root, 'src/core'))) {
      for (const spec of importsOf(file)) {
        const escapes =
          spec.startsWith('.') && !join(file, '..', spec).startsWith(join(root, 'src/core'))
        if (FRAMEWORKS.test(spec) || escapes) offenders.push(`${relative(root, file)} -> ${spec}`)
      }
    }
    assert.deepEqual(offenders, [])
  })

  it('the emulator and testing entries import the SDK through its public entry only', () => {
    const offenders: string[] = []
    for (const dir of ['src/emulator', 'src/testing']) {
      for (const file of sources(join(root, dir))) {
        for (const spec of importsOf(file)) {
          if (spec.includes('/core/') || FRAMEWORKS.test(spec))
            offenders.push(`${relative(root, file)} -> ${spec}`)
        }
      }
    }
    assert.deepEqual(offenders, [])
  })

  it('the CLI imports the SDK through its public entry only, and nothing else of the package', () => {
    const offenders: string[] = []
    const files = sources(join(root, 'src/cli'))
    assert.ok(files.length > 0, 'src/cli has sources')
    for (const file of files) {
      for (const spec of importsOf(file)) {
        const target = join(file, '..', spec)
        const inside = target.startsWith(join(root, 'src/cli'))
        const publicEntry = target === join(root, 'src/index.js')
        const local = spec.startsWith('.')
        if (FRAMEWORKS.test(spec) || (local && !inside && !publicEntry))
          offenders.push(`${relative(root, file)} -> ${spec}`)
      }
    }
    assert.deepEqual(offenders, [])
  })

  it('the Redis store imports the core and the redis client only, nothing of the adapters', () => {
    const offenders: string[] = []
    for (const file of sources(join(root, 'src/redis'))) {
      for (const spec of importsOf(file)) {
        const inside = spec.startsWith('.') && join(file, '..', spec).startsWith(join(root, 'src/'))
        const allowed =
          spec === 'redis' ||
          spec.startsWith('node:') ||
          (inside && join(file, '..', spec).startsWith(join(root, 'src/core')))
        if (!allowed) offenders.push(`${relative(root, file)} -> ${spec}`)
      }
    }
    assert.deepEqual(offenders, [])
    assert.ok(importsOf(join(root, 'src/redis/index.ts')).includes('redis'))
  })

  it('the check itself sees imports (a check that cannot fail is a defect)', () => {
    assert.deepEqual(importsOf(join(root, 'src/core/client.ts')).includes('./errors.js'), true)
    assert.deepEqual(importsOf(join(root, 'src/cli/main.ts')).includes('./args.js'), true)
    assert.deepEqual(importsOf(join(root, 'src/cli/commands.ts')).includes('../index.js'), true)
  })
})
