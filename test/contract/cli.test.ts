/**
 * The operator's CLI against the store of a running booth (issue 2, "Accounts, clients, abuse",
 * "Keys"), and what lands on disk: no client secret, refresh token or password in clear.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { removeDir, runCli, startBooth, type Booth } from '../support/booth.ts'
import { jwksKids, readAllFiles, uniqueName } from '../support/contract.ts'
import { basic, bearer, call, postForm } from '../support/http.ts'

const STACK = /\n\s+at \S+ \(|\n\s+at (file|node):/

describe('the tokenbooth CLI on the embedded store', () => {
  let booth: Booth
  const cli = (args: string[], stdin?: string) => runCli(args, booth.env, stdin)

  /** True when `secret` occurs anywhere in the data dir's files, as text or as its base64 decoding. */
  function onDisk(secret: string): boolean {
    const bytes = readAllFiles(booth.dataDir)
    return (
      bytes.includes(Buffer.from(secret)) ||
      (secret.length > 20 && bytes.includes(Buffer.from(secret.replace(/^tbr_/, ''), 'base64url')))
    )
  }

  before(async () => {
    booth = await startBooth()
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  it('users add NAME reads the password from stdin; the user can then log in', async () => {
    const username = uniqueName('operator')
    const password = 'typed into standard input'
    const out = await cli(['users', 'add', username], `${password}\n`)
    assert.equal(out.code, 0, out.stderr)
    const created = JSON.parse(out.stdout.trim())
    assert.equal(created.username, username)
    assert.equal(typeof created.id, 'string')
    assert.ok(
      !out.stdout.includes(password) && !out.stderr.includes(password),
      'the password is not echoed',
    )
    const login = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password,
    })
    assert.equal(login.status, 200, login.text)
    const info = await call(`${booth.url}/userinfo`, { headers: bearer(login.body.access_token) })
    assert.deepEqual(info.body, { sub: created.id, username })
    assert.ok(!onDisk(password), 'the password is not stored in clear')
  })

  it('users add with a weak password, or a taken name, exits non-zero with a clear message', async () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['short', uniqueName('weak'), 'short', /password/i],
      ['common', uniqueName('weak'), 'password123', /password/i],
      ['empty', uniqueName('weak'), '', /password/i],
    ]
    const taken = uniqueName('taken')
    assert.equal((await cli(['users', 'add', taken], 'a perfectly good passphrase')).code, 0)
    cases.push(['taken', taken, 'another good passphrase', /taken|exists/i])
    for (const [name, username, password, message] of cases) {
      const out = await cli(['users', 'add', username], password)
      assert.notEqual(out.code, 0, `${name}: ${out.stdout}`)
      assert.match(out.stderr, message, `${name}: ${out.stderr}`)
      assert.doesNotMatch(out.stderr + out.stdout, STACK, `${name}: no stack trace`)
      if (name !== 'taken') {
        const login = await postForm(`${booth.url}/token`, {
          grant_type: 'password',
          username,
          password: password || 'x',
        })
        assert.equal(login.status, 400, `${name}: no account was created`)
      }
    }
  })

  it('clients add prints {client_id, client_secret} once; the secret works and is not stored in clear', async () => {
    const out = await cli(['clients', 'add', 'billing', '--scope', 'profile', '--json'])
    assert.equal(out.code, 0, out.stderr)
    const printed = JSON.parse(out.stdout.trim())
    assert.equal(printed.client_id, 'billing')
    assert.equal(typeof printed.client_secret, 'string')
    assert.ok(printed.client_secret.length >= 22, '≥ 128 bits')
    const token = await postForm(
      `${booth.url}/token`,
      { grant_type: 'client_credentials' },
      basic(printed.client_id, printed.client_secret),
    )
    assert.equal(token.status, 200, token.text)
    assert.equal(token.body.scope, 'profile')
    assert.ok(!onDisk(printed.client_secret), 'the client secret is not in the data dir')

    const again = await cli(['clients', 'add', 'billing', '--json'])
    assert.notEqual(again.code, 0, 'a second client of the same name is refused')
    assert.ok(!again.stdout.includes('client_secret'), 'and no new secret is printed')
    assert.doesNotMatch(again.stderr, STACK)

    const pub = await cli(['clients', 'add', 'mobile', '--public', '--json'])
    assert.equal(pub.code, 0, pub.stderr)
    const publicClient = JSON.parse(pub.stdout.trim())
    assert.equal(publicClient.client_id, 'mobile')
    assert.ok(
      publicClient.client_secret === undefined || publicClient.client_secret === null,
      'a public client has no secret',
    )
  })

  it('keys list --json shows one active key, the one in the JWKS', async () => {
    const out = await cli(['keys', 'list', '--json'])
    assert.equal(out.code, 0, out.stderr)
    const keys = JSON.parse(out.stdout.trim()) as Array<{ kid: string; alg: string; state: string }>
    const active = keys.filter((k) => k.state === 'active')
    assert.equal(active.length, 1, out.stdout)
    assert.equal(active[0]!.alg, 'ES256')
    assert.ok(
      !out.stdout.includes('"d"') && !/private/i.test(out.stdout),
      'no private key material',
    )
    assert.deepEqual(
      await jwksKids(booth.url),
      keys.map((k) => k.kid),
    )
  })

  it('refresh tokens are stored only as hashes', async () => {
    const username = uniqueName('hashed')
    const password = 'refresh tokens are secrets'
    assert.equal((await cli(['users', 'add', username], password)).code, 0)
    const login = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password,
    })
    assert.equal(login.status, 200)
    const rotated = await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: login.body.refresh_token,
    })
    assert.equal(rotated.status, 200)
    for (const token of [login.body.refresh_token, rotated.body.refresh_token]) {
      assert.ok(!onDisk(token), `refresh token ${token.slice(0, 8)}… is not on disk in clear`)
    }
    // The check above can fail: the data dir does hold what was written in clear.
    assert.ok(onDisk(username), 'the username is on disk (the probe works)')
  })
})
