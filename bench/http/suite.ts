/**
 * The HTTP half of the benchmark: for each SQLite durability mode, a fresh booth pinned to core 0
 * and a load generator pinned to core 1 (bench/http/load.ts), all traffic on 127.0.0.1.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { runCli, startBooth } from '../lib/booth.ts'
import { pinPrefix, type MachineFacts } from '../lib/machine.ts'
import type { LoadPlan, ScenarioPlan, ScenarioResult } from './load.ts'

const LOADER = fileURLToPath(new URL('./load.ts', import.meta.url))

export interface HttpOptions {
  facts: MachineFacts
  /** Seconds measured per scenario (after the warm-up). */
  seconds: number
  warmupSeconds: number
  modes: readonly ('FULL' | 'NORMAL')[]
  /** Connections for refresh and client_credentials: enough to keep one core busy. */
  connections: number
  /** Connections for logins: libuv's pool has four threads, so four hashes run at once. */
  loginConnections: number
  /** Node flags for the booth (the profile mode passes --cpu-prof). */
  boothNodeFlags?: string[]
  /** Paced refreshes per second for the latency scenarios: well below what the booth can do. */
  pacedRate: number
  /** Only these scenarios (by name); all when undefined. */
  only?: readonly string[]
  /** Extra environment for the booth, for experiments (e.g. UV_THREADPOOL_SIZE). */
  boothEnv?: Record<string, string>
}

export interface HttpModeResult {
  synchronous: 'FULL' | 'NORMAL'
  scenarios: ScenarioResult[]
}

export function scenarios(options: HttpOptions): ScenarioPlan[] {
  const timing = { warmupMs: options.warmupSeconds * 1000, durationMs: options.seconds * 1000 }
  const all: ScenarioPlan[] = [
    {
      name: 'refresh',
      ...timing,
      streams: [{ kind: 'refresh', connections: options.connections }],
    },
    {
      name: 'client_credentials',
      ...timing,
      streams: [{ kind: 'client_credentials', connections: options.connections }],
    },
    {
      name: 'login',
      ...timing,
      streams: [{ kind: 'login', connections: options.loginConnections }],
    },
    {
      name: 'refresh+login',
      ...timing,
      streams: [
        { kind: 'refresh', connections: options.connections },
        { kind: 'login', connections: options.loginConnections },
      ],
    },
    // Latency of refreshes at a steady rate, alone and with logins hashing on the same core
    {
      name: `refresh @${options.pacedRate}/s`,
      ...timing,
      streams: [{ kind: 'refresh', connections: options.connections, rate: options.pacedRate }],
    },
    {
      name: `refresh @${options.pacedRate}/s+login`,
      ...timing,
      streams: [
        { kind: 'refresh', connections: options.connections, rate: options.pacedRate },
        { kind: 'login', connections: options.loginConnections },
      ],
    },
  ]
  return options.only === undefined ? all : all.filter((s) => options.only!.includes(s.name))
}

async function runLoader(plan: LoadPlan, pin: string[]): Promise<ScenarioResult[]> {
  const args = [process.execPath, '--disable-warning=ExperimentalWarning', LOADER]
  const [command, ...rest] = [...pin, ...args]
  const child = spawn(command!, rest, { stdio: ['pipe', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stdin.end(JSON.stringify(plan))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`the load generator exited with ${code}`)
  return JSON.parse(stdout) as ScenarioResult[]
}

export async function runHttpSuite(options: HttpOptions): Promise<HttpModeResult[]> {
  const plans = scenarios(options)
  const refreshWorkers = Math.max(
    0,
    ...plans.flatMap((s) =>
      s.streams.filter((x) => x.kind === 'refresh').map((x) => x.connections),
    ),
  )
  const results: HttpModeResult[] = []
  for (const synchronous of options.modes) {
    process.stderr.write(`booth on SQLite synchronous=${synchronous}\n`)
    const booth = await startBooth({
      pin: pinPrefix(0, options.facts),
      nodeFlags: options.boothNodeFlags,
      env: {
        TOKENBOOTH_SQLITE_SYNCHRONOUS: synchronous,
        TOKENBOOTH_SCOPES: 'profile api:read',
        ...options.boothEnv,
      },
    })
    try {
      const client = JSON.parse(
        await runCli(booth, ['clients', 'add', 'bench', '--scope', 'api:read', '--json']),
      ) as {
        client_id: string
        client_secret: string
      }
      const scenarioResults = await runLoader(
        {
          url: booth.url,
          boothPid: booth.pid,
          clockTicks: options.facts.clockTicks,
          client: { id: client.client_id, secret: client.client_secret },
          users: 8,
          // one chain per refresh worker, and as many spares again for chains that break
          sessions: refreshWorkers > 0 ? refreshWorkers * 2 : 0,
          scenarios: plans.filter((p) => p.modes === undefined || p.modes.includes(synchronous)),
        },
        pinPrefix(1, options.facts),
      )
      results.push({ synchronous, scenarios: scenarioResults })
    } catch (error) {
      process.stderr.write(booth.output())
      throw error
    } finally {
      await booth.stop()
    }
  }
  return results
}
