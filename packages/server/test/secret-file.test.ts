/** The generated key-encryption secret file, on real files: its rule, its mode, its atomicity. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadOrCreateSecret } from '../src/domain/secret-file.ts'

describe('loadOrCreateSecret', () => {
  let root: string
  let n = 0
  const freshDir = () => join(root, `data-${++n}`)

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'tb-secret-'))
  })
  after(() => rmSync(root, { recursive: true, force: true }))

  it('creates the directory (0700) and the file (0600) holding the secret, and nothing else', () => {
    const dir = freshDir()
    const { secret, created } = loadOrCreateSecret(dir)
    assert.equal(created, true)
    assert.ok(secret.length >= 32, secret)
    assert.equal(readFileSync(join(dir, 'secret'), 'utf8'), `${secret}\n`)
    assert.equal((statSync(join(dir, 'secret')).mode & 0o777).toString(8), '600')
    assert.equal((statSync(dir).mode & 0o777).toString(8), '700')
    assert.deepEqual(readdirSync(dir), ['secret'], 'no temporary file is left behind')
  })

  it('reads the same secret on the next start', () => {
    const dir = freshDir()
    const first = loadOrCreateSecret(dir)
    const second = loadOrCreateSecret(dir)
    assert.deepEqual(second, { secret: first.secret, created: false })
  })

  it('accepts a secret an operator wrote, trimmed', () => {
    const dir = freshDir()
    loadOrCreateSecret(dir)
    const mine = 'operator-chosen-secret-0123456789-abcdef'
    writeFileSync(join(dir, 'secret'), `  ${mine}\r\n`)
    assert.deepEqual(loadOrCreateSecret(dir), { secret: mine, created: false })
  })

  for (const [name, content] of [
    ['an empty file', ''],
    ['a newline only', '\n'],
    ['31 characters', `${'x'.repeat(31)}\n`],
    ['two secrets in one file', `${'a'.repeat(32)},${'b'.repeat(32)}\n`],
    ['a secret with a space inside', `${'a'.repeat(20)} ${'b'.repeat(20)}`],
  ] as const) {
    it(`refuses ${name}, naming the file and never its content`, () => {
      const dir = freshDir()
      loadOrCreateSecret(dir)
      const path = join(dir, 'secret')
      writeFileSync(path, content)
      assert.throws(
        () => loadOrCreateSecret(dir),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message.includes(path) &&
          e.message.includes('at least 32 characters') &&
          (content.trim() === '' || !e.message.includes(content.trim())),
      )
      assert.equal(readFileSync(path, 'utf8'), content, 'the bad file is left for the operator')
    })
  }

  it('processes that start together on a fresh directory all get the one secret', async () => {
    const dir = freshDir()
    const module = new URL('../src/domain/secret-file.ts', import.meta.url).href
    // Each child loads the module, says it is ready, and waits for "go": all of them then race
    // from the same instant, and whoever links first wins. (With rename instead of link, each
    // would replace the file and keep its own secret: this fails every time.)
    const script = `
      const { loadOrCreateSecret } = await import(${JSON.stringify(module)})
      process.stdout.write('ready\\n')
      process.stdin.once('data', () => {
        process.stdout.write(JSON.stringify(loadOrCreateSecret(${JSON.stringify(dir)})) + '\\n')
        process.exit(0)
      })`
    const children = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    )
    const outputs = children.map((child) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d))
      return () => out
    })
    await Promise.all(
      children.map(
        (child, i) =>
          new Promise<void>((resolve) => {
            const check = () => (outputs[i]!().includes('ready') ? resolve() : undefined)
            child.stdout.on('data', check)
            check()
          }),
      ),
    )
    const exits = children.map((child) => once(child, 'exit'))
    for (const child of children) child.stdin.end('go\n')
    await Promise.all(exits)
    const results = outputs.map(
      (out) => JSON.parse(out().split('\n')[1]!) as { secret: string; created: boolean },
    )
    const secrets = new Set(results.map((r) => r.secret))
    assert.equal(secrets.size, 1, `one secret for all: ${[...secrets].join(', ')}`)
    assert.equal(results.filter((r) => r.created).length, 1, 'exactly one process created it')
    assert.equal(readFileSync(join(dir, 'secret'), 'utf8'), `${[...secrets][0]}\n`)
    assert.deepEqual(readdirSync(dir), ['secret'])
  })
})
