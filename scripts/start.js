// `npm start`: the IAM emulator (demo config) on :4300 and the Express example on :3000.
// Prints the URLs and curl lines with tokens for an allowed and a denied user; Ctrl-C stops both.
// Uses the built package (dist/), which `npm start` builds first (the prestart script).

const { startEmulator } = await import('iam-node-sdk/emulator')
const { startExample } = await import('../examples/express/server.js')

const iamPort = Number(process.env.EMULATOR_PORT ?? 4300)
const appPort = Number(process.env.PORT ?? 3000)
const emulator = await startEmulator({ port: iamPort })
const example = await startExample({
  port: appPort,
  iamBaseUrl: emulator.baseUrl,
  clientId: emulator.clientId,
  clientSecret: emulator.clientSecret,
})

const allowed = await emulator.issueUserToken({
  sub: 'sample-userid',
  namespace: 'sample-namespace',
  permissions: [{ Resource: 'NAMESPACE:sample-namespace:USER:sample-userid', Action: 4 }],
})
const denied = await emulator.issueUserToken({ sub: 'other-userid', namespace: 'sample-namespace' })

console.log(`
IAM emulator   ${emulator.url}
  IAM base URL     ${emulator.baseUrl}
  Basic base URL   ${emulator.basicBaseUrl}
  Client ID        ${emulator.clientId}
  Client secret    ${emulator.clientSecret}
  Users            sample-user / sample-password (allowed), other-user / other-password (denied)

Example app    ${example.url}    open it, pick a user, sign in, call the endpoints

Get a user token from the emulator (password grant):
  curl -s -u ${emulator.clientId}:${emulator.clientSecret} -d grant_type=password -d username=sample-user -d password=sample-password ${emulator.baseUrl}/v3/oauth/token

Allowed user (sample-userid), expect 200 "You have authorized access!":
  curl -i -H "Authorization: Bearer ${allowed}" ${example.url}/protected

Denied user (other-userid), expect 403 with errorCode 20013:
  curl -i -H "Authorization: Bearer ${denied}" ${example.url}/protected

No token, expect 401 with errorCode 20001:
  curl -i ${example.url}/protected

Ctrl-C to stop.`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await example.close()
  await emulator.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
