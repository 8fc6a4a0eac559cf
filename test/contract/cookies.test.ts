/**
 * Cookie mode and its CSRF defence, attacked over real HTTP: HttpOnly/SameSite/Path cookies, an
 * allowed Origin and the X-Tokenbooth-CSRF header on every cookie-authenticated state change.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startBooth, type Booth } from '../support/booth.ts'
import { uniqueName } from '../support/contract.ts'
import { bearer, call, postForm, postJson } from '../support/http.ts'

const PASSWORD = 'cookies are for browsers'

function cookiesOf(res: { headers: Headers }): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';')
    const eq = pair!.indexOf('=')
    out.set(pair!.slice(0, eq), line)
  }
  return out
}

describe('cookie mode', () => {
  let booth: Booth
  let origin: string
  const app = 'http://app.localhost:5173'

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_CORS_ORIGINS: app } })
    origin = booth.url
  })
  after(() => booth.stop())

  async function cookieLogin(headers: Record<string, string>, username = uniqueName('c')) {
    await postJson(`${booth.url}/signup`, { username, password: PASSWORD })
    return call(`${booth.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({
        grant_type: 'password',
        username,
        password: PASSWORD,
        token_delivery: 'cookie',
      }),
    })
  }

  it('delivers the tokens as HttpOnly, SameSite=Strict cookies and keeps them out of the body', async () => {
    const res = await cookieLogin({ origin, 'x-tokenbooth-csrf': '1' })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.token_delivery, 'cookie')
    assert.equal(res.body.access_token, undefined)
    assert.equal(res.body.refresh_token, undefined)
    const cookies = cookiesOf(res)
    const at = cookies.get('tb_at')!
    const rt = cookies.get('tb_rt')!
    for (const c of [at, rt]) {
      assert.match(c, /HttpOnly/i)
      assert.match(c, /SameSite=Strict/i)
    }
    assert.match(at, /Path=\/(;|$)/)
    assert.match(rt, /Path=\/token/, 'the refresh cookie goes to the token endpoint only')
    // Plain-http loopback (development) is the one case without Secure.
    assert.doesNotMatch(at, /Secure/i)
  })

  for (const [name, headers] of [
    ['no Origin', { 'x-tokenbooth-csrf': '1' }],
    ['a foreign Origin', { origin: 'https://evil.example', 'x-tokenbooth-csrf': '1' }],
    ['no CSRF header (a cross-site form post)', { origin: 'https://evil.example' }],
    ['an allowed Origin but no CSRF header', { origin: app }],
  ] as const) {
    it(`refuses a cookie login with ${name}, and sets no cookie`, async () => {
      const res = await cookieLogin(headers)
      assert.equal(res.status, 400)
      assert.equal(res.body.error, 'invalid_request')
      assert.equal(res.headers.getSetCookie().length, 0)
    })
  }

  it('a configured app origin may use cookie mode', async () => {
    const res = await cookieLogin({ origin: app, 'x-tokenbooth-csrf': '1' })
    assert.equal(res.status, 200)
  })

  it('cookie-authenticated state changes need the Origin and the header; reads do not', async () => {
    const login = await cookieLogin({ origin, 'x-tokenbooth-csrf': '1' })
    const cookies = cookiesOf(login)
    const at = cookies.get('tb_at')!.split(';')[0]!
    const rt = cookies.get('tb_rt')!.split(';')[0]!
    assert.equal((await call(`${booth.url}/sessions`, { headers: { cookie: at } })).status, 200)
    // A forged cross-site logout (a form post or an image) carries the cookie but not the header.
    for (const headers of [
      { cookie: at },
      { cookie: at, origin: 'https://evil.example', 'x-tokenbooth-csrf': '1' },
    ]) {
      const forged = await call(`${booth.url}/logout/all`, { method: 'POST', headers })
      assert.equal(forged.status, 400)
    }
    assert.equal(
      (await call(`${booth.url}/sessions`, { headers: { cookie: at } })).status,
      200,
      'still signed in',
    )

    // Refresh from the cookie: new cookies, the old refresh cookie is consumed.
    const refreshed = await call(`${booth.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: rt,
        origin,
        'x-tokenbooth-csrf': '1',
      },
      body: 'grant_type=refresh_token&token_delivery=cookie',
    })
    assert.equal(refreshed.status, 200, refreshed.text)
    const next = cookiesOf(refreshed)
    assert.notEqual(next.get('tb_rt')!.split(';')[0], rt)
    const at2 = next.get('tb_at')!.split(';')[0]!

    const logout = await call(`${booth.url}/logout`, {
      method: 'POST',
      headers: { cookie: at2, origin, 'x-tokenbooth-csrf': '1' },
    })
    assert.equal(logout.status, 200)
    const cleared = cookiesOf(logout)
    assert.match(cleared.get('tb_at')!, /Max-Age=0|Expires=Thu, 01 Jan 1970/i)
    assert.equal((await call(`${booth.url}/sessions`, { headers: { cookie: at2 } })).status, 401)
  })

  it('a forged cross-site DELETE /sessions/{id} is refused, and the session survives', async () => {
    const username = uniqueName('d')
    const login = await cookieLogin({ origin, 'x-tokenbooth-csrf': '1' }, username)
    const at = cookiesOf(login).get('tb_at')!.split(';')[0]!
    // The victim's other device: the session a forged request would sign out.
    const device = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password: PASSWORD,
    })
    assert.equal(device.status, 200)
    const listed = await call(`${booth.url}/sessions`, { headers: { cookie: at } })
    const target = listed.body.sessions.find((s: { current: boolean }) => !s.current).id as string

    // The browser attaches the cookie; what the attacker's page cannot produce is an allowed
    // Origin together with the custom header (that needs a CORS preflight only allowed origins pass).
    for (const [name, headers] of [
      ['no Origin, no header', { cookie: at }],
      ['a foreign Origin, no header', { cookie: at, origin: 'https://evil.example' }],
      [
        'a foreign Origin with the header',
        { cookie: at, origin: 'https://evil.example', 'x-tokenbooth-csrf': '1' },
      ],
      [
        'an opaque Origin (sandboxed frame)',
        { cookie: at, origin: 'null', 'x-tokenbooth-csrf': '1' },
      ],
      ['the header but no Origin', { cookie: at, 'x-tokenbooth-csrf': '1' }],
      ['an allowed Origin but no header', { cookie: at, origin: app }],
    ] as const) {
      const forged = await call(`${booth.url}/sessions/${target}`, { method: 'DELETE', headers })
      assert.equal(forged.status, 400, name)
      assert.equal(forged.body.error, 'invalid_request', name)
    }
    const after = await call(`${booth.url}/sessions`, { headers: { cookie: at } })
    assert.ok(
      after.body.sessions.some((s: { id: string }) => s.id === target),
      'the session is still listed',
    )
    const userinfo = () =>
      call(`${booth.url}/userinfo`, { headers: bearer(device.body.access_token) })
    assert.equal((await userinfo()).status, 200, 'and still works')

    // The same request with both defences satisfied goes through: the refusals were CSRF's.
    const real = await call(`${booth.url}/sessions/${target}`, {
      method: 'DELETE',
      headers: { cookie: at, origin, 'x-tokenbooth-csrf': '1' },
    })
    assert.equal(real.status, 204)
    assert.equal((await userinfo()).status, 401)
  })

  it('an https issuer gets Secure cookies, though the booth itself listens on plain http', async () => {
    // TLS ends at a proxy in front of the booth; the issuer says what browsers see.
    const issuer = 'https://auth.example.test'
    const tls = await startBooth({ env: { TOKENBOOTH_ISSUER: issuer } })
    try {
      const username = uniqueName('s')
      assert.equal(
        (await postJson(`${tls.url}/signup`, { username, password: PASSWORD })).status,
        201,
      )
      const res = await call(`${tls.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: issuer,
          'x-tokenbooth-csrf': '1',
        },
        body: new URLSearchParams({
          grant_type: 'password',
          username,
          password: PASSWORD,
          token_delivery: 'cookie',
        }),
      })
      assert.equal(res.status, 200, res.text)
      const cookies = cookiesOf(res)
      for (const name of ['tb_at', 'tb_rt']) {
        const attributes = cookies
          .get(name)!
          .split(';')
          .map((a) => a.trim().toLowerCase())
        assert.ok(attributes.includes('secure'), `${name} is Secure`)
        assert.ok(attributes.includes('httponly'), `${name} is HttpOnly`)
        assert.ok(attributes.includes('samesite=strict'), `${name} is SameSite=Strict`)
        assert.ok(!attributes.some((a) => a.startsWith('domain=')), `${name} is host-only`)
      }
    } finally {
      await tls.stop()
    }
  })

  it('refuses cookie delivery for client_credentials', async () => {
    const res = await call(`${booth.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin,
        'x-tokenbooth-csrf': '1',
      },
      body: 'grant_type=client_credentials&token_delivery=cookie',
    })
    assert.equal(res.status, 400)
  })

  it('CORS: the configured origin is allowed with credentials; others get no CORS headers', async () => {
    const ok = await call(`${booth.url}/token`, {
      method: 'OPTIONS',
      headers: {
        origin: app,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-tokenbooth-csrf',
      },
    })
    assert.equal(ok.headers.get('access-control-allow-origin'), app)
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true')
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-tokenbooth-csrf/)
    const evil = await call(`${booth.url}/token`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    assert.equal(evil.headers.get('access-control-allow-origin'), null)
  })
})
