// The SDK's own client against the emulator: proves the wire formats agree end to end.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { IamClient, isIamError } from '../../src/index.js'
import { startTestIam, type TestIam } from '../../src/testing/index.js'

let iam: TestIam
let client: IamClient
before(async () => {
  iam = await startTestIam()
  client = new IamClient({ ...iam.clientOptions })
  await client.clientTokenGrant()
  await client.startLocalValidation()
})
after(async () => {
  await client.close()
  await iam.close()
})

test('client token, local validation of a user token, verify endpoint', async () => {
  assert.ok(client.clientToken().split('.').length === 3)
  const token = await iam.emulator.issueUserToken({
    sub: 'sample-userid',
    permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
  })
  const claims = await client.validateAndParseClaims(token)
  assert.equal(claims.sub, 'sample-userid')
  assert.equal(claims.namespace, iam.emulator.namespace)
  assert.equal(
    await client.validatePermission(
      claims,
      {
        resource: 'NAMESPACE:{namespace}:USER:{userId}',
        action: 4,
      },
      { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' },
    ),
    true,
  )
  assert.equal(await client.validateAccessToken(token), true)
})

test('roles, role overrides, client information, namespace context, delegate token', async () => {
  const roleId = await iam.emulator.createRole({
    permissions: [{ resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: 7 }],
  })
  const perms = await client.getRolePermissions(roleId)
  assert.deepEqual(
    perms.map((p) => [p.resource, p.action]),
    [['NAMESPACE:{namespace}:USER:{userId}:ORDER', 7]],
  )
  await iam.emulator.setRoleOverride('sample-namespace', roleId, [{ resource: 'X', action: 1 }])
  const overridden = await client.getRoleOverridePermissions('sample-namespace', roleId)
  assert.deepEqual(
    overridden.map((p) => [p.resource, p.action]),
    [['X', 1]],
  )
  const info = await client.getClientInformation('sample-namespace', 'sample-web-client')
  assert.equal(info.redirectUri, 'http://localhost:3000,http://127.0.0.1:3000')
  const context = await client.getNamespaceContext('sample-namespace')
  assert.equal(context?.publisherNamespace, 'sample-publisher')
  assert.equal(await client.getNamespaceContext('no-such-namespace'), null)
  const delegate = await client.delegateToken('sample-namespace')
  assert.equal((await client.validateAndParseClaims(delegate)).extend_namespace, 'sample-namespace')
})

test('a token signed by a key published after startup is accepted after a JWKS refetch', async () => {
  // A client without refetch cooldown, so the unknown kid triggers a JWKS fetch right away.
  const fresh = new IamClient({ ...iam.clientOptions, jwksRefetchCooldownMs: 0 })
  try {
    await fresh.startLocalValidation()
    iam.emulator.resetRequestCounts()
    await iam.emulator.rotateKeys()
    const token = await iam.emulator.issueUserToken({ sub: 'rotated' })
    const claims = await fresh.validateAndParseClaims(token)
    assert.equal(claims.sub, 'rotated')
    assert.equal(iam.emulator.requestCount('jwks'), 1)
    const forged = await iam.emulator.signToken({ sub: 'x', exp: 9e9 }, { alg: 'HS256' })
    await assert.rejects(fresh.validateAndParseClaims(forged), (err: unknown) => isIamError(err))
  } finally {
    await fresh.close()
  }
})

test('revoked tokens and revoked users reach the SDK through the revocation list', async () => {
  const fast = new IamClient({ ...iam.clientOptions, revocationListRefreshIntervalMs: 200 })
  try {
    await fast.startLocalValidation()
    const now = Math.floor(Date.now() / 1000)
    const token = await iam.emulator.issueUserToken({ sub: 'interop-1' })
    const userToken = await iam.emulator.issueUserToken({ sub: 'interop-2', iat: now - 5 })
    await fast.validateAndParseClaims(token)
    await fast.validateAndParseClaims(userToken)
    await iam.emulator.revokeToken(token)
    await iam.emulator.revokeUser('interop-2')
    await new Promise((r) => setTimeout(r, 700))
    await assert.rejects(fast.validateAndParseClaims(token), (err: unknown) =>
      isIamError(err, 'ERR_IAM_TOKEN_REVOKED'),
    )
    await assert.rejects(fast.validateAndParseClaims(userToken), (err: unknown) =>
      isIamError(err, 'ERR_IAM_USER_REVOKED'),
    )
  } finally {
    await fast.close()
  }
})
