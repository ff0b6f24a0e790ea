/**
 * The published shape of the package, checked on the tarball `npm pack` makes: publint and
 * are-the-types-wrong pass; installed into a new project it prints no warning about install
 * scripts, stays small, imports on every subpath, loads with `require()` and runs its bin.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>
}
const specifiers = Object.keys(pkg.exports)
  .filter((s) => s !== './package.json')
  .map((s) => (s === '.' ? 'iam-node-sdk' : `iam-node-sdk/${s.slice(2)}`))

/**
 * The optional peers a user installs beside the package to use a subpath that loads them at run
 * time (the others only need the package). Installed after the size check.
 */
const SUBPATH_PEERS = [
  'redis@^6',
  'hono@^4',
  '@nestjs/common@^11',
  '@nestjs/core@^11',
  '@grpc/grpc-js@^1.10',
]

/**
 * Installed size of the package with its runtime dependencies, in bytes of file content (disk use
 * is larger, by block rounding). Measured at 2.9 MB: the package 1.4 MB (0.8 MB of it source maps
 * and the src/ they point to), @opentelemetry/api 0.6 MB, lossless-json, jose, croner, cookie and
 * fastify-plugin the rest. With cron-parser, luxon alone added 4.6 MB.
 */
const MAX_INSTALLED_BYTES = 4_000_000

/** The environment of an npm child without what `npm test` passes down that would hide output. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of Object.keys(env)) {
    if (
      /^npm_(config_(ignore_scripts|allow_scripts|loglevel|silent|global)|lifecycle_|package_)/i.test(
        key,
      )
    ) {
      delete env[key]
    }
  }
  return env
}

/** Total size of the regular files under `dir`, per top-level entry (scopes opened). */
function sizes(dir: string): Map<string, number> {
  const total = (path: string): number => {
    const stat = lstatSync(path)
    if (stat.isDirectory()) {
      let sum = 0
      for (const name of readdirSync(path)) sum += total(join(path, name))
      return sum
    }
    return stat.isFile() ? stat.size : 0
  }
  const out = new Map<string, number>()
  for (const name of readdirSync(dir)) {
    if (name.startsWith('@')) {
      for (const inner of readdirSync(join(dir, name))) {
        out.set(`${name}/${inner}`, total(join(dir, name, inner)))
      }
    } else {
      out.set(name, total(join(dir, name)))
    }
  }
  return out
}

