import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

import * as grpc from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'

import { httpStatusOf, runGrpcLoad } from '../../bench/grpc-load.js'

const PROTO = fileURLToPath(new URL('../../bench/bench.proto', import.meta.url))

describe('bench gRPC load generator (against a grpc-js server)', () => {
  const seen: string[] = []
  const server = new grpc.Server()
  let origin = ''

  before(async () => {
    const definition = grpc.loadPackageDefinition(loadSync(PROTO)) as unknown as {
      bench: { Bench: { service: grpc.ServiceDefinition } }
    }
    server.addService(definition.bench.Bench.service, {
      health: (
        call: grpc.ServerUnaryCall<object, object>,
        callback: grpc.sendUnaryData<object>,
      ) => {
        seen.push(String(call.metadata.get('authorization')[0]))
        callback(null, {})
      },
      protected: (_call: unknown, callback: grpc.sendUnaryData<object>) =>
        callback({ code: grpc.status.PERMISSION_DENIED }),
    })
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    )
    origin = `http://127.0.0.1:${port}`
  })
  after(() => server.forceShutdown())

  it('counts answered calls, and every non-OK status as an error', async () => {
    const job = { origin, seconds: 0.3, connections: 2, streamsPerConnection: 2 }
    const ok = await runGrpcLoad({ ...job, path: '/bench.Bench/Health' })
    assert.ok(ok.requests > 0)
    assert.equal(ok.errors, 0)
    const refused = await runGrpcLoad({ ...job, path: '/bench.Bench/Protected' })
    assert.ok(refused.requests > 0)
    assert.equal(refused.errors, refused.requests)
    assert.equal(httpStatusOf('7'), 403)
    assert.equal(httpStatusOf('16'), 401)
    assert.equal(httpStatusOf(undefined), 500)
  })

  it('sends the next token of the pool on each call, from the given index on', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'grpc-load-')), 'pool.txt')
    writeFileSync(file, 'a\nb\nc\n')
    seen.length = 0
    await runGrpcLoad({
      origin,
      path: '/bench.Bench/Health',
      seconds: 0.1,
      connections: 1,
      streamsPerConnection: 1,
      pool: { file, start: 1 },
    })
    assert.deepEqual(seen.slice(0, 4), ['Bearer b', 'Bearer c', 'Bearer a', 'Bearer b'])
  })
})
