/**
 * The booth's life as a process (issue 2, "Keys", "Configuration", "Storage"): secrets that do
 * or do not open the keys, configuration errors, restarts on the same data, a graceful SIGTERM
 * with a request in flight, and a SIGKILL in the middle of rotations.
 */
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { refusingEnv, removeDir, startBooth, type Booth } from '../support/booth.ts'
import {
  decodeJwt,
  jwksKids,
  randomSecret,
  runUntilExit,
  sleep,
  uniqueName,
} from '../support/contract.ts'
import { bearer, call, postForm, postJson } from '../support/http.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'

const PASSWORD = 'lifecycle passphrase here'

async function signUpAndLogin(base: string, username = uniqueName('life')) {
  const signup = await postJson(`${base}/signup`, { username, password: PASSWORD })
  assert.equal(signup.status, 201, signup.text)
  const login = await postForm(`${base}/token`, {
    grant_type: 'password',
    username,
    password: PASSWORD,
  })
  assert.equal(login.status, 200, login.text)
  return { username, ...(login.body as { access_token: string; refresh_token: string }) }
}

const STACK = /\n\s+at \S+ \(|\n\s+at (file|node):/

describe('key-encryption secrets on PostgreSQL', () => {
  const right = randomSecret()
  const wrong = randomSecret()
  const dbs: TestDatabase[] = []

  after(async () => {
    await Promise.all(dbs.map((db) => db.drop()))
  })

  async function seededDatabase(): Promise<{ db: TestDatabase; kids: string[] }> {
    const db = await createTestDatabase()
    dbs.push(db)
    const booth = await startBooth({
      env: { TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: right },
    })
    const kids = await jwksKids(booth.url)
    assert.equal(kids.length, 1)
    assert.equal(await booth.stop(), 0)
    removeDir(booth.dataDir)
    return { db, kids }
  }

  async function kidsWithRightSecret(db: TestDatabase): Promise<string[]> {
    const booth = await startBooth({
      env: { TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: right },
    })
    try {
      return await jwksKids(booth.url)
    } finally {
      await booth.stop()
      removeDir(booth.dataDir)
    }
  }

  it('a wrong TOKENBOOTH_SECRET: serve exits non-zero naming the variable, and creates no key', async () => {
    const { db, kids } = await seededDatabase()
    const env = await refusingEnv({ TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: wrong })
    const run = await runUntilExit(['serve'], env)
    removeDir(env.TOKENBOOTH_DATA_DIR!)
    assert.equal(run.timedOut, false, `serve started with a wrong secret:\n${run.output}`)
    assert.notEqual(run.code, 0)
    assert.match(run.output, /TOKENBOOTH_SECRET/)
    assert.ok(!run.output.includes(wrong), 'the secret is not printed')
    assert.doesNotMatch(run.output, STACK, 'no stack trace')
    assert.deepEqual(await kidsWithRightSecret(db), kids, 'the same single key')
  })

  it('a wrong TOKENBOOTH_SECRET with another TOKENBOOTH_SIGNING_ALG also creates no key', async () => {
    // A change of algorithm makes the booth roll over to a new key; with a secret that opens
    // nothing it must still refuse before writing anything.
    const { db, kids } = await seededDatabase()
    const env = await refusingEnv({
      TOKENBOOTH_DATABASE_URL: db.url,
      TOKENBOOTH_SECRET: wrong,
      TOKENBOOTH_SIGNING_ALG: 'EdDSA',
    })
    const run = await runUntilExit(['serve'], env)
    removeDir(env.TOKENBOOTH_DATA_DIR!)
    assert.equal(run.timedOut, false, `serve started with a wrong secret:\n${run.output}`)
    assert.notEqual(run.code, 0)
    assert.match(run.output, /TOKENBOOTH_SECRET/)
    assert.deepEqual(await kidsWithRightSecret(db), kids, 'no key was written by the refused start')
  })

  it('several values in TOKENBOOTH_SECRET (new,old) still open the keys', async () => {
    const { db, kids } = await seededDatabase()
    const booth = await startBooth({
      env: { TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: `${randomSecret()},${right}` },
    })
    try {
      assert.deepEqual(await jwksKids(booth.url), kids)
      const tokens = await signUpAndLogin(booth.url)
      assert.equal(decodeJwt(tokens.access_token).header.kid, kids[0], 'the old key signs')
      assert.equal(
        (await call(`${booth.url}/userinfo`, { headers: bearer(tokens.access_token) })).status,
        200,
      )
    } finally {
      assert.equal(await booth.stop(), 0)
      removeDir(booth.dataDir)
    }
  })
})

describe('invalid configuration', () => {
  const cases: Array<[string, Record<string, string>, string | undefined]> = [
    ['TOKENBOOTH_PORT', { TOKENBOOTH_PORT: '80a' }, '80a'],
    ['TOKENBOOTH_PORT', { TOKENBOOTH_PORT: '70000' }, '70000'],
    ['TOKENBOOTH_ACCESS_TOKEN_TTL', { TOKENBOOTH_ACCESS_TOKEN_TTL: '5' }, '5'],
    ['TOKENBOOTH_REFRESH_GRACE', { TOKENBOOTH_REFRESH_GRACE: '-1' }, '-1'],
    ['TOKENBOOTH_SIGNING_ALG', { TOKENBOOTH_SIGNING_ALG: 'none' }, 'none'],
    ['TOKENBOOTH_CORS_ORIGINS', { TOKENBOOTH_CORS_ORIGINS: '*' }, '*'],
    [
      'TOKENBOOTH_DATABASE_URL',
      { TOKENBOOTH_DATABASE_URL: 'mysql://db/booth' },
      'mysql://db/booth',
    ],
    ['TOKENBOOTH_ISSUER', { TOKENBOOTH_ISSUER: 'not a url' }, 'not a url'],
    ['TOKENBOOTH_SECRET', { TOKENBOOTH_SECRET: 'tooShortSecretValue' }, undefined],
  ]

  it('serve exits 1 with one line naming the variable and the value, and no stack trace', async () => {
    const runs = await Promise.all(
      cases.map(async ([, extra]) => {
        const env = await refusingEnv({})
        const run = await runUntilExit(['serve'], { ...env, ...extra })
        removeDir(env.TOKENBOOTH_DATA_DIR!)
        return run
      }),
    )
    for (const [i, [name, extra, value]] of cases.entries()) {
      const run = runs[i]!
      const context = `${JSON.stringify(extra)} → ${run.output.slice(0, 400)}`
      assert.equal(run.timedOut, false, context)
      assert.equal(run.code, 1, context)
      assert.ok(run.output.includes(name), `names ${name}: ${context}`)
      if (value !== undefined) assert.ok(run.output.includes(value), `names the value: ${context}`)
      else
        assert.ok(
          !run.output.includes(extra.TOKENBOOTH_SECRET!),
          `never prints a secret: ${context}`,
        )
      assert.doesNotMatch(run.output, STACK, `no stack trace: ${context}`)
    }
  })
})

describe('the embedded SQLite store across restarts and signals', () => {
  let dataDir: string
  let booth: Booth
  let kids: string[]
  let tokens: { username: string; access_token: string; refresh_token: string }

  before(async () => {
    booth = await startBooth()
    dataDir = booth.dataDir
  })
  after(async () => {
    await booth?.kill()
    removeDir(dataDir)
  })

  it('creates the secret file with mode 0600', async () => {
    const mode = statSync(join(dataDir, 'secret')).mode & 0o777
    assert.equal(mode.toString(8), '600')
    kids = await jwksKids(booth.url)
    tokens = await signUpAndLogin(booth.url)
  })

  it('a restart on the same data dir keeps the kid, and the tokens keep working', async () => {
    assert.equal(await booth.stop(), 0, 'SIGTERM exits 0')
    booth = await startBooth({ dataDir, port: booth.port })
    assert.deepEqual(await jwksKids(booth.url), kids)
    assert.equal(
      (await call(`${booth.url}/userinfo`, { headers: bearer(tokens.access_token) })).status,
      200,
    )
    const res = await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(decodeJwt(res.body.access_token).header.kid, kids[0])
    const again = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username: tokens.username,
      password: PASSWORD,
    })
    assert.equal(again.status, 200, 'the account survived the restart')
  })

  /**
   * Sends a login whose headers and first bytes reach the booth, SIGTERMs the booth, then sends
   * the rest: the request is in flight during the shutdown, without depending on Argon2's speed.
   */
  async function loginAcrossSigterm(agent: Agent | false) {
    const body = new URLSearchParams({
      grant_type: 'password',
      username: tokens.username,
      password: PASSWORD,
    }).toString()
    const req = httpRequest({
      host: '127.0.0.1',
      port: booth.port,
      method: 'POST',
      path: '/token',
      agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
      },
    })
    const response = new Promise<{ status: number; text: string; connection: string | undefined }>(
      (resolve, reject) => {
        req.on('response', (res: IncomingMessage) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (text += chunk))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }),
          )
          res.on('error', reject)
        })
        req.on('error', reject)
      },
    )
    req.write(body.slice(0, 12))
    await sleep(300)
    const exited = booth.stop()
    await sleep(300)
    // Stopped accepting: a new connection is refused (or told 503).
    const late = await fetch(`${booth.url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    )
    req.end(body.slice(12))
    return { response: await response, exited, late }
  }

  it('SIGTERM while a login (Argon2) is in flight: the request completes with 200, the process exits 0', async () => {
    const { response, exited, late } = await loginAcrossSigterm(false)
    assert.ok(late === 'refused' || late === 503, `a new request after SIGTERM got ${late}`)
    assert.equal(response.status, 200, response.text)
    assert.equal(typeof JSON.parse(response.text).access_token, 'string')
    assert.equal(await exited, 0, booth.output().slice(-2000))
  })

  it('SIGTERM with a keep-alive client: the response in flight says Connection: close, so shutdown does not wait for the client', async () => {
    booth = await startBooth({ dataDir })
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 })
    const { response, exited } = await loginAcrossSigterm(agent)
    // Close our side whatever the booth said, so that a failure here does not hang the suite.
    agent.destroy()
    assert.equal(response.status, 200, response.text)
    assert.equal(await exited, 0)
    assert.equal(
      response.connection,
      'close',
      'a booth that is stopping must not keep the connection alive',
    )
  })

  it('SIGKILL in the middle of refreshes, then a restart: no family forks, no acknowledged rotation is lost', async () => {
    booth = await startBooth({ dataDir })
    const username = uniqueName('crash')
    const signup = await postJson(`${booth.url}/signup`, { username, password: PASSWORD })
    assert.equal(signup.status, 201)
    const chains = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const login = await postForm(`${booth.url}/token`, {
          grant_type: 'password',
          username,
          password: PASSWORD,
        })
        assert.equal(login.status, 200, login.text)
        // `current`: the newest token we hold; `previous`: the one whose acknowledged rotation gave it.
        return {
          current: login.body.refresh_token as string,
          previous: undefined as string | undefined,
          rotations: 0,
        }
      }),
    )
    let acknowledged = 0
    let running = true
    const url = booth.url
    const loops = chains.map(async (chain) => {
      while (running) {
        let res: Response
        try {
          res = await fetch(`${url}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'refresh_token',
              refresh_token: chain.current,
            }),
          })
        } catch {
          return // the booth is gone
        }
        let json: { refresh_token?: string }
        try {
          json = (await res.json()) as typeof json
        } catch {
          return
        }
        assert.equal(
          res.status,
          200,
          `before the crash every rotation succeeds: ${JSON.stringify(json)}`,
        )
        chain.previous = chain.current
        chain.current = json.refresh_token!
        chain.rotations++
        acknowledged++
      }
    })
    while (acknowledged < 200) await sleep(5)
    await booth.kill()
    running = false
    await Promise.all(loops)
    for (const chain of chains)
      assert.ok(chain.previous !== undefined, 'every chain rotated before the crash')

    booth = await startBooth({ dataDir })
    const refresh = (token: string) =>
      postForm(`${booth.url}/token`, { grant_type: 'refresh_token', refresh_token: token })
    for (const [i, chain] of chains.entries()) {
      if (i % 2 === 0) {
        // The newest token: it rotates (or, had its rotation committed unseen, gets that same
        // successor again); presenting it twice never yields two different successors.
        const first = await refresh(chain.current)
        if (first.status === 200) {
          const second = await refresh(chain.current)
          if (second.status === 200) {
            assert.equal(second.body.refresh_token, first.body.refresh_token, `chain ${i}: a fork`)
            assert.equal(
              (await refresh(first.body.refresh_token)).status,
              200,
              `chain ${i}: the successor works`,
            )
          } else {
            assert.equal(second.body?.error, 'invalid_grant', `chain ${i}: ${second.text}`)
          }
        } else {
          assert.equal(first.status, 400, `chain ${i}: ${first.text}`)
          assert.equal(first.body.error, 'invalid_grant', `chain ${i}`)
        }
      } else {
        // The token before the last acknowledged rotation: that rotation must have survived, so
        // it can only be a retry yielding the acknowledged successor, or refused.
        const res = await refresh(chain.previous!)
        if (res.status === 200) {
          assert.equal(
            res.body.refresh_token,
            chain.current,
            `chain ${i}: an acknowledged rotation was lost`,
          )
        } else {
          assert.equal(res.status, 400, `chain ${i}: ${res.text}`)
          assert.equal(res.body.error, 'invalid_grant', `chain ${i}`)
        }
      }
    }
    assert.deepEqual(await jwksKids(booth.url), kids, 'the same key after the crash')
  })
})
