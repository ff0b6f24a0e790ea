// Emulator config: validation errors that name the field, the demo config, custom configs, the
// programmatic inputs, token lifetimes, and the startTestIam helper.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import {
  demoConfig,
  startEmulator,
  validateConfig,
  type EmulatorConfig,
} from '../../src/emulator/index.js'
import { startTestIam } from '../../src/testing/index.js'
import {
  basic,
  bearer,
  clientToken,
  decodeJwt,
  defaultBasic,
  get,
  postForm,
  sleep,
} from './helpers.js'

describe('validateConfig', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 42, /config: must be an object/],
    [
      'unknown top-level field',
      { clientTokenExpiresin: 5 },
      /config\.clientTokenExpiresin: unknown field/,
    ],
    [
      'bad lifetime',
      { clientTokenExpiresIn: 0 },
      /config\.clientTokenExpiresIn: must be an integer >= 1/,
    ],
    [
      'bad lifetime type',
      { userTokenExpiresIn: '60' },
      /config\.userTokenExpiresIn: must be an integer/,
    ],
    [
      'bad namespace type',
      { namespaces: [{ namespace: 'a', type: 'Team' }] },
      /config\.namespaces\[0\]\.type: must be one of Game, Studio, Publisher/,
    ],
    [
      'bad namespace name',
      { namespaces: [{ namespace: 'a b', type: 'Game' }] },
      /config\.namespaces\[0\]\.namespace/,
    ],
    [
      'duplicate namespace',
      {
        namespaces: [
          { namespace: 'a', type: 'Game' },
          { namespace: 'a', type: 'Game' },
        ],
      },
      /config\.namespaces\[1\]\.namespace: duplicate/,
    ],
    [
      'studio that is not a Studio',
      {
        namespaces: [
          { namespace: 'g', type: 'Game', studioNamespace: 'p' },
          { namespace: 'p', type: 'Publisher' },
        ],
      },
      /config\.namespaces\[0\]\.studioNamespace: "p" is not a declared Studio namespace/,
    ],
    [
      'client in an undeclared namespace',
      { clients: [{ clientId: 'c', clientSecret: 's', namespace: 'nowhere' }] },
      /config\.clients\[0\]\.namespace: "nowhere" is not declared/,
    ],
    [
      'client without id',
      { namespaces: [{ namespace: 'g', type: 'Game' }], clients: [{ namespace: 'g' }] },
      /config\.clients\[0\]\.clientId: must be a string/,
    ],
    [
      'permission without action',
      {
        namespaces: [{ namespace: 'g', type: 'Game' }],
        clients: [{ clientId: 'c', namespace: 'g', permissions: [{ resource: 'X' }] }],
      },
      /config\.clients\[0\]\.permissions\[0\]\.action: is required/,
    ],
    [
      'PascalCase permission with bad Action',
      { roles: [{ roleId: 'r', permissions: [{ Resource: 'X', Action: -1 }] }] },
      /config\.roles\[0\]\.permissions\[0\]\.Action: must be an integer >= 0/,
    ],
    [
      'role without id',
      { roles: [{ permissions: [] }] },
      /config\.roles\[0\]\.roleId: is required/,
    ],
    [
      'override of an unknown role',
      { roleOverrides: [{ namespace: 'g', roleId: 'ghost', permissions: [] }] },
      /config\.roleOverrides\[0\]\.roleId: "ghost" is not a role/,
    ],
    [
      'user without password',
      { users: [{ username: 'u' }] },
      /config\.users\[0\]\.password: must be a string/,
    ],
    [
      'duplicate username',
      {
        users: [
          { username: 'u', password: 'p' },
          { username: 'u', password: 'q' },
        ],
      },
      /config\.users\[1\]\.username: duplicate/,
    ],
    [
      'defaultClientId not a client',
      { defaultClientId: 'ghost' },
      /config\.defaultClientId: "ghost" is not a client/,
    ],
    [
      'defaultClientId of a public client',
      {
        namespaces: [{ namespace: 'g', type: 'Game' }],
        clients: [{ clientId: 'pub', namespace: 'g' }],
        defaultClientId: 'pub',
      },
      /config\.defaultClientId: "pub" is a public client/,
    ],
    [
      'bad namespace_roles item',
      { users: [{ username: 'u', password: 'p', namespace_roles: [{ roleId: 'r' }] }] },
      /config\.users\[0\]\.namespace_roles\[0\]\.namespace: must be a string/,
    ],
  ]
  for (const [name, config, message] of cases) {
    test(`TypeError: ${name}`, () => {
      assert.throws(
        () => validateConfig(config),
        (err: unknown) => {
          assert.ok(err instanceof TypeError)
          assert.match(err.message, /^Invalid emulator config:/)
          assert.match(err.message, message)
          return true
        },
      )
    })
  }

  test('every problem is listed at once', () => {
    assert.throws(
      () => validateConfig({ clientTokenExpiresIn: -1, users: [{ username: 'u' }], bogus: 1 }),
      (err: Error) =>
        /clientTokenExpiresIn/.test(err.message) &&
        /users\[0\]\.password/.test(err.message) &&
        /config\.bogus: unknown field/.test(err.message),
    )
  })

  test('startEmulator rejects an invalid config before listening', async () => {
    await assert.rejects(
      startEmulator({ config: { clients: [{ clientId: 'c', namespace: 'x' }] } as EmulatorConfig }),
      /config\.clients\[0\]\.namespace/,
    )
    await assert.rejects(startEmulator({ port: -1 }), /port/)
  })

  test('the demo config and examples/emulator-config.json are valid', async () => {
    const demo = validateConfig(demoConfig())
    assert.equal(demo.defaultClientId, 'sample-client')
    assert.equal(demo.defaultNamespace, 'sample-namespace')
    const example = JSON.parse(
      await readFile(new URL('../../examples/emulator-config.json', import.meta.url), 'utf8'),
    )
    const resolved = validateConfig(example)
    assert.equal(resolved.defaultClientId, 'shop-service')
    assert.equal(
      resolved.namespaces.find((n) => n.namespace === 'studio1-game1')?.publisherNamespace,
      'acme',
    )
  })

  test('an empty config still gets the built-in default client and a game namespace', () => {
    const resolved = validateConfig({})
    assert.equal(resolved.defaultClientId, 'sample-client')
    assert.equal(resolved.defaultNamespace, 'sample-namespace')
    assert.deepEqual(resolved.namespaces.map((n) => [n.namespace, n.type]).sort(), [
      ['sample-namespace', 'Game'],
      ['sample-publisher', 'Publisher'],
    ])
  })
})

