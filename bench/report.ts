/**
 * Turns results into the Markdown tables `npm run bench` prints and BENCHMARKS.md quotes.
 */
import type { CryptoResults } from './crypto/main.ts'
import { pairedRatio, type PeerResult } from './crypto/harness.ts'
import type { HttpModeResult } from './http/suite.ts'
import type { ScenarioResult, StreamResult } from './http/load.ts'
import type { MachineFacts } from './lib/machine.ts'
import type { ProfileSummary } from './lib/profile.ts'

/** The issue's target for refreshes per second on this 2-core machine. */
export const REFRESH_TARGET = 3000

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–')
export const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–')
export const pct = (n: number) => `${Math.round(n * 100)} %`

export function table(head: string[], rows: string[][]): string {
  // numbers (with their units and the "(mix)" note) align right
  const numeric = (cell: string) => /^[-–\d.,×%µ ]*$/.test(cell.replace(' (mix)', ''))
  const right = head.map((_, i) => rows.every((r) => numeric(r[i] ?? '')))
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [
    line(head),
    line(head.map((_, i) => (right[i] ? '---:' : '---'))),
    ...rows.map(line),
  ].join('\n')
}

function failureText(s: StreamResult): string {
  const parts = Object.entries(s.failures).map(
    ([status, n]) => `${n}× ${status === '0' ? 'socket error' : status}`,
  )
  if (s.badBodies > 0) parts.push(`${s.badBodies}× bad body`)
  const outside =
    s.failuresOverall - Object.values(s.failures).reduce((a, b) => a + b, 0) - s.badBodies
  if (outside > 0) parts.push(`${outside}× in warm-up`)
  return parts.length === 0 ? '0' : `**${parts.join(', ')}**`
}

export function hasErrors(http: readonly HttpModeResult[]): boolean {
  return http.some((m) => m.scenarios.some((s) => s.streams.some((x) => x.failuresOverall > 0)))
}

export function refreshFigure(
  http: readonly HttpModeResult[],
  mode: 'FULL' | 'NORMAL',
): number | undefined {
  return http.find((m) => m.synchronous === mode)?.scenarios.find((s) => s.name === 'refresh')
    ?.streams[0]?.rps
}

export function httpTable(http: readonly HttpModeResult[]): string {
  const rows: string[][] = []
  for (const mode of http) {
    for (const scenario of mode.scenarios) {
      scenario.streams.forEach((s, i) => {
        const mixed = scenario.streams.length > 1
        rows.push([
          mode.synchronous,
          mixed ? `${scenario.name}: ${s.kind}` : scenario.name,
          String(s.connections),
          int(s.rps),
          fixed(s.latencyMs.p50),
          fixed(s.latencyMs.p99),
          i === 0 ? `${int(scenario.booth.cpuMicrosPerRequest)}${mixed ? ' (mix)' : ''}` : '',
          i === 0 ? pct(scenario.booth.coreUtilisation) : '',
          i === 0 ? pct(scenario.loader.coreUtilisation) : '',
          failureText(s),
        ])
      })
    }
  }
  return table(
    [
      'SQLite sync',
      'scenario',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'booth CPU µs/req',
      'booth core',
      'loader core',
      'non-200',
    ],
    rows,
  )
}

