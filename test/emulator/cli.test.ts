// The iam-emulator CLI: starts, prints its URLs and curl lines, serves, stops on SIGTERM/SIGINT.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { basic, postForm } from './helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Spawns the CLI through tsx and resolves once it printed its "listening" line. */
function startCli(
  args: string[],
): Promise<{ child: ChildProcess; output: () => string; baseUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/emulator/cli.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`CLI did not start in time:\n${out}\n${err}`))
    }, 30_000)
    const check = (): void => {
      // Wait for the whole banner (it ends with the "Ctrl+C" line) or the quiet line.
      const m = /IAM emulator listening on (http:\/\/\S+\/iam)\n/.exec(out)
      if (m && (args.includes('--quiet') || /Ctrl\+C stops/.test(out))) {
        clearTimeout(timer)
        resolve({ child, output: () => out, baseUrl: m[1]! })
      }
    }
    child.stdout!.on('data', check)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`CLI exited with ${code}:\n${out}\n${err}`))
    })
  })
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

test('prints base URLs, the client, users and curl lines; serves; stops on SIGTERM', async () => {
  const { child, output, baseUrl } = await startCli(['--port', '0'])
  const text = output()
  assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/iam$/)
  assert.ok(text.includes(`Basic base URL   ${baseUrl.replace(/\/iam$/, '/basic')}`))
  assert.ok(text.includes('Client ID        sample-client'))
  assert.ok(text.includes('Client secret    sample-client-secret'))
  assert.ok(text.includes('sample-user / sample-password'))
  assert.ok(text.includes('other-user / other-password'))
  assert.ok(text.includes(`-d grant_type=client_credentials ${baseUrl}/v3/oauth/token`))
  assert.ok(
    text.includes(`-d grant_type=password -d username=sample-user -d password=sample-password`),
  )
  assert.ok(text.includes(`${baseUrl}/v3/oauth/jwks`))
  assert.ok(text.includes(`${baseUrl}/v3/oauth/revocationlist`))

  const res = await postForm(
    `${baseUrl}/v3/oauth/token`,
    { grant_type: 'client_credentials' },
    basic('sample-client', 'sample-client-secret'),
  )
  assert.equal(res.status, 200)

  const done = exited(child)
  child.kill('SIGTERM')
  assert.deepEqual(await done, { code: 0, signal: null })
  await assert.rejects(fetch(`${baseUrl}/v3/oauth/jwks`))
})

test('--quiet prints one line; --config loads a file; SIGINT stops', async () => {
  const { child, output, baseUrl } = await startCli([
    '--port',
    '0',
    '--quiet',
    '--config',
    'examples/emulator-config.json',
  ])
  assert.equal(output(), `IAM emulator listening on ${baseUrl}\n`)
  const res = await postForm(
    `${baseUrl}/v3/oauth/token`,
    { grant_type: 'client_credentials' },
    basic('shop-service', 'shop-service-secret'),
  )
  assert.equal(res.status, 200)
  const done = exited(child)
  child.kill('SIGINT')
  assert.equal((await done).code, 0)
})

test('a bad config or bad flags exit non-zero with a message', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/emulator/cli.ts', ...args], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let err = ''
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
      child.on('exit', (code) => resolve({ code, err }))
    })
  const missing = await run(['--config', 'does-not-exist.json', '--port', '0'])
  assert.equal(missing.code, 1)
  assert.match(missing.err, /cannot read --config/)
  const badPort = await run(['--port', 'abc'])
  assert.equal(badPort.code, 2)
  assert.match(badPort.err, /--port/)
  const unknown = await run(['--bogus'])
  assert.equal(unknown.code, 2)
})
