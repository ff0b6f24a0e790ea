/**
 * What a client can tell about its own state and decisions, against the emulator: key set and
 * revocation list snapshots, and explained decisions rendered for people.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import {
  Action,
  DEFAULT_USER_ROLE_ID,
  formatAction,
  formatPermissionDecision,
  type GrantStep,
  type IamClient,
} from '../../src/index.js'
import type { Emulator } from '../../src/emulator/index.js'
import { clientFor, emulator, eventually, startedClientFor } from '../support/iam.js'

const NS = 'sample-namespace'

describe('client snapshots and explanations', () => {
  let iam: Emulator
  let client: IamClient
  const clients: IamClient[] = []

  before(async () => {
    iam = await emulator()
    client = await startedClientFor(iam, {
      jwksRefreshIntervalMs: 100,
      revocationListRefreshIntervalMs: 100,
    })
    clients.push(client)
  })
  after(async () => {
    for (const c of clients) await c.close()
    await iam.close()
  })

  it('has no snapshot before local validation is started', async () => {
    const idle = clientFor(iam)
    clients.push(idle)
    assert.equal(idle.keySetSnapshot(), undefined)
    assert.equal(idle.revocationListSnapshot(), undefined)
  })

  it('describes the key set: ids, declared algorithm, modulus size; follows a rotation', async () => {
    const snapshot = client.keySetSnapshot()
    assert.ok(Object.isFrozen(snapshot) && Object.isFrozen(snapshot?.keys))
    assert.deepEqual(snapshot?.keys, [
      {
        kid: iam.currentKid,
        kty: 'RSA',
        alg: 'RS256',
        use: 'sig',
        modulusBits: 2048,
        publicExponent: 65537,
      },
    ])
    const old = iam.currentKid
    const kid = await iam.rotateKeys({ retireOld: false })
    await eventually(() => client.keySetSnapshot()?.keys.length === 2)
    assert.deepEqual(
      client
        .keySetSnapshot()
        ?.keys.map((k) => k.kid)
        .sort(),
      [old, kid].sort(),
    )
  })

  it('describes the revocation list, and its filter copy tests tokens', async () => {
    const token = await iam.issueUserToken({ sub: 'inspected-user' })
    await iam.revokeToken(token)
    const revokedAt = await iam.revokeUser('inspected-user')
    await eventually(() => (client.revocationListSnapshot()?.revokedUsers.length ?? 0) > 0)
    await eventually(() => client.revocationListSnapshot()?.filter.mightContain(token) === true)
    const snapshot = client.revocationListSnapshot()
    assert.ok(snapshot !== undefined && Object.isFrozen(snapshot))
    const filter = snapshot.revokedTokens
    assert.equal(filter.bits % 64, 0)
    assert.ok(filter.hashFunctions >= 1)
    assert.ok(filter.bitsSet >= 1 && filter.bitsSet <= filter.hashFunctions)
    assert.equal(filter.approximateTokens, 1)
    assert.ok(filter.falsePositiveRate > 0 && filter.falsePositiveRate < 1e-6)
    const user = snapshot.revokedUsers.find((u) => u.userId === 'inspected-user')
    assert.equal(user?.revokedAtMs, Date.parse(revokedAt))
    assert.equal(user?.revokedAt, new Date(Date.parse(revokedAt)).toISOString())

    // A copy: adding to it changes nothing in the client.
    const other = await iam.issueUserToken({ sub: 'not-revoked' })
    snapshot.filter.add(other)
    assert.equal(client.revocationListSnapshot()?.filter.mightContain(other), false)
    assert.equal((await client.validateAndParseClaims(other)).sub, 'not-revoked')
  })

  it('explains a refusal step by step, naming the role override a grant came from', async () => {
    await iam.createRole({
      roleId: DEFAULT_USER_ROLE_ID,
      permissions: [{ resource: 'BASE', action: Action.Read }],
    })
    await iam.setRoleOverride(NS, DEFAULT_USER_ROLE_ID, [
      { resource: 'NAMESPACE:{namespace}:USER:{userId}', action: Action.Read },
    ])
    const claims = await client.validateAndParseClaims(
      await iam.issueUserToken({
        sub: 'u-explained',
        permissions: [{ Resource: `NAMESPACE:${NS}:USER:someone-else`, Action: Action.Update }],
        namespace_roles: [{ roleId: DEFAULT_USER_ROLE_ID, namespace: NS }],
      }),
    )
    const required = { resource: 'NAMESPACE:{namespace}:USER:{userId}', action: Action.Update }
    const resources = { '{namespace}': NS, '{userId}': 'u-explained' }
    const decision = await client.explainPermission(claims, required, resources)
    assert.equal(decision.allowed, false)
    assert.equal(await client.validatePermission(claims, required, resources), false)
    assert.deepEqual(
      decision.steps?.map((s) => s.kind),
      ['required', 'grant', 'role', 'grant'],
    )
    const fromOverride = decision.steps?.[3] as GrantStep
    assert.equal(fromOverride.roleOverrideNamespace, NS)
    assert.equal(fromOverride.resourceCheck.matched, true)
    assert.equal(fromOverride.missingActionBits, Action.Update)
    assert.match(fromOverride.message, /role override in "sample-namespace"/)
    // Plain data: survives JSON.
    assert.deepEqual(JSON.parse(JSON.stringify(decision)), decision)

    const lines = formatPermissionDecision(decision)
    assert.equal(
      lines[0],
      `REFUSED "NAMESPACE:${NS}:USER:u-explained" action ${formatAction(Action.Update)}`,
    )
    assert.equal(lines.filter((l) => /^ {2}\d+\. /.test(l)).length, 4)
    assert.ok(lines.includes('Missing: none of the 2 grants looked at covers it.'))
    assert.ok(
      lines.includes('  Nearest: step 4 covers the resource but its action lacks 4 (UPDATE).'),
    )
    assert.ok(
      lines.some((l) => l.startsWith('  Nearest: step 2 has the action, but not the resource')),
    )
  })

  it('renders an allowed decision with its grant, and one made without steps', async () => {
    const claims = await client.validateAndParseClaims(
      await iam.issueUserToken({
        permissions: [
          { Resource: `NAMESPACE:${NS}:ITEM`, Action: Action.Read },
          { Resource: `NAMESPACE:${NS}:*`, Action: Action.Read | Action.Update },
        ],
      }),
    )
    const required = { resource: `NAMESPACE:${NS}:ORDER`, action: Action.Update }
    const lines = formatPermissionDecision(await client.explainPermission(claims, required))
    assert.deepEqual(lines.slice(0, 2), [
      `ALLOWED "NAMESPACE:${NS}:ORDER" action 4 (UPDATE)`,
      `  granted by token permission #1 "NAMESPACE:${NS}:*" action 6 (READ|UPDATE)`,
    ])
    assert.match(lines.at(-1) ?? '', /^ {2}3\. token permission #1 .*=> ALLOWED$/)
    assert.deepEqual(formatPermissionDecision({ allowed: false }), [
      'REFUSED the required permission',
      '  (no steps recorded: explain with IamClient.explainPermission)',
    ])
  })

  it('says which placeholders a refused requirement still has, and when there was no grant', async () => {
    const claims = await client.validateAndParseClaims(await iam.issueUserToken({}))
    const lines = formatPermissionDecision(
      await client.explainPermission(claims, {
        resource: 'NAMESPACE:{namespace}:USER:{userId}',
        action: 2,
      }),
    )
    assert.ok(lines.some((l) => l.startsWith('Missing: the token carries no permission')))
    assert.ok(lines.some((l) => l.includes('placeholder(s) {namespace}, {userId}')))
  })

  it('formats actions by their bit names', () => {
    assert.equal(formatAction(0), '0 (none)')
    assert.equal(formatAction(15), '15 (CREATE|READ|UPDATE|DELETE)')
    assert.equal(formatAction(16), '16')
    assert.equal(formatAction(-1), '-1')
  })
})
