// The revocation feed end to end against a (fake) issuer on loopback: backlog and ready, revocation
// by sid/sub/jti on cached and fresh tokens, idempotence, expiry, resume with Last-Event-ID across
// a restart, bad credentials, and staleness under both policies.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, test } from 'node:test'
import { TokenExpired, TokenRevoked, VerifierUnavailable, createVerifier } from '../src/index.ts'
import type { RevocationOptions, VerifierEvent, VerifierOptions } from '../src/index.ts'
import {
  AUDIENCE,
  FEED_CLIENT_ID,
  FEED_CLIENT_SECRET,
  FakeIssuer,
  generateIssuerKey,
  manualClock,
  waitFor,
} from './fake-issuer.ts'
import type { FakeIssuerOptions } from './fake-issuer.ts'

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(
  revocation: Partial<RevocationOptions> = {},
  options: Partial<VerifierOptions> = {},
  issuerOptions: FakeIssuerOptions = {},
  prepare: (issuer: FakeIssuer) => void = () => {},
) {
  const issuer = await FakeIssuer.start(issuerOptions)
  prepare(issuer)
  const events: VerifierEvent[] = []
  const verifier = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    revocation: {
      clientId: FEED_CLIENT_ID,
      clientSecret: FEED_CLIENT_SECRET,
      staleAfterMs: 400,
      ...revocation,
    },
    onEvent: (event) => events.push(event),
    ...options,
  })
  cleanup.push(
    () => issuer.close(),
    () => verifier.close(),
  )
  return { issuer, verifier, events }
}

function revokedBy(by: string) {
  return (error: unknown) => {
    assert.ok(error instanceof TokenRevoked, String(error))
    assert.equal(error.by, by)
    assert.equal(error.code, 'ERR_TOKEN_REVOKED')
    return true
  }
}

