// An extension-style gRPC service (@grpc/grpc-js) protected by iam-node-sdk/grpc, against the
// emulator. Each RPC's permission is declared in guild.proto, in method options.
//
//   npm run build && node examples/grpc/server.js
//
// Imports the package entry points (`iam-node-sdk/grpc`, `iam-node-sdk/emulator`), which resolve
// to dist/ after `npm run build`. Run directly, it starts the emulator and the service, makes an
// allowed call and refused ones with a gRPC client, prints what came back, and stops.
import { fileURLToPath } from 'node:url'

import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { startEmulator } from 'iam-node-sdk/emulator'
import { createIamGrpc, requireIam } from 'iam-node-sdk/grpc'

const PROTO = fileURLToPath(new URL('./guild.proto', import.meta.url))

/**
 * Starts the service on a loopback port, with a client for it.
 *
 * @param {{ iamBaseUrl: string, clientId: string, clientSecret: string, port?: number }} config
 */
export async function startGrpcExample({ iamBaseUrl, clientId, clientSecret, port = 0 }) {
  // proto-loader's defaults: field names in camelCase (guild_id is guildId).
  const definition = protoLoader.loadSync(PROTO)
  const iam = createIamGrpc({
    baseUrl: iamBaseUrl,
    clientId,
    clientSecret,
    // The (resource) and (action) options of each RPC; {namespace} comes from the request.
    packageDefinition: definition,
  })
  const { GuildService } = grpc.loadPackageDefinition(definition).accelbyte.custom.guild

  const progressByGuild = new Map()
  const server = new grpc.Server({ interceptors: [iam.interceptor] })
  server.addService(GuildService.service, {
    createOrUpdateGuildProgress(call, callback) {
      const { namespace, guildProgress } = call.request
      const progress = { ...guildProgress, namespace }
      progressByGuild.set(`${namespace}/${progress.guildId}`, progress)
      callback(null, { guildProgress: progress })
    },
    getGuildProgress(call, callback) {
      const { namespace, guildId } = call.request
      const progress = progressByGuild.get(`${namespace}/${guildId}`)
      if (progress === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: `no progress for guild ${guildId}` })
        return
      }
      // The validated token of this call.
      callback(null, { guildProgress: { ...progress, readBy: requireIam(call).claims.sub } })
    },
  })
  const boundPort = await new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  )
  await iam.ready // token granted, JWKS and revocation list loaded
  const address = `127.0.0.1:${boundPort}`
  const client = new GuildService(address, grpc.credentials.createInsecure())
  return {
    address,
    client,
    async close() {
      client.close()
      await new Promise((resolve) => server.tryShutdown(resolve))
      await iam.close()
    },
  }
}

/**
 * Calls one RPC with a bearer token (or none) and describes the answer.
 *
 * @returns {Promise<{ status: string, value?: unknown, details?: string, trailers?: Record<string, unknown> }>}
 */
export function callWithToken(client, method, request, token) {
  const metadata = new grpc.Metadata()
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`)
  return new Promise((resolve) => {
    client[method](request, metadata, (error, value) => {
      if (error === null) resolve({ status: 'OK', value })
      else {
        resolve({
          status: grpc.status[error.code],
          details: error.details,
          // The IAM's error code and the SDK's, in trailing metadata.
          trailers: Object.fromEntries(
            Object.entries(error.metadata.getMap()).filter(([key]) => key.startsWith('iam-')),
          ),
        })
      }
    })
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const emulator = await startEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) })
  const example = await startGrpcExample({
    iamBaseUrl: emulator.baseUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    port: Number(process.env.PORT ?? 0),
  })
  const guildAdmin = await emulator.issueUserToken({
    sub: 'guild-admin',
    namespace: 'sample-namespace',
    permissions: [{ Resource: 'ADMIN:NAMESPACE:sample-namespace:CLOUDSAVE:RECORD', Action: 3 }],
  })
  const player = await emulator.issueUserToken({ sub: 'player-1', namespace: 'sample-namespace' })
  const progress = { guildId: 'guild-7', objectives: { dragons: 3 } }
  const show = (what, answer) => console.log(`${what}\n  ${JSON.stringify(answer)}\n`)

  console.log(`IAM emulator   ${emulator.baseUrl}\ngRPC service   ${example.address}\n`)
  const { client } = example
  show(
    'CreateOrUpdateGuildProgress as guild-admin (CREATE on ADMIN:NAMESPACE:sample-namespace:CLOUDSAVE:RECORD): allowed',
    await callWithToken(
      client,
      'createOrUpdateGuildProgress',
      { namespace: 'sample-namespace', guildProgress: progress },
      guildAdmin,
    ),
  )
  show(
    'GetGuildProgress as guild-admin: allowed',
    await callWithToken(
      client,
      'getGuildProgress',
      { namespace: 'sample-namespace', guildId: 'guild-7' },
      guildAdmin,
    ),
  )
  show(
    'GetGuildProgress as player-1 (no permission): refused',
    await callWithToken(
      client,
      'getGuildProgress',
      { namespace: 'sample-namespace', guildId: 'guild-7' },
      player,
    ),
  )
  show(
    'GetGuildProgress as guild-admin, in another namespace: refused',
    await callWithToken(
      client,
      'getGuildProgress',
      { namespace: 'other-namespace', guildId: 'guild-7' },
      guildAdmin,
    ),
  )
  show(
    'GetGuildProgress without a token: refused',
    await callWithToken(client, 'getGuildProgress', {
      namespace: 'sample-namespace',
      guildId: 'guild-7',
    }),
  )
  await example.close()
  await emulator.close()
}
