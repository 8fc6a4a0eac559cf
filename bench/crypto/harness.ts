/**
 * A small in-process micro-benchmark harness for comparing peers that do the same job.
 *
 * - Each peer runs in batches sized to take a few milliseconds, so reading the clock costs
 *   nothing measurable and an async peer pays its own promise overhead, as it would in use.
 * - Every peer is warmed up first (JIT tiers, key caches). Then come the rounds. Within a round
 *   the peers take turns batch by batch (about 2 ms each, the order rotated every turn), until each
 *   has run for about `roundMs`: a peer's figure for a round is its batches' operations over their
 *   time. Every peer's figure for a round thus comes from the same stretch of wall-clock time, so
 *   the CPU-speed drift of this shared VM (±30 % within seconds) lands on all of them alike.
 * - The figure is the median of the rounds; the spread (slowest to fastest round) is reported
 *   beside it so a noisy figure shows as noisy. A ratio between two peers is the median of their
 *   per-round ratios ({@link pairedRatio}), which cancels the drift that the spread shows. Each
 *   round also reads the process's CPU time (all threads, so work WebCrypto hands to libuv's pool
 *   counts too), as a cross-check of the wall-clock figure.
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

/** Runs `peer` for about `ms`, in batches of `size` (the warm-up). */
async function timed(peer: Peer, size: number, isAsync: boolean, ms: number): Promise<void> {
  const start = performance.now()
  do await batch(peer, size, isAsync)
  while (performance.now() - start < ms)
}

export function median(values: readonly number[]): number {
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
    const spent = setup.map(() => ({ ops: 0, ms: 0, cpu: 0 }))
    const until = performance.now() + options.roundMs * setup.length
    let turn = round
    do {
      for (let i = 0; i < setup.length; i++) {
        const k = (i + turn) % setup.length
        const s = setup[k]!
        const cpu = process.cpuUsage()
        const start = performance.now()
        await batch(s.peer, s.size, s.isAsync)
        const used = process.cpuUsage(cpu)
        spent[k]!.ms += performance.now() - start
        spent[k]!.cpu += used.user + used.system
        spent[k]!.ops += s.size
      }
      turn++
    } while (performance.now() < until)
    for (let k = 0; k < setup.length; k++) {
      const { ops, ms, cpu } = spent[k]!
      setup[k]!.rounds.push((ops * 1000) / ms)
      setup[k]!.cpu.push(cpu / ops)
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

/**
 * How many times faster `a` is than `b`: the median over the rounds of `a`'s ops/s over `b`'s in
 * the same round. Both must come from one `compare` call (the same rounds).
 */
export function pairedRatio(a: PeerResult, b: PeerResult): number {
  return median(pairedRatios(a.rounds, b.rounds))
}

/** `a[i] / b[i]` for every round; both lists must be of one length (one run). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`${a.length} rounds against ${b.length}`)
  return a.map((value, i) => value / b[i]!)
}
