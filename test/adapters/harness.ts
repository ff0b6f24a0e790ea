/**
 * Runs the case table (`cases.ts`) against any adapter: sets up the scenario in the emulator
 * (clients with and without redirect URIs, roles, a role override, revoked tokens...), builds
 * each profile's app with the adapter's `BuildApp` on an ephemeral port, sends each row's
 * request over real HTTP and checks the answer.
 *
 * @example
 * ```ts
 * runCaseTable('Express 5', (spec) => buildExpressApp(express, spec))
 * ```
 */
import assert from 'node:assert/strict'
import { request as httpRequest, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'

import { DEFAULT_USER_ROLE_ID } from '../../src/core/permission.js'
import type { IamRequestContext } from '../../src/core/http/request.js'
import { startEmulator } from '../../src/emulator/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import { CASES, PROFILES } from './cases.js'
import type {
  CaseRequest,
  CaseRow,
  ProfileName,
  ResourcesSpec,
  RouteSpec,
  TokenName,
} from './cases.js'

/** Redirect URIs of the scenario's web client (CSRF rows are written against these). */
export const WEB_REDIRECT_URIS = ['https://app.example.com/app', 'https://example.com']
export const WEB_CLIENT_ID = 'web-app'
export const NO_REDIRECT_CLIENT_ID = 'no-redirect-app'
export const NAMESPACE = 'sample-namespace'

/** What an adapter builds for a profile. */
export interface AppSpec {
  /** Options for the integration: IAM URL, credentials, a silent logger, the profile's options. */
  readonly options: Readonly<Record<string, unknown>>
  readonly routes: readonly RouteSpec[]
}

/** An app listening on an ephemeral port. */
export interface BuiltApp {
  /** Origin, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  /** The integration's readiness promise. */
  readonly ready: Promise<void>
  /** Closes the IAM integration only (the server keeps answering). */
  closeIntegration(): Promise<void>
  close(): Promise<void>
}

/** An adapter's "build an app on port 0" function. */
export type BuildApp = (spec: AppSpec) => Promise<BuiltApp>

/** A logger that keeps quiet (expected failures would otherwise clutter test output). */
export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** The JSON body of every route handler, from the validated context (or none). */
export function handlerBody(context: IamRequestContext | undefined): Record<string, unknown> {
  return {
    ok: true,
    sub: context?.claims.sub ?? null,
    namespace: context?.claims.namespace ?? null,
    tokenLocation: context?.tokenLocation ?? null,
  }
}

/**
 * A route's options for any adapter's `permissionRequired`: `csrfProtect`, `optional`, `scopes`,
 * and `check` (from `checkSubIs`).
 */
export function routeOptions(guard: NonNullable<RouteSpec['guard']>): {
  csrfProtect?: boolean
  optional?: boolean
  scopes?: readonly string[]
  check?: (claims: { sub?: string }) => boolean
} {
  const subIs = guard.checkSubIs
  return {
    ...(guard.csrfProtect === undefined ? {} : { csrfProtect: guard.csrfProtect }),
    ...(guard.optional === undefined ? {} : { optional: guard.optional }),
    ...(guard.scopes === undefined ? {} : { scopes: guard.scopes }),
    ...(subIs === undefined ? {} : { check: (claims: { sub?: string }) => claims.sub === subIs }),
  }
}

/**
 * A route's resources for the adapter: the object as is, or a function reading request headers.
 */
export function routeResources<Req>(
  spec: ResourcesSpec | undefined,
  header: (req: Req, name: string) => string | undefined,
):
  | Readonly<Record<string, string>>
  | ((req: Req) => Record<string, string | undefined>)
  | undefined {
  if (spec === undefined || !('fromHeaders' in spec))
    return spec as Readonly<Record<string, string>> | undefined
  const map = (spec as { fromHeaders: Record<string, string> }).fromHeaders
  return (req) =>
    Object.fromEntries(
      Object.entries(map).map(([placeholder, name]) => [placeholder, header(req, name)]),
    )
}

/** The emulator, its clients and the named tokens. */
export interface Scenario {
  readonly emulator: Emulator
  readonly tokens: Readonly<Record<TokenName, string>>
  /** An IAM base URL where nothing listens. */
  readonly deadBaseUrl: string
  /** The options of an app of `profile` (without its routes). */
  appOptions(profile: ProfileName): Record<string, unknown>
  close(): Promise<void>
}

async function closedPortUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/iam`
}

function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
}

/** Starts the emulator (demo config) and shapes it for the case table. */
export async function setupScenario(): Promise<Scenario> {
  const emulator = await startEmulator({ port: 0 })
  await emulator.createClient({
    clientId: WEB_CLIENT_ID,
    clientSecret: '',
    namespace: NAMESPACE,
    redirectUri: WEB_REDIRECT_URIS,
  })
  await emulator.createClient({
    clientId: NO_REDIRECT_CLIENT_ID,
    clientSecret: '',
    namespace: NAMESPACE,
  })
  await emulator.createNamespace({ namespace: 'excluded-namespace', type: 'Game' })
  await emulator.createNamespace({ namespace: 'sample-studio', type: 'Studio' })
  await emulator.createNamespace({
    namespace: 'studiogame',
    type: 'Game',
    studioNamespace: 'sample-studio',
  })
  const nsRole = await emulator.createRole({
    roleId: 'namespace-user-admin',
    permissions: [{ resource: 'NAMESPACE:{namespace}:USER:*', action: 4 }],
  })
  const globalRole = await emulator.createRole({
    roleId: 'global-user-admin',
    permissions: [{ resource: 'NAMESPACE:{namespace}:USER:*', action: 7 }],
  })
  await emulator.createRole({ roleId: DEFAULT_USER_ROLE_ID, permissions: [] })
  await emulator.setRoleOverride(NAMESPACE, DEFAULT_USER_ROLE_ID, [
    { resource: 'NAMESPACE:{namespace}:USER:*', action: 4 },
  ])

  const base = { namespace: NAMESPACE, client_id: WEB_CLIENT_ID }
  const direct = [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }]
  const now = Math.floor(Date.now() / 1000)
  const allowed = await emulator.issueUserToken({
    ...base,
    sub: 'sample-userid',
    permissions: direct,
  })
  const payload = decodePayload(allowed)
  const [h, p, s] = allowed.split('.') as [string, string, string]
  const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11)
  // The last character of a 256-byte signature carries 2 bits: its index ^ 1 decodes the same.
  const reencode = (token: string) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = token.at(-1) as string
    return token.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] as string)
  }
  const revoked = await emulator.issueUserToken({
    ...base,
    sub: 'sample-userid',
    permissions: direct,
  })
  await emulator.revokeToken(revoked)
  const revokedUser = await emulator.issueUserToken({
    ...base,
    sub: 'revoked-userid',
    permissions: direct,
  })
  await emulator.revokeUser('revoked-userid')

  const tokens: Record<TokenName, string> = {
    allowed,
    denied: await emulator.issueUserToken({ ...base, sub: 'other-userid' }),
    roleNamespace: await emulator.issueUserToken({
      ...base,
      sub: 'role-user-1',
      namespace_roles: [{ roleId: nsRole, namespace: NAMESPACE }],
    }),
    roleGlobal: await emulator.issueUserToken({ ...base, sub: 'role-user-2', roles: [globalRole] }),
    roleOverride: await emulator.issueUserToken({
      ...base,
      sub: 'role-user-3',
      namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: '*' }],
    }),
    noRedirectClient: await emulator.issueUserToken({
      ...base,
      client_id: NO_REDIRECT_CLIENT_ID,
      sub: 'sample-userid',
      permissions: direct,
    }),
    unknownClient: await emulator.issueUserToken({
      ...base,
      client_id: 'ghost-app',
      sub: 'sample-userid',
      permissions: direct,
    }),
    ...Object.fromEntries(
      await Promise.all(
        [1, 2, 3, 4, 5].map(async (n) => [
          `freshClient${n}`,
          await emulator.issueUserToken({
            ...base,
            client_id: `fresh-app-${n}`,
            sub: 'sample-userid',
            permissions: direct,
          }),
        ]),
      ),
    ),
    excludedNamespace: await emulator.issueUserToken({
      ...base,
      namespace: 'excluded-namespace',
      sub: 'x-user',
    }),
    expired: await emulator.issueUserToken({
      ...base,
      sub: 'sample-userid',
      permissions: direct,
      iat: now - 7200,
      exp: now - 3600,
    }),
    notYetValid: await emulator.issueUserToken({
      ...base,
      sub: 'sample-userid',
      permissions: direct,
      nbf: now + 3600,
    }),
    revoked,
    revokedReencoded: reencode(revoked),
    allowedReencoded: reencode(allowed),
    studioPermission: await emulator.issueUserToken({
      ...base,
      sub: 'sample-userid',
      permissions: [{ Resource: 'NAMESPACE:sample-studio-:USER:*', Action: 4 }],
    }),
    revokedUser,
    scoped: await emulator.issueUserToken({
      ...base,
      sub: 'sample-userid',
      scope: 'openid profile email',
    }),
    badSignature: `${h}.${p}.${flipped}`,
    unknownKid: await emulator.signToken(payload, { kid: 'unknown-kid' }),
    algNone: await emulator.signToken(payload, { alg: 'none' }),
    hs256: await emulator.signToken(payload, { alg: 'HS256', secret: 'secret' }),
  }
  const deadBaseUrl = await closedPortUrl()
  return {
    emulator,
    tokens,
    deadBaseUrl,
    appOptions(profile) {
      const spec = PROFILES[profile]
      const iam = 'iam' in spec ? spec.iam : undefined
      return {
        baseUrl: iam?.kind === 'down' ? deadBaseUrl : emulator.baseUrl,
        clientId: emulator.clientId,
        clientSecret: emulator.clientSecret,
        // An unreachable IAM must fail fast in tests, a loaded machine must not look like one.
        requestTimeoutMs: 3_000,
        requestBudgetMs: 3_000,
        logger: silentLogger,
        ...spec.options,
      }
    },
    close: () => emulator.close(),
  }
}

/** A response as the checks see it. */
export interface CaseResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly text: string
  readonly json: Record<string, unknown> | undefined
}

function fill(
  template: string,
  token: string | undefined,
  app: string,
  tokens: Readonly<Record<TokenName, string>>,
): string {
  return template
    .replaceAll('{token}', token ?? '')
    .replace(/\{token:(\w+)\}/g, (_, name: string) => tokens[name as TokenName] ?? '')
    .replaceAll('{app}', app)
}

/** The headers of a row's request: its templates filled, the token where the row puts it. */
export function caseHeaders(
  request: CaseRequest,
  tokens: Readonly<Record<TokenName, string>>,
  appUrl: string,
): Record<string, string | string[]> {
  const token = request.token === undefined ? undefined : tokens[request.token]
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    headers[name.toLowerCase()] =
      typeof value === 'string'
        ? fill(value, token, appUrl, tokens)
        : value.map((v) => fill(v, token, appUrl, tokens))
  }
  const where = request.tokenIn ?? 'header'
  const custom = Object.keys(request.headers ?? {}).some((n) =>
    /^(authorization|cookie|x-access-token)$/i.test(n),
  )
  if (token !== undefined && !custom) {
    if (where === 'header' || where === 'both') headers.authorization = `Bearer ${token}`
    if (where === 'cookie' || where === 'both') headers.cookie = `access_token=${token}`
  }
  return headers
}

/** Sends a row's request with `node:http` (so that `Host` and every header are exactly as given). */
export function sendCaseRequest(
  appUrl: string,
  request: CaseRequest,
  tokens: Readonly<Record<TokenName, string>>,
): Promise<CaseResponse> {
  const url = new URL(request.path, appUrl)
  const headers = caseHeaders(request, tokens, appUrl)
  headers.host ??= url.host
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        // As written: `new URL` would resolve `.` and `..` segments the rows send on purpose.
        path: request.path,
        method: request.method ?? 'GET',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: Record<string, unknown> | undefined
          if (/json/.test(String(res.headers['content-type']))) json = JSON.parse(text)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** The emulator endpoints a request may make a protected service call (besides key loading). */
const ADMIN_ENDPOINTS = ['role', 'roleOverride', 'clientInfo', 'namespaceContext'] as const

/** Calls to the admin endpoints, and to any IAM path the emulator does not serve. */
function adminCalls(emulator: Emulator): number {
  const counted = ADMIN_ENDPOINTS.reduce((sum, e) => sum + emulator.requestCount(e), 0)
  return counted + emulator.unmatchedRequests().length
}

/** Runs `send` with the row's fault, if any, installed in the emulator. */
export async function withRowFault<T>(
  scenario: Scenario,
  row: CaseRow,
  send: () => Promise<T>,
): Promise<T> {
  if (row.fault) scenario.emulator.setFault(row.fault.endpoint, row.fault.fault)
  try {
    return await send()
  } finally {
    if (row.fault) scenario.emulator.setFault(row.fault.endpoint, null)
  }
}

/** Sends a row's request and checks the answer (and, when the row says so, the IAM's counts). */
async function runRow(scenario: Scenario, row: CaseRow, appUrl: string): Promise<void> {
  const before = adminCalls(scenario.emulator)
  assertCase(
    row,
    await withRowFault(scenario, row, () => sendCaseRequest(appUrl, row.request, scenario.tokens)),
  )
  if (row.expect.noIamCalls) {
    assert.equal(adminCalls(scenario.emulator) - before, 0, `${row.name}: the IAM was asked`)
  }
}

/**
 * A row as a server that resolves `.` and `..` in the URL before routing must answer it: a
 * `rawPath` row then names no route (404), and the IAM is still not asked.
 */
export function forPathResolvingServer(row: CaseRow): CaseRow {
  if (row.request.rawPath !== true) return row
  return { ...row, expect: { status: 404, errorCode: null, noIamCalls: true } }
}

/** Checks a response against a row; the message names the row and shows the body. */
export function assertCase(row: CaseRow, res: CaseResponse): void {
  const where = `${row.name}: got ${res.status} ${res.text.slice(0, 300)}`
  assert.equal(res.status, row.expect.status, where)
  if (row.expect.errorCode === null) assert.equal(res.json?.errorCode, undefined, where)
  else assert.equal(res.json?.errorCode, row.expect.errorCode, where)
  for (const [name, expectation] of Object.entries(row.expect.headers ?? {})) {
    const raw = res.headers[name.toLowerCase()]
    const value = Array.isArray(raw) ? raw.join(', ') : raw
    const label = `${where}\nheader ${name}: ${String(value)}`
    if ('absent' in expectation) assert.equal(value, undefined, label)
    else {
      assert.notEqual(value, undefined, label)
      if ('equals' in expectation) assert.equal(value, expectation.equals, label)
      if ('matches' in expectation)
        assert.match(value as string, new RegExp(expectation.matches), label)
      if ('includes' in expectation)
        assert.ok((value as string).includes(expectation.includes), label)
    }
  }
  for (const [field, expected] of Object.entries(row.expect.body ?? {})) {
    assert.deepEqual(res.json?.[field], expected, `${where}\nbody field ${field}`)
  }
  if (row.expect.emptyBody) assert.equal(res.text, '', where)
}

/**
 * Defines one `describe` with one test per row, for one adapter. Shared profiles are built once
 * (and awaited ready); `fresh` profiles are built per row with the IAM slowed or down first, and
 * the request is sent without waiting.
 */
export function runCaseTable(
  adapter: string,
  build: BuildApp,
  rows: readonly CaseRow[] = CASES,
): void {
  describe(`case table: ${adapter}`, () => {
    let scenario: Scenario
    const apps = new Map<ProfileName, Promise<BuiltApp>>()
    before(async () => {
      scenario = await setupScenario()
    })
    after(async () => {
      // An app that failed to build must not keep the others (and the emulator) open.
      await Promise.allSettled([...apps.values()].map(async (app) => (await app).close()))
      await scenario?.close()
    })
    async function shared(profile: ProfileName): Promise<BuiltApp> {
      let app = apps.get(profile)
      if (app === undefined) {
        app = build({
          options: scenario.appOptions(profile),
          routes: PROFILES[profile].routes,
        }).then(async (built) => {
          await built.ready
          return built
        })
        apps.set(profile, app)
      }
      return app
    }
    for (const row of rows) {
      test(row.name, async () => {
        const profile = PROFILES[row.profile]
        if (!('fresh' in profile)) {
          const app = await shared(row.profile)
          await runRow(scenario, row, app.url)
          return
        }
        const iam = 'iam' in profile ? profile.iam : undefined
        if (iam?.kind === 'slow')
          scenario.emulator.setFault('token', { delayMs: iam.delayMs, times: 1 })
        const app = await build({
          options: scenario.appOptions(row.profile),
          routes: profile.routes,
        })
        try {
          await runRow(scenario, row, app.url)
        } finally {
          scenario.emulator.setFault('token', null)
          await app.close()
        }
      })
    }
  })
}
