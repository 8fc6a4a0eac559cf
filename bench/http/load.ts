/**
 * The load generator, run as its own process pinned to its own core (`taskset -c 1`): reads a
 * plan as JSON on stdin, prepares users and sessions over HTTP, runs the scenarios one after the
 * other against one booth, and prints the results as one JSON line on stdout.
 *
 * Refresh: every worker owns one session and chains its refresh tokens (each answer's
 * refresh_token is the next request's), because the booth consumes a token on use and a replay
 * outside the grace window revokes the family. A broken chain (any failure) is replaced by a
 * spare session prepared up front, never retried, so a failure cannot cascade into reuse alarms.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuTicks } from '../lib/machine.ts'
import {
  createLoadClient,
  Recorder,
  summarize,
  type LatencySummary,
  type LoadClient,
} from './client.ts'

export type StreamKind = 'refresh' | 'client_credentials' | 'login'

export interface StreamPlan {
  kind: StreamKind
  connections: number
  /**
   * Requests per second over all connections, paced (open loop); unset = as fast as answers
   * come back (closed loop). Paced latencies count from the scheduled send time, so a stall
   * shows in full rather than being hidden by the requests it delayed (coordinated omission).
   */
  rate?: number
}

export interface ScenarioPlan {
  name: string
  warmupMs: number
  durationMs: number
  /** Only for these synchronous modes; all when unset. */
  modes?: readonly ('FULL' | 'NORMAL')[]
  streams: StreamPlan[]
}

export interface LoadPlan {
  url: string
  boothPid: number
  clockTicks: number
  client: { id: string; secret: string }
  /** Users created through POST /signup for the logins. */
  users: number
  /** Sessions logged in up front: one per refresh worker plus spares. */
  sessions: number
  scenarios: ScenarioPlan[]
}

export interface StreamResult {
  kind: StreamKind
  connections: number
  rate: number | undefined
  requests: number
  ok: number
  rps: number
  failures: Record<string, number>
  badBodies: number
  failuresOverall: number
  latencyMs: LatencySummary
}

export interface ScenarioResult {
  name: string
  seconds: number
  streams: StreamResult[]
  booth: { cpuSeconds: number; coreUtilisation: number; cpuMicrosPerRequest: number }
  loader: { coreUtilisation: number }
  /** The measurement window on CLOCK_MONOTONIC in µs, the clock V8's CPU profiles use. */
  windowMonotonicUs: [number, number]
  /** Sessions left for replacing broken chains after this scenario. */
  sparesLeft: number
}

const FORM = 'application/x-www-form-urlencoded'

function password(i: number): string {
  return `bench-passphrase-${i}-correct-horse`
}

interface TokenAnswer {
  access_token?: unknown
  refresh_token?: unknown
}

function parse(body: string): TokenAnswer {
  try {
    return JSON.parse(body) as TokenAnswer
  } catch {
    return {}
  }
}

async function prepare(plan: LoadPlan): Promise<{ chains: string[]; spares: string[] }> {
  const client = createLoadClient(plan.url, 4)
  try {
    for (let i = 0; i < plan.users; i++) {
      const res = await client.post(
        '/signup',
        JSON.stringify({ username: `bench-user-${i}`, password: password(i) }),
        { 'content-type': 'application/json' },
      )
      if (res.status !== 201) throw new Error(`signup answered ${res.status}: ${res.body}`)
    }
    const tokens: string[] = []
    let next = 0
    // four at a time: the booth hashes on libuv's four threads
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < plan.sessions) {
          const i = next++ % plan.users
          const res = await client.post('/token', loginBody(i))
          const answer = parse(res.body)
          if (res.status !== 200 || typeof answer.refresh_token !== 'string') {
            throw new Error(`login answered ${res.status}: ${res.body}`)
          }
          tokens.push(answer.refresh_token)
        }
      }),
    )
    return { chains: [], spares: tokens }
  } finally {
    client.close()
  }
}

function loginBody(user: number): string {
  return new URLSearchParams({
    grant_type: 'password',
    username: `bench-user-${user}`,
    password: password(user),
  }).toString()
}

interface State {
  chains: string[]
  spares: string[]
}

/** Returns the time the next request is due (now, when unpaced), after waiting for it. */
type Schedule = () => number | Promise<number>

type Worker = (
  index: number,
  recorder: Recorder,
  client: LoadClient,
  stopped: () => boolean,
  schedule: Schedule,
) => Promise<void>

function pacer(stream: StreamPlan, index: number): Schedule {
  if (stream.rate === undefined) return () => performance.now()
  const interval = (stream.connections * 1000) / stream.rate
  // workers start staggered over one interval, so the sends are spread evenly
  let next = performance.now() + (index * interval) / stream.connections
  return async () => {
    const wait = next - performance.now()
    if (wait > 0) await sleep(wait)
    const due = next
    next += interval
    return due
  }
}

