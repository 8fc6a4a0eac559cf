/**
 * A small in-process micro-benchmark harness for comparing peers that do the same job.
 *
 * - Each peer runs in batches sized to take a few milliseconds, so reading the clock costs
 *   nothing measurable and an async peer pays its own promise overhead, as it would in use.
 * - Every peer is warmed up first (JIT tiers, key caches), then the peers of a group take turns,
 *   one round each, in an order rotated every round: a burst of noise from a neighbour on this
 *   shared machine lands on different peers rather than all on one.
 * - The figure is the median of the rounds; the spread (slowest to fastest round) is reported
 *   beside it so a noisy figure shows as noisy. Each round also reads the process's CPU time
 *   (all threads, so work WebCrypto hands to libuv's pool counts too): CPU µs per operation
 *   barely moves when a neighbour steals the core, so it cross-checks the wall-clock figure.
 */
import { performance } from 'node:perf_hooks'

export interface Peer {
  name: string
  /** One operation. May return a promise, which is awaited before the next operation. */
  run: () => unknown
}

export interface PeerResult {
  name: string
  opsPerSec: number
  /** Slowest and fastest round, ops/s. */
  min: number
  max: number
  rounds: number[]
  /** Median CPU time per operation, in µs. */
  cpuMicros: number
}

export interface HarnessOptions {
  warmupMs: number
  roundMs: number
  rounds: number
}

// Keeps results alive so the optimiser cannot drop the work that made them.
export let sink: unknown

async function batch(peer: Peer, n: number, isAsync: boolean): Promise<void> {
  if (isAsync) {
    for (let i = 0; i < n; i++) sink = await peer.run()
  } else {
    for (let i = 0; i < n; i++) sink = peer.run()
  }
}

/** Runs `peer` for about `ms`, in batches of `size`; returns ops/s and CPU µs per op. */
async function timed(peer: Peer, size: number, isAsync: boolean, ms: number) {
  let ops = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  let elapsed = 0
  do {
    await batch(peer, size, isAsync)
    ops += size
    elapsed = performance.now() - start
  } while (elapsed < ms)
  const used = process.cpuUsage(cpu)
  return { opsPerSec: (ops * 1000) / elapsed, cpuMicros: (used.user + used.system) / ops }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export async function compare(
  peers: readonly Peer[],
  options: HarnessOptions,
): Promise<PeerResult[]> {
  const setup = []
  for (const peer of peers) {
    const isAsync = peer.run() instanceof Promise
    if (isAsync) await peer.run()
    // calibrate: a batch of about 2 ms (at least one operation)
    let size = 1
    for (;;) {
      const t = performance.now()
      await batch(peer, size, isAsync)
      if (performance.now() - t >= 2 || size >= 1 << 20) break
      size *= 2
    }
    await timed(peer, size, isAsync, options.warmupMs)
    setup.push({ peer, size, isAsync, rounds: [] as number[], cpu: [] as number[] })
  }
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < setup.length; i++) {
      const s = setup[(i + round) % setup.length]!
      const { opsPerSec, cpuMicros } = await timed(s.peer, s.size, s.isAsync, options.roundMs)
      s.rounds.push(opsPerSec)
      s.cpu.push(cpuMicros)
    }
  }
  return setup.map(({ peer, rounds, cpu }) => ({
    name: peer.name,
    opsPerSec: median(rounds),
    min: Math.min(...rounds),
    max: Math.max(...rounds),
    rounds,
    cpuMicros: median(cpu),
  }))
}
