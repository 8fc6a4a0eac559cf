/** One refresh in flight serves every concurrent caller, counted at the real booth. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createClient } from '../src/index.ts'
import {
  PASSWORD,
  boothEvents,
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

describe('single flight', () => {
  it('50 parallel fetch calls with an about-to-expire token cause exactly one refresh, and all succeed', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    // 10 s tokens, 3 s margin: due for a refresh 7 s after login (on the client's clock)
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
    const events = recordEvents(client)
    await client.login(username, PASSWORD)
    const first = await client.getAccessToken()
    const rotatedBefore = await boothEvents(fx.booth, 'refresh_token.rotated')
    const refreshesBefore = fx.front.refreshRequests

    clock.advance(7_500) // within the margin: the token expires in 2.5 s
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => client.fetch(`${fx.issuer}/userinfo`)),
    )

    assert.deepEqual(
      responses.map((r) => r.status),
      Array(50).fill(200),
    )
    for (const res of responses) assert.equal((await res.json()).username, username)
    assert.equal(
      fx.front.refreshRequests - refreshesBefore,
      1,
      'refresh requests that reached the booth',
    )
    assert.equal((await boothEvents(fx.booth, 'refresh_token.rotated')) - rotatedBefore, 1)
    assert.equal(await boothEvents(fx.booth, 'refresh_token.retried'), 0)
    assert.equal(await boothEvents(fx.booth, 'refresh_token.reused'), 0)
    assert.equal(events.count('refreshed'), 1)
    const second = await client.getAccessToken()
    assert.notEqual(second, first)
    // and the new token is fresh: more calls do not refresh again
    await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${fx.issuer}/userinfo`)))
    assert.equal(fx.front.refreshRequests - refreshesBefore, 1)
    client.close()
  })

  it('getAccessToken callers share the refresh too', async () => {
    const username = await signUp(fx.booth)
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
    await client.login(username, PASSWORD)
    const before = fx.front.refreshRequests
    clock.advance(8_000)
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getAccessToken()))
    assert.equal(new Set(tokens).size, 1)
    assert.equal(fx.front.refreshRequests - before, 1)
    client.close()
  })

  const hasLocks =
    typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function'
  it(
    'with the cross-tab lock (navigator.locks) it is one refresh too',
    { skip: !hasLocks },
    async () => {
      const username = await signUp(fx.booth)
      const clock = shiftedClock()
      const client = createClient({
        issuer: fx.issuer,
        clock: clock.now,
        refreshMargin: 3,
        crossTab: true,
      })
      await client.login(username, PASSWORD)
      const before = fx.front.refreshRequests
      clock.advance(8_000)
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => client.fetch(`${fx.issuer}/userinfo`)),
      )
      assert.ok(responses.every((r) => r.status === 200))
      assert.equal(fx.front.refreshRequests - before, 1)
      client.close()
    },
  )
})
