/**
 * The verifier benchmarks (`npm run bench -- --only=verify`): verification in process (cold and
 * warm, against jose, fast-jwt, jsonwebtoken and a node:crypto floor), resource servers over HTTP
 * (no auth, our adapter, express-session on three stores), memory per user, and revocation
 * latency through the real booth's feed. Each part runs in its own processes; see the modules.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { HarnessOptions } from '../crypto/harness.ts'
import { pinPrefix, type MachineFacts } from '../lib/machine.ts'
import { runVerifyHttp, type HttpRow, type VerifyHttpOptions } from './http.ts'
import type { InProcessOptions, InProcessResults } from './inprocess.ts'
import type { MemoryPlan, MemoryResult } from './memory.ts'
import { runRevocationLatency, type RevocationResult } from './revocation.ts'

const IN_PROCESS = fileURLToPath(new URL('./inprocess.ts', import.meta.url))
const MEMORY = fileURLToPath(new URL('./memory.ts', import.meta.url))

export interface VerifySuiteOptions {
  facts: MachineFacts
  inProcess: HarnessOptions
  http: Omit<VerifyHttpOptions, 'facts'>
  memoryUsers: readonly number[]
  revocationTrials: number
}

export interface VerifyResults {
  inProcess: InProcessResults
  http: HttpRow[]
  memory: MemoryResult[]
  revocation: RevocationResult
}

/** Options for a full run, or a short one to try the harness (`--quick`). */
export function verifyOptions(facts: MachineFacts, quick: boolean): VerifySuiteOptions {
  return quick
    ? {
        facts,
        inProcess: { warmupMs: 100, roundMs: 60, rounds: 3 },
        http: {
          rounds: 2,
          processes: 1,
          roundSeconds: 1,
          coldSeconds: 2,
          warmupSeconds: 1,
          connections: 32,
          coldPool: 50_000,
        },
        memoryUsers: [1_000, 100_000],
        revocationTrials: 50,
      }
    : {
        facts,
        // 15 rounds, each peer ~60 ms of 2 ms batches interleaved with the others'
        inProcess: { warmupMs: 200, roundMs: 60, rounds: 15 },
        http: {
          // many short rounds, taking turns: this VM's CPU speed drifts by ±30 % within seconds
          rounds: 12,
          // 4 rounds on each of 3 processes per scenario
          processes: 3,
          roundSeconds: 1,
          coldSeconds: 8,
          warmupSeconds: 2,
          connections: 32,
          coldPool: 200_000,
        },
        memoryUsers: [1_000, 100_000, 1_000_000],
        revocationTrials: 200,
      }
}

async function runChild(args: string[]): Promise<string> {
  const [command, ...rest] = args
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`${args.slice(-2).join(' ')} exited with ${code}`)
  return stdout
}

export async function runVerifySuite(options: VerifySuiteOptions): Promise<VerifyResults> {
  const { facts } = options
  process.stderr.write('verification in process (tokens signed on every core, then core 1)\n')
  const inProcessOptions: InProcessOptions = {
    ...options.inProcess,
    ...(facts.pinning ? { core: 1 } : {}),
  }
  const inProcess = JSON.parse(
    await runChild([process.execPath, IN_PROCESS, JSON.stringify(inProcessOptions)]),
  ) as InProcessResults

  process.stderr.write('resource servers over HTTP (server on core 0, wrk on core 1)\n')
  const http = await runVerifyHttp({ facts, ...options.http })

  process.stderr.write('memory per user (one process per figure, core 1)\n')
  const memory: MemoryResult[] = []
  for (const mode of ['verifier', 'session'] as const) {
    for (const users of options.memoryUsers) {
      process.stderr.write(`  ${mode}, ${users.toLocaleString('en-US')} users …\n`)
      const plan: MemoryPlan = { mode, users }
      const out = await runChild([
        ...pinPrefix(1, facts),
        process.execPath,
        '--expose-gc',
        MEMORY,
        JSON.stringify(plan),
      ])
      memory.push(JSON.parse(out) as MemoryResult)
    }
  }

  process.stderr.write(`revocation latency (${options.revocationTrials} logouts)\n`)
  const revocation = await runRevocationLatency({ facts, trials: options.revocationTrials })
  return { inProcess, http, memory, revocation }
}
