/**
 * Markdown for the verifier benchmarks, with the targets checked: cold ≥ 0.97× the
 * node:crypto floor and ≥ fast-jwt; warm ≥ 2× fast-jwt's cache hit; over HTTP, a repeat token
 * ≥ 0.9× the no-auth server and ≥ 2× / ≥ 5× express-session on Redis / PostgreSQL, by CPU µs.
 */
import { median, pairedRatio, pairedRatios, type PeerResult } from '../crypto/harness.ts'
import { fixed, int, table } from '../report.ts'
import type { HttpRow } from './http.ts'
import type { VerifyGroup } from './inprocess.ts'
import type { VerifyResults } from './suite.ts'

export const TARGETS = {
  coldVsRaw: 0.97,
  warmVsFastJwtCache: 2,
  repeatVsNoAuth: 0.9,
  vsRedis: 2,
  vsPostgres: 5,
}

const SDK = 'tokenbooth createVerifier'
const CORE = 'tokenbooth verifyAccessToken'
const RAW = 'node:crypto (raw)'

const times = (n: number) => `${fixed(n, 2)}×`
const verdict = (ok: boolean) => (ok ? 'met' : '**NOT MET**')
const spread = (r: PeerResult) => `${Math.round(((r.max - r.min) / r.opsPerSec) * 100)} %`

/**
 * `a` against `b` as the median of their per-round ratios, with the middle half of those ratios
 * (first to third quartile) beside it: `0.89× (0.88–0.90)`.
 */
function ratioWithQuartiles(
  a: PeerResult | undefined,
  b: PeerResult | undefined,
): { median: number; text: string } {
  if (a === undefined || b === undefined) return { median: NaN, text: '–' }
  const sorted = pairedRatios(a.rounds, b.rounds).sort((x, y) => x - y)
  // as many rounds below the first quartile as above the third
  const quarter = Math.floor((sorted.length - 1) / 4)
  const middle = median(sorted)
  const [low, high] = [sorted[quarter]!, sorted[sorted.length - 1 - quarter]!]
  return { median: middle, text: `${times(middle)} (${fixed(low, 2)}–${fixed(high, 2)})` }
}

function find(group: VerifyGroup | undefined, name: string): PeerResult | undefined {
  return group?.results.find((r) => r.name === name)
}

/** One table per algorithm: every peer cold and warm, as ops/s and as a ratio. */
export function inProcessTables(results: VerifyResults): string {
  const parts: string[] = []
  const algs = [...new Set(results.inProcess.groups.map((g) => g.alg))]
  for (const alg of algs) {
    const cold = results.inProcess.groups.find((g) => g.alg === alg && g.mode === 'cold')
    const warm = results.inProcess.groups.find((g) => g.alg === alg && g.mode === 'warm')
    const rawCold = find(cold, RAW)
    const fastCache = find(warm, 'fast-jwt (cache)')
    const rows = (cold?.results ?? []).map((c) => {
      const w = find(warm, c.name)
      return [
        c.name,
        int(c.opsPerSec),
        fixed(1e6 / c.opsPerSec),
        spread(c),
        rawCold ? times(pairedRatio(c, rawCold)) : '–',
        w ? int(w.opsPerSec) : '–',
        w ? fixed(1e6 / w.opsPerSec, 2) : '–',
        w ? spread(w) : '–',
        w && fastCache ? times(pairedRatio(w, fastCache)) : '–',
      ]
    })
    parts.push(
      `**${alg}** (cold: a pool of ${int(cold?.pool ?? NaN)} distinct tokens)\n\n${table(
        [
          'verifier',
          'cold ops/s',
          'cold µs/op',
          'spread',
          'cold × raw',
          'warm ops/s',
          'warm µs/op',
          'spread',
          'warm × fast-jwt cache',
        ],
        rows,
      )}`,
    )
  }
  return parts.join('\n\n')
}

