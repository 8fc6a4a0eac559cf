/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function, and self
 * time per area (a package in node_modules, the booth's own source, node internals, GC, idle).
 */
import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  startTime: number
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileEntry {
  name: string
  where: string
  area: string
  /** Share of the non-idle time. */
  share: number
  ms: number
}

export interface ProfileSummary {
  /** Whether only the samples inside the given window were counted. */
  windowed: boolean
  /** Sampled time, idle excluded, in ms. */
  busyMs: number
  idleShare: number
  functions: ProfileEntry[]
  /** The booth's own functions by inclusive time (their callees included), idle excluded. */
  inclusive: ProfileEntry[]
  areas: { area: string; share: number; ms: number }[]
}

// Where a frame belongs: a package, the booth, node's own JavaScript, or a V8 pseudo-frame
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC'
    if (functionName === '(idle)') return 'idle'
    if (functionName === '(program)') return 'V8/native (program)'
    return 'native'
  }
  if (url.startsWith('node:internal/')) return `node:internal/${url.slice(14).split('/')[0]}`
  if (url.startsWith('node:')) return url
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const parts = url.slice(modules + 14).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const pkg = /\/packages\/([^/]+)\/(?:dist|src)\/(.+)$/.exec(url)
  if (pkg)
    return `${pkg[1] === 'server' ? 'tokenbooth' : `@tokenbooth/${pkg[1]}`} ${pkg[2]!.split('/')[0]}`
  return url
}

function shortWhere(frame: CallFrame): string {
  if (frame.url === '') return ''
  const tail = frame.url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/')
  return `${tail}:${frame.lineNumber + 1}`
}

/**
 * `window` ([start, end] in CLOCK_MONOTONIC µs, the clock of V8's sample timestamps on Linux)
 * limits the count to the measured run, leaving out start-up and set-up; when no sample falls in
 * it (another clock), the whole profile is counted and `windowed` is false.
 */
export function summarizeProfile(
  path: string,
  top = 20,
  window?: readonly [number, number],
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const count = (inWindow: boolean) => {
    const self = new Map<number, number>()
    let t = profile.startTime
    // timeDeltas[i] is the time from sample i-1 to sample i; charge it to sample i's node
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0
      t += delta
      if (inWindow && window !== undefined && (t < window[0] || t > window[1])) return
      self.set(id, (self.get(id) ?? 0) + delta)
    })
    return self
  }
  let selfUs = count(true)
  const windowed = window !== undefined && selfUs.size > 0
  if (!windowed) selfUs = count(false)

  const parent = new Map<number, number>()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id)
  const keyOf = (frame: CallFrame) => `${frame.functionName}|${frame.url}|${frame.lineNumber}`

  // inclusive: each sample counts once for every distinct function on its stack
  const inclusive = new Map<string, { frame: CallFrame; us: number }>()
  for (const [leaf, us] of selfUs) {
    if (areaOf(byId.get(leaf)!.callFrame) === 'idle') continue
    const seen = new Set<string>()
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame
      const key = keyOf(frame)
      if (seen.has(key)) continue
      seen.add(key)
      const f = inclusive.get(key) ?? { frame, us: 0 }
      f.us += us
      inclusive.set(key, f)
    }
  }

  const functions = new Map<string, { frame: CallFrame; us: number }>()
  const areas = new Map<string, number>()
  let idleUs = 0
  let totalUs = 0
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame
    totalUs += us
    const area = areaOf(frame)
    if (area === 'idle') {
      idleUs += us
      continue
    }
    const key = keyOf(frame)
    const f = functions.get(key) ?? { frame, us: 0 }
    f.us += us
    functions.set(key, f)
    areas.set(area, (areas.get(area) ?? 0) + us)
  }
  const busyUs = totalUs - idleUs
  const entry = ({ frame, us }: { frame: CallFrame; us: number }): ProfileEntry => ({
    name: frame.functionName || '(anonymous)',
    where: shortWhere(frame),
    area: areaOf(frame),
    share: us / busyUs,
    ms: us / 1000,
  })
  return {
    windowed,
    busyMs: busyUs / 1000,
    idleShare: totalUs === 0 ? 0 : idleUs / totalUs,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(entry),
    inclusive: [...inclusive.values()]
      .filter(({ frame }) => areaOf(frame).startsWith('tokenbooth') && frame.functionName !== '')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(entry),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, share: us / busyUs, ms: us / 1000 })),
  }
}
