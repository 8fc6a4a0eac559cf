/**
 * Cookie mode against the real booth. Node's fetch keeps no cookies, so the test gives the client
 * what a browser would: a `fetch` with a cookie jar (Path and Max-Age honoured) that sends the
 * page's Origin. The booth and the client are the real ones.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { LogoutFailed, SessionExpired, createClient, webStorage } from '../src/index.ts'
import {
  PASSWORD,
  boothEvents,
  mapStorage,
  recordEvents,
  until,
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

interface Cookie {
  value: string
  path: string
  expires: number
}

/** A browser's cookie handling, reduced to what the booth uses: one host, Path, Max-Age. */
function browser(origin: string) {
  const jar = new Map<string, Cookie>()
  const sent: Request[] = []
  async function browserFetch(request: Request): Promise<Response> {
    sent.push(request.clone())
    const url = new URL(request.url)
    const headers = new Headers(request.headers)
    if (request.credentials === 'include') {
      const now = Date.now()
      const cookies = [...jar].filter(([, c]) => c.expires > now && url.pathname.startsWith(c.path))
      if (cookies.length > 0)
        headers.set('cookie', cookies.map(([n, c]) => `${n}=${c.value}`).join('; '))
    }
    // Browsers send Origin on every POST, same-origin included.
    if (request.method !== 'GET' && request.method !== 'HEAD') headers.set('origin', origin)
    const res = await fetch(new Request(request, { headers }))
    if (request.credentials === 'include') {
      for (const line of res.headers.getSetCookie()) {
        const [pair, ...attrs] = line.split(';').map((s) => s.trim())
        const [name, ...rest] = pair!.split('=')
        const attr = (key: string) =>
          attrs.find((a) => a.toLowerCase().startsWith(`${key}=`))?.split('=')[1]
        const maxAge = attr('max-age')
        const expires =
          maxAge !== undefined
            ? Date.now() + Number(maxAge) * 1000
            : attr('expires')
              ? Date.parse(attr('expires')!)
              : Infinity
        jar.set(name!, { value: rest.join('='), path: attr('path') ?? '/', expires })
      }
    }
    return res
  }
  return { jar, sent, fetch: browserFetch }
}

let lockNames = 0
function cookieClient(
  b: ReturnType<typeof browser>,
  extra: Parameters<typeof createClient>[0] | object = {},
) {
  return createClient({
    issuer: fx.issuer,
    mode: 'cookie',
    fetch: b.fetch,
    lockName: `cookie-${++lockNames}`,
    ...extra,
  })
}

