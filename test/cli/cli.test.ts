/**
 * The `iam-node-sdk` CLI as a user runs it: `node dist/cli/index.js …` in a child process, against
 * the emulator, for every command, every exit code (0 allowed/valid, 1 refused/invalid, 2 usage,
 * 3 IAM unreachable), `--json` (parsed) and a token on stdin (`-`).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'

import { Action, DEFAULT_USER_ROLE_ID } from '../../src/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import { emulator } from '../support/iam.js'

const CLI = new URL('../../dist/cli/index.js', import.meta.url).pathname
const NS = 'sample-namespace'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI with only the environment given (no IAM_* leaks in from the test runner). */
function cli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.stdin ?? '')
  })
}

/** Parsed `--json` output; tests assert its shape, so it is left untyped on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any

function json(run: Run): Json {
  try {
    return JSON.parse(run.stdout) as Json
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`)
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The token with its last character's lowest unused bit set: same bytes, another spelling. */
function respellLastCharacter(token: string): string {
  const last = ALPHABET.indexOf(token.at(-1) as string)
  return token.slice(0, -1) + (ALPHABET[last ^ 1] as string)
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('iam-node-sdk CLI (child process, against the emulator)', { concurrency: 2 }, () => {
  let iam: Emulator
  let flags: string[]
  let env: Record<string, string>
  let down: string[]

  before(async () => {
    iam = await emulator()
    flags = [
      '--base-url',
      iam.baseUrl,
      '--client-id',
      iam.clientId,
      '--client-secret',
      iam.clientSecret,
    ]
    env = {
      IAM_BASE_URL: iam.baseUrl,
      IAM_CLIENT_ID: iam.clientId,
      IAM_CLIENT_SECRET: iam.clientSecret,
    }
    const port = await closedPort()
    down = ['--base-url', `http://127.0.0.1:${port}/iam`, '--timeout', '1000']
  })
  after(() => iam.close())

  describe('decode', () => {
    it('shows header and claims, spells out times, flags and bans, and says nothing was verified', async () => {
      const token = await iam.issueUserToken({
        sub: 'u-decode',
        jflgs: 5,
        expiresIn: 3240,
        permissions: [
          { Resource: `NAMESPACE:${NS}:USER:u-decode`, Action: Action.Read | Action.Update },
        ],
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: NS }],
        bans: [{ Ban: 'CHAT', Enabled: true, EndDate: '2999-01-01T00:00:00Z' }],
      })
      const run = await cli(['decode', token])
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /NOTHING WAS VERIFIED/)
      assert.match(run.stdout, /sub +u-decode/)
      assert.match(run.stdout, /exp +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(expires in 5[34] min\)/)
      assert.match(
        run.stdout,
        /jflgs +5 \(email verified: yes, phone verified: no, anonymous: yes\)/,
      )
      assert.match(
        run.stdout,
        /#0 NAMESPACE:sample-namespace:USER:u-decode {2}action 6 \(READ\|UPDATE\)/,
      )
      assert.match(run.stdout, /default user role/)
      assert.match(run.stdout, /CHAT, enabled, ends 2999-01-01 00:00:00 UTC/)
    })

    it('--json: the header, the payload and the times, verified false; a token from stdin', async () => {
      const token = await iam.issueUserToken({ sub: 'u-json', jflgs: 2 })
      const run = await cli(['decode', '-', '--json'], { stdin: `Bearer ${token}\n` })
      assert.equal(run.code, 0, run.stderr)
      const out = json(run)
      assert.equal(out.verified, false)
      assert.equal(out.header.kid, iam.currentKid)
      assert.equal(out.payload.sub, 'u-json')
      assert.equal(out.times.expired, false)
      assert.match(out.times.expiresAt.relative, /^in /)
      assert.deepEqual(out.flags, {
        emailVerified: false,
        phoneVerified: true,
        anonymous: false,
        otherBits: 0,
      })
      assert.deepEqual(out.problems, [])
    })

    it('lists what makes a token malformed, and exits 1 for what is not a token', async () => {
      const token = await iam.signToken({ sub: 'no-exp' })
      const malformed = json(await cli(['decode', token, '--json']))
      assert.ok(malformed.problems.some((p: string) => p.includes('exp')))
      const garbage = await cli(['decode', 'not-a-token', '--json'])
      assert.equal(garbage.code, 1)
      assert.equal(json(garbage).error.code, 'NOT_A_JWT')
      assert.equal((await cli(['decode', 'a.b'])).code, 1)
    })

    it('lists a part spelled non-canonically, which the SDK refuses as malformed', async () => {
      const token = await iam.issueUserToken({})
      assert.deepEqual(json(await cli(['decode', token, '--json'])).problems, [])
      const respelled = json(await cli(['decode', respellLastCharacter(token), '--json']))
      assert.equal(respelled.problems.length, 1)
    })
  })

  describe('verify', () => {
    it('accepts a valid token (exit 0), configured by flags or by IAM_* variables', async () => {
      const token = await iam.issueUserToken({ sub: 'u-valid' })
      const byFlags = await cli(['verify', token, ...flags])
      assert.equal(byFlags.code, 0, byFlags.stderr)
      assert.match(byFlags.stdout, /^VALID /)
      const byEnv = await cli(['verify', '-', '--json'], { env, stdin: token })
      assert.equal(byEnv.code, 0, byEnv.stderr)
      const out = json(byEnv)
      assert.equal(out.valid, true)
      assert.equal(out.keyId, iam.currentKid)
      assert.equal(out.claims.sub, 'u-valid')
    })

    const refusals: [string, (iam: Emulator) => Promise<string>, string][] = [
      [
        'expired',
        (e) => e.issueUserToken({ exp: Math.floor(Date.now() / 1000) - 3600 }),
        'ERR_IAM_TOKEN_EXPIRED',
      ],
      [
        'revoked',
        async (e) => {
          const token = await e.issueUserToken({})
          await e.revokeToken(token)
          return token
        },
        'ERR_IAM_TOKEN_REVOKED',
      ],
      [
        'of a revoked user',
        async (e) => {
          const token = await e.issueUserToken({
            sub: 'u-revoked',
            iat: Math.floor(Date.now() / 1000) - 5,
          })
          await e.revokeUser('u-revoked')
          return token
        },
        'ERR_IAM_USER_REVOKED',
      ],
      [
        'signed by an unknown key',
        (e) =>
          e.signToken(
            { sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 },
            { kid: 'unknown-kid' },
          ),
        'ERR_IAM_TOKEN_KEY_UNKNOWN',
      ],
      [
        // The same signature bytes under another spelling: the lenient decoder reads it alike.
        'whose signature is spelled non-canonically',
        async (e) => respellLastCharacter(await e.issueUserToken({})),
        'ERR_IAM_TOKEN_MALFORMED',
      ],
    ]
    for (const [name, make, code] of refusals) {
      it(`refuses a token ${name} (exit 1) with the code and why`, async () => {
        const token = await make(iam)
        const text = await cli(['verify', token], { env })
        assert.equal(text.code, 1, text.stderr)
        assert.match(text.stdout, new RegExp(`^INVALID ${code}: `))
        assert.match(text.stdout, /HTTP 401, errorCode 20001/)
        const out = json(await cli(['verify', token, '--json'], { env }))
        assert.equal(out.valid, false)
        assert.equal(out.error.code, code)
        assert.equal(out.error.status, 401)
        assert.ok(out.details.length > 0)
      })
    }

    it('exits 3 when the IAM is unreachable, and when it rejects the credentials', async () => {
      const token = await iam.issueUserToken({})
      const unreachable = await cli(['verify', token, ...flags, ...down])
      assert.equal(unreachable.code, 3)
      assert.match(unreachable.stderr, /^iam-node-sdk: cannot reach the IAM at /)
      assert.equal(unreachable.stderr.trim().split('\n').length, 1)
      const wrong = await cli(['verify', token, '--json', '--client-secret', 'wrong'], { env })
      assert.equal(wrong.code, 3)
      assert.equal(json(wrong).error.code, 'ERR_IAM_CLIENT_UNAUTHORIZED')
    })
  })

  describe('check', () => {
    it('allows a token permission (exit 0) and shows the grant and every step', async () => {
      const token = await iam.issueUserToken({
        sub: 'u-check',
        permissions: [
          { Resource: `NAMESPACE:${NS}:ITEM`, Action: Action.Update },
          { Resource: `NAMESPACE:${NS}:USER:u-check`, Action: Action.Update },
        ],
      })
      const run = await cli(
        ['check', token, '--permission', 'NAMESPACE:{namespace}:USER:{userId}:UPDATE'].concat(
          ['--resource', `{namespace}=${NS}`, '-r', 'userId=u-check'],
          flags,
        ),
      )
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^Token: user u-check /)
      assert.match(
        run.stdout,
        /\nALLOWED "NAMESPACE:sample-namespace:USER:u-check" action 4 \(UPDATE\)\n/,
      )
      assert.match(run.stdout, /granted by token permission #1/)
      assert.match(
        run.stdout,
        / {2}2\. token permission #0 .*section 2: granted "ITEM" does not match required "USER".*=> no match/,
      )
      assert.match(run.stdout, / {2}3\. token permission #1 .*=> ALLOWED/)
    })

    it('refuses (exit 1), says which grant was missing, and --json carries the decision', async () => {
      const roleId = await iam.createRole({
        permissions: [
          { resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: Action.Read },
        ],
      })
      const token = await iam.issueUserToken({
        sub: 'u-refused',
        namespace_roles: [{ roleId, namespace: NS }],
      })
      const permission = ['-p', `NAMESPACE:${NS}:USER:u-refused:ORDER`, '--action', 'CREATE|READ']
      const text = await cli(['check', token, ...permission], { env })
      assert.equal(text.code, 1, text.stderr)
      assert.match(
        text.stdout,
        /REFUSED "NAMESPACE:sample-namespace:USER:u-refused:ORDER" action 3 \(CREATE\|READ\)/,
      )
      assert.match(
        text.stdout,
        new RegExp(
          `namespace role ${roleId} in "sample-namespace": 1 permission\\(s\\) from the role endpoint`,
        ),
      )
      assert.match(text.stdout, /action lacks 1 \(CREATE\) => no match/)
      assert.match(text.stdout, /\nMissing: the one grant looked at does not cover it\./)
      assert.match(
        text.stdout,
        /Nearest: step 3 covers the resource but its action lacks 1 \(CREATE\)/,
      )

      const out = json(await cli(['check', token, ...permission, '--json'], { env }))
      assert.equal(out.allowed, false)
      assert.deepEqual(out.required, {
        resource: `NAMESPACE:${NS}:USER:u-refused:ORDER`,
        action: 3,
        resources: {},
      })
      assert.deepEqual(
        out.decision.steps.map((s: { kind: string }) => s.kind),
        ['required', 'role', 'grant'],
      )
      assert.equal(out.decision.steps[2].missingActionBits, Action.Create)
      assert.ok(out.explanation.includes('Missing: the one grant looked at does not cover it.'))
    })

    it('names the role override a grant came from, and reads the token from stdin', async () => {
      await iam.createRole({ roleId: DEFAULT_USER_ROLE_ID, permissions: [] })
      await iam.setRoleOverride(NS, DEFAULT_USER_ROLE_ID, [
        { resource: 'NAMESPACE:{namespace}:USER:{userId}:PROFILE', action: Action.Read },
      ])
      const token = await iam.issueUserToken({
        sub: 'u-override',
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: NS }],
      })
      const run = await cli(
        ['check', '-', '-p', `NAMESPACE:${NS}:USER:u-override:PROFILE:2`, '--json'],
        {
          env,
          stdin: token,
        },
      )
      assert.equal(run.code, 0, run.stderr)
      const out = json(run)
      assert.equal(out.decision.grant.source, 'namespace_role')
      assert.equal(out.decision.steps.at(-1).roleOverrideNamespace, NS)
      assert.match(
        out.explanation[1],
        /granted by namespace role .* \(role override in "sample-namespace"\)/,
      )
    })

    it('refuses an invalid token before any permission (exit 1)', async () => {
      const token = await iam.issueUserToken({ exp: Math.floor(Date.now() / 1000) - 3600 })
      const run = await cli(['check', token, '-p', 'X:2', '--json'], { env })
      assert.equal(run.code, 1)
      const out = json(run)
      assert.equal(out.allowed, false)
      assert.equal(out.token.valid, false)
      assert.equal(out.token.error.code, 'ERR_IAM_TOKEN_EXPIRED')
      assert.equal(out.decision, undefined)
    })

    it('usage errors exit 2: no permission, no action, an unknown action name', async () => {
      const token = await iam.issueUserToken({})
      for (const args of [
        ['check', token],
        ['check', token, '-p', 'NAMESPACE'],
        ['check', token, '-p', 'NAMESPACE:ns:USER:u1'],
        ['check', token, '-p', 'NAMESPACE', '--action', 'READ|WRITE'],
        ['check', token, '-p', 'X:2', '-r', 'novalue'],
        ['check', '-p', 'X:2'],
      ]) {
        const run = await cli(args, { env })
        assert.equal(run.code, 2, args.join(' '))
        assert.match(run.stderr, /^iam-node-sdk: /)
      }
    })
  })

  describe('revocation-list', () => {
    it('shows the filter and the revoked users (exit 0)', async () => {
      await iam.revokeUser('u-listed')
      const text = await cli(['revocation-list'], { env })
      assert.equal(text.code, 0, text.stderr)
      assert.match(text.stdout, /a bloom filter of \d+ bits, \d+ hash functions/)
      assert.match(text.stdout, /false-positive rate (0|\d\.\d\de[-+]\d+) /)
      assert.match(text.stdout, /\n {4}u-listed {2}revoked \d{4}-/)
      const out = json(await cli(['revocation-list', '--json'], { env }))
      assert.ok(out.revokedTokens.bits > 0)
      assert.equal(typeof out.revokedTokens.falsePositiveRate, 'number')
      assert.ok(out.revokedUsers.some((u: { userId: string }) => u.userId === 'u-listed'))
      assert.equal(out.revoked, undefined)
    })

    it('--token and --user test membership: exit 1 when revoked, 0 when not', async () => {
      const revoked = await iam.issueUserToken({ sub: 'u-token-revoked' })
      await iam.revokeToken(revoked)
      const kept = await iam.issueUserToken({ sub: 'u-token-kept' })
      await iam.revokeUser('u-user-revoked')

      const hit = await cli(['revocation-list', '--token', '-', '--json'], { env, stdin: revoked })
      assert.equal(hit.code, 1)
      assert.deepEqual(json(hit).token, {
        inFilter: true,
        userId: 'u-token-revoked',
        userRevoked: false,
        revoked: true,
      })
      const miss = await cli(['revocation-list', '--token', kept, '--user', 'nobody'], { env })
      assert.equal(miss.code, 0, miss.stderr)
      assert.match(miss.stdout, /Token: not in the filter/)
      assert.match(miss.stdout, /User nobody: not revoked/)
      const user = await cli(['revocation-list', '--user', 'u-user-revoked', '--json'], { env })
      assert.equal(user.code, 1)
      assert.equal(json(user).users[0].revoked, true)
    })
  })

  describe('jwks', () => {
    it('lists the keys with their ids, algorithms and sizes (exit 0)', async () => {
      const text = await cli(['jwks'], { env })
      assert.equal(text.code, 0, text.stderr)
      assert.match(
        text.stdout,
        new RegExp(`${iam.currentKid} {2}RSA 2048 bits, e=65537, alg RS256, use sig`),
      )
      const out = json(await cli(['jwks', '--json', ...flags]))
      assert.ok(out.keys.some((k: { kid: string }) => k.kid === iam.currentKid))
      assert.deepEqual(out.algorithms, ['RS256'])
    })
  })

  describe('exit codes and usage', () => {
    it('exits 3 with a one-line cause for every IAM command when the IAM is unreachable', async () => {
      const token = await iam.issueUserToken({})
      for (const args of [
        ['verify', token],
        ['check', token, '-p', 'X:2'],
        ['revocation-list'],
        ['jwks'],
      ]) {
        const run = await cli([...args, ...flags, ...down])
        assert.equal(run.code, 3, args[0])
        assert.match(
          run.stderr,
          /^iam-node-sdk: cannot reach the IAM at http:\/\/127\.0\.0\.1:\d+\/iam: .+\n$/,
        )
        const out = json(await cli([...args, ...flags, ...down, '--json']))
        assert.equal(out.error.code, 'ERR_IAM_UNAVAILABLE')
        assert.equal(out.exitCode, 3)
      }
    })

    it('exits 3 when the client may not read the roles a decision needs', async () => {
      const roleId = await iam.createRole({ permissions: [{ resource: 'X', action: 2 }] })
      const token = await iam.issueUserToken({ roles: [roleId] })
      const weak = await iam.createClient({ namespace: NS, permissions: [] })
      const run = await cli(
        ['check', token, '-p', 'X:2', '--json'].concat(
          ['--base-url', iam.baseUrl, '--client-id', weak.clientId],
          ['--client-secret', weak.clientSecret],
        ),
      )
      assert.equal(run.code, 3, run.stdout)
      assert.equal(json(run).error.code, 'ERR_IAM_CLIENT_FORBIDDEN')
      assert.match(json(run).error.message, /ADMIN:ROLE/)
    })

    it('usage errors exit 2, as JSON with --json; --help exits 0', async () => {
      for (const args of [
        [],
        ['frobnicate'],
        ['jwks', '--no-such-flag'],
        ['jwks', 'extra-argument'],
        ['decode', 'x.y.z', '--base-url', 'http://127.0.0.1/iam'],
        ['verify', 'x.y.z'], // no IAM configured
        ['verify', 'x.y.z', '--base-url', 'not a url', '--client-id', 'c', '--client-secret', 's'],
        ['jwks', '--timeout', 'soon'],
      ]) {
        const run = await cli(args)
        assert.equal(run.code, 2, args.join(' '))
      }
      const usage = await cli(['verify', 'x.y.z', '--json'])
      assert.equal(usage.code, 2)
      assert.equal(json(usage).error.code, 'USAGE')
      assert.match(json(usage).error.message, /--base-url \(or IAM_BASE_URL\)/)
      const help = await cli(['--help'])
      assert.equal(help.code, 0)
      assert.match(help.stdout, /^Usage: iam-node-sdk <command>/)
      assert.match(help.stdout, /Exit codes: 0 /)
    })
  })
})
