/**
 * The operator's CLI against the store of a running booth (issue 2, "Accounts, clients, abuse",
 * "Keys"), and what lands on disk: no client secret, refresh token or password in clear. Then the
 * operator's revocation commands (issue 3, "Every revoking action feeds it: … operator
 * commands"), seen by a subscriber of the running booth's feed and by the booth itself.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { removeDir, runCli, startBooth, type Booth } from '../support/booth.ts'
import { addClient, jwksKids, readAllFiles, uniqueName } from '../support/contract.ts'
import { jtiOf, sidOf, subOf, subscribe, type FeedSubscriber } from '../support/feed.ts'
import { basic, bearer, call, postForm, signUpAndLogin } from '../support/http.ts'

const STACK = /\n\s+at \S+ \(|\n\s+at (file|node):/

describe('the tokenbooth CLI on the embedded store', () => {
  let booth: Booth
  const cli = (args: string[], stdin?: string) => runCli(args, booth.env, stdin)

  /** True when `secret` occurs anywhere in the data dir's files, as text or as its base64 decoding. */
  function onDisk(secret: string): boolean {
    const bytes = readAllFiles(booth.dataDir)
    return (
      bytes.includes(Buffer.from(secret)) ||
      (secret.length > 20 &&
        bytes.includes(Buffer.from(secret.replace(/^tbr_([\da-f]{11})?/, ''), 'base64url')))
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

describe('operator revocations reach the feed of a running booth (SQLite, a second process)', () => {
  let booth: Booth
  let feed: FeedSubscriber
  let auth: Record<string, string>
  const cli = (args: string[], stdin?: string) => runCli(args, booth.env, stdin)
  const password = 'a fine long passphrase'
  const login = async (username: string) =>
    (await postForm(`${booth.url}/token`, { grant_type: 'password', username, password })).body
  const userinfo = async (token: string) =>
    (await call(`${booth.url}/userinfo`, { headers: bearer(token) })).status

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_REFRESH_GRACE: '0' } })
    const client = await addClient(booth.env, 'verifier')
    auth = basic(client.client_id, client.client_secret!)
    feed = subscribe(`${booth.url}/events/revocations`, auth)
    await feed.waitFor((e) => e.event === 'ready')
  })
  after(async () => {
    feed?.close()
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  it('sessions list shows live sessions; sessions revoke ends one: feed entry, booth refuses it', async () => {
    const username = uniqueName('laptop')
    const first = await signUpAndLogin(booth.url, username, password)
    const second = await login(username)
    const listed = await cli(['sessions', 'list', username, '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const sids = (JSON.parse(listed.stdout) as Array<{ sid: string }>).map((s) => s.sid)
    assert.deepEqual(sids, [sidOf(second.access_token), sidOf(first.access_token)], 'newest first')

    const out = await cli(['sessions', 'revoke', sidOf(first.access_token), '--json'])
    assert.equal(out.code, 0, out.stderr)
    assert.deepEqual(JSON.parse(out.stdout), { revoked: [sidOf(first.access_token)], not_live: [] })
    assert.match(out.stderr, /"event":"session.revoked".*"reason":"operator"/, 'logged as an event')
    const entry = await feed.waitFor(
      (e) => e.data.kind === 'sid' && e.data.value === sidOf(first.access_token),
    )
    assert.ok(entry.data.expires_at > entry.data.at)
    assert.equal(await userinfo(first.access_token), 401)
    assert.equal(await userinfo(second.access_token), 200, 'the other session lives on')
    const refresh = await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    })
    assert.equal(refresh.status, 400, 'its refresh token is dead too')
    const after = JSON.parse((await cli(['sessions', 'list', username, '--json'])).stdout)
    assert.deepEqual(
      after.map((s: { sid: string }) => s.sid),
      [sidOf(second.access_token)],
    )
  })

  it('sessions revoke of a session that is not live exits 1 with a clear message', async () => {
    const user = await signUpAndLogin(booth.url, uniqueName('twice'), password)
    assert.equal((await cli(['sessions', 'revoke', sidOf(user.access_token)])).code, 0)
    for (const sid of [sidOf(user.access_token), 'no-such-session']) {
      const out = await cli(['sessions', 'revoke', sid])
      assert.equal(out.code, 1, out.stdout)
      assert.match(out.stderr, new RegExp(`no live session ${sid}`))
      assert.doesNotMatch(out.stderr, STACK)
    }
  })

  it('users revoke ends every session and cuts off the user: sub entry and sid entries on the feed', async () => {
    const username = uniqueName('stolen')
    const a = await signUpAndLogin(booth.url, username, password)
    const b = await login(username)
    const other = await signUpAndLogin(booth.url, uniqueName('bystander'), password)
    const out = await cli(['users', 'revoke', username, '--json'])
    assert.equal(out.code, 0, out.stderr)
    const printed = JSON.parse(out.stdout)
    assert.equal(printed.sub, subOf(a.access_token))
    assert.equal(printed.sessions, 2)
    const cutoff = await feed.waitFor(
      (e) => e.data.kind === 'sub' && e.data.value === subOf(a.access_token),
    )
    assert.equal(cutoff.data.at, Date.parse(printed.cut_off))
    for (const token of [a.access_token, b.access_token]) {
      await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(token))
      assert.equal(await userinfo(token), 401)
    }
    assert.equal(await userinfo(other.access_token), 200, 'other users are untouched')
    assert.ok(
      !feed.events.some((e) => e.data.value === subOf(other.access_token)),
      'and not on the feed',
    )

    const again = await login(username)
    assert.equal(await userinfo(again.access_token), 200, 'the user may log in again')
  })

  it('sessions list and users revoke find a user by any spelling sign-up accepts (Kim = kim)', async () => {
    const username = uniqueName('Kim')
    const added = await cli(['users', 'add', username], password)
    assert.equal(added.code, 0, added.stderr)
    assert.equal(JSON.parse(added.stdout).username, username.toLowerCase(), 'stored normalized')
    const session = await login(username)
    const listed = await cli(['sessions', 'list', username.toUpperCase(), '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ sid: string }>).map((s) => s.sid),
      [sidOf(session.access_token)],
    )
    const out = await cli(['users', 'revoke', username, '--json'])
    assert.equal(out.code, 0, out.stderr)
    assert.equal(JSON.parse(out.stdout).sub, subOf(session.access_token))
    await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(session.access_token))
    assert.equal(await userinfo(session.access_token), 401)
  })

  it('tokens revoke revokes access tokens by jti, from arguments or standard input', async () => {
    const one = await signUpAndLogin(booth.url, uniqueName('leaked'), password)
    const two = await signUpAndLogin(booth.url, uniqueName('leaked'), password)
    const three = await signUpAndLogin(booth.url, uniqueName('leaked'), password)
    const byArg = await cli(['tokens', 'revoke', jtiOf(one.access_token), '--json'])
    assert.equal(byArg.code, 0, byArg.stderr)
    assert.deepEqual(JSON.parse(byArg.stdout), { revoked: 1 })
    const byStdin = await cli(
      ['tokens', 'revoke', '--json'],
      `${jtiOf(two.access_token)}\n${jtiOf(three.access_token)}\n`,
    )
    assert.equal(byStdin.code, 0, byStdin.stderr)
    assert.deepEqual(JSON.parse(byStdin.stdout), { revoked: 2 })
    for (const token of [one, two, three].map((t) => t.access_token)) {
      await feed.waitFor((e) => e.data.kind === 'jti' && e.data.value === jtiOf(token))
      assert.equal(await userinfo(token), 401)
    }
    // Only the access token: the session goes on, and a refresh gets a token that works.
    const refreshed = await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: one.refresh_token,
    })
    assert.equal(refreshed.status, 200, refreshed.text)
    assert.equal(await userinfo(refreshed.body.access_token), 200)
  })

  it('bad operator input exits 1 with one clear line and revokes nothing', async () => {
    const user = await signUpAndLogin(booth.url, uniqueName('safe'), password)
    const before = feed.events.length
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [['users', 'revoke', uniqueName('nobody')], undefined, /no user named/],
      [['sessions', 'list', uniqueName('nobody')], undefined, /no user named/],
      [['tokens', 'revoke'], '', /no jti given/],
      [['tokens', 'revoke', jtiOf(user.access_token), 'two words'], undefined, /not a jti/],
      [['tokens', 'revoke', 'x'.repeat(300)], undefined, /not a jti/],
    ]
    for (const [args, stdin, message] of cases) {
      const out = await cli(args, stdin)
      assert.equal(out.code, 1, `${args.join(' ')}: ${out.stdout}`)
      assert.match(out.stderr, message, args.join(' '))
      assert.doesNotMatch(out.stderr, STACK)
    }
    assert.equal(await userinfo(user.access_token), 200, 'a batch with one bad jti revoked none')
    await new Promise((r) => setTimeout(r, 600)) // two polls of the booth
    assert.equal(
      feed.events.slice(before).filter((e) => e.event === 'revocation').length,
      0,
      'nothing reached the feed',
    )
  })
})