describe('the demo config over HTTP', () => {
  test('demo users: sample-user holds the Flask example permission, other-user does not', async () => {
    const emu = await startEmulator()
    try {
      assert.equal(emu.namespace, 'sample-namespace')
      assert.equal(emu.publisherNamespace, 'sample-publisher')
      assert.equal(emu.clientId, 'sample-client')
      assert.equal(emu.baseUrl, `${emu.url}/iam`)
      assert.equal(emu.basicBaseUrl, `${emu.url}/basic`)
      assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const grant = async (username: string, password: string) =>
        decodeJwt(
          (
            await postForm(
              `${emu.baseUrl}/v3/oauth/token`,
              { grant_type: 'password', username, password },
              defaultBasic(emu),
            )
          ).body.access_token,
        ).payload
      const sample = await grant('sample-user', 'sample-password')
      assert.equal(sample.sub, 'sample-userid')
      assert.deepEqual(sample.permissions, [
        { Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 },
      ])
      const other = await grant('other-user', 'other-password')
      assert.equal(other.sub, 'other-userid')
      assert.deepEqual(other.permissions, [])
    } finally {
      await emu.close()
    }
  })
})

describe('a custom config', () => {
  test('example config: default client, roles, overrides, users, issuer', async () => {
    const config = JSON.parse(
      await readFile(new URL('../../examples/emulator-config.json', import.meta.url), 'utf8'),
    ) as EmulatorConfig
    const emu = await startEmulator({ config })
    try {
      assert.equal(emu.clientId, 'shop-service')
      assert.equal(emu.clientSecret, 'shop-service-secret')
      assert.equal(emu.namespace, 'studio1-game1')
      const admin = await clientToken(emu)
      const payload = decodeJwt(admin).payload
      assert.equal(payload.iss, 'http://127.0.0.1:4300/iam')
      assert.equal(payload.scope, 'account commerce')
      const override = await get(
        `${emu.baseUrl}/v3/admin/namespaces/studio1-game2/roleoverride/2251438839e948d783ec0e5281daf05b/permissions`,
        bearer(admin),
      )
      assert.deepEqual(
        override.body.permissions.map((p: { Action: number }) => p.Action),
        [2],
      )
      const ctx = await get(
        `${emu.basicBaseUrl}/v1/admin/namespaces/studio1-game1/context`,
        bearer(admin),
      )
      assert.deepEqual(ctx.body, {
        namespace: 'studio1-game1',
        type: 'Game',
        studioNamespace: 'studio1',
        publisherNamespace: 'acme',
      })
      const login = await postForm(
        `${emu.baseUrl}/v3/oauth/token`,
        { grant_type: 'password', username: 'alice', password: 'alice-password' },
        defaultBasic(emu),
      )
      const alice = decodeJwt(login.body.access_token).payload
      assert.deepEqual(alice.namespace_roles, [
        { roleId: '2251438839e948d783ec0e5281daf05b', namespace: 'studio1-' },
      ])
      assert.deepEqual(alice.roles, ['shop-admin'])
      assert.deepEqual(alice.subs, ['online'])
      assert.equal(alice.country, 'US')
      const bob = await postForm(
        `${emu.baseUrl}/v3/oauth/token`,
        { grant_type: 'password', username: 'banned-bob', password: 'bob-password' },
        defaultBasic(emu),
      )
      assert.equal(decodeJwt(bob.body.access_token).payload.bans[0].Ban, 'ORDER_AND_PAYMENT')
      assert.deepEqual(bob.body.bans[0], {
        ban: 'ORDER_AND_PAYMENT',
        enabled: true,
        endDate: '2099-01-01T00:00:00Z',
        targetedNamespace: 'studio1-game1',
      })
    } finally {
      await emu.close()
    }
  })

  test('short token lifetimes (for refresh tests): expires_in and exp follow the config', async () => {
    const emu = await startEmulator({ config: { clientTokenExpiresIn: 1, userTokenExpiresIn: 2 } })
    try {
      const res = await postForm(
        `${emu.baseUrl}/v3/oauth/token`,
        { grant_type: 'client_credentials' },
        defaultBasic(emu),
      )
      assert.equal(res.body.expires_in, 1)
      const { payload } = decodeJwt(res.body.access_token)
      assert.equal(payload.exp - payload.iat, 1)
      const user = decodeJwt(await emu.issueUserToken()).payload
      assert.equal(user.exp - user.iat, 2)
      await sleep(2100)
      const verify = await postForm(
        `${emu.baseUrl}/v3/oauth/verify`,
        { token: res.body.access_token },
        defaultBasic(emu),
      )
      assert.equal(verify.status, 400)
    } finally {
      await emu.close()
    }
  })
})

