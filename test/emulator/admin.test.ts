// Admin endpoints of the emulator (roles, role overrides, client information, namespace context):
// shapes, casing, 404 codes, and bearer + permission enforcement like the real IAM.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { assertKeys, bearer, clientToken, get } from './helpers.js'

let emu: Emulator
let admin: string // default client token (holds every permission the SDK needs)
let roleId: string
before(async () => {
  emu = await startEmulator()
  admin = await clientToken(emu)
  roleId = await emu.createRole({
    roleName: 'Order manager',
    permissions: [
      { resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: 7 },
      {
        resource: 'NAMESPACE:{namespace}:SALE',
        action: 2,
        schedAction: 1,
        schedCron: '* * * * *',
        schedRange: [],
      },
    ],
  })
})
after(() => emu.close())

const url = {
  role: (id: string) => `${emu.baseUrl}/v3/admin/roles/${id}`,
  override: (ns: string, id: string) =>
    `${emu.baseUrl}/v3/admin/namespaces/${ns}/roleoverride/${id}/permissions`,
  client: (ns: string, id: string) => `${emu.baseUrl}/v3/admin/namespaces/${ns}/clients/${id}`,
  context: (ns: string) => `${emu.basicBaseUrl}/v1/admin/namespaces/${ns}/context?activeOnly=true`,
}

