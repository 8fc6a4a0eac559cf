/**
 * Password handling as the binary does it (issue 2, "Accounts, clients, abuse" and "POST
 * /token"): "a wrong password and an unknown user get the same answer in the same time (verify
 * against a dummy hash)", Argon2id with OWASP parameters, and "logins must not stall other
 * requests". No timing is measured: the tests prove the mechanisms (a counter of Argon2id runs,
 * the stored hash's parameters, the order in which answers arrive).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { uniqueName } from '../support/contract.ts'
import { call, postForm, postJson } from '../support/http.ts'

const PASSWORD = 'a passphrase to hash'

describe('passwords', () => {
  let booth: Booth

  before(async () => {
    booth = await startBooth()
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  async function signUp(prefix: string): Promise<string> {
    const username = uniqueName(prefix)
    const res = await postJson(`${booth.url}/signup`, { username, password: PASSWORD })
    assert.equal(res.status, 201, res.text)
    return username
  }

  const login = (username: string, password: string) =>
    postForm(`${booth.url}/token`, { grant_type: 'password', username, password })

  /** The Argon2id runs the booth reports in /metrics, by operation. */
  async function hashRuns(): Promise<{ hash: number; verify: number }> {
    const text = (await call(`${booth.url}/metrics`)).text
    const read = (op: string) => {
      const m = new RegExp(`^tokenbooth_password_hashes_total\\{op="${op}"\\} (\\d+)$`, 'm').exec(
        text,
      )
      return m === null ? 0 : Number(m[1])
    }
    return { hash: read('hash'), verify: read('verify') }
  }

  it('an unknown user costs one Argon2id verification, exactly like a wrong password', async () => {
    const username = await signUp('known')
    const cases: Array<[string, string, string]> = [
      ['a wrong password', username, 'not the passphrase'],
      ['an unknown user', uniqueName('nobody'), 'not the passphrase'],
      ['a name that can never exist', 'no', 'not the passphrase'],
      ['the right password', username, PASSWORD],
    ]
    const answers: string[] = []
    for (const [name, user, password] of cases) {
      const before = await hashRuns()
      const res = await login(user, password)
      const after = await hashRuns()
      assert.deepEqual(
        { verify: after.verify - before.verify, hash: after.hash - before.hash },
        { verify: 1, hash: 0 },
        `${name}: one verification, no hashing`,
      )
      if (res.status !== 200) answers.push(`${res.status} ${res.text}`)
    }
    // And the same answer, byte for byte, for the three failures.
    assert.equal(answers.length, 3)
    assert.equal(new Set(answers).size, 1, answers.join('\n'))
  })

  it('a password with a lone surrogate is refused at sign-up: 400 invalid_password', async () => {
    // JSON.stringify writes the lone surrogate as \ud800, which JSON.parse gives back as it was
    const res = await postJson(`${booth.url}/signup`, {
      username: uniqueName('surrogate'),
      password: 'pass\uD800word-123',
    })
    assert.equal(res.status, 400, res.text)
    assert.equal(res.body.error, 'invalid_password')
  })

  it('the stored hash is Argon2id with at least m=19456, t=2, p=1 (read from the SQLite file)', async () => {
    const username = await signUp('params')
    const db = new DatabaseSync(join(booth.dataDir, 'tokenbooth.db'), { readOnly: true })
    let stored: string
    try {
      const row = db.prepare('select password_hash from users where username = ?').get(username)
      stored = String(row?.password_hash)
    } finally {
      db.close()
    }
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(
      stored,
    )
    assert.ok(m, `an Argon2id PHC string, got ${stored.slice(0, 40)}`)
    const [, memory, time, parallelism] = m.map(Number)
    assert.ok(memory! >= 19_456, `m = ${memory} KiB`)
    assert.ok(time! >= 2, `t = ${time}`)
    assert.ok(parallelism! >= 1, `p = ${parallelism}`)
    assert.ok(!stored.includes(PASSWORD))
  })

  it('logins do not stall other requests: /healthz, asked while the first login hashes, answers before the first wave of logins', async () => {
    // Four users, three logins each: no account reaches its throttle (five in flight).
    const users = await Promise.all(Array.from({ length: 4 }, (_, i) => signUp(`stall${i}`)))
    const before = (await hashRuns()).verify
    const order: string[] = []
    const logins = Array.from({ length: 12 }, (_, i) =>
      login(users[i % 4]!, PASSWORD).then((res) => {
        assert.equal(res.status, 200, res.text)
        order.push(`login ${i}`)
      }),
    )
    // The counter counts a run as it starts: once it moved, a login is hashing. A booth running
    // Argon2id on its event loop answers nothing, /metrics included, until that hash ends, and
    // then finishes that login before it reads /healthz (each next hash blocks it again); so
    // /healthz is asked only now; it then queues behind the logins sent before it (5 to 12 of
    // them came first in nine runs against a booth patched to hash with verifySync). A booth
    // hashing off its event loop answers it at once (first, or second on a loaded machine): at
    // most two logins may come first, a margin on both sides.
    while ((await hashRuns()).verify === before) await new Promise((r) => setImmediate(r))
    const health = call(`${booth.url}/healthz`).then((res) => {
      assert.equal(res.status, 200)
      order.push('healthz')
    })
    await Promise.all([...logins, health])
    assert.equal(order.length, 13)
    const loginsFirst = order.indexOf('healthz')
    assert.ok(
      loginsFirst <= 2,
      `${loginsFirst} logins answered before healthz: ${order.join(', ')}`,
    )
  })
})
