/**
 * Resource servers over HTTP on loopback: node:http, Express and Fastify, with no authentication,
 * with our adapter on a repeat token and on a new token every request, with fast-jwt's cached
 * verifier on a repeat token, and Express with express-session on its MemoryStore, Redis and
 * PostgreSQL. The servers run on core 0 (`taskset -c 0`, and so do redis-server and our
 * PostgreSQL backends); wrk runs on core 1.
 *
 * The servers of one framework are all started, warmed up, and then take turns: many short
 * measured rounds, in an order rotated every round, so that the CPU-speed drift of this shared VM
 * (±30 % within seconds) lands on every scenario alike; the figures are medians over the rounds,
 * and a ratio between two scenarios is the median of their per-round ratios (`cpuRounds`).
 * A second no-auth server in the rotation is an A/A control. The cold case (a new token every
 * request, from a pool signed beforehand) is one longer run.
 *
 * The figure to compare is CPU µs per request: utime + stime from /proc/PID/stat of the server
 * and of the store's processes (redis-server; the PostgreSQL backends serving the pool) over a
 * round, divided by the requests answered. It moves much less than req/s does.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ISSUER, makeKeys } from '../crypto/peers.ts'
import { cpuTicks, pinPrefix, type MachineFacts } from '../lib/machine.ts'
import type { Framework, ServerPlan, Variant } from './server.ts'
import { createPgDatabase, ensureCommands, startRedis, type PgDatabase } from './stores.ts'
import { mintInWorkers, mintTokens } from './tokens.ts'
import { cleanUpWrk, runWrk, type WrkResult } from './wrk.ts'

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url))
const PG_APPLICATION = 'tokenbooth-bench-session'

export interface VerifyHttpOptions {
  facts: MachineFacts
  /** Measured rounds per scenario; scenarios of one framework take turns, round by round. */
  rounds: number
  /**
   * Server processes per scenario; its rounds go to each in turn. Two processes running the same
   * code differ by up to ~10 % in CPU per request here (memory layout, where their pages landed),
   * which one process per scenario would book as a difference between scenarios.
   */
  processes: number
  /** Seconds per measured round. */
  roundSeconds: number
  /** Seconds of the one measured cold run (a new token every request). */
  coldSeconds: number
  warmupSeconds: number
  connections: number
  /** Distinct tokens signed before the runs, for the cold scenarios. */
  coldPool: number
}

/**
 * `none (control)` is a second no-auth server in the same rotation: an A/A test whose ratio to the
 * first shows how far two identical servers drift apart here, the resolution of every ratio.
 */
export type Load =
  'none' | 'none (control)' | 'repeat token' | 'new token' | 'fast-jwt cache' | 'session'

export interface Round {
  requests: number
  seconds: number
  /** CPU ticks of the server and of the store's processes over the round. */
  serverTicks: number
  storeTicks: number
}

export interface HttpRow {
  framework: Framework
  variant: Variant
  load: Load
  rounds: Round[]
  /** Medians over the rounds. */
  rps: number
  serverMicros: number
  storeMicros: number
  /** CPU µs per request, server and store together: the figure to compare. */
  cpuMicros: number
  /** `cpuMicros` of every round, in round order: round i of every scenario of a framework ran in one pass. */
  cpuRounds: number[]
  /** Lowest and highest round of `cpuMicros`. */
  cpuMicrosRange: [number, number]
  /** Share of one core used by the server and by the store, over all rounds. */
  serverCore: number
  storeCore: number
  latencyMs: { p50: number; p99: number }
  /** Answers with status ≥ 400, and socket errors, over all rounds (warm-up included). */
  badStatus: number
  socketErrors: number
  loaderCore: number
  /** What the store CPU covers. */
  storeNote?: string
}

/** The servers of one framework; their loads take turns in every round. */
interface Group {
  framework: Framework
  servers: { variant: Variant; loads: Load[] }[]
}

const GROUPS: Group[] = [
  {
    framework: 'node:http',
    servers: [
      { variant: 'none', loads: ['none'] },
      { variant: 'none', loads: ['none (control)'] },
      { variant: 'token', loads: ['repeat token', 'new token'] },
      { variant: 'fast-jwt', loads: ['fast-jwt cache'] },
    ],
  },
  {
    framework: 'express',
    servers: [
      { variant: 'none', loads: ['none'] },
      { variant: 'none', loads: ['none (control)'] },
      { variant: 'token', loads: ['repeat token', 'new token'] },
      { variant: 'fast-jwt', loads: ['fast-jwt cache'] },
      { variant: 'session-memory', loads: ['session'] },
      { variant: 'session-redis', loads: ['session'] },
      { variant: 'session-pg', loads: ['session'] },
    ],
  },
  {
    framework: 'fastify',
    servers: [
      { variant: 'none', loads: ['none'] },
      { variant: 'none', loads: ['none (control)'] },
      { variant: 'token', loads: ['repeat token', 'new token'] },
      { variant: 'fast-jwt', loads: ['fast-jwt cache'] },
    ],
  },
]

