/**
 * Bad configuration and a bad secret file stop `tokenbooth serve` before it creates anything,
 * with one line that names the variable (or the file) and the value: a trusted-proxy entry that
 * is not an address, port 0, a heartbeat slower than default verifiers tolerate, and an empty
 * or short key-encryption secret file. And every trusted-proxy form the configuration accepts
 * is one the HTTP layer accepts too.
 */
import assert from 'node:assert/strict'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { refusingEnv, removeDir, startBooth } from '../support/booth.ts'
import { runUntilExit } from '../support/contract.ts'
import { call } from '../support/http.ts'

const STACK = /\n\s+at \S+ \(|\n\s+at (file|node):/

describe('serve refuses bad configuration before it creates anything', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['TOKENBOOTH_TRUST_PROXY', { TOKENBOOTH_TRUST_PROXY: '10.0.0.0/33' }, '10.0.0.0/33'],
    ['TOKENBOOTH_TRUST_PROXY', { TOKENBOOTH_TRUST_PROXY: '127.0.0.1, proxy' }, 'proxy'],
    ['TOKENBOOTH_TRUST_PROXY', { TOKENBOOTH_TRUST_PROXY: '999.1.1.1' }, '999.1.1.1'],
    ['TOKENBOOTH_PORT', { TOKENBOOTH_PORT: '0' }, '"0"'],
    ['TOKENBOOTH_FEED_HEARTBEAT', { TOKENBOOTH_FEED_HEARTBEAT: '30' }, '30'],
  ]

  it('exits 1 with one line naming the variable and the value; the data directory stays empty', async () => {
    const runs = await Promise.all(
      cases.map(async ([, extra]) => {
        const env = await refusingEnv(extra)
        const run = await runUntilExit(['serve'], env)
        const left = readdirSync(env.TOKENBOOTH_DATA_DIR!)
        removeDir(env.TOKENBOOTH_DATA_DIR!)
        return { ...run, left }
      }),
    )
    for (const [i, [name, extra, value]] of cases.entries()) {
      const run = runs[i]!
      const context = `${JSON.stringify(extra)} → ${run.output.slice(0, 400)}`
      assert.equal(run.timedOut, false, context)
      assert.equal(run.code, 1, context)
      assert.match(run.output, new RegExp(`^tokenbooth: ${name} must be `), context)
      assert.ok(run.output.includes(value), `names the value: ${context}`)
      assert.doesNotMatch(run.output, STACK, `no stack trace: ${context}`)
      assert.deepEqual(run.left, [], `no store, no secret created: ${context}`)
    }
  })

  it('every trusted-proxy form the configuration accepts, the booth starts with', async () => {
    const forms =
      '127.0.0.1, 10.0.0.0/8, ::1, 2001:db8::/32, ::ffff:10.0.0.1, loopback, uniquelocal'
    const booth = await startBooth({ env: { TOKENBOOTH_TRUST_PROXY: forms } })
    try {
      assert.equal((await call(`${booth.url}/healthz`)).status, 200)
    } finally {
      assert.equal(await booth.stop(), 0)
      removeDir(booth.dataDir)
    }
  })
})

describe('the key-encryption secret file', () => {
  for (const [name, content] of [
    ['empty', ''],
    ['short', 'only-twenty-chars-xx\n'],
  ] as const) {
    it(`a secret file that is ${name} stops serve with a message naming the file, before the store opens`, async () => {
      const env = await refusingEnv({})
      const dir = env.TOKENBOOTH_DATA_DIR!
      const path = join(dir, 'secret')
      writeFileSync(path, content, { mode: 0o600 })
      try {
        const run = await runUntilExit(['serve'], env)
        const context = run.output.slice(0, 400)
        assert.equal(run.timedOut, false, context)
        assert.equal(run.code, 1, context)
        assert.match(run.output, /^tokenbooth: the key-encryption secret file /, context)
        assert.ok(run.output.includes(path), `names ${path}: ${context}`)
        if (content.trim() !== '')
          assert.ok(!run.output.includes(content.trim()), `never prints the secret: ${context}`)
        assert.doesNotMatch(run.output, STACK, context)
        assert.deepEqual(readdirSync(dir), ['secret'], 'no database was created')
      } finally {
        removeDir(dir)
      }
    })
  }

  it('the generated file is mode 0600, alone in its directory, and serves across a restart', async () => {
    const booth = await startBooth()
    try {
      const path = join(booth.dataDir, 'secret')
      assert.equal((statSync(path).mode & 0o777).toString(8), '600')
      const names = readdirSync(booth.dataDir).filter((n) => !n.startsWith('tokenbooth.db'))
      assert.deepEqual(names, ['secret'], 'no temporary secret file is left behind')
      assert.equal(await booth.stop(), 0)
      const again = await startBooth({ dataDir: booth.dataDir })
      assert.equal((await call(`${again.url}/healthz`)).status, 200)
      assert.equal(await again.stop(), 0)
    } finally {
      await booth.kill()
      removeDir(booth.dataDir)
    }
  })
})