describe('package', () => {
  let work = ''
  let tarball = ''

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'iam-node-sdk-package-'))
    // `npm test` built dist/ already; packing without scripts keeps this file from rebuilding it
    // under the other test files.
    const { stdout } = await run(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      { cwd: root, env: npmEnv() },
    )
    const [packed] = JSON.parse(stdout) as { filename: string }[]
    assert.ok(packed, 'npm pack reported no tarball')
    tarball = join(work, packed.filename)
  })
  after(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true })
  })

  it('passes publint', async () => {
    const { stdout } = await run('npx', ['--no-install', 'publint', 'run', tarball, '--strict'], {
      cwd: root,
    })
    assert.match(stdout, /All good/)
  })

  it('passes are-the-types-wrong for ESM consumers', async () => {
    await run(
      'npx',
      ['--no-install', 'attw', tarball, '--profile', 'esm-only', '--format', 'table-flipped'],
      { cwd: root },
    )
  })

  for (const specifier of specifiers) {
    it(`resolves ${specifier} from the built output`, async () => {
      const mod = (await import(specifier)) as Record<string, unknown>
      assert.ok(Object.keys(mod).length > 0)
    })
  }

  it('has its bin say how to build when dist/ is missing (a fresh clone)', async () => {
    const clone = join(work, 'clone')
    mkdirSync(join(clone, 'bin'), { recursive: true })
    cpSync(join(root, 'bin', 'iam-emulator.js'), join(clone, 'bin', 'iam-emulator.js'))
    const result = await run(process.execPath, [join(clone, 'bin', 'iam-emulator.js')]).then(
      () => assert.fail('the bin exited 0 without dist/'),
      (err: { code?: number; stderr?: string }) => err,
    )
    assert.equal(result.code, 1)
    assert.match(result.stderr ?? '', /npm run build/)
    assert.equal((result.stderr ?? '').trim().split('\n').length, 1, 'one line, no stack trace')
  })

  describe('installed from the tarball into a new project', () => {
    let app = ''
    let installOutput = ''

    before(async () => {
      app = join(work, 'app')
      mkdirSync(app)
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
      )
      // The runtime dependencies come from npm's cache when it has them, else the registry.
      const { stdout, stderr } = await run(
        'npm',
        ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'],
        { cwd: app, env: npmEnv() },
      )
      installOutput = `${stdout}\n${stderr}`
    })

    it('runs no install script, and npm warns about none', () => {
      const installed = JSON.parse(
        readFileSync(join(app, 'node_modules', 'iam-node-sdk', 'package.json'), 'utf8'),
      ) as { scripts?: Record<string, string> }
      for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) {
        assert.equal(installed.scripts?.[script], undefined, `the package has a ${script} script`)
      }
      // npm 11 lists every dependency whose install scripts it skipped ("install-scripts",
      // allowScripts); none of ours has any.
      assert.doesNotMatch(installOutput, /install-scripts|allowScripts|allow-scripts|prepare/i)
    })

    it(`stays under ${MAX_INSTALLED_BYTES / 1e6} MB with its runtime dependencies`, () => {
      const perPackage = sizes(join(app, 'node_modules'))
      const total = [...perPackage.values()].reduce((a, b) => a + b, 0)
      const listing = [...perPackage]
        .sort((a, b) => b[1] - a[1])
        .map(([name, bytes]) => `${name} ${(bytes / 1e6).toFixed(2)} MB`)
        .join(', ')
      assert.ok(total < MAX_INSTALLED_BYTES, `${(total / 1e6).toFixed(2)} MB: ${listing}`)
      assert.ok(perPackage.has('iam-node-sdk'), listing)
    })

    it('imports the package and every subpath (with the optional peers a user installs)', async () => {
      await run(
        'npm',
        [
          'install',
          ...SUBPATH_PEERS,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
        ],
        { cwd: app, env: npmEnv() },
      )
      const script = `for (const s of ${JSON.stringify(specifiers)}) {
        const mod = await import(s)
        if (Object.keys(mod).length === 0) throw new Error(s + ' exports nothing')
      }`
      await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app })
    })

    it('loads with require() (require(esm), on by default from Node 20.19)', async () => {
      const script = `for (const s of ${JSON.stringify(specifiers)}) {
        const mod = require(s)
        if (Object.keys(mod).length === 0) throw new Error(s + ' exports nothing')
      }
      if (typeof require('iam-node-sdk').IamClient !== 'function') throw new Error('no IamClient')`
      const { stderr } = await run(process.execPath, ['-e', script], { cwd: app })
      // Node warns about require(esm) only for modules outside node_modules.
      assert.doesNotMatch(stderr, /Warning/)
    })

    it('runs the iam-emulator bin', async () => {
      const child = spawn(
        join(app, 'node_modules', '.bin', 'iam-emulator'),
        ['--port', '0', '--quiet'],
        {
          cwd: app,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      try {
        let out = ''
        child.stdout.setEncoding('utf8')
        const baseUrl = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: string) => {
            out += chunk
            const m = /IAM emulator listening on (http:\/\/\S+\/iam)\n/.exec(out)
            if (m) resolve(m[1]!)
          })
          child.once('exit', (code) =>
            reject(new Error(`iam-emulator exited with ${code}: ${out}`)),
          )
        })
        // The demo config's client, as the banner of the bin says.
        const res = await fetch(`${baseUrl}/v3/oauth/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('sample-client:sample-client-secret').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        })
        assert.equal(res.status, 200)
        assert.equal(
          typeof ((await res.json()) as { access_token?: unknown }).access_token,
          'string',
        )
      } finally {
        child.kill('SIGTERM')
      }
      assert.equal(await exited, 0)
    })
  })
})
