/**
 * What every benchmark trusts and sends: one IAM emulator (in the runner's process, so that the
 * measured servers' CPU is theirs alone), the tokens, and the peers' setup.
 *
 * The emulator's JWKS endpoint wants the client's Basic credentials, which no peer library sends.
 * For the peers, {@link benchIam} fetches the public keys once and serves them unauthenticated at
 * `GET /.well-known/jwks.json` on a small server of its own (`ServerContext.jwksUrl`): that is the
 * peers' setup, not the SDK's (the SDK fetches the emulator's endpoint itself, as against a real
 * IAM).
 */
import { createVerify, type KeyObject } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import type { Emulator } from 'iam-node-sdk/emulator'

/** The `aud` every bench token carries, so that the peers can check one (the SDK does not). */
export const AUDIENCE = 'bench-api'
/** The user every bench token is for. */
export const USER_ID = 'sample-userid'
/** The SDK's permission on the protected routes (placeholders filled from {@link resources}). */
export const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' }
/** Client whose redirect URI the cookie + CSRF case sends as its `Referer`. */
export const WEB_CLIENT = { clientId: 'bench-web', redirectUri: 'http://bench.example.com/app' }
/** The SDK's default `verifiedTokenCacheSize`, which the bench servers keep. */
export const SDK_TOKEN_CACHE_SIZE = 10_000
/**
 * Distinct tokens rotated by the first-seen cases. More than the largest verified-token cache
 * among the servers (the SDK's default 10 000 entries; fast-jwt's `cache: true` keeps 1 000), and
 * each case's rotation goes on across rounds, so every request of such a case is a cache miss.
 */
export const POOL_SIZE = Number(process.env.BENCH_POOL_SIZE ?? 12_000)
/** Token lifetime: longer than any run (a long soak included). */
const TOKEN_LIFETIME_SECONDS = 24 * 3600

/** What a server child is given: where the IAM is, and what the routes expect. */
export interface ServerContext {
  baseUrl: string
  clientId: string
  clientSecret: string
  /** `iss` of every token; the SDK and the peers accept this one only. */
  issuer: string
  namespace: string
  /** The emulator's public keys, unauthenticated (the peers' JWKS URI). */
  jwksUrl: string
}

/** Tokens of the benchmarks. Each is accepted by every protected route unless named otherwise. */
export interface BenchTokens {
  /** The one token of the repeated-token cases. */
  repeated: string
  /** Carries no permission: granted through a namespace role (the SDK's role case). */
  role: string
  /** Issued to {@link WEB_CLIENT} (the cookie + CSRF case). */
  web: string
  /** {@link POOL_SIZE} distinct tokens, one per line (the first-seen cases' wrk script reads it). */
  poolFile: string
  /** The first and last of the pool (to check them before timing). */
  poolSamples: string[]
  /** Tokens every protected route must refuse, by what is wrong with them. */
  refused: Record<Refusal, string>
}

/** What is wrong with a token that a protected route must refuse. */
export type Refusal = 'signature' | 'expired' | 'issuer' | 'audience' | 'permission'

/** The emulator, the peers' JWKS server and the tokens; started once per process. */
export interface BenchIam {
  emulator: Emulator
  context: ServerContext
  tokens: BenchTokens
  close(): Promise<void>
}

let started: Promise<BenchIam> | undefined

/** Starts the emulator and mints the tokens once per process (every suite shares them). */
export function benchIam(): Promise<BenchIam> {
  started ??= start()
  return started
}

