/** Login, getAccessToken, fetch with Bearer, login errors and option checks, against a real booth. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  ClientClosed,
  LoginFailed,
  createClient,
  decodeJwtPayload,
  memoryStorage,
} from '../src/index.ts'
import { PASSWORD, recordEvents, signUp, startFixture, type BoothFixture } from './helpers.ts'

let fx: BoothFixture
before(async () => {
  fx = await startFixture()
})
after(() => fx.stop())

describe('login, getAccessToken and fetch', () => {
  it('logs in, hands out the access token and sends it as Bearer', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    const events = recordEvents(client)
    assert.equal(await client.isSignedIn(), false)
    assert.equal(await client.getAccessToken(), undefined)

    await client.login(username, PASSWORD)
    assert.equal(await client.isSignedIn(), true)
    assert.deepEqual(
      events.seen.map((e) => e.event),
      ['signed-in'],
    )
    assert.equal(events.seen[0]!.payload.scope, 'profile')
    assert.equal(events.seen[0]!.payload.source, 'this')

    const token = await client.getAccessToken()
    assert.equal(typeof token, 'string')
    assert.equal(decodeJwtPayload(token!)?.iss, fx.booth.url)

    const echo = await (await client.fetch(`${fx.issuer}/api/echo`)).json()
    assert.equal(echo.authorization, `Bearer ${token}`)

    // the booth itself accepts it
    const res = await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(res.status, 200)
    assert.equal((await res.json()).username, username)
    assert.equal(fx.front.refreshRequests, 0)
    client.close()
  })

  it('replaces an Authorization header of the caller, keeps other headers and the body', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    await client.login(username, PASSWORD)
    const res = await client.fetch(
      new Request(`${fx.issuer}/api/echo`, { method: 'PUT', body: 'hello' }),
      {
        headers: { authorization: 'Bearer not-mine', 'x-trace': '1' },
      },
    )
    const echo = await res.json()
    assert.equal(echo.method, 'PUT')
    assert.equal(echo.body, 'hello')
    assert.equal(echo.authorization, `Bearer ${await client.getAccessToken()}`)
    client.close()
  })

  it('signed out, fetch sends no credentials and returns the answer as is', async () => {
    const client = createClient({ issuer: fx.issuer })
    const echo = await (await client.fetch(`${fx.issuer}/api/echo`)).json()
    assert.equal(echo.authorization, undefined)
    const res = await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(res.status, 401)
    client.close()
  })

  it('asks for a scope and sends client_id when given', async () => {
    const username = await signUp(fx.booth)
    const seen: string[] = []
    const client = createClient({
      issuer: fx.issuer,
      clientId: 'tokenbooth',
      fetch: async (request) => {
        if (request.url.endsWith('/token')) seen.push(await request.clone().text())
        return fetch(request)
      },
    })
    await client.login(username, PASSWORD, { scope: 'profile' })
    assert.match(seen[0]!, /client_id=tokenbooth/)
    assert.match(seen[0]!, /scope=profile/)
    client.close()
  })

  it('a wrong password is LoginFailed with the booth’s error, and no event', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    const events = recordEvents(client)
    await assert.rejects(client.login(username, 'not the password'), (err: unknown) => {
      assert.ok(err instanceof LoginFailed)
      assert.equal(err.code, 'ERR_LOGIN_FAILED')
      assert.equal(err.status, 400)
      assert.equal(err.error, 'invalid_grant')
      assert.equal(typeof err.errorDescription, 'string')
      assert.equal(err.retryAfter, undefined)
      return true
    })
    assert.equal(await client.isSignedIn(), false)
    assert.equal(events.seen.length, 0)
    client.close()
  })

  it('throttled guessing is LoginFailed with retryAfter', async () => {
    const username = await signUp(fx.booth)
    const client = createClient({ issuer: fx.issuer })
    let throttled: LoginFailed | undefined
    for (let i = 0; i < 30 && throttled === undefined; i++) {
      try {
        await client.login(username, `wrong guess ${i}`)
      } catch (err) {
        assert.ok(err instanceof LoginFailed)
        if (err.status === 429) throttled = err
      }
    }
    assert.ok(throttled, 'the booth never throttled')
    assert.equal(throttled.error, 'too_many_requests')
    assert.ok(throttled.retryAfter !== undefined && throttled.retryAfter > 0)
    client.close()
  })

  it('an unreachable booth is LoginFailed with the network error as cause', async () => {
    const client = createClient({ issuer: 'http://127.0.0.1:9', crossTab: false })
    await assert.rejects(client.login('kim', PASSWORD), (err: unknown) => {
      assert.ok(err instanceof LoginFailed)
      assert.equal(err.status, undefined)
      assert.ok(err.cause instanceof Error)
      return true
    })
  })

  it('rejects bad options with a TypeError naming the option', () => {
    assert.throws(() => createClient({ issuer: 'auth.example.com' }), /"issuer"/)
    assert.throws(() => createClient({ issuer: 'https://a.example?x=1' }), /"issuer"/)
    assert.throws(() => createClient({ issuer: fx.issuer, refreshMargin: -1 }), /"refreshMargin"/)
    assert.throws(() => createClient({ issuer: fx.issuer, mode: 'session' as 'cookie' }), /"mode"/)
    assert.throws(
      () => createClient({ issuer: fx.issuer, storage: {} as ReturnType<typeof memoryStorage> }),
      /"storage"/,
    )
    assert.throws(() => createClient({ issuer: fx.issuer, clientId: '' }), /"clientId"/)
  })

  it('after close(), calls reject with ClientClosed', async () => {
    const client = createClient({ issuer: fx.issuer })
    client.close()
    await assert.rejects(client.getAccessToken(), ClientClosed)
    await assert.rejects(client.fetch(`${fx.issuer}/api/echo`), ClientClosed)
    await assert.rejects(client.login('kim', PASSWORD), ClientClosed)
  })
})
