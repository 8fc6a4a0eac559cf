/**
 * Runs wrk (one thread, pinned by the caller) for a bounded time and returns its counts as JSON
 * (a Lua `done` hook prints them). Two scripts: one for fixed headers (the repeat token, a
 * session cookie), where wrk sends the same prepared request every time; and one that sends the
 * next token of a pool file with every request (the cold case), starting at a given line.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuTicks } from '../lib/machine.ts'

export interface WrkPlan {
  url: string
  connections: number
  seconds: number
  /** Sent with every request (fixed-header script). */
  headers?: Record<string, string>
  /** A file of tokens, one a line: each request carries the next one as a Bearer token. */
  tokens?: { file: string; offset: number }
  /** Command prefix such as ['taskset', '-c', '1']. */
  pin: string[]
  clockTicks: number
}

export interface WrkResult {
  requests: number
  seconds: number
  rps: number
  /** Answers with a status of 400 or more (wrk counts 4xx and 5xx as status errors). */
  badStatus: number
  /** Connect, read, write errors and timeouts. */
  socketErrors: number
  latencyMs: { p50: number; p99: number; max: number }
  /** CPU time wrk used over its run, as a share of one core (sampled, so slightly low). */
  loaderCore: number
}

const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"socket":%d,"status":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`

// init runs once per thread (one here): the pool is read into a table of ready header values
const POOL = `
local tokens, n, i = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    tokens[n] = "Bearer " .. line
  end
  i = tonumber(args[2]) % n
end
function request()
  i = i % n + 1
  wrk.headers["Authorization"] = tokens[i]
  return wrk.format()
end
${DONE}`

let scripts: { dir: string; fixed: string; pool: string } | undefined

function scriptFiles() {
  if (scripts === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'tokenbooth-wrk-'))
    scripts = { dir, fixed: join(dir, 'fixed.lua'), pool: join(dir, 'pool.lua') }
    writeFileSync(scripts.fixed, DONE)
    writeFileSync(scripts.pool, POOL)
  }
  return scripts
}

/** Removes the Lua scripts written for this process. */
export function cleanUpWrk(): void {
  if (scripts !== undefined) rmSync(scripts.dir, { recursive: true, force: true })
  scripts = undefined
}

export async function runWrk(plan: WrkPlan): Promise<WrkResult> {
  const files = scriptFiles()
  const args = ['-t1', `-c${plan.connections}`, `-d${plan.seconds}s`, '--timeout', '5s']
  for (const [name, value] of Object.entries(plan.headers ?? {}))
    args.push('-H', `${name}: ${value}`)
  args.push('-s', plan.tokens === undefined ? files.fixed : files.pool, plan.url)
  if (plan.tokens !== undefined) args.push('--', plan.tokens.file, String(plan.tokens.offset))
  const [command, ...rest] = [...plan.pin, 'wrk', ...args]
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  // taskset execs wrk, so this pid is wrk's; its last CPU sample before it exits
  const started = performance.now()
  let sample = { ticks: 0, at: started }
  const sampler = setInterval(() => {
    try {
      sample = { ticks: cpuTicks(child.pid!), at: performance.now() }
    } catch {
      // exited
    }
  }, 250)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearInterval(sampler)
  const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'))
  if (code !== 0 || line === undefined) {
    throw new Error(`wrk exited with ${code}:\n${stdout}\n${stderr}`)
  }
  const r = JSON.parse(line) as {
    requests: number
    durationUs: number
    socket: number
    status: number
    p50Us: number
    p99Us: number
    maxUs: number
  }
  const seconds = r.durationUs / 1e6
  return {
    requests: r.requests,
    seconds,
    rps: r.requests / seconds,
    badStatus: r.status,
    socketErrors: r.socket,
    latencyMs: { p50: r.p50Us / 1000, p99: r.p99Us / 1000, max: r.maxUs / 1000 },
    loaderCore: sample.ticks / plan.clockTicks / ((sample.at - started) / 1000),
  }
}
