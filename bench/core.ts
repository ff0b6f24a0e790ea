/**
 * Core hot path: token validation and permission checks, each beside jose's jwtVerify of the same
 * tokens in the same process, reported as ratios. Run with `npm run bench -- core`.
 */
import { importJWK, jwtVerify } from 'jose'
import { Action, IamClient } from 'iam-node-sdk'
import { startEmulator } from 'iam-node-sdk/emulator'
import { formatOps, opsPerSecond } from './measure.js'

export async function benchCore(): Promise<Record<string, number>> {
  const iam = await startEmulator({ port: 0 })
  const client = new IamClient({
    baseUrl: iam.baseUrl,
    basicBaseUrl: iam.basicBaseUrl,
    clientId: iam.clientId,
    clientSecret: iam.clientSecret,
    logger: {},
  })
  try {
    await client.clientTokenGrant()
    await client.startLocalValidation()
    const jwks = (await (
      await fetch(`${iam.baseUrl}/v3/oauth/jwks`, {
        headers: {
          authorization:
            'Basic ' + Buffer.from(`${iam.clientId}:${iam.clientSecret}`).toString('base64'),
        },
      })
    ).json()) as { keys: Array<Record<string, string>> }
    const key = await importJWK(jwks.keys[0] as never, 'RS256')

    const roleId = await iam.createRole({
      permissions: [{ resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: Action.Read }],
    })
    const repeated = await iam.issueUserToken({
      sub: 'bench-user',
      namespace: 'sample-namespace',
      roles: [roleId],
      permissions: [
        { Resource: 'NAMESPACE:sample-namespace:USER:bench-user', Action: Action.Update },
      ],
    })
    const fresh: string[] = []
    for (let i = 0; i < 3000; i++) fresh.push(await iam.issueUserToken({ sub: `user-${i}` }))
    const claims = await client.validateAndParseClaims(repeated)
    const resources = { '{namespace}': 'sample-namespace', '{userId}': 'bench-user' }
    const direct = { Resource: 'NAMESPACE:{namespace}:USER:{userId}', Action: Action.Update }
    const viaRole = {
      resource: 'NAMESPACE:sample-namespace:USER:bench-user:ORDER',
      action: Action.Read,
    }
    if (!(await client.validatePermission(claims, direct, resources)))
      throw new Error('direct check denied')
    if (!(await client.validatePermission(claims, viaRole))) throw new Error('role check denied')

    const joseRepeated = await opsPerSecond(() =>
      jwtVerify(repeated, key, { algorithms: ['RS256'] }),
    )
    const sdkRepeated = await opsPerSecond(() => client.validateAndParseClaims(repeated))
    let a = 0
    const joseFresh = await opsPerSecond(
      () => jwtVerify(fresh[a++ % fresh.length] as string, key, { algorithms: ['RS256'] }),
      { rounds: 3, roundMs: 300 },
    )
    // A fresh client per token list pass would be unfair to neither; disable the verified-token cache instead.
    const uncached = new IamClient({ ...client.options, verifiedTokenCacheSize: 0, logger: {} })
    await uncached.startLocalValidation()
    let b = 0
    const sdkFresh = await opsPerSecond(
      () => uncached.validateAndParseClaims(fresh[b++ % fresh.length] as string),
      { rounds: 3, roundMs: 300 },
    )
    await uncached.close()
    const permissionDirect = await opsPerSecond(() =>
      client.validatePermission(claims, direct, resources),
    )
    const permissionRole = await opsPerSecond(() => client.validatePermission(claims, viaRole))

    const rows: Array<[string, number, string]> = [
      ['jose jwtVerify (baseline)', joseRepeated, '1.00x'],
      [
        'validateAndParseClaims, repeated token',
        sdkRepeated,
        `${(sdkRepeated / joseRepeated).toFixed(2)}x jose (target >= 5x)`,
      ],
      ['jose jwtVerify, first-seen tokens', joseFresh, '1.00x'],
      [
        'validateAndParseClaims, first-seen tokens',
        sdkFresh,
        `${(sdkFresh / joseFresh).toFixed(2)}x jose (target >= 1x)`,
      ],
      ['validatePermission, claim permission', permissionDirect, 'target >= 500 k/s'],
      ['validatePermission, cached role permission', permissionRole, 'target >= 500 k/s'],
    ]
    console.log('\nCore hot path (median of rounds, one process)')
    for (const [name, ops, note] of rows)
      console.log(`  ${name.padEnd(46)} ${formatOps(ops).padStart(11)}  ${note}`)
    return {
      repeatedVsJose: sdkRepeated / joseRepeated,
      freshVsJose: sdkFresh / joseFresh,
      permissionDirect,
      permissionRole,
    }
  } finally {
    await client.close()
    await iam.close()
  }
}
