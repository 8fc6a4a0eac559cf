/**
 * A small Prometheus registry: counters and gauges with labels, rendered in the text exposition
 * format (0.0.4). Written here because the booth needs a handful of series, and prom-client
 * would add a dependency larger than this file and a collector on every scrape.
 */

type Labels = Record<string, string>

export interface Counter {
  inc(labels?: Labels, by?: number): void
}

export interface Metrics {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter
  /** A value read at scrape time. */
  gauge(name: string, help: string, read: () => number): void
  render(): string
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

type CounterSeries = Map<string, { help: string; values: Map<string, number> }>

function counterIn(counters: CounterSeries, name: string, help: string): Counter {
  let series = counters.get(name)
  if (series === undefined) {
    series = { help, values: new Map() }
    counters.set(name, series)
  }
  const values = series.values
  return {
    inc(labels = {}, by = 1) {
      const key = labelText(labels)
      values.set(key, (values.get(key) ?? 0) + by)
    },
  }
}

// Counters of work done by the process whatever server instance asked for it (password hashing
// lives below the request context); every registry renders them, as prom-client's default does.
const processCounters: CounterSeries = new Map()

/**
 * A counter of the whole process, rendered by every registry.
 *
 * @example const hashes = processCounter('tokenbooth_password_hashes_total', 'Argon2id runs')
 */
export function processCounter(name: string, help: string): Counter {
  return counterIn(processCounters, name, help)
}

export function createMetrics(): Metrics {
  const counters: CounterSeries = new Map()
  const gauges = new Map<string, { help: string; read: () => number }>()
  return {
    counter(name, help) {
      return counterIn(counters, name, help)
    },
    gauge(name, help, read) {
      gauges.set(name, { help, read })
    },
    render() {
      const lines: string[] = []
      for (const [name, { help, values }] of [...processCounters, ...counters]) {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
        for (const [labels, value] of values) lines.push(`${name}${labels} ${value}`)
      }
      for (const [name, { help, read }] of gauges) {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${read()}`)
      }
      return `${lines.join('\n')}\n`
    },
  }
}
