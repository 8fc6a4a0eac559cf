/**
 * A small closed-loop HTTP/1.1 load client on node:http keep-alive agents: one agent per stream,
 * one socket per worker, one request in flight per socket. Each worker can carry state from one
 * response into its next request, which a refresh chain needs (autocannon resets its per-
 * connection `context` after every pass over its `requests` list, so it cannot chain tokens).
 */
import { Agent, request } from 'node:http'

export interface Reply {
  /** HTTP status, or 0 when the request failed at the socket (reset, timeout). */
  status: number
  body: string
}

export interface LoadClient {
  post(path: string, body: string, headers?: Record<string, string>): Promise<Reply>
  close(): void
}

// A request that takes this long is an error, not a latency sample.
const TIMEOUT_MS = 10_000

export function createLoadClient(url: string, connections: number): LoadClient {
  const target = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections })
  return {
    post(path, body, headers = {}) {
      return new Promise<Reply>((resolve) => {
        const req = request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            method: 'POST',
            path,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(body),
              ...headers,
            },
            timeout: TIMEOUT_MS,
          },
          (res) => {
            let text = ''
            res.setEncoding('utf8')
            res.on('data', (chunk: string) => (text += chunk))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
            res.on('error', () => resolve({ status: 0, body: '' }))
          },
        )
        req.on('timeout', () => req.destroy(new Error('timeout')))
        req.on('error', () => resolve({ status: 0, body: '' }))
        req.end(body)
      })
    },
    close() {
      agent.destroy()
    },
  }
}

/** Outcomes and latencies of one stream, counted only inside the measurement window. */
export class Recorder {
  windowStart = Number.POSITIVE_INFINITY
  windowEnd = Number.POSITIVE_INFINITY
  readonly latencies: number[] = []
  ok = 0
  /** Non-200 answers by status ("0" = socket error or timeout), inside the window. */
  readonly failures: Record<string, number> = {}
  /** 200 answers whose body lacked the expected tokens, inside the window. */
  badBodies = 0
  /** Every failure, warm-up included: a run with any is reported as having errors. */
  failuresOverall = 0

  record(start: number, end: number, status: number, good: boolean): void {
    if (!good) this.failuresOverall++
    if (end < this.windowStart || end > this.windowEnd) return
    if (good) {
      this.ok++
      this.latencies.push(end - start)
    } else if (status === 200) {
      this.badBodies++
    } else {
      this.failures[status] = (this.failures[status] ?? 0) + 1
    }
  }

  get requests(): number {
    return this.ok + this.badBodies + Object.values(this.failures).reduce((a, b) => a + b, 0)
  }
}

export interface LatencySummary {
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** Exact percentiles (nearest rank) of the recorded latencies, in milliseconds. */
export function summarize(latencies: number[]): LatencySummary {
  if (latencies.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN }
  const sorted = Float64Array.from(latencies).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  }
}