function workers(plan: LoadPlan, state: State): Record<StreamKind, Worker> {
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(plan.client.id)}:${encodeURIComponent(plan.client.secret)}`).toString('base64')}`
  const ccBody = 'grant_type=client_credentials'
  return {
    async refresh(index, recorder, client, stopped, schedule) {
      let token = state.chains[index] ?? state.spares.pop()
      while (token !== undefined && !stopped()) {
        const start = await schedule()
        if (stopped()) break
        const res = await client.post('/token', `grant_type=refresh_token&refresh_token=${token}`, {
          'content-type': FORM,
        })
        const end = performance.now()
        const answer = res.status === 200 ? parse(res.body) : {}
        const good =
          typeof answer.access_token === 'string' && typeof answer.refresh_token === 'string'
        recorder.record(start, end, res.status, good)
        // a failed link is abandoned, never replayed: replaying it could revoke the family
        token = good ? (answer.refresh_token as string) : state.spares.pop()
      }
      if (token !== undefined) state.chains[index] = token
      else delete state.chains[index]
    },
    async client_credentials(_index, recorder, client, stopped, schedule) {
      while (!stopped()) {
        const start = await schedule()
        if (stopped()) break
        const res = await client.post('/token', ccBody, { authorization: basic })
        const end = performance.now()
        const good = res.status === 200 && typeof parse(res.body).access_token === 'string'
        recorder.record(start, end, res.status, good)
      }
    },
    async login(index, recorder, client, stopped, schedule) {
      for (let n = index; !stopped(); n += 1) {
        const start = await schedule()
        if (stopped()) break
        const res = await client.post('/token', loginBody(n % plan.users))
        const end = performance.now()
        const answer = res.status === 200 ? parse(res.body) : {}
        recorder.record(start, end, res.status, typeof answer.refresh_token === 'string')
      }
    },
  }
}

async function runScenario(
  plan: LoadPlan,
  scenario: ScenarioPlan,
  state: State,
): Promise<ScenarioResult> {
  const kinds = workers(plan, state)
  let stop = false
  const stopped = () => stop
  const streams = scenario.streams.map((stream) => {
    const client = createLoadClient(plan.url, stream.connections)
    const recorder = new Recorder()
    const done = Promise.all(
      Array.from({ length: stream.connections }, (_, i) =>
        kinds[stream.kind](i, recorder, client, stopped, pacer(stream, i)),
      ),
    ).finally(() => client.close())
    return { stream, recorder, done }
  })

  await sleep(scenario.warmupMs)
  const ticks0 = cpuTicks(plan.boothPid)
  const own0 = process.cpuUsage()
  const t0 = performance.now()
  const m0 = process.hrtime.bigint()
  for (const s of streams) s.recorder.windowStart = t0
  await sleep(scenario.durationMs)
  const t1 = performance.now()
  const m1 = process.hrtime.bigint()
  const ticks1 = cpuTicks(plan.boothPid)
  const own1 = process.cpuUsage(own0)
  for (const s of streams) s.recorder.windowEnd = t1
  stop = true
  await Promise.all(streams.map((s) => s.done))

  const seconds = (t1 - t0) / 1000
  const cpuSeconds = (ticks1 - ticks0) / plan.clockTicks
  const total = streams.reduce((sum, s) => sum + s.recorder.requests, 0)
  return {
    name: scenario.name,
    seconds,
    streams: streams.map(({ stream, recorder }) => ({
      kind: stream.kind,
      connections: stream.connections,
      rate: stream.rate,
      requests: recorder.requests,
      ok: recorder.ok,
      rps: recorder.ok / seconds,
      failures: recorder.failures,
      badBodies: recorder.badBodies,
      failuresOverall: recorder.failuresOverall,
      latencyMs: summarize(recorder.latencies),
    })),
    booth: {
      cpuSeconds,
      coreUtilisation: cpuSeconds / seconds,
      cpuMicrosPerRequest: total === 0 ? NaN : (cpuSeconds * 1e6) / total,
    },
    loader: { coreUtilisation: (own1.user + own1.system) / 1e6 / seconds },
    windowMonotonicUs: [Number(m0 / 1000n), Number(m1 / 1000n)],
    sparesLeft: state.spares.length,
  }
}

async function main(): Promise<void> {
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  const plan = JSON.parse(input) as LoadPlan
  const state = await prepare(plan)
  const results: ScenarioResult[] = []
  for (const scenario of plan.scenarios) {
    process.stderr.write(`  ${scenario.name} …\n`)
    results.push(await runScenario(plan, scenario, state))
  }
  process.stdout.write(`${JSON.stringify(results)}\n`)
}

await main()