describe('cookie mode', () => {
  it('logs in with token_delivery=cookie: no token in script reach, cookies sent with credentials', async () => {
    const b = browser(fx.booth.url)
    const client = cookieClient(b)
    const username = await signUp(fx.booth)
    await client.login(username, PASSWORD)
    const login = b.sent[0]!
    assert.equal(login.headers.get('x-tokenbooth-csrf'), '1')
    assert.equal(login.credentials, 'include')
    assert.match(await login.text(), /token_delivery=cookie/)
    assert.ok(b.jar.has('tb_at') && b.jar.has('tb_rt'))
    assert.equal(b.jar.get('tb_rt')!.path, '/token')

    assert.equal(await client.isSignedIn(), true)
    assert.equal(await client.getAccessToken(), undefined, 'HttpOnly: the client holds no token')
    const echo = await (
      await client.fetch(`${fx.issuer}/api/echo`, { method: 'POST', body: 'x' })
    ).json()
    assert.equal(echo.authorization, undefined)
    assert.equal(echo.csrf, '1')
    assert.match(echo.cookie, /tb_at=/)
    assert.doesNotMatch(echo.cookie, /tb_rt=/, 'the refresh cookie only goes to /token')
    const res = await client.fetch(`${fx.issuer}/userinfo`)
    assert.equal(res.status, 200)
    assert.equal((await res.json()).username, username)
    client.close()
  })

  it('refreshes ahead of expiry with the refresh cookie, once for 50 parallel calls', async () => {
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    const client = cookieClient(b, { clock: clock.now, refreshMargin: 3 })
    const events = recordEvents(client)
    await client.login(await signUp(fx.booth), PASSWORD)
    const before = fx.front.refreshRequests
    const oldAccess = b.jar.get('tb_at')!.value
    clock.advance(8_000)
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => client.fetch(`${fx.issuer}/userinfo`)),
    )
    assert.ok(responses.every((r) => r.status === 200))
    assert.equal(fx.front.refreshRequests - before, 1)
    assert.notEqual(b.jar.get('tb_at')!.value, oldAccess, 'the booth set a new access cookie')
    const refresh = b.sent.find((r) => r.url.endsWith('/token') && b.sent.indexOf(r) > 0)!
    const form = new URLSearchParams(await refresh.text())
    assert.equal(form.get('grant_type'), 'refresh_token')
    assert.equal(form.get('token_delivery'), 'cookie')
    assert.equal(form.has('refresh_token'), false)
    assert.equal(events.count('refreshed'), 1)
    client.close()
  })

  it('on a 401 invalid_token refreshes once and retries once', async () => {
    const b = browser(fx.booth.url)
    const client = cookieClient(b)
    await client.login(await signUp(fx.booth), PASSWORD)
    const before = fx.front.refreshRequests
    const res = await client.fetch(`${fx.issuer}/api/reject-once/cookie`)
    assert.equal(res.status, 200)
    assert.equal(fx.front.refreshRequests - before, 1)
    assert.equal((await client.fetch(`${fx.issuer}/api/reject`)).status, 401)
    assert.equal(fx.front.refreshRequests - before, 2)
    client.close()
  })

  it('logout ends the session at the booth and clears the cookies', async () => {
    const b = browser(fx.booth.url)
    const client = cookieClient(b)
    const events = recordEvents(client)
    await client.login(await signUp(fx.booth), PASSWORD)
    const access = b.jar.get('tb_at')!.value
    await client.logout()
    assert.equal(await client.isSignedIn(), false)
    assert.equal(events.count('signed-out'), 1)
    assert.ok(b.jar.get('tb_at')!.expires <= Date.now(), 'the booth expired the access cookie')
    const res = await fetch(`${fx.booth.url}/userinfo`, {
      headers: { authorization: `Bearer ${access}` },
    })
    assert.equal(res.status, 401)
    client.close()
  })

  it('a logout-all the booth did not confirm keeps the cookie session; the retry ends every session', async () => {
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    let offline = true
    const client = cookieClient(b, {
      clock: clock.now,
      refreshMargin: 3,
      fetch: (request: Request) =>
        offline && new URL(request.url).pathname === '/logout/all'
          ? Promise.reject(new TypeError('fetch failed'))
          : b.fetch(request),
    })
    const events = recordEvents(client)
    const username = await signUp(fx.booth)
    await client.login(username, PASSWORD)
    const other = createClient({ issuer: fx.issuer, crossTab: false })
    await other.login(username, PASSWORD)
    const otherToken = (await other.getAccessToken())!

    await assert.rejects(client.logoutAll(), (err: unknown) => {
      assert.ok(err instanceof LogoutFailed)
      assert.equal(err.status, undefined, 'no answer came back')
      return true
    })
    // The booth's HttpOnly cookies still work, so the client must not claim to be signed out.
    assert.equal(await client.isSignedIn(), true)
    assert.equal(events.count('signed-out'), 0)
    assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 200)

    // By the retry the browser has dropped the expired access cookie: the client still knows its
    // session, so it refreshes first instead of taking the booth's 401 for "nothing to end".
    offline = false
    b.jar.delete('tb_at')
    clock.advance(8_000)
    await client.logoutAll()
    assert.equal(await client.isSignedIn(), false)
    assert.equal(events.count('signed-out'), 1)
    const res = await fetch(`${fx.booth.url}/userinfo`, {
      headers: { authorization: `Bearer ${otherToken}` },
    })
    assert.equal(res.status, 401, 'the other session ended too')
    client.close()
    other.close()
  })

  it('a session ended elsewhere is SessionExpired at the next refresh', async () => {
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    const client = cookieClient(b, { clock: clock.now, refreshMargin: 3 })
    const events = recordEvents(client)
    const username = await signUp(fx.booth)
    await client.login(username, PASSWORD)
    const other = createClient({ issuer: fx.issuer, crossTab: false })
    await other.login(username, PASSWORD)
    await other.logoutAll()
    clock.advance(8_000)
    await assert.rejects(client.fetch(`${fx.issuer}/userinfo`), SessionExpired)
    assert.equal(events.count('session-expired'), 1)
    client.close()
    other.close()
  })

  it('a refresh cookie the browser dropped (its Max-Age passed) ends the session', async () => {
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    const client = cookieClient(b, { clock: clock.now, refreshMargin: 3 })
    await client.login(await signUp(fx.booth), PASSWORD)
    b.jar.delete('tb_rt')
    clock.advance(8_000)
    await assert.rejects(client.getAccessToken(), SessionExpired)
    client.close()
  })

  it('two tabs of one browser (shared cookies and storage) refresh once between them', async () => {
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    const local = mapStorage()
    const lockName = `cookie-tabs-${++lockNames}`
    // Tabs of one browser share one jar: Node is no browser, so the test says so (crossTab).
    const options = {
      clock: clock.now,
      refreshMargin: 3,
      storage: webStorage(local),
      lockName,
      crossTab: true,
    }
    const tabA = cookieClient(b, options)
    const tabB = cookieClient(b, options)
    await tabA.login(await signUp(fx.booth), PASSWORD)
    assert.equal(await tabB.isSignedIn(), true)
    const stored = JSON.parse(local.map.get('tokenbooth.tokens')!)
    assert.equal(stored.accessToken, undefined, 'no secret in storage in cookie mode')
    assert.equal(stored.refreshToken, undefined)
    const before = fx.front.refreshRequests
    const rotated = await boothEvents(fx.booth, 'refresh_token.rotated')
    clock.advance(8_000)
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? tabA : tabB).fetch(`${fx.issuer}/userinfo`),
      ),
    )
    assert.ok(responses.every((r) => r.status === 200))
    assert.equal(fx.front.refreshRequests - before, 1)
    assert.equal((await boothEvents(fx.booth, 'refresh_token.rotated')) - rotated, 1)
    await sleep(20)
    tabA.close()
    tabB.close()
  })

  it('two tabs with their own memory refresh once: the lock can reach the second before the first one’s message', async () => {
    // Only the BroadcastChannel message tells tab B of A's refresh, and here (as in a loaded
    // browser) the lock is handed to B before that message is delivered
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    const options = {
      clock: clock.now,
      refreshMargin: 3,
      lockName: `cookie-tabs-${++lockNames}`,
      crossTab: true,
    }
    const tabA = cookieClient(b, options)
    const tabB = cookieClient(b, options)
    await tabA.login(await signUp(fx.booth), PASSWORD)
    await until(() => tabB.isSignedIn(), 'tab B hears of the login')
    const before = fx.front.refreshRequests
    clock.advance(8_000)
    const [a, bResponse] = await Promise.all([
      tabA.fetch(`${fx.issuer}/userinfo`),
      tabB.fetch(`${fx.issuer}/userinfo`),
    ])
    assert.equal(a.status, 200)
    assert.equal(bResponse.status, 200)
    assert.equal(fx.front.refreshRequests - before, 1, 'one refresh between the two tabs')
    tabA.close()
    tabB.close()
  })

  it('logout from a tab that holds no tokens (reloaded, memory storage) signs the other tabs out', async () => {
    // Review finding: the booth ended the session and cleared the cookies, but the reloaded tab
    // had nothing to end in memory and told no one, so the other tabs stayed signed in.
    const b = browser(fx.booth.url)
    const options = { lockName: `cookie-tabs-${++lockNames}`, crossTab: true }
    const tabA = cookieClient(b, options)
    const events = recordEvents(tabA)
    await tabA.login(await signUp(fx.booth), PASSWORD)
    const reloaded = cookieClient(b, options)
    assert.equal(await reloaded.isSignedIn(), false, 'its memory was lost with the reload')
    await reloaded.logout()
    await until(async () => !(await tabA.isSignedIn()), 'tab A hears of the logout')
    assert.deepEqual(events.seen.at(-1), {
      event: 'signed-out',
      payload: { reason: 'logout', source: 'other-tab' },
    })
    tabA.close()
    reloaded.close()
  })

  it('a login in another tab is a new session here: signed-in, not refreshed', async () => {
    // Review finding: every cookie record looked like the same session, so bob's login in tab B
    // reached tab A as a refresh of alice's session (same epoch, 'refreshed').
    const b = browser(fx.booth.url)
    const options = { lockName: `cookie-tabs-${++lockNames}`, crossTab: true }
    const tabA = cookieClient(b, options)
    const tabB = cookieClient(b, options)
    await tabA.login(await signUp(fx.booth), PASSWORD)
    await until(() => tabB.isSignedIn(), 'tab B hears of the login')
    const events = recordEvents(tabA)
    const bob = await signUp(fx.booth)
    await tabB.login(bob, PASSWORD)
    await until(() => events.seen.length > 0, 'tab A hears of the login')
    assert.deepEqual(
      events.seen.map((e) => `${e.event}(${e.payload.source})`),
      ['signed-in(other-tab)'],
    )
    assert.equal((await (await tabA.fetch(`${fx.issuer}/userinfo`)).json()).username, bob)
    tabA.close()
    tabB.close()
  })

  it('clients of one Node process with their own cookie jars do not share a session by default', async () => {
    // Review finding: crossTab defaulted to true in cookie mode everywhere, so clients of
    // different users (one jar each, same issuer, so the same lock name) signed each other out.
    const jarA = browser(fx.booth.url)
    const jarB = browser(fx.booth.url)
    const a = createClient({ issuer: fx.issuer, mode: 'cookie', fetch: jarA.fetch })
    const b = createClient({ issuer: fx.issuer, mode: 'cookie', fetch: jarB.fetch })
    const eventsB = recordEvents(b)
    const userB = await signUp(fx.booth)
    await b.login(userB, PASSWORD)
    await a.login(await signUp(fx.booth), PASSWORD)
    await a.logout()
    await sleep(100) // what a shared channel would have delivered by now
    assert.equal(await b.isSignedIn(), true)
    assert.deepEqual(
      eventsB.seen.map((e) => `${e.event}(${e.payload.source})`),
      ['signed-in(this)'],
    )
    assert.equal((await (await b.fetch(`${fx.issuer}/userinfo`)).json()).username, userB)
    a.close()
    b.close()
  })

  it('a refresh whose answer is lost is retried at once with the same cookie, inside the grace window', async () => {
    // The lost answer took its Set-Cookie with it: the jar still holds the spent refresh cookie.
    const b = browser(fx.booth.url)
    const clock = shiftedClock()
    const client = cookieClient(b, { clock: clock.now, refreshMargin: 3 })
    await client.login(await signUp(fx.booth), PASSWORD)
    const retried = await boothEvents(fx.booth, 'refresh_token.retried')
    const reused = await boothEvents(fx.booth, 'refresh_token.reused')
    clock.advance(8_000)
    fx.front.dropRefreshAnswers = 1
    assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 200)
    assert.equal((await boothEvents(fx.booth, 'refresh_token.retried')) - retried, 1)
    clock.advance(8_000)
    assert.equal((await client.fetch(`${fx.issuer}/userinfo`)).status, 200)
    assert.equal((await boothEvents(fx.booth, 'refresh_token.reused')) - reused, 0)
    client.close()
  })
})