interface RunningServer {
  url: string
  pid: number
  stop(): Promise<void>
}

async function startServer(plan: ServerPlan, pin: string[]): Promise<RunningServer> {
  const [command, ...rest] = [...pin, process.execPath, SERVER, JSON.stringify(plan)]
  const child: ChildProcess = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const exited = once(child, 'exit')
  const line = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d
      if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')))
    })
    void exited.then(() => reject(new Error(`the ${plan.framework} server exited:\n${output}`)))
  })
  const { port } = JSON.parse(line) as { port: number }
  return {
    url: `http://127.0.0.1:${port}/api`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Logs in once (POST /login) and returns the session cookie, `connect.sid=…`. */
async function sessionCookie(apiUrl: string): Promise<string> {
  const res = await fetch(apiUrl.replace(/\/api$/, '/login'), { method: 'POST' })
  const cookie = res.headers.get('set-cookie')?.split(';')[0]
  if (res.status !== 200 || cookie === undefined) throw new Error(`login answered ${res.status}`)
  return cookie
}

function ticksOf(pids: readonly number[]): number {
  let sum = 0
  for (const pid of pids) {
    try {
      sum += cpuTicks(pid)
    } catch {
      throw new Error(`process ${pid} exited during a measured run`)
    }
  }
  return sum
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** One load against its servers (identical processes): how to send it, and whose CPU to count. */
interface Target {
  framework: Framework
  variant: Variant
  load: Load
  servers: RunningServer[]
  /** Per server: a session cookie belongs to the process whose store made it. */
  headers: Record<string, string>[]
  storePids: number[]
  storeNote?: string
  rounds: Round[]
  wrk: WrkResult[]
}

export async function runVerifyHttp(options: VerifyHttpOptions): Promise<HttpRow[]> {
  const { facts } = options
  ensureCommands({ wrk: 'wrk', 'redis-server': 'redis-server' })
  const serverPin = pinPrefix(0, facts)
  const loaderPin = pinPrefix(1, facts)

  const keys = await makeKeys('ES256')
  const jwk = {
    ...keys.verifyKey.export({ format: 'jwk' }),
    kid: keys.kid,
    alg: 'ES256',
    use: 'sig',
  }
  process.stderr.write(
    `  signing ${options.coldPool.toLocaleString('en-US')} ES256 tokens for the cold runs …\n`,
  )
  const pool = await mintInWorkers({
    alg: 'ES256',
    kid: keys.kid,
    key: keys.signKey,
    count: options.coldPool,
  })
  const dir = mkdtempSync(join(tmpdir(), 'tokenbooth-bench-tokens-'))
  const poolFile = join(dir, 'tokens.txt')
  writeFileSync(poolFile, `${pool.join('\n')}\n`)
  const [repeatToken] = mintTokens({ alg: 'ES256', kid: keys.kid, key: keys.signKey, count: 1 })
  // the no-auth servers get the same header too, so that every request has the same bytes
  const bearer = { Authorization: `Bearer ${repeatToken}` }

  const redis = await startRedis(serverPin)
  let database: PgDatabase | undefined
  try {
    database = await createPgDatabase()
  } catch (error) {
    process.stderr.write(
      `  PostgreSQL unavailable, skipping its session store: ${(error as Error).message}\n`,
    )
  }

  const run = (
    target: Target,
    index: number,
    seconds: number,
    tokens?: { file: string; offset: number },
  ) =>
    runWrk({
      url: target.servers[index]!.url,
      connections: options.connections,
      pin: loaderPin,
      clockTicks: facts.clockTicks,
      seconds,
      ...(tokens === undefined ? { headers: target.headers[index]! } : { tokens }),
    })

  const rows: HttpRow[] = []
  const servers: RunningServer[] = []
  try {
    for (const group of GROUPS) {
      const targets: Target[] = []
      for (const { variant, loads } of group.servers) {
        if (variant === 'session-pg' && database === undefined) continue
        const plan: ServerPlan = {
          framework: group.framework,
          variant,
          issuer: ISSUER,
          jwk,
          redisUrl: redis.url,
          pgUrl: database?.url,
        }
        const started: RunningServer[] = []
        for (let i = 0; i < options.processes; i++) {
          started.push(await startServer(plan, serverPin))
        }
        servers.push(...started)
        for (const load of loads) {
          const headers = []
          for (const server of started) {
            headers.push(load === 'session' ? { Cookie: await sessionCookie(server.url) } : bearer)
          }
          targets.push({
            framework: group.framework,
            variant,
            load,
            servers: started,
            headers,
            storePids: [],
            rounds: [],
            wrk: [],
          })
        }
      }
      const paired = targets.filter((t) => t.load !== 'new token')
      process.stderr.write(`  ${group.framework}: warming up ${paired.length} servers …\n`)
      for (const target of paired) {
        for (let i = 0; i < target.servers.length; i++) {
          target.wrk.push(await run(target, i, options.warmupSeconds))
        }
        if (target.variant === 'session-redis') {
          target.storePids = [redis.pid]
          target.storeNote = 'redis-server'
        }
      }
      // the backends serving the pool join the server on its core, as redis-server does; looked up
      // before every round in case the pool replaced a connection
      const findBackends = async (target: Target) => {
        if (target.variant !== 'session-pg') return
        target.storePids = await database!.backends(PG_APPLICATION)
        for (const pid of target.storePids) {
          execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' })
        }
        target.storeNote = `${target.storePids.length} PostgreSQL backends`
      }
      for (let round = 0; round < options.rounds; round++) {
        process.stderr.write(`  ${group.framework}: round ${round + 1} of ${options.rounds} …\n`)
        for (let i = 0; i < paired.length; i++) {
          // the order rotates every round, so that a noisy stretch does not always hit one scenario
          const target = paired[(i + round) % paired.length]!
          // and each scenario's processes take turns
          const index = round % target.servers.length
          const pid = target.servers[index]!.pid
          await findBackends(target)
          const before = [ticksOf([pid]), ticksOf(target.storePids)]
          const wrk = await run(target, index, options.roundSeconds)
          const after = [ticksOf([pid]), ticksOf(target.storePids)]
          target.wrk.push(wrk)
          target.rounds.push({
            requests: wrk.requests,
            seconds: wrk.seconds,
            serverTicks: after[0]! - before[0]!,
            storeTicks: after[1]! - before[1]!,
          })
        }
      }
      for (const target of targets.filter((t) => t.load === 'new token')) {
        process.stderr.write(`  ${group.framework}: a new token every request …\n`)
        // the warm-up takes tokens from the start of the pool, the measured run from a third in
        target.wrk.push(await run(target, 0, options.warmupSeconds, { file: poolFile, offset: 0 }))
        const pid = target.servers[0]!.pid
        const before = ticksOf([pid])
        const offset = Math.floor(pool.length / 3)
        const wrk = await run(target, 0, options.coldSeconds, { file: poolFile, offset })
        target.wrk.push(wrk)
        target.rounds.push({
          requests: wrk.requests,
          seconds: wrk.seconds,
          serverTicks: ticksOf([pid]) - before,
          storeTicks: 0,
        })
      }
      for (const target of targets) rows.push(summarize(target, facts.clockTicks))
      await Promise.all(servers.splice(0).map((s) => s.stop()))
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
    await redis.stop()
    await database?.drop()
    rmSync(dir, { recursive: true, force: true })
    cleanUpWrk()
  }
  return rows
}

function summarize(target: Target, clockTicks: number): HttpRow {
  const micros = (ticks: number, requests: number) => ((ticks / clockTicks) * 1e6) / requests
  const { rounds } = target
  const cpu = rounds.map((r) => micros(r.serverTicks + r.storeTicks, r.requests))
  const measured = target.wrk.slice(-rounds.length)
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0)
  return {
    framework: target.framework,
    variant: target.variant,
    load: target.load,
    rounds,
    rps: median(rounds.map((r) => r.requests / r.seconds)),
    serverMicros: median(rounds.map((r) => micros(r.serverTicks, r.requests))),
    storeMicros: median(rounds.map((r) => micros(r.storeTicks, r.requests))),
    cpuMicros: median(cpu),
    cpuRounds: cpu,
    cpuMicrosRange: [Math.min(...cpu), Math.max(...cpu)],
    serverCore: rounds.reduce((a, r) => a + r.serverTicks, 0) / clockTicks / seconds,
    storeCore: rounds.reduce((a, r) => a + r.storeTicks, 0) / clockTicks / seconds,
    latencyMs: {
      p50: median(measured.map((w) => w.latencyMs.p50)),
      p99: median(measured.map((w) => w.latencyMs.p99)),
    },
    badStatus: target.wrk.reduce((a, w) => a + w.badStatus, 0),
    socketErrors: target.wrk.reduce((a, w) => a + w.socketErrors, 0),
    loaderCore: median(measured.map((w) => w.loaderCore)),
    ...(target.storeNote === undefined ? {} : { storeNote: target.storeNote }),
  }
}
