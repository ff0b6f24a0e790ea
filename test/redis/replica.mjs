// One replica of a service, as a child process of test/redis/replicas.test.ts: builds an
// IamClient (with the Redis store when REDIS_URL is set) from the built package, then follows the
// parent's orders over IPC. Plain JavaScript on dist/ so that 20 of them start quickly.
import { IamClient, DEFAULT_USER_ROLE_ID } from '../../dist/index.js'
import { RedisCacheStore } from '../../dist/redis/index.js'

const env = process.env
const client = new IamClient({
  baseUrl: env.IAM_BASE_URL,
  basicBaseUrl: env.IAM_BASIC_BASE_URL,
  clientId: env.IAM_CLIENT_ID,
  clientSecret: env.IAM_CLIENT_SECRET,
  // Long intervals: nothing in the test may come from a replica's own timer.
  jwksRefreshIntervalMs: 600_000,
  revocationListRefreshIntervalMs: 600_000,
  // 20 replicas on a small machine: a slow answer is load, not an outage.
  requestTimeoutMs: 20_000,
  requestBudgetMs: 30_000,
  logger: {},
  ...(env.REDIS_URL ? { cacheStore: new RedisCacheStore({ url: env.REDIS_URL }) } : {}),
})

const send = (message) => process.send?.(message)
const failure = (error) => ({ code: error?.code, message: String(error?.message ?? error) })

/** Asks for every resource once: what a cold start and one request of each kind need. */
async function coldStart({ token, roleId, namespace, clientNamespace }) {
  await client.clientTokenGrant()
  await client.startLocalValidation()
  const claims = await client.validateAndParseClaims(token)
  const [role, override, info, context] = await Promise.all([
    client.getRolePermissions(roleId),
    client.getRoleOverridePermissions(namespace, DEFAULT_USER_ROLE_ID),
    client.getClientInformation(clientNamespace, env.IAM_CLIENT_ID),
    client.getNamespaceContext(namespace),
  ])
  return {
    sub: claims.sub,
    rolePermissions: role.length,
    overridePermissions: override.length,
    clientId: info.clientId,
    namespaceType: context?.type,
  }
}

/** Validates `token` every 10 ms (local, no I/O) until it is refused; reports when. */
async function watch(token) {
  for (;;) {
    try {
      await client.validateAndParseClaims(token)
    } catch (error) {
      return { refusedAt: Date.now(), code: error.code }
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

process.on('message', async (message) => {
  try {
    switch (message.type) {
      case 'cold-start':
        send({ type: 'cold-start', result: await coldStart(message), health: client.health() })
        break
      case 'watch':
        send({ type: 'watch', ...(await watch(message.token)) })
        break
      case 'refresh':
        await client.refresh()
        send({ type: 'refresh', at: Date.now() })
        break
      case 'close':
        await client.close()
        send({ type: 'close' })
        process.disconnect()
        break
    }
  } catch (error) {
    send({ type: 'error', error: failure(error) })
  }
})
send({ type: 'ready' })
