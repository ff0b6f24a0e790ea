/** Small helpers for in-process benchmarks: medians of several rounds, reported as ratios. */

/** Runs `op` repeatedly for `roundMs`, `rounds` times; returns the median ops/s. */
export async function opsPerSecond(
  op: (i: number) => unknown,
  { rounds = 5, roundMs = 400 }: { rounds?: number; roundMs?: number } = {},
): Promise<number> {
  const results: number[] = []
  let i = 0
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint()
    const deadline = start + BigInt(roundMs) * 1_000_000n
    let count = 0
    for (;;) {
      // Batches of 64 keep the clock reads out of the measurement.
      for (let j = 0; j < 64; j++) {
        const r = op(i++)
        if (r instanceof Promise) await r
      }
      count += 64
      if (process.hrtime.bigint() >= deadline) break
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    results.push(count / seconds)
  }
  results.sort((a, b) => a - b)
  return results[Math.floor(results.length / 2)] as number
}

/** Formats a number of operations per second. */
export function formatOps(ops: number): string {
  return ops >= 1e6
    ? `${(ops / 1e6).toFixed(2)} M/s`
    : ops >= 1e3
      ? `${(ops / 1e3).toFixed(1)} k/s`
      : `${ops.toFixed(0)} /s`
}

/** The median of a list of numbers (the upper one for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** Connections autocannon keeps open in the HTTP benchmarks. */
export const HTTP_CONNECTIONS = 32

/** One autocannon run on loopback; any non-2xx answer or error fails the benchmark. */
export async function httpLoad(
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<{ rps: number; p99: number }> {
  const { default: autocannon } = await import('autocannon')
  const result = await autocannon({
    url,
    headers,
    connections: HTTP_CONNECTIONS,
    duration: seconds,
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
  }
  return { rps: result.requests.average, p99: result.latency.p99 }
}

/**
 * Starts `moduleUrl --serve` in a child process (so the servers do not share the load generator's
 * event loop), reads the first stdout line as JSON, runs `body` with it, and stops the child.
 */
export async function withServerProcess<Info, Result>(
  moduleUrl: string,
  body: (info: Info) => Promise<Result>,
): Promise<Result> {
  const { spawn } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(moduleUrl), '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  try {
    const info = await new Promise<Info>((resolve, reject) => {
      let buffer = ''
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8')
        const line = buffer.split('\n')[0]
        if (buffer.includes('\n') && line) resolve(JSON.parse(line) as Info)
      })
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)))
    })
    return await body(info)
  } finally {
    child.stdin.end()
    child.kill()
  }
}

/** One HTTP case of a benchmark. */
export interface HttpCase {
  name: string
  url: string
  headers: Record<string, string>
}

/**
 * Warms every case up, then runs `rounds` rounds, each case once per round (interleaved, so that
 * the machine's drifting load hits every case alike); returns the medians per case name.
 */
export async function interleavedRounds(
  cases: readonly HttpCase[],
  {
    rounds,
    roundSeconds,
    warmupSeconds,
  }: { rounds: number; roundSeconds: number; warmupSeconds: number },
): Promise<Record<string, { rps: number; p99Ms: number }>> {
  for (const c of cases) await httpLoad(c.url, c.headers, warmupSeconds)
  const rps: Record<string, number[]> = {}
  const p99: Record<string, number[]> = {}
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const r = await httpLoad(c.url, c.headers, roundSeconds)
      ;(rps[c.name] ??= []).push(r.rps)
      ;(p99[c.name] ??= []).push(r.p99)
    }
  }
  const out: Record<string, { rps: number; p99Ms: number }> = {}
  for (const c of cases)
    out[c.name] = { rps: median(rps[c.name] ?? []), p99Ms: median(p99[c.name] ?? []) }
  return out
}