/** Resolves once `verify(token)` rejects with TokenRevoked (the feed is asynchronous). */
async function rejectedSoon(verify: () => Promise<unknown>): Promise<unknown> {
  const deadline = Date.now() + 3_000
  for (;;) {
    try {
      await verify()
    } catch (error) {
      return error
    }
    if (Date.now() > deadline) throw new Error('token still accepted after 3 s')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('revocation feed', () => {
  test('ready() waits for the backlog, which is applied before it resolves', async () => {
    const { issuer, verifier, events } = await setup({}, {}, {}, (issuer) => {
      issuer.revoke('sid', 'sid-gone')
    })
    await verifier.ready()
    await assert.rejects(verifier.verify(await issuer.sign({ sid: 'sid-gone' })), revokedBy('sid'))
    assert.deepEqual(verifier.status(), {
      keys: 1,
      feed: 'live',
      lastEventId: 1,
      revocations: 1,
      cacheSize: 1,
    })
    assert.ok(events.some((e) => e.type === 'feed.connected'))
    assert.ok(events.some((e) => e.type === 'feed.ready' && e.seq === 1 && e.revocations === 1))
    assert.deepEqual(issuer.lastEventIds, [''])
  })

  test('a live sid revocation rejects a token already in the cache', async () => {
    const { issuer, verifier } = await setup()
    await verifier.ready()
    const token = await issuer.sign({ sid: 'sid-1' })
    const first = await verifier.verify(token)
    assert.equal(await verifier.verify(token), first, 'second verify is a cache hit (same object)')
    issuer.revoke('sid', 'sid-1')
    revokedBy('sid')(await rejectedSoon(() => verifier.verify(token)))
    // other sessions are untouched
    assert.equal((await verifier.verify(await issuer.sign({ sid: 'sid-2' }))).sid, 'sid-2')
  })

  test('a jti revocation rejects that token only', async () => {
    const { issuer, verifier } = await setup()
    await verifier.ready()
    const token = await issuer.sign({ jti: 'jti-1' })
    const other = await issuer.sign({ jti: 'jti-2' })
    await verifier.verify(token)
    issuer.revoke('jti', 'jti-1')
    revokedBy('jti')(await rejectedSoon(() => verifier.verify(token)))
    assert.equal((await verifier.verify(other)).jti, 'jti-2')
  })

  test('a sub cut-off rejects tokens issued at or before it, including the same second', async () => {
    const { issuer, verifier } = await setup()
    await verifier.ready()
    const second = Math.floor(Date.now() / 1000) - 10
    const before = await issuer.sign({ sub: 'alice' }, undefined, (second - 1) * 1000)
    // issued in the cut-off's second, possibly after it: rejected as well (iat has whole seconds)
    const sameSecond = await issuer.sign({ sub: 'alice' }, undefined, second * 1000)
    const after = await issuer.sign({ sub: 'alice' }, undefined, (second + 1) * 1000)
    const bob = await issuer.sign({ sub: 'bob' }, undefined, (second - 1) * 1000)
    await verifier.verify(before)
    issuer.revoke('sub', 'alice', second * 1000 + 500)
    revokedBy('sub')(await rejectedSoon(() => verifier.verify(before)))
    await assert.rejects(verifier.verify(sameSecond), revokedBy('sub'))
    assert.equal((await verifier.verify(after)).sub, 'alice')
    assert.equal((await verifier.verify(bob)).sub, 'bob')
    // a later cut-off for the same user widens it; an earlier one does not narrow it
    issuer.revoke('sub', 'alice', (second + 1) * 1000)
    revokedBy('sub')(await rejectedSoon(() => verifier.verify(after)))
    issuer.revoke('sub', 'alice', (second - 100) * 1000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await assert.rejects(verifier.verify(after), revokedBy('sub'))
  })

  test('repeated and out-of-order entries apply once; Last-Event-ID is the highest id', async () => {
    const { issuer, verifier, events } = await setup()
    await verifier.ready()
    const entry = (value: string) =>
      JSON.stringify({ kind: 'jti', value, at: Date.now(), expires_at: Date.now() + 60_000 })
    issuer.broadcast(`event: revocation\nid: 7\ndata: ${entry('j7')}\n\n`)
    issuer.broadcast(`event: revocation\nid: 5\ndata: ${entry('j5')}\n\n`)
    issuer.broadcast(`event: revocation\r\nid: 7\r\ndata: ${entry('j7')}\r\n\r\n`)
    issuer.broadcast(`: a comment\nevent: revocation\nid: 8\ndata: {"kind":"nope"}\n\n`)
    await waitFor(
      () => events.some((e) => e.type === 'feed.error'),
      3_000,
      'the invalid entry to be reported',
    )
    const status = verifier.status()
    assert.equal(status.revocations, 2)
    assert.equal(status.lastEventId, 7)
    await assert.rejects(verifier.verify(await issuer.sign({ jti: 'j5' })), revokedBy('jti'))
  })

  test('entries are dropped after expires_at, so memory holds only what is still relevant', async () => {
    // no clock tolerance: an entry is kept that long past its expires_at (the test below)
    const { issuer, verifier } = await setup({}, { clockTolerance: 0 })
    await verifier.ready()
    issuer.revoke('jti', 'short', Date.now(), Date.now() + 150)
    issuer.revoke('jti', 'long', Date.now(), Date.now() + 60_000)
    // an entry already expired on arrival is not even stored
    issuer.broadcast(
      `event: revocation\nid: 99\ndata: ${JSON.stringify({ kind: 'sid', value: 'old', at: 1, expires_at: 2 })}\n\n`,
    )
    await waitFor(() => verifier.status().lastEventId === 99, 3_000, 'the entries')
    assert.equal(verifier.status().revocations, 2)
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(verifier.status().revocations, 1)
  })

  test('resumes with Last-Event-ID after the issuer restarts, missing nothing', async () => {
    const { issuer, verifier, events } = await setup({ staleAfterMs: 5_000 })
    await verifier.ready()
    const kept = await issuer.sign({ sid: 'sid-a' })
    const lost = await issuer.sign({ sid: 'sid-b' })
    issuer.revoke('sid', 'sid-a')
    await rejectedSoon(() => verifier.verify(kept))
    await issuer.stop()
    // made while the verifier is disconnected: must arrive from the backlog on resume
    issuer.revoke('sid', 'sid-b')
    await verifier.verify(lost) // not known yet
    await issuer.restart()
    revokedBy('sid')(await rejectedSoon(() => verifier.verify(lost)))
    assert.deepEqual(issuer.lastEventIds, ['', '1'])
    assert.equal(verifier.status().lastEventId, 2)
    assert.equal(verifier.status().feed, 'live')
    assert.ok(events.some((e) => e.type === 'feed.error' || e.type === 'feed.disconnected'))
  })

  test("after the booth's log went back (a restored database), it resumes from the booth's ready seq", async () => {
    const { issuer, verifier } = await setup()
    await verifier.ready()
    for (let i = 0; i < 5; i++) issuer.revoke('jti', `before-${i}`)
    await waitFor(() => verifier.status().lastEventId === 5, 3_000, 'the entries')
    // restored from a backup taken at seq 2: the log now ends there, and grows from it
    issuer.restoreLog(2)
    issuer.endFeeds()
    await waitFor(() => issuer.lastEventIds.length === 2, 3_000, 'the reconnect')
    assert.equal(issuer.lastEventIds[1], '5')
    // the booth answered with its full snapshot and ready seq 2: the verifier resumes from there
    await waitFor(() => verifier.status().lastEventId === 2, 3_000, 'the ready seq taken')
    const token = await issuer.sign({ jti: 'after-restore' })
    issuer.endFeeds()
    issuer.revoke('jti', 'after-restore') // seq 3, made while the verifier is away
    revokedBy('jti')(await rejectedSoon(() => verifier.verify(token)))
    assert.equal(issuer.lastEventIds[2], '2')
  })

  test('after a clean end of stream it reconnects at once (retry:) with Last-Event-ID', async () => {
    const { issuer, verifier } = await setup()
    await verifier.ready()
    issuer.revoke('jti', 'x')
    await waitFor(() => verifier.status().lastEventId === 1, 3_000, 'the entry')
    issuer.endFeeds()
    await waitFor(() => issuer.lastEventIds.length === 2, 3_000, 'a reconnect')
    assert.equal(issuer.lastEventIds[1], '1')
  })

  test('started while the keys are unreachable: they load when the feed reconnects, not at the end of their back-off', async () => {
    // a service (re)started while the booth was down: /healthz says `starting` until it has keys,
    // and with no traffic nothing else would try before the back-off (up to the cooldown) ends
    const { issuer, verifier, events } = await setup({ staleAfterMs: 5_000 }, {}, { down: true })
    // the first load backs off 0.25, 0.5, 1, 2, then 4 s between attempts
    await waitFor(() => issuer.counts.discovery >= 5, 10_000, 'five failed attempts')
    assert.equal(verifier.status().keys, 0)
    const attempts = issuer.counts.discovery
    issuer.down = false
    issuer.endFeeds() // the booth is back: the feed reconnects at once (retry: 50)
    await waitFor(() => verifier.status().keys > 0, 2_000, 'keys soon after the reconnect')
    assert.equal(issuer.counts.discovery, attempts + 1, 'one attempt, started by the reconnect')
    assert.equal(events.filter((e) => e.type === 'feed.connected').length, 2)
    await verifier.ready()
    assert.equal((await verifier.verify(await issuer.sign())).sub, 'user-1')
  })
  test('before the first backlog, verify waits for it: a token revoked before the start is never accepted', async () => {
    // the attack: a service (re)starts, its keys load before the feed's snapshot; without the
    // wait, a fail-open verifier would accept a token whose session was revoked long ago
    const { issuer, verifier } = await setup({ staleAfterMs: 5_000 }, {}, {}, (issuer) => {
      issuer.revoke('sid', 'sid-stolen')
      issuer.silent = true // connects, but no backlog yet
    })
    const stolen = await issuer.sign({ sid: 'sid-stolen' })
    const good = await issuer.sign({ sid: 'sid-good' })
    let settled = false
    const early = verifier.verify(stolen).finally(() => (settled = true))
    const fine = verifier.verify(good)
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(settled, false, 'answered before the backlog arrived')
    assert.equal(verifier.status().feed, 'connecting')
    issuer.silent = false
    issuer.endFeeds() // the verifier reconnects at once and gets the backlog this time
    await assert.rejects(early, revokedBy('sid'))
    assert.equal((await fine).sub, 'user-1')
  })

  test('before the first backlog, fail-open stops waiting after staleAfterMs and verifies', async () => {
    const { issuer, verifier, events } = await setup({ staleAfterMs: 400 }, {}, {}, (issuer) => {
      issuer.silent = true
    })
    const started = Date.now()
    assert.equal((await verifier.verify(await issuer.sign())).sub, 'user-1')
    // ordering, not a time limit: it did wait for the bound before giving up on the backlog
    assert.ok(Date.now() - started >= 350, 'it did not wait for the backlog at all')
    assert.equal(verifier.status().feed, 'connecting')
    assert.ok(!events.some((e) => e.type === 'feed.ready'))
  })

  test('401 from the feed: feed.error, ready() rejects, and it keeps trying slowly', async () => {
    const { verifier, events, issuer } = await setup({ clientSecret: 'wrong' })
    await assert.rejects(verifier.ready(), (error: unknown) => {
      assert.ok(error instanceof VerifierUnavailable)
      assert.match(error.message, /refused the revocation feed credentials/)
      return true
    })
    assert.ok(events.some((e) => e.type === 'feed.error' && e.status === 401))
    assert.equal(verifier.status().feed, 'connecting')
    assert.equal(issuer.counts.feed, 1)
  })

  test('fail-open: a silent feed turns stale, verification goes on, and it recovers', async () => {
    const { issuer, verifier, events } = await setup({ staleAfterMs: 300 })
    await verifier.ready()
    const token = await issuer.sign()
    issuer.silent = true
    await waitFor(() => verifier.status().feed === 'stale', 3_000, 'staleness')
    assert.ok(events.some((e) => e.type === 'feed.stale' && e.silentMs > 300))
    assert.equal((await verifier.verify(token)).sub, 'user-1')
    issuer.silent = false
    await waitFor(() => verifier.status().feed === 'live', 3_000, 'recovery')
    assert.ok(issuer.lastEventIds.length >= 2, 'the stale connection was dropped and reopened')
  })

  test('fail-closed: VerifierUnavailable until live, and again while stale', async () => {
    const { issuer, verifier } = await setup(
      { staleAfterMs: 300, policy: 'fail-closed' },
      {},
      {},
      (issuer) => {
        issuer.silent = true
      },
    )
    const token = await issuer.sign()
    await assert.rejects(verifier.verify(token), VerifierUnavailable) // no backlog yet
    issuer.silent = false
    await verifier.ready() // the hung first attempt is dropped after staleAfterMs and retried
    assert.equal((await verifier.verify(token)).sub, 'user-1')
    issuer.silent = true
    await waitFor(() => verifier.status().feed === 'stale', 3_000, 'staleness')
    await assert.rejects(verifier.verify(token), VerifierUnavailable)
    issuer.silent = false
    await waitFor(() => verifier.status().feed === 'live', 3_000, 'recovery')
    assert.equal((await verifier.verify(token)).sub, 'user-1')
  })
})

// A feed server written by hand for the hostile cases: each connection is answered by `answer`,
// which gets the connection's number; sockets are counted while open
async function hostileFeed(answer: (res: ServerResponse, connection: number) => void) {
  const key = generateIssuerKey()
  const open = new Set<unknown>()
  let connections = 0
  const server = createServer((req, res) => {
    if (req.url !== '/events/revocations') return void res.writeHead(404).end()
    open.add(req.socket)
    req.socket.once('close', () => open.delete(req.socket))
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    answer(res, ++connections)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const events: VerifierEvent[] = []
  const verifier = createVerifier({
    issuer: url,
    audience: AUDIENCE,
    jwks: { keys: [key.jwk] },
    revocation: { clientId: FEED_CLIENT_ID, clientSecret: FEED_CLIENT_SECRET },
    onEvent: (event) => events.push(event),
  })
  cleanup.push(
    () => new Promise((resolve) => server.close(resolve)),
    async () => server.closeAllConnections(),
    () => verifier.close(),
  )
  return { verifier, events, open, connections: () => connections }
}

const READY = 'event: ready\ndata: {"seq":0}\n\n'

describe('revocation feed: a hostile or broken stream', () => {
  for (const retry of ['0', '4294967296']) {
    test(`retry: ${retry} does not make a reconnect loop`, async () => {
      // the stream ends at once, after a retry the verifier must not take literally: 0 ms, or
      // past setTimeout's range, which Node turns into 1 ms
      const feed = await hostileFeed((res) => res.end(`retry: ${retry}\n\n${READY}`))
      await feed.verifier.ready()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      // held to at least 250 ms, which the jitter halves at most (each ready starts the back-off
      // over): at most 8 connections in a second, not hundreds
      assert.ok(feed.connections() <= 10, `${feed.connections()} connections in 1 s`)
    })
  }

  test('a line past 1 MiB: feed.error, and the connection is closed, not left open', async () => {
    const feed = await hostileFeed((res, n) => {
      if (n === 1) res.write(`retry: 1000\n\n${'x'.repeat((1 << 20) + 1024)}`)
      else res.write(`retry: 1000\n\n${READY}`)
    })
    await feed.verifier.ready()
    assert.ok(
      feed.events.some((e) => e.type === 'feed.error' && e.error instanceof RangeError),
      'feed.error with the RangeError',
    )
    // the first connection closed; only the live one is left
    await waitFor(() => feed.open.size === 1, 3_000, 'the abandoned connection to close')
  })

  test('an event whose data lines add up past 1 MiB is refused like a long line', async () => {
    const line = `data: ${'y'.repeat(60_000)}\n`
    const feed = await hostileFeed((res, n) => {
      if (n === 1) res.write(`retry: 1000\n\n${line.repeat(20)}`)
      else res.write(`retry: 1000\n\n${READY}`)
    })
    await feed.verifier.ready()
    assert.ok(
      feed.events.some(
        (e) =>
          e.type === 'feed.error' && e.error instanceof RangeError && /event/.test(e.error.message),
      ),
      'feed.error naming the event',
    )
    await waitFor(() => feed.open.size === 1, 3_000, 'the abandoned connection to close')
  })
})

describe('revocation feed: clock tolerance', () => {
  test('an entry outlives its expires_at by the clock tolerance, as long as its token is accepted', async () => {
    const clock = manualClock()
    const { issuer, verifier } = await setup(
      { staleAfterMs: 600_000 },
      { clockTolerance: 120, clock: clock.now },
    )
    await verifier.ready()
    const token = await issuer.sign({ jti: 'stolen' }, undefined, clock.now())
    const exp = Math.floor(clock.now() / 1000) + 300
    // the booth's expires_at: 60 s past the last exp the entry can match
    issuer.revoke('jti', 'stolen', clock.now(), exp * 1000 + 60_000)
    revokedBy('jti')(await rejectedSoon(() => verifier.verify(token)))
    clock.set(exp * 1000 + 90_000) // within exp + tolerance: the token itself is still accepted
    verifier.status() // prunes, as the watchdog does
    assert.equal(verifier.status().revocations, 1)
    await assert.rejects(verifier.verify(token), revokedBy('jti'))
    clock.set(exp * 1000 + 181_000) // past expires_at + tolerance, and past exp + tolerance
    verifier.status()
    assert.equal(verifier.status().revocations, 0)
    await assert.rejects(verifier.verify(token), TokenExpired)
  })
})
