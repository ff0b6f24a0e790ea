/**
 * Core hot path in process (`npm run bench -- core`), every comparison in the same process and
 * the same interleaved rounds:
 *
 * - repeated token: `validateAndParseClaims` (answered from the verified-token cache) against
 *   jose's `jwtVerify` with the key imported once;
 * - first-seen tokens (the pool of distinct tokens, more than the SDK's cache holds, so every call
 *   verifies and then inserts into a full cache): the SDK with its default cache, through
 *   `validateAndParseClaims` (a promise per call) and through `validateClaimsSync` (the
 *   framework adapters' path, each row its own client), fast-jwt's `createVerifier` without
 *   cache (synchronous), jose's `jwtVerify`, and the floor, a bare `crypto` Verify of the same
 *   tokens (RS256-2048: the signing input and the decoded signature, nothing else);
 * - `validatePermission`: a permission carried in the token's claims, and one granted by a
 *   namespace role whose permissions the client already fetched;
 * - a decision of the adapter kit on a token seen before (`HttpProtection.authorizeSync`, what
 *   every adapter runs per request), without and with an OpenTelemetry `MeterProvider`: the
 *   decisions counter must cost the request nothing measurable.
 *
 * Every verifier checks the signature, `exp` and `iss`; the SDK also `nbf`, the revocation list
 * (tokens and users) and the claims' shape.
 */
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'

import { createVerifier } from 'fast-jwt'
import { importJWK, jwtVerify } from 'jose'
import { IamClient } from 'iam-node-sdk'
import { HttpProtection, createHttpRequest, createRouteGuard } from 'iam-node-sdk/http'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'

import { benchIam, PERMISSION, resources, sdkOptions, verifySignatureOnly } from './fixtures.js'
import { formatOps, interleavedSamples, median, pairedMedian, writeResults } from './measure.js'

// Many short rounds: the first-seen figures are read as differences taken per round.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const ROUND_MS = Number(process.env.BENCH_CORE_ROUND_MS ?? 200)

/** The adapters' path: `validateClaimsSync`, no promise (the async row awaits one per call). */
const SDK_SYNC = 'first-seen: iam-node-sdk, validateClaimsSync'

const DECISION = 'decision (adapter kit), repeated token'
const DECISION_METRICS = 'decision, with a MeterProvider'

