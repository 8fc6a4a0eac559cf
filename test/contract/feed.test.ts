/**
 * GET /events/revocations, spoken as a verifier would: Server-Sent Events over real HTTP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { runCli, startBooth, type Booth } from '../support/booth.ts'
import { addClient, randomSecret, sleep, uniqueName } from '../support/contract.ts'
import { jtiOf, maxId, sidOf, subOf, subscribe } from '../support/feed.ts'
import { basic, bearer, call, postForm, signUpAndLogin } from '../support/http.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'

describe('revocation feed', () => {
  let booth: Booth
  let auth: Record<string, string>

  before(async () => {
    booth = await startBooth({
      env: { TOKENBOOTH_FEED_HEARTBEAT: '1', TOKENBOOTH_REFRESH_GRACE: '0' },
    })
    const client = await addClient(booth.env, 'verifier')
    auth = basic(client.client_id, client.client_secret!)
  })
  after(() => booth.stop())

  it('refuses subscribers that are not authenticated clients', async () => {
    for (const headers of [{}, basic('verifier', 'wrong secret'), basic('tokenbooth', '')]) {
      const res = await call(`${booth.url}/events/revocations`, { headers })
      assert.equal(res.status, 401)
      assert.equal(res.body.error, 'invalid_client')
    }
  })

  it('streams a snapshot, then ready, then every kind of revocation live, with heartbeats', async () => {
    const before = await signUpAndLogin(booth.url, uniqueName('early'))
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(before.access_token) })

    const feed = subscribe(`${booth.url}/events/revocations`, auth)
    const res = await feed.opened
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const snapshot = await feed.waitFor(
      (e) => e.event === 'revocation' && e.data.value === sidOf(before.access_token),
    )
    assert.equal(snapshot.data.kind, 'sid')
    assert.ok(Number(snapshot.id) > 0)
    assert.ok(snapshot.data.expires_at > snapshot.data.at)
    await feed.waitFor((e) => e.event === 'ready')

    // /logout → sid
    const a = await signUpAndLogin(booth.url, uniqueName('a'))
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(a.access_token) })
    await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(a.access_token))
    // DELETE /sessions/{id} → sid
    const name = uniqueName('b')
    const b1 = await signUpAndLogin(booth.url, name)
    const b2 = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username: name,
      password: 'a fine long passphrase',
    })
    await call(`${booth.url}/sessions/${sidOf(b2.body.access_token)}`, {
      method: 'DELETE',
      headers: bearer(b1.access_token),
    })
    await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(b2.body.access_token))
    // /logout/all → every sid and a sub cut-off
    await call(`${booth.url}/logout/all`, { method: 'POST', headers: bearer(b1.access_token) })
    const cutoff = await feed.waitFor(
      (e) => e.data.kind === 'sub' && e.data.value === subOf(b1.access_token),
    )
    assert.ok(typeof cutoff.data.at === 'number')
    await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(b1.access_token))
    // /revoke of an access token → jti
    const c = await signUpAndLogin(booth.url, uniqueName('c'))
    await postForm(`${booth.url}/revoke`, { token: c.access_token })
    await feed.waitFor((e) => e.data.kind === 'jti' && e.data.value === jtiOf(c.access_token))
    // /revoke of a refresh token → its session
    const d = await signUpAndLogin(booth.url, uniqueName('d'))
    await postForm(`${booth.url}/revoke`, { token: d.refresh_token })
    await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(d.access_token))
    // refresh-token reuse → the family's session
    const e = await signUpAndLogin(booth.url, uniqueName('e'))
    await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: e.refresh_token,
    })
    await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: e.refresh_token,
    })
    await feed.waitFor((ev) => ev.data.kind === 'sid' && ev.data.value === sidOf(e.access_token))

    await feed.waitFor((ev) => ev.event === 'heartbeat' && typeof ev.data.time === 'number', 3000)
    feed.close()
  })

  it('resumes after Last-Event-ID: what came after it, and nothing at or below it again', async () => {
    const feed = subscribe(`${booth.url}/events/revocations`, auth)
    await feed.waitFor((e) => e.event === 'ready')
    // One live entry, so that this test does not depend on what the others left in the log.
    const seen = await signUpAndLogin(booth.url, uniqueName('seen'))
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(seen.access_token) })
    await feed.waitFor((e) => e.data.value === sidOf(seen.access_token))
    const last = maxId(feed.events)
    feed.close()
    const missed = await signUpAndLogin(booth.url, uniqueName('missed'))
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(missed.access_token) })

    const resumed = subscribe(`${booth.url}/events/revocations`, {
      ...auth,
      'last-event-id': String(last),
    })
    await resumed.waitFor((e) => e.event === 'ready')
    const got = resumed.revocations()
    assert.deepEqual(
      got.map((e) => e.data.value),
      [sidOf(missed.access_token)],
      'exactly the entry made while away',
    )
    assert.ok(Number(got[0]!.id) > last)
    resumed.close()

    // The probe can fail: without Last-Event-ID the same booth sends the earlier entries too.
    const fresh = subscribe(`${booth.url}/events/revocations`, auth)
    await fresh.waitFor((e) => e.event === 'ready')
    assert.ok(fresh.revocations().some((e) => Number(e.id) <= last))
    fresh.close()
  })

  it('resumes across a booth restart: an operator revocation made while it was down, and only that', async () => {
    const feed = subscribe(`${booth.url}/events/revocations`, auth)
    await feed.waitFor((e) => e.event === 'ready')
    const seen = await signUpAndLogin(booth.url, uniqueName('before'))
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(seen.access_token) })
    await feed.waitFor((e) => e.data.value === sidOf(seen.access_token))
    const last = maxId(feed.events)
    const victim = await signUpAndLogin(booth.url, uniqueName('victim'))
    feed.close()

    assert.equal(await booth.stop(), 0)
    const revoke = await runCli(['sessions', 'revoke', sidOf(victim.access_token)], booth.env)
    assert.equal(revoke.code, 0, revoke.stderr)
    booth = await startBooth({ env: booth.env, dataDir: booth.dataDir, port: booth.port })

    const resumed = subscribe(`${booth.url}/events/revocations`, {
      ...auth,
      'last-event-id': String(last),
    })
    await resumed.waitFor((e) => e.event === 'ready')
    assert.deepEqual(
      resumed.revocations().map((e) => e.data.value),
      [sidOf(victim.access_token)],
      'the restarted booth sends what was missed, not its whole log',
    )
    resumed.close()
  })
})

describe('revocation feed across two instances on one PostgreSQL', () => {
  let db: TestDatabase
  let a: Booth
  let b: Booth
  let auth: Record<string, string>

  before(async () => {
    db = await createTestDatabase()
    const env = {
      TOKENBOOTH_DATABASE_URL: db.url,
      TOKENBOOTH_SECRET: randomSecret(),
      TOKENBOOTH_ISSUER: 'http://booth.test',
    }
    a = await startBooth({ env })
    b = await startBooth({ env })
    const client = await addClient(a.env, 'verifier')
    auth = basic(client.client_id, client.client_secret!)
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await db?.drop()
  })

  it('a revocation made on instance A reaches a subscriber of instance B', async () => {
    const feed = subscribe(`${b.url}/events/revocations`, auth)
    await feed.waitFor((e) => e.event === 'ready')
    const latencies: number[] = []
    for (let i = 0; i < 10; i++) {
      const user = await signUpAndLogin(a.url, uniqueName('x'))
      const started = performance.now()
      await call(`${a.url}/logout`, { method: 'POST', headers: bearer(user.access_token) })
      await feed.waitFor((e) => e.data.value === sidOf(user.access_token))
      latencies.push(performance.now() - started)
    }
    latencies.sort((x, y) => x - y)
    console.log(
      `# cross-instance feed latency: p50 ${latencies[4]!.toFixed(0)} ms, max ${latencies[9]!.toFixed(0)} ms (B polls the shared log every 250 ms)`,
    )
    feed.close()
  })

  it('an operator revocation (the CLI on the shared database) reaches the subscribers of both instances', async () => {
    const feeds = [a, b].map((booth) => subscribe(`${booth.url}/events/revocations`, auth))
    for (const feed of feeds) await feed.waitFor((e) => e.event === 'ready')
    const username = uniqueName('operator_target')
    const user = await signUpAndLogin(a.url, username)
    const out = await runCli(['users', 'revoke', username, '--json'], a.env)
    assert.equal(out.code, 0, out.stderr)
    assert.equal(JSON.parse(out.stdout).sessions, 1)
    for (const feed of feeds) {
      await feed.waitFor((e) => e.data.kind === 'sub' && e.data.value === subOf(user.access_token))
      await feed.waitFor((e) => e.data.kind === 'sid' && e.data.value === sidOf(user.access_token))
      feed.close()
    }
  })

  it('resumes after Last-Event-ID once the late-commit window has passed: nothing at or below it again', async () => {
    const feed = subscribe(`${b.url}/events/revocations`, auth)
    await feed.waitFor((e) => e.event === 'ready')
    const seen = await signUpAndLogin(a.url, uniqueName('seen'))
    await call(`${a.url}/logout`, { method: 'POST', headers: bearer(seen.access_token) })
    await feed.waitFor((e) => e.data.value === sidOf(seen.access_token))
    const last = maxId(feed.events)
    // On PostgreSQL an entry may commit after a higher one: a resume rereads the last 10 s
    // (domain/revocation-feed.ts), so wait that long, subscribed, for the watermark to pass `last`.
    await sleep(10_750)
    feed.close()
    const missed = await signUpAndLogin(a.url, uniqueName('missed'))
    await call(`${a.url}/logout`, { method: 'POST', headers: bearer(missed.access_token) })

    const resumed = subscribe(`${b.url}/events/revocations`, {
      ...auth,
      'last-event-id': String(last),
    })
    await resumed.waitFor((e) => e.event === 'ready')
    assert.deepEqual(
      resumed.revocations().map((e) => e.data.value),
      [sidOf(missed.access_token)],
    )
    resumed.close()
  })
})
