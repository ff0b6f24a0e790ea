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