describe('programmatic inputs', () => {
  test('issueUserToken defaults and overrides', async () => {
    const emu = await startEmulator()
    try {
      const { header, payload } = decodeJwt(await emu.issueUserToken())
      assert.deepEqual(header, { alg: 'RS256', kid: emu.currentKid, typ: 'JWT' })
      assert.match(payload.sub, /^[0-9a-f]{32}$/)
      assert.equal(payload.namespace, emu.namespace)
      assert.equal(payload.client_id, emu.clientId)
      assert.equal(payload.iss, emu.baseUrl)
      assert.equal(payload.exp - payload.iat, 3600)
      assert.deepEqual(payload.permissions, [])
      assert.equal(payload.aud, undefined)
      assert.equal(payload.subs, undefined)

      const custom = decodeJwt(
        await emu.issueUserToken({
          sub: 'u',
          aud: ['https://a.test'],
          subs: ['online'],
          expiresIn: 10,
          namespace_roles: [{ roleId: 'r', namespace: '*' }],
          extra_claim: 'x',
        }),
      ).payload
      assert.equal(custom.exp - custom.iat, 10)
      assert.deepEqual(custom.aud, ['https://a.test'])
      assert.deepEqual(custom.subs, ['online'])
      assert.equal(custom.extra_claim, 'x')
      const pinned = decodeJwt(await emu.issueUserToken({ iat: 1000, exp: 2000, nbf: 900 })).payload
      assert.deepEqual([pinned.iat, pinned.exp, pinned.nbf], [1000, 2000, 900])
    } finally {
      await emu.close()
    }
  })

  test('signToken: raw payload, odd headers', async () => {
    const emu = await startEmulator()
    try {
      const raw = decodeJwt(await emu.signToken({ a: 1 }))
      assert.deepEqual(raw.payload, { a: 1 })
      assert.equal(decodeJwt(await emu.signToken({}, { alg: 'HS256' })).header.alg, 'HS256')
      assert.equal(decodeJwt(await emu.signToken({}, { kid: null })).header.kid, undefined)
      const none = await emu.signToken({}, { alg: 'none' })
      assert.ok(none.endsWith('.'))
      assert.equal(decodeJwt(await emu.signToken({}, { alg: 'PS256' })).header.alg, 'PS256')
      await assert.rejects(emu.signToken({}, { alg: 'ES256' }), /unsupported alg/)
    } finally {
      await emu.close()
    }
  })

  test('create* validate their input and name the bad field', async () => {
    const emu = await startEmulator()
    try {
      await assert.rejects(
        emu.createRole({ permissions: [{ resource: 'X', action: 'read' as never }] }),
        /role\.permissions\[0\]\.action/,
      )
      await assert.rejects(emu.createClient({ namespace: '' }), /client\.namespace/)
      await assert.rejects(
        emu.createNamespace({ namespace: 'g2', type: 'Game', studioNamespace: 'ghost' }),
        /namespace\.studioNamespace/,
      )
      await assert.rejects(emu.createUser({ username: 'x' } as never), /user\.password/)
      await assert.rejects(emu.createUser({ username: 'sample-user', password: 'p' }), /taken/)
      await assert.rejects(
        emu.setRoleOverride('ns', 'r', [{ resource: 1 } as never]),
        /override\.permissions\[0\]/,
      )
      await assert.rejects(emu.issueClientToken('ghost'), /unknown client/)
      await assert.rejects(emu.revokeToken(''), /token/)
    } finally {
      await emu.close()
    }
  })

  test('createClient in an unknown namespace creates it as a Game namespace', async () => {
    const emu = await startEmulator()
    try {
      const c = await emu.createClient({ namespace: 'brand-new' })
      assert.match(c.clientId, /^[0-9a-f]{32}$/)
      assert.match(c.clientSecret, /^[0-9a-f]{32}$/)
      const ctx = await get(
        `${emu.basicBaseUrl}/v1/admin/namespaces/brand-new/context`,
        bearer(await clientToken(emu)),
      )
      assert.equal(ctx.body.type, 'Game')
      // The new client authenticates.
      const res = await postForm(
        `${emu.baseUrl}/v3/oauth/token`,
        { grant_type: 'client_credentials' },
        basic(c.clientId, c.clientSecret),
      )
      assert.equal(res.status, 200)
    } finally {
      await emu.close()
    }
  })

  test('createUser: the user can log in; default namespace and generated id', async () => {
    const emu = await startEmulator()
    try {
      const id = await emu.createUser({
        username: 'carol',
        password: 'pw',
        permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:*', Action: 2 }],
      })
      assert.match(id, /^[0-9a-f]{32}$/)
      const res = await postForm(
        `${emu.baseUrl}/v3/oauth/token`,
        { grant_type: 'password', username: 'carol', password: 'pw' },
        defaultBasic(emu),
      )
      const { payload } = decodeJwt(res.body.access_token)
      assert.equal(payload.sub, id)
      assert.equal(payload.namespace, 'sample-namespace')
      assert.deepEqual(payload.permissions, [
        { Resource: 'NAMESPACE:sample-namespace:USER:*', Action: 2 },
      ])
    } finally {
      await emu.close()
    }
  })
})

describe('startTestIam', () => {
  test('starts on an ephemeral port with clientOptions ready for IamClient', async () => {
    const iam = await startTestIam()
    try {
      assert.deepEqual(Object.keys(iam.clientOptions).sort(), [
        'baseUrl',
        'basicBaseUrl',
        'clientId',
        'clientSecret',
      ])
      assert.equal(iam.clientOptions.baseUrl, iam.emulator.baseUrl)
      assert.notEqual(iam.emulator.port, 4300)
      const { baseUrl, clientId, clientSecret } = iam.clientOptions
      const res = await postForm(
        `${baseUrl}/v3/oauth/token`,
        { grant_type: 'client_credentials' },
        basic(clientId, clientSecret),
      )
      assert.equal(res.status, 200)
    } finally {
      await iam.close()
    }
    // Closing twice is harmless.
    await iam.close()
  })
})
