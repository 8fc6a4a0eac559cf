/** A 401 invalid_token: refresh once, retry once, never loop (RFC 6750 §3.1). */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createClient } from '../src/index.ts'
import { PASSWORD, boothEvents, signUp, startFixture, type BoothFixture } from './helpers.ts'

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
})
