/**
 * A benchmark server's child process (started by `startServer` in measure.ts): told which suite's
 * server to start and with what context, it starts it and reports its origin, then answers the
 * runner's requests for its CPU time (and heap, after a GC when `--expose-gc` is on) over IPC.
 * It exits when the runner goes away.
 */
import { getHeapCodeStatistics, getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'

import type { ServerContext } from './fixtures.js'
import type { HttpSuite } from './measure.js'

interface StartMessage {
  suite: string
  server: string
  context: ServerContext
}

process.once('message', (message: StartMessage) => {
  void start(message).then(
    (url) => process.send?.({ url }),
    (error: unknown) => {
      process.send?.({
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      })
      process.exitCode = 1
      process.disconnect()
    },
  )
})
process.on('disconnect', () => process.exit())

async function start({ suite, server, context }: StartMessage): Promise<string> {
  const module = (await import(`./${suite}.js`)) as { suite: HttpSuite }
  const spec = module.suite.servers[server]
  if (spec === undefined) throw new Error(`no server "${server}" in suite "${suite}"`)
  const url = await spec.start(context)
  process.on('message', (m: { gc?: boolean; snapshot?: string }) => {
    if (m.snapshot !== undefined) {
      process.send?.({ file: writeHeapSnapshot(m.snapshot) })
      return
    }
    const gc = (globalThis as { gc?: () => void }).gc
    if (m.gc && gc) gc()
    const cpu = process.cpuUsage()
    const memory = process.memoryUsage()
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((space) => [space.space_name, space.space_used_size]),
    )
    const code = getHeapCodeStatistics()
    process.send?.({
      cpuUs: cpu.user + cpu.system,
      heapUsed: memory.heapUsed,
      // Compiled code and bytecode, part of heapUsed: V8 adds to it as functions tier up.
      codeBytes: code.code_and_metadata_size + code.bytecode_and_metadata_size,
      rss: memory.rss,
      spaces,
    })
  })
  return url
}