/** A metric reader that nothing collects: the instruments are live, no export runs. */
class IdleReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Runs the suite and prints the table; returns µs per operation by case. */
export async function benchCore(): Promise<Record<string, number>> {
  const { context, tokens } = await benchIam()
  const client = new IamClient(sdkOptions(context))
  // Its own client for the synchronous row: one client would see each pool token twice (once per
  // row) and cache it the second time.
  const syncClient = new IamClient(sdkOptions(context))
  // The adapter kit's decision, without and with metrics (a reader that nothing collects).
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] })
  const protections = [undefined, meterProvider].map((provider) =>
    HttpProtection.create({
      options: { ...sdkOptions(context), ...(provider && { meterProvider: provider }) },
      env: {},
    }),
  )
  try {
    for (const c of [client, syncClient]) {
      await c.clientTokenGrant()
      await c.startLocalValidation()
    }
    const pool = readFileSync(tokens.poolFile, 'utf8').trim().split('\n')
    const jwk = ((await (await fetch(context.jwksUrl)).json()) as { keys: object[] }).keys[0]
    const joseKey = await importJWK(jwk as never, 'RS256')
    const keyObject = createPublicKey({ key: jwk as never, format: 'jwk' })
    const joseOptions = { issuer: context.issuer, algorithms: ['RS256'] }
    const fastJwt = createVerifier({
      key: keyObject.export({ type: 'spki', format: 'pem' }) as string,
      algorithms: ['RS256'],
      allowedIss: context.issuer,
      cache: false,
    })
    const bareVerify = (token: string) => verifySignatureOnly(token, keyObject)

    const claims = await client.validateAndParseClaims(tokens.repeated)
    const roleClaims = await client.validateAndParseClaims(tokens.role)
    const where = resources(context)
    // Each verifier must accept every token, and the permission checks must allow, before timing.
    for (const token of [tokens.repeated, pool[0] as string]) {
      await jwtVerify(token, joseKey, joseOptions)
      fastJwt(token)
      bareVerify(token)
    }
    if (!(await client.validatePermission(claims, PERMISSION, where)))
      throw new Error('claim permission denied')
    if (!(await client.validatePermission(roleClaims, PERMISSION, where)))
      throw new Error('role permission denied')
    const guard = createRouteGuard(PERMISSION, where)
    const headers = { authorization: `Bearer ${tokens.repeated}` }
    const decide = (protection: HttpProtection) => () => {
      const request = createHttpRequest({ method: 'GET', headers })
      if (typeof protection.authorizeSync(guard, request) !== 'object')
        throw new Error('the decision was not at hand')
    }
    for (const protection of protections) {
      await protection.ready
      decide(protection)()
    }

    const next = (() => {
      const counters = new Map<string, number>()
      return (name: string) => {
        const i = counters.get(name) ?? 0
        counters.set(name, i + 1)
        return pool[i % pool.length] as string
      }
    })()
    const samples = await interleavedSamples(
      {
        'repeated token: iam-node-sdk': () => client.validateAndParseClaims(tokens.repeated),
        'repeated token: jose jwtVerify': () => jwtVerify(tokens.repeated, joseKey, joseOptions),
        'first-seen: RS256 verify alone (floor)': () => bareVerify(next('floor')),
        'first-seen: fast-jwt, no cache': () => fastJwt(next('fast-jwt')),
        'first-seen: iam-node-sdk': () => client.validateAndParseClaims(next('sdk')),
        [SDK_SYNC]: () => {
          if (syncClient.validateClaimsSync(next('sdk-sync')) === undefined)
            throw new Error('validateClaimsSync handed over')
        },
        'first-seen: jose jwtVerify': () => jwtVerify(next('jose'), joseKey, joseOptions),
        'validatePermission: claim': () => client.validatePermission(claims, PERMISSION, where),
        'validatePermission: cached role': () =>
          client.validatePermission(roleClaims, PERMISSION, where),
        [DECISION]: decide(protections[0] as HttpProtection),
        [DECISION_METRICS]: decide(protections[1] as HttpProtection),
      },
      { rounds: ROUNDS, roundMs: ROUND_MS },
    )

    const us = Object.fromEntries(
      Object.entries(samples).map(([name, values]) => [name, median(values)]),
    )
    const get = (name: string) => us[name] as number
    // Differences per round, then their median: the floor drifts by tens of µs between rounds on a
    // shared machine, and every case of one round sees the same drift.
    const minus = (a: string, b: string) =>
      pairedMedian(samples[a] as number[], samples[b] as number[])
    const FLOOR = 'first-seen: RS256 verify alone (floor)'
    const SDK = 'first-seen: iam-node-sdk'
    const FAST_JWT = 'first-seen: fast-jwt, no cache'
    const plus = (value: number, digits = 1) =>
      `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`
    const notes: Record<string, string> = {
      'repeated token: iam-node-sdk': `${(get('repeated token: jose jwtVerify') / get('repeated token: iam-node-sdk')).toFixed(0)}x jose`,
      [FAST_JWT]: `floor ${plus(minus(FAST_JWT, FLOOR))} µs`,
      [SDK]: `floor ${plus(minus(SDK, FLOOR))} µs; fast-jwt ${plus(minus(SDK, FAST_JWT))} µs; ${(get('first-seen: jose jwtVerify') / get(SDK)).toFixed(2)}x jose`,
      [SDK_SYNC]: `floor ${plus(minus(SDK_SYNC, FLOOR))} µs; fast-jwt ${plus(minus(SDK_SYNC, FAST_JWT))} µs`,
      'first-seen: jose jwtVerify': `floor ${plus(minus('first-seen: jose jwtVerify', FLOOR))} µs`,
      'validatePermission: claim': 'target >= 2 M/s',
      [DECISION_METRICS]: `${plus(minus(DECISION_METRICS, DECISION), 2)} µs`,
    }
    console.log(
      `\nCore hot path, in process: ${ROUNDS} interleaved rounds x ${ROUND_MS} ms, medians ` +
        '(against the floor and fast-jwt: medians of the differences per round)',
    )
    const width = Math.max(...Object.keys(us).map((name) => name.length))
    console.log(`${'case'.padEnd(width)}      µs/op       rate`)
    for (const [name, value] of Object.entries(us)) {
      console.log(
        `${name.padEnd(width)} ${value.toFixed(value < 10 ? 3 : 1).padStart(10)} ${formatOps(1e6 / value).padStart(10)}  ${notes[name] ?? ''}`,
      )
    }
    writeResults('core', {
      suite: 'core',
      date: new Date().toISOString(),
      node: process.version,
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      poolSize: pool.length,
      microsecondsPerOp: us,
      firstSeenMinusFloor: minus(SDK, FLOOR),
      firstSeenMinusFastJwt: minus(SDK, FAST_JWT),
      firstSeenSyncMinusFloor: minus(SDK_SYNC, FLOOR),
      firstSeenSyncMinusFastJwt: minus(SDK_SYNC, FAST_JWT),
      fastJwtMinusFloor: minus(FAST_JWT, FLOOR),
      decisionMetricsMinusNone: minus(DECISION_METRICS, DECISION),
    })
    return us
  } finally {
    await client.close()
    await syncClient.close()
    for (const protection of protections) await protection.close()
    await meterProvider.shutdown()
  }
}