/** Lines that qualify the HTTP figures: errors, saturation, the target. */
export function httpVerdicts(http: readonly HttpModeResult[]): string[] {
  const lines: string[] = []
  for (const mode of http) {
    for (const s of mode.scenarios) {
      if (s.streams.some((x) => x.failuresOverall > 0)) {
        lines.push(
          `ERRORS: ${mode.synchronous} ${s.name} had non-200 answers; its figures are not valid`,
        )
      }
      if (s.loader.coreUtilisation > 0.9) {
        lines.push(
          `${mode.synchronous} ${s.name}: the load generator used ${pct(s.loader.coreUtilisation)} of its core; the figure may be bound by it`,
        )
      }
      const paced = s.streams.some((x) => x.rate !== undefined)
      if (!paced && s.booth.coreUtilisation < 0.85) {
        lines.push(
          `${mode.synchronous} ${s.name}: the booth used only ${pct(s.booth.coreUtilisation)} of its core (waiting on fsync, the loader, or a noisy neighbour)`,
        )
      }
    }
  }
  for (const mode of ['FULL', 'NORMAL'] as const) {
    const rps = refreshFigure(http, mode)
    if (rps === undefined) continue
    lines.push(
      `refresh target (≥ ${int(REFRESH_TARGET)}/s), synchronous=${mode}: ${int(rps)}/s — ${rps >= REFRESH_TARGET ? 'MET' : 'NOT MET'}`,
    )
  }
  return lines
}

function peerRows(results: readonly PeerResult[]): string[][] {
  const raw = results.find((r) => r.name === 'node:crypto (raw)')
  const jose = results.find((r) => r.name.startsWith('jose (KeyObject'))
  return results.map((r) => [
    r.name,
    int(r.opsPerSec),
    `${Math.round(((r.max - r.min) / r.opsPerSec) * 100)} %`,
    fixed(1e6 / r.opsPerSec),
    fixed(r.cpuMicros),
    raw ? `${fixed(pairedRatio(raw, r), 2)}×` : '–',
    jose ? `${fixed(pairedRatio(r, jose), 2)}×` : '–',
  ])
}

export function cryptoTables(crypto: CryptoResults): string {
  const head = [
    'peer',
    'ops/s (median)',
    'spread',
    'µs/op',
    'CPU µs/op',
    'time vs raw',
    'speed vs jose',
  ]
  const parts = crypto.groups.map(
    (g) => `**${g.alg} ${g.op}**\n\n${table(head, peerRows(g.results))}`,
  )
  const a = crypto.argon2
  parts.push(
    `**Login bound**: one Argon2id verify (m=19 MiB, t=2, p=1, @node-rs/argon2, as the booth calls it) ` +
      `takes ${fixed(1e3 / a.opsPerSec)} ms; ${fixed(a.opsPerSec)} verifies/s on one core ` +
      `(${fixed(a.cpuMicros / 1000)} ms CPU each).`,
  )
  return parts.join('\n\n')
}

export function profileText(profile: ProfileSummary, rps: number | undefined): string {
  const head = ['share of busy time', 'function', 'where', 'area']
  const row = (e: ProfileSummary['functions'][number]) => [
    pct(e.share),
    `\`${e.name}\``,
    e.where,
    e.area,
  ]
  return [
    `Booth main thread during a refresh run${rps === undefined ? '' : ` (${int(rps)} req/s under --cpu-prof)`}: ` +
      `${fixed(profile.busyMs / 1000)} s busy, ${pct(profile.idleShare)} idle ` +
      `(${profile.windowed ? 'measured window only' : 'whole process, start-up and set-up included'}).`,
    '',
    '**Self time by area**',
    '',
    table(
      ['area', 'share'],
      profile.areas.slice(0, 12).map((a) => [a.area, pct(a.share)]),
    ),
    '',
    '**Top self-time functions**',
    '',
    table(head, profile.functions.slice(0, 15).map(row)),
    '',
    '**The booth’s own functions, inclusive time** (sync part and resumed async continuations)',
    '',
    table(head, profile.inclusive.slice(0, 12).map(row)),
  ].join('\n')
}

export function machineText(facts: MachineFacts): string {
  return [
    `- ${facts.nproc} cores, ${facts.cpuModel}, Linux ${facts.kernel}, ${facts.platform}`,
    `- Node ${facts.node}, CLK_TCK ${facts.clockTicks}, load average at start ${facts.loadAverage}`,
    `- ${facts.pinning ? 'booth pinned to core 0, load generator and micro-benchmarks to core 1 (taskset)' : 'NOT pinned (taskset unavailable or a single core)'}`,
  ].join('\n')
}

export type { ScenarioResult }