async function start(): Promise<BenchIam> {
  const { startEmulator } = await import('iam-node-sdk/emulator')
  const emulator = await startEmulator({ port: 0 })
  const ns = emulator.namespace
  const jwks = await fetchJwks(emulator)
  const jwksServer = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks)
  })
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
  const context: ServerContext = {
    baseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    issuer: emulator.issuer,
    namespace: ns,
    jwksUrl: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`,
  }

  const granted = [{ Resource: `NAMESPACE:${ns}:USER:${USER_ID}`, Action: 4 }]
  const mint = (claims: Record<string, unknown> = {}) =>
    emulator.issueUserToken({
      sub: USER_ID,
      namespace: ns,
      aud: AUDIENCE,
      permissions: granted,
      expiresIn: TOKEN_LIFETIME_SECONDS,
      ...claims,
    })
  await emulator.createClient({ ...WEB_CLIENT, clientSecret: '', namespace: ns })
  const roleId = await emulator.createRole({
    permissions: [{ resource: 'NAMESPACE:{namespace}:USER:{userId}', action: 4 }],
  })
  const now = Math.floor(Date.now() / 1000)
  const valid = await mint()
  const tokens: Omit<BenchTokens, 'poolFile' | 'poolSamples'> = {
    repeated: valid,
    role: await mint({ permissions: [], namespace_roles: [{ roleId, namespace: ns }] }),
    web: await mint({ client_id: WEB_CLIENT.clientId }),
    refused: {
      signature: withForeignSignature(valid, await mint({ sub: 'someone-else' })),
      expired: await mint({ iat: now - 7200, exp: now - 3600 }),
      issuer: await mint({ iss: 'http://127.0.0.1:1/elsewhere' }),
      audience: await mint({ aud: 'another-api' }),
      permission: await mint({ permissions: [] }),
    },
  }
  // Minted concurrently: signing runs on libuv's threads (about 10 s for 12 000 here).
  const pool = await Promise.all(Array.from({ length: POOL_SIZE }, () => mint()))
  if (new Set(pool).size !== pool.length) throw new Error('the token pool has duplicates')
  mkdirSync('.bench-results', { recursive: true })
  // One file per run: two runs in one checkout must not send each other's tokens.
  const poolFile = join(process.cwd(), '.bench-results', `token-pool-${process.pid}.txt`)
  writeFileSync(poolFile, pool.join('\n') + '\n')

  return {
    emulator,
    context,
    tokens: { ...tokens, poolFile, poolSamples: [pool[0] as string, pool.at(-1) as string] },
    async close() {
      rmSync(poolFile, { force: true })
      await new Promise<void>((resolve) => jwksServer.close(() => resolve()))
      await emulator.close()
    },
  }
}

/** The emulator's JWKS document, fetched once with the client's Basic credentials. */
async function fetchJwks(emulator: Emulator): Promise<string> {
  const basic = Buffer.from(`${emulator.clientId}:${emulator.clientSecret}`).toString('base64')
  const response = await fetch(`${emulator.baseUrl}/v3/oauth/jwks`, {
    headers: { authorization: `Basic ${basic}` },
  })
  if (!response.ok) throw new Error(`emulator JWKS: HTTP ${response.status}`)
  return response.text()
}

/** `token` with the (well-formed, same-key) signature of another token: a forgery. */
function withForeignSignature(token: string, other: string): string {
  return token.slice(0, token.lastIndexOf('.')) + other.slice(other.lastIndexOf('.'))
}

/**
 * The peers' claim check: the token grants the protected route's permission (the SDK's
 * permission matching also expands placeholders and wildcards; a peer checks the exact claim).
 */
export function grantsBenchPermission(payload: unknown, namespace: string): boolean {
  const permissions = (payload as { permissions?: unknown } | null)?.permissions
  if (!Array.isArray(permissions)) return false
  const resource = `NAMESPACE:${namespace}:USER:${USER_ID}`
  return permissions.some(
    (p: { Resource?: unknown; Action?: unknown } | null) =>
      p?.Resource === resource && typeof p.Action === 'number' && (p.Action & 4) === 4,
  )
}

/** The SDK's resource placeholders on the protected routes. */
export function resources(context: ServerContext): Record<string, string> {
  return { '{namespace}': context.namespace, '{userId}': USER_ID }
}

/** The SDK's options in every bench server: the defaults, plus the `iss` check the peers make. */
export function sdkOptions(context: ServerContext) {
  return {
    baseUrl: context.baseUrl,
    clientId: context.clientId,
    clientSecret: context.clientSecret,
    issuer: context.issuer,
    logger: {},
  }
}

/**
 * The floor of a first-seen token: its RS256 signature checked and nothing else, in the fastest
 * form Node has (a Verify object; the one-shot `crypto.verify` sets up a crypto job per call and
 * measured 1.5 to 2 µs slower). Throws on a bad signature.
 */
export function verifySignatureOnly(token: string, key: KeyObject): void {
  const dot = token.lastIndexOf('.')
  const ok = createVerify('sha256')
    .update(token.slice(0, dot))
    .verify(key, Buffer.from(token.slice(dot + 1), 'base64url'))
  if (!ok) throw new Error('bad signature')
}
