/**
 * `node bench/http/refresh-only.ts [--rounds=3] [--seconds=5] [--synchronous=FULL|NORMAL]`
 *
 * The refresh scenario of `npm run bench` alone (the same booth, pinned layout and load
 * generator: suite.ts), a fresh booth per round, one line per round: refreshes/s and the booth's
 * CPU µs a refresh. For A/B comparisons on this noisy machine: build two checkouts (`npm run
 * build` in each), then run this script from each in turn, alternating, and compare round by
 * round; BENCHMARKS.md quotes pairs measured that way. Not part of `npm run bench`.
 */
import { parseArgs } from 'node:util'
import { machineFacts } from '../lib/machine.ts'
import { runHttpSuite } from './suite.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    synchronous: { type: 'string', default: 'FULL' },
  },
})
const facts = machineFacts()
const synchronous = values.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'
for (let round = 1; round <= Number(values.rounds); round++) {
  const [mode] = await runHttpSuite({
    facts,
    seconds: Number(values.seconds),
    warmupSeconds: 1,
    modes: [synchronous],
    connections: 32,
    loginConnections: 4,
    pacedRate: 200,
    only: ['refresh'],
  })
  const scenario = mode!.scenarios[0]!
  const stream = scenario.streams[0]!
  console.log(
    `round ${round}: ${Math.round(stream.rps)} refreshes/s, ` +
      `${Math.round(scenario.booth.cpuMicrosPerRequest)} µs booth CPU each, ` +
      `${stream.failuresOverall} failed (synchronous=${synchronous})`,
  )
}
