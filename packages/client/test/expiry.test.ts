/** Refreshing ahead of expiry, with client clocks that disagree with the booth's. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient, decodeJwtPayload } from '../src/index.ts'
import { computeExpiry, refreshDueAt } from '../src/expiry.ts'
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
  fx = await startFixture({ TOKENBOOTH_ACCESS_TOKEN_TTL: '10' })
})
after(() => fx.stop())

const HOUR = 3_600_000

describe('refresh ahead of expiry', () => {
  it('refreshes before sending once the token is within the margin, so the API never sees a 401', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 4 })
    await client.login(username, PASSWORD)
    const first = await client.getAccessToken()
    const before = fx.front.refreshRequests

    clock.advance(5_900) // due at 6 s: not yet
    await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(fx.front.refreshRequests - before, 0)
    assert.equal(await client.getAccessToken(), first)

    clock.advance(200) // 6.1 s: due
    const res = await client.fetch(`${fx.issuer}/api/echo`)
    const echo = await res.json()
    assert.equal(fx.front.refreshRequests - before, 1)
    assert.notEqual(echo.authorization, `Bearer ${first}`, 'the request carried the new token')
    assert.equal(fx.front.unauthorized.get('/api/echo') ?? 0, 0)
    client.close()
  })

  it('in real time, a 10 s token is replaced before the booth would reject it (no 401 in 12 s)', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer, refreshMargin: 4 })
    await client.login(username, PASSWORD)
    const before = fx.front.refreshRequests
    const unauthorizedBefore = fx.front.unauthorized.get('/userinfo') ?? 0
    const statuses: number[] = []
    const end = Date.now() + 12_000
    while (Date.now() < end) {
      statuses.push((await client.fetch(`${fx.issuer}/userinfo`)).status)
      await sleep(250)
    }
    assert.ok(statuses.length > 30)
    assert.ok(
      statuses.every((s) => s === 200),
      `statuses: ${statuses.join(' ')}`,
    )
    assert.equal((fx.front.unauthorized.get('/userinfo') ?? 0) - unauthorizedBefore, 0)
    // refreshes at ~6 s and ~12 s after login: two at most, never one per call
    const refreshes = fx.front.refreshRequests - before
    assert.ok(refreshes >= 1 && refreshes <= 2, `refreshes: ${refreshes}`)
    client.close()
  })

  it('a margin longer than the token lifetime refreshes at half-life, not on every call', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now }) // default 60 s margin, 10 s token
    await client.login(username, PASSWORD)
    const before = fx.front.refreshRequests
    for (let i = 0; i < 5; i++) await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(fx.front.refreshRequests - before, 0)
    clock.advance(5_100)
    for (let i = 0; i < 5; i++) await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(fx.front.refreshRequests - before, 1)
    client.close()
  })
})

describe('clock skew', () => {
  for (const [label, skew] of [
    ['1 hour ahead', HOUR],
    ['1 hour behind', -HOUR],
  ] as const) {
    it(`a client clock ${label} refreshes at the right moment, once, not in a loop`, async () => {
      const username = await signUp(fx.booth)
      const clock = shiftedClock(skew)
      const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
      const events = recordEvents(client)
      await client.login(username, PASSWORD)
      const before = fx.front.refreshRequests

      for (let i = 0; i < 10; i++)
        assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 200)
      assert.equal(fx.front.refreshRequests - before, 0, 'no refresh while the token is fresh')

      clock.advance(6_500) // 6.5 s into a 10 s token: not yet due (7 s)
      await client.fetch(`${fx.issuer}/userinfo`)
      assert.equal(fx.front.refreshRequests - before, 0)

      clock.advance(1_000) // 7.5 s: due
      for (let i = 0; i < 10; i++)
        assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 200)
      assert.equal(fx.front.refreshRequests - before, 1, 'exactly one refresh at the due moment')
      assert.equal(events.count('refreshed'), 1)
      const refreshed = events.seen.find((e) => e.event === 'refreshed')!.payload
      // the new expiry is on the client's own (skewed) clock: about 10 s from its "now"
      const left = refreshed.expiresAt - clock.now()
      assert.ok(left > 8_000 && left <= 10_000, `expires in ${left} ms on the client clock`)
      client.close()
    })
  }

  it('computeExpiry moves exp onto the local clock using iat, and prefers the earlier bound', () => {
    const iat = 1_700_000_000
    const payload = Buffer.from(JSON.stringify({ iat, exp: iat + 600, sid: 's1' })).toString(
      'base64url',
    )
    const token = `e30.${payload}.sig`
    const localSent = iat * 1000 + HOUR // local clock an hour ahead
    assert.deepEqual(computeExpiry(token, 600, localSent), {
      expiresAt: localSent + 600_000,
      sessionId: 's1',
    })
    assert.equal(computeExpiry(token, 300, localSent).expiresAt, localSent + 300_000)
    assert.equal(computeExpiry(undefined, 60, 1_000).expiresAt, 61_000) // cookie mode
    assert.equal(computeExpiry('opaque', 60, 1_000).expiresAt, 61_000)
    const t = {
      delivery: 'bearer' as const,
      accessToken: token,
      scope: '',
      obtainedAt: 0,
      expiresAt: 10_000,
    }
    assert.equal(refreshDueAt(t, 60_000), 5_000)
    assert.equal(refreshDueAt(t, 3_000), 7_000)
  })

  it('decodeJwtPayload reads UTF-8 and refuses what is not a JWT', () => {
    const payload = Buffer.from(JSON.stringify({ name: '김민준 ✓' })).toString('base64url')
    assert.deepEqual(decodeJwtPayload(`e30.${payload}.x`), { name: '김민준 ✓' })
    assert.equal(decodeJwtPayload('tbr_abc'), undefined)
    assert.equal(decodeJwtPayload('a.!!!.c'), undefined)
    assert.equal(decodeJwtPayload(`a.${Buffer.from('[1]').toString('base64url')}.c`), undefined)
    assert.equal(
      decodeJwtPayload(`a.${Buffer.from([0xff, 0xfe]).toString('base64url')}.c`),
      undefined,
    )
  })
})
