/**
 * GET /events/revocations, spoken as a verifier would: Server-Sent Events over real HTTP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startBooth, type Booth } from '../support/booth.ts'
import { addClient, randomSecret, uniqueName } from '../support/contract.ts'
import { basic, bearer, call, postForm, signUpAndLogin } from '../support/http.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'

interface FeedEvent {
  id?: string
  event: string
  data: any
}

/** A minimal SSE reader: collects events until closed. */
function subscribe(url: string, headers: Record<string, string>) {
  const events: FeedEvent[] = []
  const controller = new AbortController()
  const opened = fetch(url, { headers, signal: controller.signal }).then(async (res) => {
    if (res.status !== 200) return res
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          let end: number
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event: FeedEvent = { event: 'message', data: undefined }
            for (const line of block.split('\n')) {
              const [field, ...rest] = line.split(': ')
              if (field === 'id') event.id = rest.join(': ')
              if (field === 'event') event.event = rest.join(': ')
              if (field === 'data') event.data = JSON.parse(rest.join(': '))
            }
            if (event.data !== undefined) events.push(event)
          }
        }
      } catch {
        // aborted
      }
    })()
    return res
  })
  return {
    events,
    opened,
    close: () => controller.abort(),
    async waitFor(predicate: (e: FeedEvent) => boolean, ms = 5000): Promise<FeedEvent> {
      const deadline = Date.now() + ms
      for (;;) {
        const found = events.find(predicate)
        if (found) return found
        if (Date.now() > deadline)
          assert.fail(`no such event within ${ms} ms; got ${JSON.stringify(events)}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
  }
}

const sidOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string
const subOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string
const jtiOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string

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

  it('resumes after Last-Event-ID: everything after it, again', async () => {
    const feed = subscribe(`${booth.url}/events/revocations`, auth)
    await feed.waitFor((e) => e.event === 'ready')
    const last = Math.max(...feed.events.filter((e) => e.id).map((e) => Number(e.id)))
    feed.close()
    const missed = await signUpAndLogin(booth.url, uniqueName('missed'))
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(missed.access_token) })
    const resumed = subscribe(`${booth.url}/events/revocations`, {
      ...auth,
      'last-event-id': String(last),
    })
    const got = await resumed.waitFor((e) => e.data.value === sidOf(missed.access_token))
    assert.ok(Number(got.id) > last)
    await resumed.waitFor((e) => e.event === 'ready')
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
})
