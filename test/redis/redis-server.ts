/**
 * A real Redis for the tests: Debian's `redis-server`, started on a free loopback port with no
 * persistence, waited for, and killed after. Never assumes one is running.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, connect } from 'node:net'

const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server'

/** A running redis-server. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** SIGKILLs the server (as a crash would) and waits for it to be gone. */
  kill(): Promise<void>
  /** Starts it again on the same port, empty (nothing was persisted). */
  restart(): Promise<void>
  /** Stops it for good. */
  stop(): Promise<void>
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** Resolves once the server answers PING with PONG (a RESP inline command). */
async function waitForPong(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      let answer = ''
      socket.setTimeout(500, () => {
        socket.destroy()
        resolve(false)
      })
      socket.on('connect', () => socket.write('PING\r\n'))
      socket.on('data', (chunk) => {
        answer += chunk.toString()
        // An ACL-protected server answers NOAUTH: up all the same.
        if (answer.includes('\r\n')) {
          socket.destroy()
          resolve(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'))
        }
      })
      socket.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/**
 * Starts `redis-server` on a free loopback port (`--save '' --appendonly no`); `args` are added
 * (e.g. `['--enable-debug-command', 'yes']`).
 */
export async function startRedis(args: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const started = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    child = started
    const exited = once(started, 'exit').then(() => {
      throw new Error('redis-server exited at start')
    })
    await Promise.race([waitForPong(port), exited])
    exited.catch(() => undefined)
  }
  const kill = async () => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const gone = once(running, 'exit')
    running.kill('SIGKILL')
    await gone
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    stop: kill,
  }
}
