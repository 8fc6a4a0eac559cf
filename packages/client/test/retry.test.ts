/** A 401 invalid_token: refresh once, retry once, never loop (RFC 6750 §3.1). */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createClient } from '../src/index.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  PASSWORD,
  boothEvents,
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

async function signedIn() {
  const client = createClient({ issuer: fx.issuer })
  await client.login(await signUp(fx.booth), PASSWORD)
  return client
}

describe('401 invalid_token', () => {
  it('refreshes once and retries once; a second 401 is returned to the caller, not looped', async () => {
    const client = await signedIn()
    const first = await client.getAccessToken()
    const refreshes = fx.front.refreshRequests
    const rotated = await boothEvents(fx.booth, 'refresh_token.rotated')
    fx.front.apiAuthorizations.length = 0

    const res = await client.fetch(`${fx.issuer}/api/reject`)
    assert.equal(res.status, 401)
    assert.equal((await res.json()).error, 'invalid_token', 'the body of the retry is readable')
    assert.equal(fx.front.refreshRequests - refreshes, 1)
    assert.equal((await boothEvents(fx.booth, 'refresh_token.rotated')) - rotated, 1)
    const sent = fx.front.apiAuthorizations
    assert.equal(sent.length, 2, 'the original request and one retry')
    assert.equal(sent[0], `Bearer ${first}`)
    assert.equal(sent[1], `Bearer ${await client.getAccessToken()}`)
    assert.notEqual(sent[1], sent[0])
    client.close()
  })

  it('replays a request body on the retry', async () => {
    const client = await signedIn()
    const refreshes = fx.front.refreshRequests
    const body = JSON.stringify({ item: 'bus token', quantity: 2 })
    const res = await client.fetch(`${fx.issuer}/api/reject-once/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    assert.equal(res.status, 200)
    const echo = await res.json()
    assert.equal(echo.method, 'POST')
    assert.equal(echo.body, body)
    assert.equal(echo.authorization, `Bearer ${await client.getAccessToken()}`)
    assert.equal(fx.front.refreshRequests - refreshes, 1)
    client.close()
  })

  it('replays a streamed body too (the Request is cloned before the first send)', async () => {
    const client = await signedIn()
    fx.front.apiAuthorizations.length = 0
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk one, '))
        controller.enqueue(new TextEncoder().encode('chunk two'))
        controller.close()
      },
    })
    const res = await client.fetch(`${fx.issuer}/api/reject-once/stream`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit)
    assert.equal(res.status, 200)
    assert.equal((await res.json()).body, 'chunk one, chunk two')
    assert.equal(fx.front.apiAuthorizations.length, 2)
    client.close()
  })

  it('does not refresh on 403 insufficient_scope or on a 401 without invalid_token', async () => {
    const client = await signedIn()
    const refreshes = fx.front.refreshRequests
    assert.equal((await client.fetch(`${fx.issuer}/api/forbidden`)).status, 403)
    assert.equal((await client.fetch(`${fx.issuer}/api/bare`)).status, 401)
    assert.equal(fx.front.refreshRequests - refreshes, 0)
    client.close()
  })

  it('a token the booth revoked by jti is replaced on its 401 and the call succeeds', async () => {
    const client = await signedIn()
    const token = (await client.getAccessToken())!
    // RFC 7009 at the booth: the access token's jti is revoked, the session lives on
    const revoke = await fetch(`${fx.booth.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    })
    assert.equal(revoke.status, 200)
    const refreshes = fx.front.refreshRequests
    const unauthorized = fx.front.unauthorized.get('/userinfo') ?? 0
    const res = await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(res.status, 200)
    assert.equal((fx.front.unauthorized.get('/userinfo') ?? 0) - unauthorized, 1)
    assert.equal(fx.front.refreshRequests - refreshes, 1)
    client.close()
  })

  it('parallel 401s share one refresh', async () => {
    const client = await signedIn()
    const refreshes = fx.front.refreshRequests
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => client.fetch(`${fx.issuer}/api/reject`)),
    )
    assert.ok(responses.every((r) => r.status === 401))
    assert.equal(fx.front.refreshRequests - refreshes, 1)
    client.close()
  })

  it('a 401 answered after the user changed is returned, not replayed with the next user’s token', async () => {
    // Review finding: the refresh for the 401 found a new epoch and handed back the current
    // session (bob's), and alice's DELETE was sent again as bob.
    const client = createClient({ issuer: fx.issuer })
    const alice = await signUp(fx.booth)
    const bob = await signUp(fx.booth)
    await client.login(alice, PASSWORD)
    const aliceToken = await client.getAccessToken()
    fx.front.apiAuthorizations.length = 0
    const pending = client.fetch(`${fx.issuer}/api/held/account`, { method: 'DELETE' })
    for (let i = 0; fx.front.apiAuthorizations.length === 0; i++) {
      assert.ok(i < 500, 'the DELETE reaches the API')
      await sleep(10)
    }
    await client.logout()
    await client.login(bob, PASSWORD)
    const refreshes = fx.front.refreshRequests
    fx.front.release()
    const res = await pending
    assert.equal(res.status, 401, 'the 401 of the first send is the answer')
    assert.deepEqual(fx.front.apiAuthorizations, [`Bearer ${aliceToken}`], 'sent once, as alice')
    assert.equal(fx.front.refreshRequests - refreshes, 0)
    client.close()
  })

  it('a request whose refresh ahead of expiry outlived the session goes out without the next session’s token', async () => {
    // The same finding in fresh(): the refresh came back after a login, and the request was
    // sent with the new login's token.
    const clock = shiftedClock()
    const client = createClient({ issuer: fx.issuer, clock: clock.now, refreshMargin: 3 })
    const alice = await signUp(fx.booth)
    const bob = await signUp(fx.booth)
    await client.login(alice, PASSWORD)
    clock.advance(8_000) // alice's token is due
    const refreshes = fx.front.refreshRequests
    fx.front.holdRefreshAnswers = 1
    fx.front.apiAuthorizations.length = 0
    const pending = client.fetch(`${fx.issuer}/api/echo`)
    for (let i = 0; fx.front.refreshRequests === refreshes; i++) {
      assert.ok(i < 500, 'the refresh reaches the booth')
      await sleep(10)
    }
    await client.login(bob, PASSWORD)
    const bobToken = await client.getAccessToken()
    fx.front.release()
    const res = await pending
    assert.equal(res.status, 200)
    assert.equal((await res.json()).authorization, undefined, 'not as bob')
    assert.deepEqual(fx.front.apiAuthorizations, [undefined])
    assert.equal(await client.getAccessToken(), bobToken, 'bob’s session is untouched')
    client.close()
  })
})
