// Faults that replace the answer: an exact body, a streamed oversized body, no answer at all.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startEmulator, type Emulator, type EmulatorFault } from '../../src/emulator/index.js'
import { bearer, clientToken, defaultBasic, get, sendJson, sleep } from './helpers.js'

let emu: Emulator
before(async () => {
  emu = await startEmulator()
})
after(() => emu.close())

const clientInfoUrl = (e: Emulator): string =>
  `${e.baseUrl}/v3/admin/namespaces/${e.publisherNamespace}/clients/${e.clientId}`
const jwksUrl = (e: Emulator): string => `${e.baseUrl}/v3/oauth/jwks`

/** Waits until `condition` holds (no time limit of its own: the test timeout bounds it). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5)
}

/** A fetch whose settling is observable without awaiting it. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  return { promise, settled: () => done }
}

describe('body fault', () => {
  test('answers exactly the given body, 200 by default, before authentication', async () => {
    const cases: [unknown, string][] = [
      [{}, '{}'],
      [{ redirectUri: null }, '{"redirectUri":null}'],
      [{ redirectUri: 5 }, '{"redirectUri":5}'],
      [null, 'null'],
      [[1, 'a'], '[1,"a"]'],
      ['{"keys":[', '{"keys":['],
      ['not json at all', 'not json at all'],
    ]
    for (const [body, text] of cases) {
      emu.setFault('clientInfo', { body, times: 1 })
      const res = await fetch(clientInfoUrl(emu)) // no bearer token: the fault comes first
      assert.equal(res.status, 200)
      assert.equal(await res.text(), text)
      assert.equal(res.headers.get('content-type'), 'application/json')
      assert.equal(res.headers.get('x-emulator-fault'), 'injected')
    }
    const real = await get(clientInfoUrl(emu), bearer(await clientToken(emu)))
    assert.equal(real.status, 200)
    assert.equal(real.body.clientId, emu.clientId)
  })

  test('with a status; an empty string sends no body; CORS headers still apply', async () => {
    emu.setFault('revocationList', { status: 500, body: 'upstream exploded', times: 1 })
    const failed = await fetch(`${emu.baseUrl}/v3/oauth/revocationlist`, {
      headers: { Origin: 'http://app.example' },
    })
    assert.equal(failed.status, 500)
    assert.equal(await failed.text(), 'upstream exploded')
    assert.equal(failed.headers.get('access-control-allow-origin'), 'http://app.example')

    emu.setFault('jwks', { body: '', times: 1 })
    const empty = await fetch(jwksUrl(emu))
    assert.equal(empty.status, 200)
    assert.equal(await empty.text(), '')
    assert.equal(empty.headers.get('content-length'), '0')
  })

  test('the stored body is a copy: changing the object afterwards changes nothing', async () => {
    const body = { redirectUri: 'http://a.example' }
    emu.setFault('clientInfo', { body, times: 1 })
    body.redirectUri = 'http://b.example'
    assert.deepEqual(emu.faults().clientInfo, {
      delayMs: 0,
      body: { redirectUri: 'http://a.example' },
      times: 1,
    })
    assert.equal(
      await (await fetch(clientInfoUrl(emu))).text(),
      '{"redirectUri":"http://a.example"}',
    )
  })
})

describe('streamBytes fault', () => {
  test('a client reading it all gets exactly that many bytes, starting like a JSON object', async () => {
    const total = 3 * 64 * 1024 + 5
    emu.setFault('jwks', { streamBytes: total, times: 1 })
    const res = await fetch(jwksUrl(emu))
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.headers.get('content-length'), null) // chunked: the size is not announced
    const text = await res.text()
    assert.equal(text.length, total)
    assert.ok(text.startsWith('{"permissions":['))
    assert.deepEqual(JSON.parse(text), { permissions: [] })
    assert.equal(emu.streamedBytes('jwks'), total)
    assert.equal(await emu.streamStopped('jwks'), total)
  })

  test('tiny sizes give the start of {"permissions":[]}; status is honoured', async () => {
    emu.setFault('revocationList', { streamBytes: 10, status: 503, times: 1 })
    const res = await fetch(`${emu.baseUrl}/v3/oauth/revocationlist`)
    assert.equal(res.status, 503)
    assert.equal(await res.text(), '{"permissi')
  })

  test('stops writing when the client stops reading and goes away', async () => {
    const total = 512 * 1024 * 1024
    emu.setFault('jwks', { streamBytes: total, times: 1 })
    const res = await fetch(jwksUrl(emu))
    const reader = res.body!.getReader()
    let read = 0
    while (read < 256 * 1024) {
      const { value, done } = await reader.read()
      assert.equal(done, false)
      read += value.length
    }
    await reader.cancel()
    const written = await emu.streamStopped('jwks')
    assert.ok(written >= read, `${written} written, ${read} read`)
    // Written no further ahead of the reader than the socket buffers hold (a few MiB here;
    // Linux lets the receive side grow to 32 MiB).
    assert.ok(written - read < 64 * 1024 * 1024, `${written} written, ${read} read`)
    assert.equal(emu.streamedBytes('jwks'), written)
    assert.deepEqual((await get(`${emu.url}/emulator/streams`)).body.jwks, written)
  })

  test('close() ends a stream the client still holds open', async () => {
    const e = await startEmulator()
    const total = 512 * 1024 * 1024
    e.setFault('jwks', { streamBytes: total })
    const res = await fetch(jwksUrl(e))
    const reader = res.body!.getReader()
    assert.equal((await reader.read()).done, false)
    await e.close()
    assert.ok((await e.streamStopped('jwks')) < total)
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break
    })
  })
})

describe('hang fault', () => {
  test('never answers; the client gives up; the next request is answered', async () => {
    emu.resetRequestCounts()
    emu.setFault('role', { hang: true, times: 1 })
    const abort = new AbortController()
    const hanging = track(fetch(`${emu.baseUrl}/v3/admin/roles/x`, { signal: abort.signal }))
    await until(() => emu.requestCount('role') === 1)
    // The server is alive and answers other requests meanwhile; the hanging one stays open.
    assert.equal((await get(jwksUrl(emu), defaultBasic(emu))).status, 200)
    assert.equal(hanging.settled(), false)
    abort.abort()
    await assert.rejects(hanging.promise, { name: 'AbortError' })
    const next = await get(`${emu.baseUrl}/v3/admin/roles/x`, bearer(await clientToken(emu)))
    assert.equal(next.status, 404)
  })

  test('close() drops hanging requests and does not wait for them', async () => {
    const e = await startEmulator()
    e.setFault('token', { hang: true })
    const hanging = fetch(`${e.baseUrl}/v3/oauth/token`, { method: 'POST' })
    hanging.catch(() => {})
    await until(() => e.requestCount('token') === 1)
    await e.close()
    await assert.rejects(hanging)
  })
})

describe('validation of the new fault fields', () => {
  const invalid: [string, EmulatorFault, RegExp][] = [
    ['a function body', { body: () => 1 }, /fault\.body/],
    ['a BigInt body', { body: 1n }, /fault\.body/],
    ['a NaN body', { body: Number.NaN }, /fault\.body/],
    ['streamBytes 0', { streamBytes: 0 }, /fault\.streamBytes/],
    ['fractional streamBytes', { streamBytes: 1.5 }, /fault\.streamBytes/],
    ['streamBytes as a string', { streamBytes: '5' as never }, /fault\.streamBytes/],
    ['hang as a string', { hang: 'yes' as never }, /fault\.hang/],
    ['hang with a status', { hang: true, status: 500 }, /fault\.hang.*fault\.status/],
    ['hang with a delay', { hang: true, delayMs: 10 }, /fault\.hang.*fault\.delayMs/],
    ['hang with a body', { hang: true, body: {} }, /fault\.hang.*fault\.body/],
    ['body with streamBytes', { body: {}, streamBytes: 10 }, /fault\.body.*fault\.streamBytes/],
    ['a delay a timer cannot honour', { delayMs: 2 ** 31 }, /fault\.delayMs/],
  ]
  for (const [name, fault, message] of invalid) {
    test(`setFault: TypeError for ${name}`, () => {
      assert.throws(() => emu.setFault('jwks', fault), { name: 'TypeError', message })
    })
  }

  test('setFault: TypeError for a fault that is not an object; nothing is installed', () => {
    for (const fault of [undefined, 5, 'x', []]) {
      assert.throws(() => emu.setFault('jwks', fault as never), {
        name: 'TypeError',
        message: /setFault: fault must be an object/,
      })
    }
    assert.equal(emu.faults().jwks, undefined)
  })

  test('streamedBytes and streamStopped name an unknown endpoint', async () => {
    assert.throws(() => emu.streamedBytes('nope' as never), /unknown endpoint/)
    await assert.rejects(emu.streamStopped('nope' as never), /unknown endpoint/)
    assert.equal(await emu.streamStopped('namespaceContext'), 0)
  })
})

describe('admin HTTP API', () => {
  test('PUT and POST /emulator/faults take body, streamBytes and hang; GET lists them', async () => {
    const api = `${emu.url}/emulator`
    assert.equal(
      (await sendJson('PUT', `${api}/faults/clientInfo`, { body: { redirectUri: null } })).status,
      200,
    )
    assert.equal(
      (await sendJson('POST', `${api}/faults`, { endpoint: 'jwks', body: 'garbage', status: 502 }))
        .status,
      200,
    )
    await sendJson('PUT', `${api}/faults/revocationList`, { streamBytes: 100, times: 2 })
    await sendJson('PUT', `${api}/faults/role`, { hang: true })
    assert.deepEqual((await get(`${api}/faults`)).body, {
      clientInfo: { delayMs: 0, body: { redirectUri: null } },
      jwks: { delayMs: 0, status: 502, body: 'garbage' },
      revocationList: { delayMs: 0, streamBytes: 100, times: 2 },
      role: { delayMs: 0, hang: true },
    })
    assert.equal(await (await fetch(clientInfoUrl(emu))).text(), '{"redirectUri":null}')
    const jwks = await fetch(jwksUrl(emu))
    assert.equal(jwks.status, 502)
    assert.equal(await jwks.text(), 'garbage')
    assert.equal((await (await fetch(`${emu.baseUrl}/v3/oauth/revocationlist`)).text()).length, 100)
    await sendJson('DELETE', `${api}/faults`)
    assert.deepEqual((await get(`${api}/faults`)).body, {})
  })

  test('bad fault fields answer 400 with an error, and install nothing', async () => {
    const api = `${emu.url}/emulator`
    const bad: Record<string, unknown>[] = [
      { streamBytes: 'many' },
      { streamBytes: 0 },
      { hang: 'yes' },
      { hang: true, status: 500 },
      { body: {}, streamBytes: 10 },
    ]
    for (const fault of bad) {
      const res = await sendJson('PUT', `${api}/faults/jwks`, fault)
      assert.equal(res.status, 400, JSON.stringify(fault))
      assert.equal(typeof res.body.error, 'string')
    }
    assert.deepEqual((await get(`${api}/faults`)).body, {})
  })

  test('GET /emulator/streams: bytes of the last streamed answer per endpoint', async () => {
    const e = await startEmulator()
    try {
      e.setFault('verify', { streamBytes: 70_000, times: 1 })
      await (await fetch(`${e.baseUrl}/v3/oauth/verify`, { method: 'POST' })).text()
      const streams = (await get(`${e.url}/emulator/streams`)).body
      assert.equal(streams.verify, 70_000)
      assert.equal(streams.jwks, 0)
      assert.deepEqual(
        Object.keys(streams),
        Object.keys((await get(`${e.url}/emulator/requests`)).body),
      )
    } finally {
      await e.close()
    }
  })
})
