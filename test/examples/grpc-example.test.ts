/**
 * The gRPC example (examples/grpc/server.js) against the emulator: the calls it prints are
 * answered as the README shows: allowed for the guild admin, refused for a player, for another
 * namespace and without a token, with the IAM codes in trailing metadata.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { startEmulator, type Emulator } from '../../src/emulator/index.js'

interface Answer {
  status: string
  value?: { guildProgress?: Record<string, unknown> }
  details?: string
  trailers?: Record<string, unknown>
}
interface Example {
  address: string
  client: unknown
  close(): Promise<void>
}
interface ExampleModule {
  startGrpcExample(config: Record<string, unknown>): Promise<Example>
  callWithToken(client: unknown, method: string, request: unknown, token?: string): Promise<Answer>
}

// A JavaScript module without types: imported by URL so that the type checker leaves it alone.
const modulePath = new URL('../../examples/grpc/server.js', import.meta.url).href

describe('gRPC example', () => {
  let iam: Emulator
  let example: Example
  let call: (method: string, request: unknown, token?: string) => Promise<Answer>
  let admin = ''
  let player = ''

  before(async () => {
    iam = await startEmulator({ port: 0 })
    const { startGrpcExample, callWithToken } = (await import(modulePath)) as ExampleModule
    example = await startGrpcExample({
      iamBaseUrl: iam.baseUrl,
      clientId: iam.clientId,
      clientSecret: iam.clientSecret,
    })
    call = (method, request, token) => callWithToken(example.client, method, request, token)
    admin = await iam.issueUserToken({
      sub: 'guild-admin',
      namespace: 'sample-namespace',
      permissions: [{ Resource: 'ADMIN:NAMESPACE:sample-namespace:CLOUDSAVE:RECORD', Action: 3 }],
    })
    player = await iam.issueUserToken({ sub: 'player-1', namespace: 'sample-namespace' })
  })
  after(async () => {
    await example?.close()
    await iam?.close()
  })

  const get = { namespace: 'sample-namespace', guildId: 'guild-7' }

  it('lets the guild admin create, then read, with the reader from the validated token', async () => {
    const progress = { guildId: 'guild-7', objectives: { dragons: 3 } }
    const created = await call(
      'createOrUpdateGuildProgress',
      { namespace: 'sample-namespace', guildProgress: progress },
      admin,
    )
    assert.equal(created.status, 'OK')
    const read = await call('getGuildProgress', get, admin)
    assert.equal(read.status, 'OK')
    assert.equal(read.value?.guildProgress?.readBy, 'guild-admin')
  })

  it('refuses a player, and another namespace, with PERMISSION_DENIED / 20013', async () => {
    for (const [request, token] of [
      [get, player],
      [{ ...get, namespace: 'other-namespace' }, admin],
    ] as const) {
      const answer = await call('getGuildProgress', request, token)
      assert.equal(answer.status, 'PERMISSION_DENIED')
      assert.deepEqual(answer.trailers, {
        'iam-error-code': '20013',
        'iam-sdk-error-code': 'ERR_IAM_INSUFFICIENT_PERMISSIONS',
      })
    }
  })

  it('refuses a call without a token with UNAUTHENTICATED / 20001', async () => {
    const answer = await call('getGuildProgress', get)
    assert.equal(answer.status, 'UNAUTHENTICATED')
    assert.deepEqual(answer.trailers, {
      'iam-error-code': '20001',
      'iam-sdk-error-code': 'ERR_IAM_TOKEN_MISSING',
    })
  })
})