/** The in-process targets, per algorithm, for the SDK and for the sync core. */
export function inProcessVerdicts(results: VerifyResults): string {
  const rows: string[][] = []
  const algs = [...new Set(results.inProcess.groups.map((g) => g.alg))]
  for (const alg of algs) {
    const cold = results.inProcess.groups.find((g) => g.alg === alg && g.mode === 'cold')
    const warm = results.inProcess.groups.find((g) => g.alg === alg && g.mode === 'warm')
    const raw = find(cold, RAW)
    const fast = find(cold, 'fast-jwt')
    for (const name of [SDK, CORE]) {
      const ours = find(cold, name)
      const vsRaw = ratioWithQuartiles(ours, raw)
      const vsFast = ratioWithQuartiles(ours, fast)
      const warmRatio =
        name === SDK
          ? ratioWithQuartiles(find(warm, SDK), find(warm, 'fast-jwt (cache)'))
          : undefined
      rows.push([
        alg,
        name.replace('tokenbooth ', ''),
        vsRaw.text,
        verdict(vsRaw.median >= TARGETS.coldVsRaw),
        vsFast.text,
        verdict(vsFast.median >= 1),
        warmRatio ? warmRatio.text : '–',
        warmRatio ? verdict(warmRatio.median >= TARGETS.warmVsFastJwtCache) : '–',
      ])
    }
  }
  return table(
    [
      'alg',
      '@tokenbooth/verify',
      'cold × raw',
      `≥ ${TARGETS.coldVsRaw}×`,
      'cold × fast-jwt',
      '≥ 1×',
      'warm × fast-jwt cache',
      `≥ ${TARGETS.warmVsFastJwtCache}×`,
    ],
    rows,
  )
}

const LOAD_NAMES: Record<string, string> = {
  none: 'no auth',
  'none (control)': 'no auth, a second server (A/A control)',
  'repeat token': 'our adapter, repeat token',
  'new token': 'our adapter, new token every request',
  'fast-jwt cache': 'fast-jwt with its cache, repeat token',
  'session-memory': 'express-session, MemoryStore',
  'session-redis': 'express-session, Redis',
  'session-pg': 'express-session, PostgreSQL',
}

function rowName(row: HttpRow): string {
  return LOAD_NAMES[row.load === 'session' ? row.variant : row.load] ?? row.load
}

/**
 * How many times less CPU a request of `b` takes than one of `a` (`a`'s µs over `b`'s): the median
 * of the per-round ratios when both ran in the same rotation (round i of each in one pass, so a
 * slow stretch of the VM hits both), else the ratio of the medians (the one-run cold case).
 */
function cpuRatio(a: HttpRow, b: HttpRow): number {
  if (a.cpuRounds.length !== b.cpuRounds.length || a.cpuRounds.length < 2) {
    return a.cpuMicros / b.cpuMicros
  }
  return median(pairedRatios(a.cpuRounds, b.cpuRounds))
}

export function httpRowsTable(rows: readonly HttpRow[]): string {
  return table(
    [
      'server',
      'authentication',
      'req/s',
      'CPU µs/req',
      'of which store',
      'rounds (CPU µs)',
      'server core',
      'p50 ms',
      'p99 ms',
      'CPU × no auth',
      'non-2xx',
    ],
    rows.map((r) => {
      const none = rows.find((x) => x.framework === r.framework && x.load === 'none')
      return [
        r.framework,
        rowName(r),
        int(r.rps),
        fixed(r.cpuMicros),
        r.storeNote === undefined ? '' : `${fixed(r.storeMicros)} (${r.storeNote})`,
        r.rounds.length > 1
          ? `${fixed(r.cpuMicrosRange[0])}–${fixed(r.cpuMicrosRange[1])} (${r.rounds.length})`
          : '1 run',
        `${Math.round(r.serverCore * 100)} %`,
        fixed(r.latencyMs.p50, 2),
        fixed(r.latencyMs.p99, 2),
        none ? times(cpuRatio(r, none)) : '–',
        r.badStatus + r.socketErrors === 0 ? '0' : `**${r.badStatus + r.socketErrors}**`,
      ]
    }),
  )
}

