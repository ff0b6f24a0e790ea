/**
 * Many replicas against one IAM: 20 processes cold-starting at once make one IAM call per
 * resource with the Redis store (the emulator's request counts), against one each without it;
 * a revocation one replica loads is refused by all within 1 s, through Redis pub/sub.
 */
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { after, before, describe, it } from 'node:test'

import type { Emulator, EmulatorEndpoint } from '../../src/emulator/index.js'
import { emulator } from '../support/iam.js'
import { startRedis, type RedisServer } from './redis-server.js'

const REPLICAS = 20
const SHARED: EmulatorEndpoint[] = [
  'jwks',
  'revocationList',
  'role',
  'roleOverride',
  'clientInfo',
  'namespaceContext',
]
const script = new URL('./replica.mjs', import.meta.url).pathname

interface Replica {
  child: ChildProcess
  /** Sends an order and resolves with the answer of that type. */
  ask(message: Record<string, unknown>): Promise<Record<string, unknown>>
}

function startReplica(iam: Emulator, redisUrl: string | undefined): Promise<Replica> {
  const child = fork(script, [], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      IAM_BASE_URL: iam.baseUrl,
      IAM_BASIC_BASE_URL: iam.basicBaseUrl,
      IAM_CLIENT_ID: iam.clientId,
      IAM_CLIENT_SECRET: iam.clientSecret,
      REDIS_URL: redisUrl ?? '',
    },
  })
  const waiting = new Map<string, (message: Record<string, unknown>) => void>()
  let failed: (error: Error) => void = () => undefined
  child.on('message', (message: Record<string, unknown>) => {
    if (message.type === 'error') failed(new Error(JSON.stringify(message.error)))
    waiting.get(message.type as string)?.(message)
  })
  const answer = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      waiting.set(type, resolve)
      failed = reject
      child.once('exit', (code) => reject(new Error(`replica exited (${code}) before ${type}`)))
    })
  const ready = answer('ready')
  return ready.then(() => ({
    child,
    ask(message) {
      const reply = answer(message.type as string)
      child.send(message)
      return reply
    },
  }))
}

async function startReplicas(iam: Emulator, redisUrl: string | undefined): Promise<Replica[]> {
  return Promise.all(Array.from({ length: REPLICAS }, () => startReplica(iam, redisUrl)))
}

async function closeAll(replicas: Replica[]): Promise<void> {
  await Promise.all(
    replicas.map(async (r) => {
      if (r.child.exitCode !== null) return
      const exited = new Promise((resolve) => r.child.once('exit', resolve))
      await r.ask({ type: 'close' }).catch(() => undefined)
      await exited
    }),
  )
}

function counts(iam: Emulator): Record<string, number> {
  return Object.fromEntries(
    [...SHARED, 'token' as const].map((endpoint) => [endpoint, iam.requestCount(endpoint)]),
  )
}

describe(`${REPLICAS} replicas against one IAM`, { concurrency: false }, () => {
  let iam: Emulator
  let redis: RedisServer
  let coldStart: Record<string, unknown>

  before(async () => {
    iam = await emulator()
    redis = await startRedis()
    const roleId = await iam.createRole({
      roleName: 'support',
      permissions: [{ resource: `NAMESPACE:${iam.namespace}:USER:*`, action: 2 }],
    })
    coldStart = {
      type: 'cold-start',
      token: await iam.issueUserToken({ sub: 'replica-user' }),
      roleId,
      namespace: iam.namespace,
      clientNamespace: iam.publisherNamespace,
    }
  })
  after(async () => {
    await redis?.stop()
    await iam?.close()
  })

  it('without a shared store, each replica asks the IAM for each resource', async () => {
    iam.resetRequestCounts()
    const replicas = await startReplicas(iam, undefined)
    try {
      await Promise.all(replicas.map((r) => r.ask(coldStart)))
      const seen = counts(iam)
      console.log(`without Redis, IAM calls by ${REPLICAS} cold replicas:`, seen)
      for (const endpoint of SHARED) assert.equal(seen[endpoint], REPLICAS, endpoint)
      assert.equal(seen.token, REPLICAS)
    } finally {
      await closeAll(replicas)
    }
  })

  it('with Redis: one IAM call per resource for the whole fleet, and a revocation reaches all within 1 s', async () => {
    iam.resetRequestCounts()
    const replicas = await startReplicas(iam, redis.url)
    try {
      const answers = await Promise.all(replicas.map((r) => r.ask(coldStart)))
      const seen = counts(iam)
      console.log(`with Redis, IAM calls by ${REPLICAS} cold replicas:`, seen)
      for (const endpoint of SHARED)
        assert.ok(seen[endpoint]! <= 1, `${endpoint}: ${seen[endpoint]}`)
      // Client tokens are credentials: never shared, each replica grants its own.
      assert.equal(seen.token, REPLICAS)
      // Every replica got the same answers, and used the store all along.
      const first = JSON.stringify(answers[0]!.result)
      for (const answer of answers) {
        assert.equal(JSON.stringify(answer.result), first)
        const health = answer.health as { sharedCache: { available: boolean; fallbacks: number } }
        assert.equal(health.sharedCache.available, true)
        assert.equal(health.sharedCache.fallbacks, 0)
      }
      assert.equal((answers[0]!.result as { rolePermissions: number }).rolePermissions, 1)

      // One replica loads a revocation; the others learn it from Redis, not from their timers
      // (10 minutes) nor from the IAM.
      await iam.revokeToken(coldStart.token as string)
      iam.resetRequestCounts()
      const watching = replicas.map((r) => r.ask({ type: 'watch', token: coldStart.token }))
      const refreshed = await replicas[0]!.ask({ type: 'refresh' })
      const refusals = await Promise.all(watching)
      const latest = Math.max(...refusals.map((r) => r.refusedAt as number))
      const latencyMs = latest - (refreshed.at as number)
      console.log(
        `revocation refused by all ${REPLICAS} replicas ${latencyMs} ms after one loaded it`,
      )
      for (const refusal of refusals) assert.equal(refusal.code, 'ERR_IAM_TOKEN_REVOKED')
      assert.equal(iam.requestCount('revocationList'), 1)
      assert.ok(latencyMs <= 1_000, `${latencyMs} ms`)
    } finally {
      await closeAll(replicas)
    }
  })
})
