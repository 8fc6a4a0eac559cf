/** How sessions end: expiry seen at refresh, booth outages, logout and logout-all. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { LogoutFailed, RefreshFailed, SessionExpired, createClient } from '../src/index.ts'
import { call, bearer } from '../../../test/support/http.ts'
import {
  PASSWORD,
  recordEvents,
  shiftedClock,
  signUp,
  startFixture,
  type BoothFixture,
} from './helpers.ts'

let fx: BoothFixture
before(async () => {
  fx = await startFixture()
})
after(() => fx.stop())

describe('refresh failure', () => {
  it('a session revoked elsewhere (logout-all from another client): session-expired once, SessionExpired thrown', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
    const other = createClient({ issuer: fx.issuer })
    const events = recordEvents(client)
    await client.login(username, PASSWORD)
    await other.login(username, PASSWORD)
    await other.logoutAll()

    clock.advance(8_000) // due: every call needs the refresh, which the booth refuses
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => client.fetch(`${fx.issuer}/userinfo`)),
    )
    for (const result of results) {
      assert.equal(result.status, 'rejected')
      assert.ok(result.reason instanceof SessionExpired)
      assert.equal(result.reason.code, 'ERR_SESSION_EXPIRED')
      assert.equal(result.reason.error, 'invalid_grant')
    }
    assert.equal(events.count('session-expired'), 1)
    assert.ok(
      events.seen.find((e) => e.event === 'session-expired')!.payload.error instanceof
        SessionExpired,
    )
    assert.equal(await client.isSignedIn(), false)
    assert.equal(await client.getAccessToken(), undefined)
    // later calls go out signed out, with no new event
    assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 401)
    assert.equal(events.count('session-expired'), 1)
    client.close()
    other.close()
  })

  it('a revoked session found by a 401 (token still fresh): all callers get SessionExpired, one event', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    const other = createClient({ issuer: fx.issuer })
    const events = recordEvents(client)
    await client.login(username, PASSWORD)
    await other.login(username, PASSWORD)
    await other.logoutAll()
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => client.fetch(`${fx.issuer}/userinfo`)),
    )
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof SessionExpired))
    assert.equal(events.count('session-expired'), 1)
    client.close()
    other.close()
  })

  it('a booth outage during refresh is RefreshFailed and keeps the tokens; the next call recovers', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
    const events = recordEvents(client)
    await client.login(username, PASSWORD)
    const token = await client.getAccessToken()
    clock.advance(8_000)
    fx.front.failRefreshWith = 503
    try {
      await assert.rejects(client.fetch(`${fx.issuer}/userinfo`), (err: unknown) => {
        assert.ok(err instanceof RefreshFailed)
        assert.equal(err.code, 'ERR_REFRESH_FAILED')
        assert.equal(err.status, 503)
        assert.equal(err.error, 'temporarily_unavailable')
        return true
      })
    } finally {
      fx.front.failRefreshWith = undefined
    }
    assert.equal(await client.isSignedIn(), true)
    assert.equal(events.count('session-expired'), 0)
    assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 200)
    assert.notEqual(await client.getAccessToken(), token)
    client.close()
  })

  it('an unreachable booth during refresh is RefreshFailed with the network error as cause', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    let down = false
    const client = createClient({
      issuer: fx.issuer,
      clock: clock.now,
      refreshMargin: 3,
      fetch: (request) =>
        down && request.url.endsWith('/token')
          ? Promise.reject(new TypeError('fetch failed'))
          : fetch(request),
    })
    await client.login(username, PASSWORD)
    clock.advance(8_000)
    down = true
    await assert.rejects(client.getAccessToken(), (err: unknown) => {
      assert.ok(err instanceof RefreshFailed)
      assert.equal(err.status, undefined)
      assert.ok(err.cause instanceof TypeError)
      return true
    })
    down = false
    assert.equal(typeof (await client.getAccessToken()), 'string')
    client.close()
  })
})

describe('logout', () => {
  it('clears the tokens here and the booth rejects the old access token', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    const events = recordEvents(client)
    await client.login(username, PASSWORD)
    const token = (await client.getAccessToken())!
    assert.equal((await call(`${fx.booth.url}/userinfo`, { headers: bearer(token) })).status, 200)

    await client.logout()
    assert.equal(await client.isSignedIn(), false)
    assert.equal(await client.getAccessToken(), undefined)
    assert.deepEqual(
      events.seen.map((e) => [e.event, e.payload.reason]),
      [
        ['signed-in', undefined],
        ['signed-out', 'logout'],
      ],
    )
    const res = await call(`${fx.booth.url}/userinfo`, { headers: bearer(token) })
    assert.equal(res.status, 401)
    assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/)
    // a second logout has nothing to do
    await client.logout()
    assert.equal(events.count('signed-out'), 1)
    client.close()
  })

  it('logoutAll ends every session of the user; the others find out at their next call', async () => {
    const username = await signUp(fx.booth)
    const a = createClient({ issuer: fx.issuer })
    const b = createClient({ issuer: fx.issuer })
    const bEvents = recordEvents(b)
    await a.login(username, PASSWORD)
    await b.login(username, PASSWORD)
    await a.logoutAll()
    assert.equal(await a.isSignedIn(), false)
    await assert.rejects(b.fetch(`${fx.issuer}/userinfo`), SessionExpired)
    assert.equal(bEvents.count('session-expired'), 1)
    a.close()
    b.close()
  })

  it('with an expired access token, logout refreshes first and still ends the session', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
    await client.login(username, PASSWORD)
    clock.advance(60_000)
    const refreshes = fx.front.refreshRequests
    await client.logout()
    assert.equal(fx.front.refreshRequests - refreshes, 1)
    assert.equal(await client.isSignedIn(), false)
    client.close()
  })

  it('when the booth does not confirm, signs out here anyway and throws LogoutFailed', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({
      issuer: fx.issuer,
      fetch: (request) =>
        new URL(request.url).pathname === '/logout'
          ? Promise.resolve(new Response('bad gateway', { status: 502 }))
          : fetch(request),
    })
    const events = recordEvents(client)
    await client.login(username, PASSWORD)
    await assert.rejects(client.logout(), (err: unknown) => {
      assert.ok(err instanceof LogoutFailed)
      assert.equal(err.code, 'ERR_LOGOUT_FAILED')
      assert.equal(err.status, 502)
      return true
    })
    assert.equal(await client.isSignedIn(), false)
    assert.equal(events.count('signed-out'), 1)
    client.close()
  })

  it('after a session expired, logout succeeds without a LogoutFailed', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    const other = createClient({ issuer: fx.issuer })
    await client.login(username, PASSWORD)
    await other.login(username, PASSWORD)
    await other.logoutAll()
    await client.logout() // 401 → refresh → invalid_grant: the session was already over
    assert.equal(await client.isSignedIn(), false)
    client.close()
    other.close()
  })
})