/** The HTTP targets, compared by CPU µs per request. */
export function httpVerdicts(rows: readonly HttpRow[]): string[] {
  const lines: string[] = []
  const row = (framework: string, key: string) =>
    rows.find(
      (r) =>
        r.framework === framework &&
        (r.load === key || (r.load === 'session' && r.variant === key)),
    )
  for (const framework of [...new Set(rows.map((r) => r.framework))]) {
    const none = row(framework, 'none')
    const repeat = row(framework, 'repeat token')
    if (none === undefined || repeat === undefined) continue
    const control = row(framework, 'none (control)')
    if (control !== undefined) {
      lines.push(
        `${framework}, A/A control: a second, identical no-auth server measured ${fixed(control.cpuMicros)} ` +
          `vs ${fixed(none.cpuMicros)} µs/req (${times(cpuRatio(none, control))}); differences of that size are noise`,
      )
    }
    const fast = row(framework, 'fast-jwt cache')
    if (fast !== undefined) {
      lines.push(
        `${framework}, fast-jwt's cache vs no auth (the issue quotes 0.6×): ${times(cpuRatio(none, fast))} ` +
          `(${fixed(fast.cpuMicros)} vs ${fixed(none.cpuMicros)} µs/req); our adapter vs fast-jwt's cache: ` +
          `${times(cpuRatio(fast, repeat))}`,
      )
    }
    const ratio = cpuRatio(none, repeat)
    lines.push(
      `${framework}, repeat token vs no auth (≥ ${TARGETS.repeatVsNoAuth}×): ${times(ratio)} ` +
        `(${fixed(repeat.cpuMicros)} vs ${fixed(none.cpuMicros)} µs/req) — ${verdict(ratio >= TARGETS.repeatVsNoAuth)}`,
    )
    for (const [store, target, name] of [
      ['session-redis', TARGETS.vsRedis, 'Redis'],
      ['session-pg', TARGETS.vsPostgres, 'PostgreSQL'],
    ] as const) {
      const session = row(framework, store)
      if (session === undefined) continue
      const r = cpuRatio(session, repeat)
      lines.push(
        `${framework}, repeat token vs express-session + ${name} (≥ ${target}×): ${times(r)} ` +
          `(${fixed(repeat.cpuMicros)} vs ${fixed(session.cpuMicros)} µs/req) — ${verdict(r >= target)}`,
      )
    }
  }
  const bad = rows.filter((r) => r.badStatus + r.socketErrors > 0)
  for (const r of bad) {
    lines.push(`ERRORS: ${r.framework} ${rowName(r)} had non-2xx answers or socket errors`)
  }
  return lines
}

const mb = (bytes: number) => fixed(bytes / 1024 / 1024)

export function memoryTable(results: VerifyResults): string {
  const users = [...new Set(results.memory.map((m) => m.users))]
  return table(
    [
      'users',
      'verifier RSS MB',
      'verifier heap MB',
      'tokens cached',
      'MemoryStore RSS MB',
      'MemoryStore heap MB',
      'session bytes/user (RSS)',
      'session bytes/user (heap)',
    ],
    users.map((n) => {
      const v = results.memory.find((m) => m.mode === 'verifier' && m.users === n)
      const s = results.memory.find((m) => m.mode === 'session' && m.users === n)
      const s0 = results.memory.find((m) => m.mode === 'session' && m.users === users[0])
      return [
        int(n),
        v ? mb(v.rss) : '–',
        v ? mb(v.heapUsed) : '–',
        v ? int(v.held) : '–',
        s ? mb(s.rss) : '–',
        s ? mb(s.heapUsed) : '–',
        s ? int((s.rss - s.baselineRss) / n) : '–',
        // the heap's growth over the smallest run, per extra user
        s && s0 && s !== s0 ? int((s.heapUsed - s0.heapUsed) / (n - s0.users)) : '–',
      ]
    }),
  )
}

export function revocationText(results: VerifyResults): string {
  const r = results.revocation
  return (
    `${r.trials} logouts: from \`/logout\`'s response to the verifier rejecting the token ` +
    `p50 **${fixed(r.p50, 2)} ms**, p99 **${fixed(r.p99, 2)} ms**, max ${fixed(r.max, 2)} ms ` +
    `(${r.beforeResponse} of ${r.trials} already rejected when the response arrived); from sending ` +
    `the logout, p50 ${fixed(r.fromRequestP50, 2)} ms.`
  )
}

export function verifyMarkdown(results: VerifyResults): string {
  return [
    '### In process: cold (each token once) and warm (the same token again)',
    '',
    inProcessTables(results),
    '',
    '**Targets in process**',
    '',
    inProcessVerdicts(results),
    '',
    '### Over HTTP (ES256; server and store on core 0, wrk on core 1)',
    '',
    httpRowsTable(results.http),
    '',
    ...httpVerdicts(results.http).map((l) => `- ${l}`),
    '',
    '### Memory after N distinct users',
    '',
    memoryTable(results),
    '',
    '### Revocation latency',
    '',
    revocationText(results),
  ].join('\n')
}

export function verifyHasErrors(results: VerifyResults): boolean {
  return results.http.some((r) => r.badStatus + r.socketErrors > 0)
}
