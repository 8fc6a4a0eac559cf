/**
 * Details of the refresh, revocation and introspection rules over HTTP (issue 2, "POST /token",
 * "POST /revoke", "POST /introspect", "Tokens"), each a bug an audit found:
 * - `scope=` is the default scope, not an empty one (RFC 6749 §3.1);
 * - revoking a refresh token just exchanged (inside the grace window) still ends its session
 *   (RFC 7009 §2.1);
 * - introspecting a refresh token reports its own end, not only the session's (RFC 7662 §2.2);
 * - another client's refresh token with a wider scope is invalid_grant, not invalid_scope (which
 *   would tell that client the token is live);
 * - the old access token sent along with a refresh may have expired: "the booth checks its
 *   signature — not its expiry — and that it belongs to the same session".
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { addClient, assertError, decodeJwt, pollUntil, uniqueName } from '../support/contract.ts'
import { basic, bearer, call, postForm, signUpAndLogin } from '../support/http.ts'

const PASSWORD = 'rules passphrase here'
const REFRESH_TTL = 3600

describe('refresh, revocation and introspection rules', () => {
  let booth: Booth
  let service: { client_id: string; client_secret?: string }
  let app: { client_id: string; client_secret?: string }

  before(async () => {
    booth = await startBooth({
      env: {
        TOKENBOOTH_SCOPES: 'profile cart:read',
        TOKENBOOTH_REFRESH_TOKEN_TTL: String(REFRESH_TTL),
        TOKENBOOTH_REFRESH_GRACE: '30',
      },
    })
    service = await addClient(booth.env, 'rules-service', { scope: 'cart:read' })
    app = await addClient(booth.env, 'rules-app', { scope: 'profile' })
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  const token = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    postForm(`${booth.url}/token`, params, headers)
  const refresh = (refreshToken: string, extra: Record<string, string> = {}, headers = {}) =>
    token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, headers)
  const userinfo = (accessToken: string) =>
    call(`${booth.url}/userinfo`, { headers: bearer(accessToken) })
  const appAuth = () => basic(app.client_id, app.client_secret!)

  it('scope= (a parameter without a value) is treated as omitted, for every grant', async () => {
    const username = uniqueName('noscope')
    const t = await signUpAndLogin(booth.url, username, PASSWORD, { scope: '' })
    assert.equal(t.scope, 'profile cart:read', 'the default scope, not none')
    assert.equal(decodeJwt(t.access_token).payload.scope, 'profile cart:read')
    assert.equal((await userinfo(t.access_token)).status, 200)

    const narrow = await refresh(t.refresh_token, { scope: 'cart:read' })
    assert.equal(narrow.body.scope, 'cart:read', narrow.text)
    const empty = await refresh(narrow.body.refresh_token, { scope: '' })
    assert.equal(empty.status, 200, empty.text)
    assert.equal(empty.body.scope, 'profile cart:read', 'the session scope, not none')

    const cc = await token(
      { grant_type: 'client_credentials', scope: '' },
      basic(service.client_id, service.client_secret!),
    )
    assert.equal(cc.status, 200, cc.text)
    assert.equal(cc.body.scope, 'cart:read')
  })

  it('revoking a refresh token just exchanged (inside the grace window) ends the session', async () => {
    const t0 = await signUpAndLogin(booth.url, uniqueName('revprev'), PASSWORD)
    const t1 = await refresh(t0.refresh_token)
    assert.equal(t1.status, 200, t1.text)
    const res = await postForm(`${booth.url}/revoke`, { token: t0.refresh_token })
    assert.equal(res.status, 200, res.text)
    assertError(await refresh(t1.body.refresh_token), 400, 'invalid_grant', 'the successor')
    assertError(await refresh(t0.refresh_token), 400, 'invalid_grant', 'a retry of the revoked')
    assertError(await userinfo(t1.body.access_token), 401, 'invalid_token', 'its access token')
  })

  it('introspection of a refresh token reports its idle expiry when that comes first', async () => {
    const username = uniqueName('intexp')
    await signUpAndLogin(booth.url, username, PASSWORD)
    const before = Math.floor(Date.now() / 1000)
    const login = await token({ grant_type: 'password', username, password: PASSWORD }, appAuth())
    assert.equal(login.status, 200, login.text)
    const after = Math.ceil(Date.now() / 1000)
    const info = await postForm(
      `${booth.url}/introspect`,
      { token: login.body.refresh_token },
      appAuth(),
    )
    assert.equal(info.status, 200, info.text)
    assert.equal(info.body.active, true)
    // The session may live 30 days; this token dies after an hour unused.
    assert.ok(
      info.body.exp >= before + REFRESH_TTL && info.body.exp <= after + REFRESH_TTL,
      `exp ${info.body.exp} is about now + ${REFRESH_TTL} s`,
    )
    const next = await refresh(login.body.refresh_token, {}, appAuth())
    assert.equal(next.status, 200, next.text)
    const consumed = await postForm(
      `${booth.url}/introspect`,
      { token: login.body.refresh_token },
      appAuth(),
    )
    assert.deepEqual(consumed.body, { active: false }, 'a consumed token is not active')
  })

  it("another client's refresh token, with a scope beyond its grant, is invalid_grant and stays usable", async () => {
    const username = uniqueName('scopeprobe')
    await signUpAndLogin(booth.url, username, PASSWORD)
    const mine = await token(
      { grant_type: 'password', username, password: PASSWORD, scope: 'profile' },
      appAuth(),
    )
    assert.equal(mine.status, 200, mine.text)
    const probes: Array<[string, Record<string, string>]> = [
      ['the default client', {}],
      ['another confidential client', basic(service.client_id, service.client_secret!)],
    ]
    for (const [name, headers] of probes) {
      const res = await refresh(mine.body.refresh_token, { scope: 'cart:read' }, headers)
      assertError(res, 400, 'invalid_grant', `${name} asking for a wider scope`)
    }
    // The owner asking for more than was granted is still told about the scope.
    assertError(
      await refresh(mine.body.refresh_token, { scope: 'cart:read' }, appAuth()),
      400,
      'invalid_scope',
      'the owner',
    )
    const ok = await refresh(mine.body.refresh_token, {}, appAuth())
    assert.equal(ok.status, 200, `nothing was consumed: ${ok.text}`)
  })
})

describe('the old access token sent along with a refresh, after it expired', () => {
  let booth: Booth
  // The shortest lifetime the booth accepts, so the test waits ~15 s rather than 15 minutes.
  const TTL = 10

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_ACCESS_TOKEN_TTL: String(TTL) } })
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  const refresh = (refreshToken: string, accessToken: string) =>
    postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      access_token: accessToken,
    })

  it('an expired one of the same session is accepted; a tampered one or another session’s is not', async () => {
    const username = uniqueName('expired')
    const mine = await signUpAndLogin(booth.url, username, PASSWORD)
    const second = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password: PASSWORD,
    })
    assert.equal(second.status, 200, second.text)
    const expired = await pollUntil(
      async () =>
        (await call(`${booth.url}/userinfo`, { headers: bearer(mine.access_token) })).status ===
        401,
      (TTL + 15) * 1000,
      500,
    )
    assert.ok(expired, 'the access token has expired (userinfo refuses it)')

    const { payload } = decodeJwt(mine.access_token)
    const [h, , s] = mine.access_token.split('.')
    const forged = Buffer.from(JSON.stringify({ ...payload, sid: 'another' })).toString('base64url')
    const refused: Array<[string, string]> = [
      ['another session of the user (expired too)', second.body.access_token],
      ['a tampered payload', `${h}.${forged}.${s}`],
      ['a stripped signature', `${h}.${mine.access_token.split('.')[1]}.`],
    ]
    for (const [name, accessToken] of refused) {
      assertError(await refresh(mine.refresh_token, accessToken), 400, 'invalid_grant', name)
    }
    const ok = await refresh(mine.refresh_token, mine.access_token)
    assert.equal(ok.status, 200, `the expired token of the same session: ${ok.text}`)
    assert.equal(decodeJwt(ok.body.access_token).payload.sid, payload.sid)
  })
})