describe('GET /iam/v3/admin/roles/{roleId}', () => {
  test('RoleResponseV3 with camelCase permissions; sched fields only when set', async () => {
    assert.match(roleId, /^[0-9a-f]{32}$/)
    const res = await get(url.role(roleId), bearer(admin), { 'Content-Type': 'application/json' })
    assert.equal(res.status, 200, res.text)
    assertKeys(res.body, ['roleId', 'roleName', 'isWildcard', 'adminRole', 'permissions'])
    assert.deepEqual(res.body, {
      roleId,
      roleName: 'Order manager',
      isWildcard: false,
      adminRole: false,
      permissions: [
        { resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER', action: 7 },
        {
          resource: 'NAMESPACE:{namespace}:SALE',
          action: 2,
          schedAction: 1,
          schedCron: '* * * * *',
          schedRange: [],
        },
      ],
    })
  })

  test('404 errorCode 10456 for an unknown role and for the empty role ID', async () => {
    for (const id of ['no-such-role', '']) {
      const res = await get(url.role(id), bearer(admin))
      assert.equal(res.status, 404)
      assert.deepEqual(res.body, { errorCode: 10456, errorMessage: 'role not found' })
    }
  })
})

describe('GET /iam/v3/admin/namespaces/{ns}/roleoverride/{roleId}/permissions', () => {
  test('without an override: the role permissions, PascalCase with every field', async () => {
    const res = await get(url.override('sample-namespace', roleId), bearer(admin))
    assert.equal(res.status, 200, res.text)
    assertKeys(res.body, ['permissions'])
    for (const p of res.body.permissions) {
      assertKeys(p, ['Resource', 'Action', 'SchedAction', 'SchedCron', 'SchedRange'])
    }
    assert.deepEqual(res.body.permissions[0], {
      Resource: 'NAMESPACE:{namespace}:USER:{userId}:ORDER',
      Action: 7,
      SchedAction: 0,
      SchedCron: '',
      SchedRange: [],
    })
  })

  test('an override applies to its namespace only, and can be removed', async () => {
    await emu.setRoleOverride('sample-namespace', roleId, [
      { resource: 'NAMESPACE:{namespace}:X', action: 1 },
    ])
    const overridden = await get(url.override('sample-namespace', roleId), bearer(admin))
    assert.deepEqual(overridden.body, {
      permissions: [
        {
          Resource: 'NAMESPACE:{namespace}:X',
          Action: 1,
          SchedAction: 0,
          SchedCron: '',
          SchedRange: [],
        },
      ],
    })
    const elsewhere = await get(url.override('other-namespace', roleId), bearer(admin))
    assert.equal(elsewhere.body.permissions.length, 2)
    // The role endpoint itself is not affected.
    assert.equal((await get(url.role(roleId), bearer(admin))).body.permissions.length, 2)
    await emu.setRoleOverride('sample-namespace', roleId, null)
    const restored = await get(url.override('sample-namespace', roleId), bearer(admin))
    assert.equal(restored.body.permissions.length, 2)
  })

  test('404 errorCode 10456 for an unknown role', async () => {
    const res = await get(url.override('sample-namespace', 'nope'), bearer(admin))
    assert.equal(res.status, 404)
    assert.deepEqual(res.body, { errorCode: 10456, errorMessage: 'role not found' })
  })
})

describe('GET /iam/v3/admin/namespaces/{ns}/clients/{clientId}', () => {
  const CLIENT_KEYS = [
    'audiences',
    'baseUri',
    'clientId',
    'clientName',
    'clientPermissions',
    'clientPlatform',
    'createdAt',
    'description',
    'modifiedAt',
    'namespace',
    'oauthClientType',
    'redirectUri',
    'scopes',
    'skipLoginQueue',
    'twoFactorEnabled',
  ]

  test('ClientV3Response: every required field; redirectUri comma-separated', async () => {
    const res = await get(url.client('sample-namespace', 'sample-web-client'), bearer(admin))
    assert.equal(res.status, 200, res.text)
    assertKeys(res.body, CLIENT_KEYS)
    assert.equal(res.body.clientId, 'sample-web-client')
    assert.equal(res.body.namespace, 'sample-namespace')
    assert.equal(res.body.redirectUri, 'http://localhost:3000,http://127.0.0.1:3000')
    assert.equal(res.body.baseUri, 'http://localhost:3000')
    assert.equal(res.body.oauthClientType, 'Public')
    assert.deepEqual(res.body.clientPermissions, [])
    assert.match(res.body.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/)
  })

  test('a created client, with permissions in camelCase', async () => {
    const { clientId } = await emu.createClient({
      namespace: 'sample-namespace',
      clientName: 'Created',
      redirectUri: 'https://a.test,https://b.test',
      baseUri: 'https://a.test',
      permissions: [{ resource: 'NAMESPACE:sample-namespace:THING', action: 3 }],
    })
    const res = await get(url.client('sample-namespace', clientId), bearer(admin))
    assert.equal(res.status, 200)
    assert.equal(res.body.oauthClientType, 'Confidential')
    assert.equal(res.body.redirectUri, 'https://a.test,https://b.test')
    assert.deepEqual(res.body.clientPermissions, [
      { resource: 'NAMESPACE:sample-namespace:THING', action: 3 },
    ])
  })

  test('404 errorCode 10365 for an unknown client or a client of another namespace', async () => {
    for (const [ns, id] of [
      ['sample-namespace', 'nope'],
      ['sample-namespace', 'sample-client'],
    ] as const) {
      const res = await get(url.client(ns, id), bearer(admin))
      assert.equal(res.status, 404)
      assertKeys(res.body, ['errorCode', 'errorMessage'])
      assert.equal(res.body.errorCode, 10365)
    }
  })
})

describe('GET /basic/v1/admin/namespaces/{ns}/context', () => {
  test('namespace contexts of a game, a publisher, a studio and a studio game', async () => {
    await emu.createNamespace({
      namespace: 'studio1',
      type: 'Studio',
      publisherNamespace: 'sample-publisher',
    })
    await emu.createNamespace({
      namespace: 'studio1-game',
      type: 'Game',
      studioNamespace: 'studio1',
    })
    const cases = {
      'sample-namespace': {
        type: 'Game',
        studioNamespace: '',
        publisherNamespace: 'sample-publisher',
      },
      'sample-publisher': {
        type: 'Publisher',
        studioNamespace: '',
        publisherNamespace: 'sample-publisher',
      },
      studio1: { type: 'Studio', studioNamespace: '', publisherNamespace: 'sample-publisher' },
      'studio1-game': {
        type: 'Game',
        studioNamespace: 'studio1',
        publisherNamespace: 'sample-publisher',
      },
    }
    for (const [namespace, expected] of Object.entries(cases)) {
      const res = await get(url.context(namespace), bearer(admin))
      assert.equal(res.status, 200, res.text)
      assertKeys(res.body, ['namespace', 'type', 'studioNamespace', 'publisherNamespace'])
      assert.deepEqual(res.body, { namespace, ...expected })
    }
  })

  test('404 errorCode 11337 for an unknown namespace', async () => {
    const res = await get(url.context('no-such-namespace'), bearer(admin))
    assert.equal(res.status, 404)
    assert.equal(
      res.text,
      '{"errorCode":11337,"errorMessage":"Unable to get namespace context: Namespace not found"}',
    )
  })
})

describe('bearer authentication and permissions on every admin endpoint', () => {
  const endpoints: [string, () => string, { resource: string; action: number }][] = [
    ['role', () => url.role(roleId), { resource: 'ADMIN:ROLE', action: 2 }],
    [
      'roleOverride',
      () => url.override('sample-namespace', roleId),
      { resource: 'ADMIN:ROLE', action: 2 },
    ],
    [
      'clientInfo',
      () => url.client('sample-namespace', 'sample-web-client'),
      { resource: 'ADMIN:NAMESPACE:sample-namespace:CLIENT', action: 2 },
    ],
    [
      'namespaceContext',
      () => url.context('sample-namespace'),
      { resource: 'ADMIN:NAMESPACE:*:NAMESPACE', action: 2 },
    ],
  ]
  const UNAUTHORIZED = { errorCode: 20001, errorMessage: 'unauthorized access' }
  const FORBIDDEN = { errorCode: 20013, errorMessage: 'insufficient permissions' }

  for (const [name, target, needed] of endpoints) {
    test(`${name}: 401 without, with a bad, an expired or a revoked token`, async () => {
      const now = Math.floor(Date.now() / 1000)
      const expired = await emu.signToken({
        client_id: emu.clientId,
        namespace: 'sample-publisher',
        permissions: [{ Resource: needed.resource, Action: needed.action }],
        iat: now - 7200,
        exp: now - 3600,
      })
      const revoked = await clientToken(emu)
      await emu.revokeToken(revoked)
      for (const auth of [
        undefined,
        'Bearer',
        'Bearer not-a-jwt',
        bearer(expired),
        bearer(revoked),
        `Basic ${admin}`,
      ]) {
        const res = await get(target(), auth)
        assert.equal(res.status, 401, `${String(auth)}: ${res.text}`)
        assert.deepEqual(res.body, UNAUTHORIZED)
      }
    })

    test(`${name}: 403 for a client without the permission or with too few action bits`, async () => {
      const none = await emu.createClient({ namespace: 'sample-publisher' })
      const createOnly = await emu.createClient({
        namespace: 'sample-publisher',
        permissions: [{ resource: needed.resource, action: 1 }],
      })
      for (const c of [none, createOnly]) {
        const res = await get(target(), bearer(await clientToken(emu, c.clientId, c.clientSecret)))
        assert.equal(res.status, 403, res.text)
        assert.deepEqual(res.body, FORBIDDEN)
      }
      // A user token is not a client token, whatever it holds.
      const user = await emu.issueUserToken({
        permissions: [{ Resource: needed.resource, Action: 15 }],
      })
      const res = await get(target(), bearer(user))
      assert.equal(res.status, 403)
    })

    test(`${name}: 200 for a client holding exactly ${needed.resource} ${needed.action}`, async () => {
      const c = await emu.createClient({ namespace: 'sample-publisher', permissions: [needed] })
      const res = await get(target(), bearer(await clientToken(emu, c.clientId, c.clientSecret)))
      assert.equal(res.status, 200, res.text)
    })
  }

  test('client info needs the permission for that namespace; * and trailing * match', async () => {
    const other = await emu.createClient({
      namespace: 'sample-publisher',
      permissions: [{ resource: 'ADMIN:NAMESPACE:elsewhere:CLIENT', action: 2 }],
    })
    const denied = await get(
      url.client('sample-namespace', 'sample-web-client'),
      bearer(await clientToken(emu, other.clientId, other.clientSecret)),
    )
    assert.equal(denied.status, 403)
    const trailing = await emu.createClient({
      namespace: 'sample-publisher',
      permissions: [{ resource: 'ADMIN:NAMESPACE:*', action: 15 }],
    })
    const allowed = await get(
      url.client('sample-namespace', 'sample-web-client'),
      bearer(await clientToken(emu, trailing.clientId, trailing.clientSecret)),
    )
    assert.equal(allowed.status, 200)
  })

  test('a token signed by a retired key is refused', async () => {
    const local = await startEmulator()
    try {
      const old = await clientToken(local)
      await local.rotateKeys({ retireOld: true })
      const res = await get(`${local.baseUrl}/v3/admin/roles/x`, bearer(old))
      assert.equal(res.status, 401)
      const fresh = await get(`${local.baseUrl}/v3/admin/roles/x`, bearer(await clientToken(local)))
      assert.equal(fresh.status, 404)
    } finally {
      await local.close()
    }
  })
})

describe('routing', () => {
  test('unknown path 404, wrong method 405 with Allow', async () => {
    const unknown = await get(`${emu.url}/iam/v3/nothing`)
    assert.equal(unknown.status, 404)
    const wrong = await get(`${emu.baseUrl}/v3/oauth/token`)
    assert.equal(wrong.status, 405)
    assert.equal(wrong.headers.get('allow'), 'POST')
  })

  test('CORS preflight on IAM paths reflects the origin', async () => {
    const res = await fetch(`${emu.baseUrl}/v3/oauth/token`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:3000',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    })
    assert.equal(res.status, 204)
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000')
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/)
  })
})
