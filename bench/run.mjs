// `npm run bench` (after `npm run build`): see bench/main.ts and BENCHMARKS.md.
// Plain JavaScript so that npm can start it; the modules are TypeScript, which Node 24 runs as is.
import { main } from './main.ts'

process.exitCode = await main(process.argv.slice(2))
