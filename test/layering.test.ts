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
  /^(express|express4|fastify|fastify-plugin|@fastify\/.*|hono|hono\/.*|next|next\/.*|koa|koa2|@koa\/.*|@nestjs\/.*|redis|@redis\/.*|ioredis|@grpc\/.*)$/

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

/** The HTTP framework adapters: each a translator over the kit (src/core/http/index.ts). */
const ADAPTERS = ['express', 'fastify', 'fetch', 'hono', 'koa', 'nestjs', 'grpc']
const MAX_ADAPTER_CODE_LINES = 200

/**
 * Lines that are neither blank, comments, nor import and re-export lists (a rough count, enough
 * for a size bound on what an adapter does).
 */
function codeLines(file: string): number {
  let inBlock = false
  let inImport = false
  let count = 0
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim()
    if (inBlock) {
      if (line.includes('*/')) inBlock = false
      continue
    }
    const listStart = /^(import|export)( type)? \{$/.test(line)
    if (inImport || listStart || /^(import|export)\b.*\bfrom\s+['"]/.test(line)) {
      inImport = !/\bfrom\s+['"]/.test(line)
      continue
    }
    if (line.startsWith('/*')) {
      inBlock = !line.includes('*/')
      continue
    }
    if (line === '' || line.startsWith('//')) continue
    count++
  }
  return count
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

  it('each HTTP adapter imports only the adapter kit of the package, and is small', () => {
    const kit = join(root, 'src/core/http/index.js')
    // The list of types and the error class every adapter re-exports, kept once beside the kit.
    const kitExports = join(root, 'src/core/http/adapter-exports.js')
    const offenders: string[] = []
    for (const adapter of ADAPTERS) {
      const dir = join(root, 'src', adapter)
      if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue
      let code = 0
      for (const file of sources(dir)) {
        for (const spec of importsOf(file)) {
          if (!spec.startsWith('.')) continue
          const target = join(file, '..', spec)
          if (target !== kit && target !== kitExports && !target.startsWith(dir)) {
            offenders.push(`${relative(root, file)} -> ${spec}`)
          }
        }
        code += codeLines(file)
      }
      // Logic past this size is leaking out of the kit (comments and blank lines not counted).
      if (code > MAX_ADAPTER_CODE_LINES) offenders.push(`src/${adapter}: ${code} lines of code`)
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
