/**
 * The HTTP contract of issue 2, spoken to a real `tokenbooth serve` process: every endpoint, the
 * rotation/grace/reuse rules, logout and session isolation. One suite, run on the embedded
 * SQLite store and on PostgreSQL.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import {
  addClient,
  assertError,
  assertErrorBody,
  assertNoStack,
  decodeJwt,
  maxAge,
  randomSecret,
  sleep,
  uniqueName,
} from '../support/contract.ts'
import { basic, bearer, call, postForm, postJson, type Reply } from '../support/http.ts'
import { createTestDatabase } from '../support/postgres.ts'

const PASSWORD = 'correct horse battery staple'
const SCOPES = ['profile', 'cart:read']
const ALLOWED_ORIGIN = 'https://shop.example'

interface Variant {
  env: Record<string, string>
  cleanup(): Promise<void>
}

interface Tokens {
  access_token: string
  refresh_token: string
  expires_in: number
  scope: string
  token_type: string
}

export function defineEndpointSuite(label: string, envFactory: () => Promise<Variant>): void {
  describe(`endpoints on ${label}`, () => {
    let booth: Booth
    let variant: Variant
    let base: string
    let service: { client_id: string; client_secret: string }
    let publicApp: { client_id: string }

    const form = (params: Record<string, string>, headers: Record<string, string> = {}) =>
      postForm(`${base}/token`, params, headers)
    const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
      form({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra })
    const userinfo = (token: string) => call(`${base}/userinfo`, { headers: bearer(token) })

    async function signUp(
      prefix: string,
      password = PASSWORD,
    ): Promise<{ id: string; username: string }> {
      const username = uniqueName(prefix)
      const res = await postJson(`${base}/signup`, { username, password })
      assert.equal(res.status, 201, res.text)
      return res.body
    }

    async function login(
      username: string,
      extra: Record<string, string> = {},
      headers: Record<string, string> = {},
    ): Promise<Tokens> {
      const res = await form(
        { grant_type: 'password', username, password: PASSWORD, ...extra },
        headers,
      )
      assert.equal(res.status, 200, `login: ${res.text}`)
      return res.body
    }

    async function assertLive(token: string, context: string): Promise<void> {
      const res = await userinfo(token)
      assert.equal(res.status, 200, `${context}: ${res.text}`)
    }

    async function assertRejected(token: string, context: string): Promise<void> {
      const res = await userinfo(token)
      assertError(res, 401, 'invalid_token', context)
      assert.match(
        res.headers.get('www-authenticate') ?? '',
        /^Bearer .*error="invalid_token"/,
        context,
      )
    }

    before(async () => {
      variant = await envFactory()
      booth = await startBooth({
        env: {
          TOKENBOOTH_SCOPES: SCOPES.join(' '),
          TOKENBOOTH_REFRESH_GRACE: '1',
          TOKENBOOTH_JWKS_MAX_AGE: '300',
          TOKENBOOTH_CORS_ORIGINS: ALLOWED_ORIGIN,
          ...variant.env,
        },
      })
      base = booth.url
      // Clients are added through the CLI while the booth runs, against the same store.
      service = (await addClient(booth.env, 'svc', { scope: 'cart:read' })) as typeof service
      publicApp = await addClient(booth.env, 'spa', { public: true })
    })

    after(async () => {
      const code = await booth?.stop()
      await variant?.cleanup()
      if (booth) removeDir(booth.dataDir)
      assert.equal(code, 0, `the booth exits 0 on SIGTERM:\n${booth?.output().slice(-2000)}`)
    })

    describe('health, metrics, discovery, keys', () => {
      it('GET /healthz answers 200', async () => {
        const res = await call(`${base}/healthz`)
        assert.equal(res.status, 200)
      })

      it('GET /metrics is Prometheus text exposition', async () => {
        await call(`${base}/healthz`)
        const res = await call(`${base}/metrics`)
        assert.equal(res.status, 200)
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain;.*version=0\.0\.4/)
        const lines = res.text.split('\n').filter((l) => l !== '')
        assert.ok(lines.length > 0)
        for (const line of lines) {
          if (line.startsWith('#')) {
            assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/, line)
          } else {
            assert.match(
              line,
              /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? [-+]?(\d+(\.\d+)?([eE][-+]?\d+)?|NaN|[-+]?Inf)$/,
              line,
            )
          }
        }
        assert.match(res.text, /^# TYPE tokenbooth_http_requests_total counter$/m)
        assert.match(
          res.text,
          /^tokenbooth_http_requests_total\{[^}]*route="\/healthz"[^}]*\} [1-9]/m,
        )
      })

      for (const path of [
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
      ]) {
        it(`GET ${path} lists every field and its issuer is the booth`, async () => {
          const res = await call(`${base}${path}`)
          assert.equal(res.status, 200)
          assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
          const m = res.body
          assert.equal(m.issuer, base)
          assert.equal(m.token_endpoint, `${base}/token`)
          assert.equal(m.jwks_uri, `${base}/.well-known/jwks.json`)
          assert.equal(m.revocation_endpoint, `${base}/revoke`)
          assert.equal(m.introspection_endpoint, `${base}/introspect`)
          assert.equal(m.userinfo_endpoint, `${base}/userinfo`)
          assert.deepEqual([...m.grant_types_supported].sort(), [
            'client_credentials',
            'password',
            'refresh_token',
          ])
          assert.ok(Array.isArray(m.token_endpoint_auth_methods_supported))
          assert.ok(m.token_endpoint_auth_methods_supported.includes('client_secret_basic'))
          assert.deepEqual(m.scopes_supported, SCOPES)
          // Every advertised endpoint answers (not 404).
          for (const key of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
            const r = await call(m[key], { method: 'POST' })
            assert.notEqual(r.status, 404, key)
            assert.ok(r.status < 500, key)
          }
          assert.equal((await call(m.jwks_uri)).status, 200)
          assert.equal((await call(m.userinfo_endpoint)).status, 401)
        })
      }

      it('GET /.well-known/jwks.json publishes public keys only, with kid, alg, use=sig and a max-age', async () => {
        const res = await call(`${base}/.well-known/jwks.json`)
        assert.equal(res.status, 200)
        assert.match(res.headers.get('content-type') ?? '', /json/)
        assert.equal(maxAge(res.headers.get('cache-control')), 300)
        const keys = res.body.keys as Array<Record<string, unknown>>
        assert.ok(keys.length >= 1)
        for (const key of keys) {
          for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) {
            assert.equal(key[secret], undefined, `JWK member "${secret}" is private`)
          }
          assert.equal(typeof key.kid, 'string')
          assert.equal(key.alg, 'ES256')
          assert.equal(key.use, 'sig')
          assert.equal(key.kty, 'EC')
          assert.equal(key.crv, 'P-256')
        }
        assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length, 'kids are unique')
        const user = await signUp('jwks')
        const tokens = await login(user.username)
        const { header } = decodeJwt(tokens.access_token)
        assert.ok(
          keys.some((k) => k.kid === header.kid),
          'the signing key is published',
        )
      })
    })

    describe('signup', () => {
      it('creates an account: 201 {id, username}, the username normalized', async () => {
        const res = await postJson(`${base}/signup`, { username: 'Alice', password: PASSWORD })
        assert.equal(res.status, 201, res.text)
        assert.deepEqual(Object.keys(res.body).sort(), ['id', 'username'])
        assert.equal(typeof res.body.id, 'string')
        assert.ok(res.body.id.length > 0)
        assert.equal(res.body.username, 'alice')
        assert.ok(!res.text.includes(PASSWORD), 'the password is not echoed')
      })

      it('409 for a taken username, including case and NFKC variants', async () => {
        const res0 = await postJson(`${base}/signup`, { username: 'bob.taken', password: PASSWORD })
        assert.equal(res0.status, 201, res0.text)
        for (const username of [
          'bob.taken',
          'BOB.TAKEN',
          'Bob.Taken',
          'ｂｏｂ.ｔａｋｅｎ',
          'ＢＯＢ．ＴＡＫＥＮ',
        ]) {
          const res = await postJson(`${base}/signup`, {
            username,
            password: 'another fine passphrase',
          })
          assertError(res, 409, res.body?.error ?? '?', `signup ${username}`)
        }
      })

      it('concurrent signups of one name (in several spellings): exactly one 201, the rest 409, never 500', async () => {
        const spellings = ['dave.race', 'DAVE.RACE', 'ｄａｖｅ.ｒａｃｅ', 'Dave.Race']
        const replies = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            postJson(`${base}/signup`, { username: spellings[i % 4], password: PASSWORD }),
          ),
        )
        const statuses = replies.map((r) => r.status).sort()
        assert.deepEqual(
          statuses,
          [201, 409, 409, 409, 409, 409, 409, 409],
          replies.map((r) => r.text).join('\n'),
        )
        for (const r of replies.filter((r) => r.status === 409))
          assertErrorBody(r, 'concurrent signup')
      })

      it('a login by any spelling of the name reaches the one account', async () => {
        const res0 = await postJson(`${base}/signup`, {
          username: 'carol.case',
          password: PASSWORD,
        })
        assert.equal(res0.status, 201)
        for (const username of ['CAROL.CASE', 'ｃａｒｏｌ.ｃａｓｅ']) {
          const tokens = await login(username)
          assert.equal(decodeJwt(tokens.access_token).payload.sub, res0.body.id)
        }
      })

      it('400 for a short, a too long, or a common password, and for missing fields', async () => {
        const cases: Array<[string, unknown]> = [
          ['7 characters', { username: uniqueName('pw'), password: 'Xy7$kq2' }],
          [
            '257 characters',
            { username: uniqueName('pw'), password: 'Long passphrase '.repeat(17).slice(0, 257) },
          ],
          ['10 kB', { username: uniqueName('pw'), password: 'z'.repeat(10_000) }],
          ['common: password123', { username: uniqueName('pw'), password: 'password123' }],
          ['common: iloveyou', { username: uniqueName('pw'), password: 'iloveyou' }],
          [
            'common, other case: PASSWORD123',
            { username: uniqueName('pw'), password: 'PASSWORD123' },
          ],
          ['missing password', { username: uniqueName('pw') }],
          ['missing username', { password: PASSWORD }],
          ['non-string password', { username: uniqueName('pw'), password: 12345678901 }],
          ['username with a space', { username: 'white space', password: PASSWORD }],
        ]
        for (const [name, body] of cases) {
          const res = await postJson(`${base}/signup`, body)
          assert.equal(res.status, 400, `${name}: ${res.text}`)
          assertErrorBody(res, name)
        }
      })

      it('accepts 8 and 256 characters, and never truncates a long password', async () => {
        const eight = await postJson(`${base}/signup`, {
          username: uniqueName('eight'),
          password: 'Qz8!vR2m',
        })
        assert.equal(eight.status, 201, eight.text)
        const long = 'a long passphrase that keeps going, '.repeat(8).slice(0, 256)
        const username = uniqueName('long')
        const res = await postJson(`${base}/signup`, { username, password: long })
        assert.equal(res.status, 201, res.text)
        const ok = await form({ grant_type: 'password', username, password: long })
        assert.equal(ok.status, 200, ok.text)
        // bcrypt-style truncation would accept a prefix (72 bytes) or a changed tail.
        for (const wrong of [long.slice(0, 72), long.slice(0, 255), `${long.slice(0, 255)}X`]) {
          const res2 = await form({ grant_type: 'password', username, password: wrong })
          assertError(res2, 400, 'invalid_grant', 'a prefix of the password')
        }
      })
    })

    describe('POST /token, grant_type=password', () => {
      it('200 with the documented shape, Cache-Control: no-store, and an RFC 9068 access token', async () => {
        const user = await signUp('shape')
        const res = await form({
          grant_type: 'password',
          username: user.username,
          password: PASSWORD,
        })
        assert.equal(res.status, 200, res.text)
        assert.match(res.headers.get('cache-control') ?? '', /no-store/)
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
        const body = res.body
        assert.deepEqual(Object.keys(body).sort(), [
          'access_token',
          'expires_in',
          'refresh_token',
          'scope',
          'token_type',
        ])
        assert.equal(body.token_type, 'Bearer')
        assert.equal(body.expires_in, 900, 'default lifetime 15 minutes')
        assert.equal(body.scope, 'profile cart:read')
        assert.equal(typeof body.refresh_token, 'string')
        assert.ok(!body.refresh_token.includes('.'), 'the refresh token is opaque, not a JWT')
        assert.ok(body.refresh_token.length >= 22, '≥ 128 bits')
        const { header, payload } = decodeJwt(body.access_token)
        assert.equal(header.typ, 'at+jwt')
        assert.equal(header.alg, 'ES256')
        assert.equal(typeof header.kid, 'string')
        assert.equal(payload.iss, base)
        assert.equal(payload.sub, user.id)
        assert.ok(
          payload.aud === base || (Array.isArray(payload.aud) && payload.aud.includes(base)),
          'aud',
        )
        assert.equal(payload.exp - payload.iat, body.expires_in)
        assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 120)
        for (const claim of ['jti', 'client_id', 'scope', 'sid'])
          assert.equal(typeof payload[claim], 'string', claim)
        assert.equal(payload.scope, body.scope)
        const text = JSON.stringify(payload)
        assert.ok(
          !text.includes(PASSWORD) && !text.includes(body.refresh_token),
          'no secrets in claims',
        )
        const info = await userinfo(body.access_token)
        assert.equal(info.status, 200)
        assert.deepEqual(info.body, { sub: user.id, username: user.username })
      })

      it('accepts a JSON body too', async () => {
        const user = await signUp('json')
        const res = await postJson(`${base}/token`, {
          grant_type: 'password',
          username: user.username,
          password: PASSWORD,
        })
        assert.equal(res.status, 200, res.text)
        assert.match(res.headers.get('cache-control') ?? '', /no-store/)
        assert.equal(res.body.token_type, 'Bearer')
        const r2 = await postJson(`${base}/token`, {
          grant_type: 'refresh_token',
          refresh_token: res.body.refresh_token,
        })
        assert.equal(r2.status, 200, r2.text)
      })

      it('a wrong password and an unknown user get identical 400 invalid_grant answers', async () => {
        const user = await signUp('ident')
        const wrong = await form({
          grant_type: 'password',
          username: user.username,
          password: 'not the password at all',
        })
        const unknown = await form({
          grant_type: 'password',
          username: uniqueName('nobody'),
          password: 'not the password at all',
        })
        assertError(wrong, 400, 'invalid_grant', 'wrong password')
        assertError(unknown, 400, 'invalid_grant', 'unknown user')
        assert.equal(wrong.text, unknown.text)
        assert.equal(wrong.headers.get('content-type'), unknown.headers.get('content-type'))
        assert.equal(wrong.headers.get('www-authenticate'), unknown.headers.get('www-authenticate'))
        assert.match(wrong.headers.get('cache-control') ?? '', /no-store/)
      })

      it('a repeated parameter is invalid_request, even with the right credentials', async () => {
        const user = await signUp('dup')
        const u = encodeURIComponent(user.username)
        const p = encodeURIComponent(PASSWORD)
        const bodies = [
          `grant_type=password&grant_type=password&username=${u}&password=${p}`,
          `grant_type=password&username=${u}&username=${u}&password=${p}`,
          `grant_type=password&username=${u}&password=${p}&password=${p}`,
          `grant_type=password&username=${u}&password=${p}&scope=profile&scope=profile`,
        ]
        for (const body of bodies) {
          const res = await call(`${base}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          })
          assertError(res, 400, 'invalid_request', body)
        }
        const tokens = await login(user.username)
        const dupRefresh = await call(`${base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=refresh_token&refresh_token=${tokens.refresh_token}&refresh_token=${tokens.refresh_token}`,
        })
        assertError(dupRefresh, 400, 'invalid_request', 'repeated refresh_token')
        // Refused before any rotation: the token is still good.
        assert.equal((await refresh(tokens.refresh_token)).status, 200)
      })

      it('an unknown grant_type is unsupported_grant_type', async () => {
        for (const grant of [
          'authorization_code',
          'implicit',
          'urn:ietf:params:oauth:grant-type:jwt-bearer',
          'PASSWORD',
        ]) {
          const res = await form({ grant_type: grant, username: 'x', password: 'y' })
          assertError(res, 400, 'unsupported_grant_type', grant)
        }
      })

      it('a scope outside TOKENBOOTH_SCOPES is invalid_scope', async () => {
        const user = await signUp('scope')
        for (const scope of ['admin', 'profile admin', 'cart:write']) {
          const res = await form({
            grant_type: 'password',
            username: user.username,
            password: PASSWORD,
            scope,
          })
          assertError(res, 400, 'invalid_scope', scope)
        }
        const narrow = await login(user.username, { scope: 'cart:read' })
        assert.equal(narrow.scope, 'cart:read')
        assert.equal(decodeJwt(narrow.access_token).payload.scope, 'cart:read')
      })

      it('missing parameters are invalid_request', async () => {
        const user = await signUp('missing')
        const cases: Array<Record<string, string>> = [
          {},
          { username: user.username, password: PASSWORD },
          { grant_type: 'password' },
          { grant_type: 'password', username: user.username },
          { grant_type: 'password', password: PASSWORD },
          { grant_type: 'password', username: user.username, password: '' },
          { grant_type: 'refresh_token' },
          { grant_type: 'refresh_token', refresh_token: '' },
        ]
        for (const params of cases)
          assertError(await form(params), 400, 'invalid_request', JSON.stringify(params))
      })
    })

    describe('POST /token, grant_type=refresh_token', () => {
      it('rotates: a new refresh token and a new access token for the same session', async () => {
        const user = await signUp('rotate')
        const t0 = await login(user.username)
        const res = await refresh(t0.refresh_token)
        assert.equal(res.status, 200, res.text)
        assert.match(res.headers.get('cache-control') ?? '', /no-store/)
        const t1 = res.body as Tokens
        assert.deepEqual(Object.keys(t1).sort(), [
          'access_token',
          'expires_in',
          'refresh_token',
          'scope',
          'token_type',
        ])
        assert.notEqual(t1.refresh_token, t0.refresh_token)
        assert.notEqual(t1.access_token, t0.access_token)
        assert.equal(t1.scope, t0.scope)
        assert.equal(decodeJwt(t1.access_token).payload.sid, decodeJwt(t0.access_token).payload.sid)
        assert.notEqual(
          decodeJwt(t1.access_token).payload.jti,
          decodeJwt(t0.access_token).payload.jti,
        )
        await assertLive(t1.access_token, 'rotated access token')
        const t2 = await refresh(t1.refresh_token)
        assert.equal(t2.status, 200, t2.text)
      })

      it('a narrower scope is granted; a wider one is invalid_scope and does not consume the token', async () => {
        const user = await signUp('narrow')
        const t0 = await login(user.username)
        const narrowed = await refresh(t0.refresh_token, { scope: 'cart:read' })
        assert.equal(narrowed.status, 200, narrowed.text)
        assert.equal(narrowed.body.scope, 'cart:read')
        assert.equal(decodeJwt(narrowed.body.access_token).payload.scope, 'cart:read')
        const info = await userinfo(narrowed.body.access_token)
        assertError(info, 403, 'insufficient_scope', 'narrowed token at /userinfo')

        const p0 = await login(user.username, { scope: 'profile' })
        for (const scope of ['profile cart:read', 'cart:read', 'admin']) {
          const wider = await refresh(p0.refresh_token, { scope })
          assertError(wider, 400, 'invalid_scope', `refresh widening to "${scope}"`)
        }
        const still = await refresh(p0.refresh_token)
        assert.equal(
          still.status,
          200,
          `the refused refresh did not consume the token: ${still.text}`,
        )
        assert.equal(still.body.scope, 'profile')
      })

      it('the old access token sent along is accepted when it belongs to the session, refused (without consuming) otherwise', async () => {
        const user = await signUp('oldat')
        const other = await signUp('oldat_other')
        const mine = await login(user.username)
        const second = await login(user.username)
        const theirs = await login(other.username)

        const ok = await refresh(mine.refresh_token, { access_token: mine.access_token })
        assert.equal(ok.status, 200, ok.text)
        let current = ok.body.refresh_token as string
        // The access token of the previous generation still names the session (signature, not expiry).
        const ok2 = await refresh(current, { access_token: mine.access_token })
        assert.equal(ok2.status, 200, ok2.text)
        current = ok2.body.refresh_token

        const foreign: Array<[string, string]> = [
          ['another session of the same user', second.access_token],
          ["another user's session", theirs.access_token],
          ['a tampered token', `${mine.access_token.slice(0, -4)}AAAA`],
          ['garbage', 'not-a-token'],
        ]
        for (const [name, accessToken] of foreign) {
          const res = await refresh(current, { access_token: accessToken })
          assertError(res, 400, 'invalid_grant', name)
        }
        const after = await refresh(current)
        assert.equal(after.status, 200, `the refresh token is still usable: ${after.text}`)
        await assertLive(after.body.access_token, 'the session survived the refused attempts')
        await assertLive(second.access_token, 'the other session is untouched')
      })

      it('a retry of the previous token within the grace window gets the same successor', async () => {
        const user = await signUp('grace')
        const t0 = await login(user.username)
        const first = await refresh(t0.refresh_token)
        assert.equal(first.status, 200, first.text)
        const retry = await refresh(t0.refresh_token)
        assert.equal(retry.status, 200, retry.text)
        assert.equal(retry.body.refresh_token, first.body.refresh_token, 'one chain')
        await assertLive(retry.body.access_token, 'the retry access token')
        const next = await refresh(first.body.refresh_token)
        assert.equal(next.status, 200, next.text)
      })

      it('a retry after the grace window is invalid_grant and revokes the whole family', async () => {
        const user = await signUp('late')
        const t0 = await login(user.username)
        const first = await refresh(t0.refresh_token)
        assert.equal(first.status, 200, first.text)
        const bystander = await login(user.username)
        await sleep(1_600) // TOKENBOOTH_REFRESH_GRACE=1
        assertError(await refresh(t0.refresh_token), 400, 'invalid_grant', 'reuse after the window')
        assertError(
          await refresh(first.body.refresh_token),
          400,
          'invalid_grant',
          'the current token of the family',
        )
        await assertRejected(first.body.access_token, 'the family access token')
        await assertRejected(t0.access_token, 'the first access token')
        await assertLive(bystander.access_token, 'another session of the user is not touched')
        assert.equal((await refresh(bystander.refresh_token)).status, 200)
      })

      it('an older generation is invalid_grant and revokes the family', async () => {
        const user = await signUp('older')
        const t0 = await login(user.username)
        const t1 = await refresh(t0.refresh_token)
        const t2 = await refresh(t1.body.refresh_token)
        assert.equal(t2.status, 200, t2.text)
        assertError(await refresh(t0.refresh_token), 400, 'invalid_grant', 'two generations back')
        assertError(await refresh(t2.body.refresh_token), 400, 'invalid_grant', 'the current token')
        await assertRejected(t2.body.access_token, 'the newest access token')
      })

      it('20 concurrent refreshes of one token all get the same successor (one chain)', async () => {
        const user = await signUp('burst')
        const t0 = await login(user.username)
        const replies = await Promise.all(
          Array.from({ length: 20 }, () => refresh(t0.refresh_token)),
        )
        for (const r of replies) assert.equal(r.status, 200, r.text)
        const successors = new Set(replies.map((r) => r.body.refresh_token))
        assert.equal(successors.size, 1, `one successor, got ${successors.size}`)
        const next = await refresh([...successors][0])
        assert.equal(next.status, 200, next.text)
      })

      it('a refresh token works only for the client it was issued to', async () => {
        const user = await signUp('client')
        const viaSpa = await login(user.username, { client_id: publicApp.client_id })
        assert.equal(decodeJwt(viaSpa.access_token).payload.client_id, publicApp.client_id)
        assertError(
          await refresh(viaSpa.refresh_token),
          400,
          'invalid_grant',
          'presented by the default client',
        )
        assertError(
          await form(
            { grant_type: 'refresh_token', refresh_token: viaSpa.refresh_token },
            basic(service.client_id, service.client_secret),
          ),
          400,
          'invalid_grant',
          'presented by another (confidential) client',
        )
        const ok = await refresh(viaSpa.refresh_token, { client_id: publicApp.client_id })
        assert.equal(ok.status, 200, `still usable by its own client: ${ok.text}`)
      })

      it('an unknown or malformed refresh token is invalid_grant', async () => {
        for (const token of ['tbr_' + 'A'.repeat(43), 'nope', 'x'.repeat(5000)]) {
          assertError(await refresh(token), 400, 'invalid_grant', token.slice(0, 20))
        }
      })
    })

    describe('POST /token, grant_type=client_credentials', () => {
      it('Basic authentication gets an access token and no refresh token', async () => {
        const res = await form(
          { grant_type: 'client_credentials' },
          basic(service.client_id, service.client_secret),
        )
        assert.equal(res.status, 200, res.text)
        assert.match(res.headers.get('cache-control') ?? '', /no-store/)
        assert.equal(res.body.refresh_token, undefined)
        assert.equal(res.body.token_type, 'Bearer')
        assert.equal(res.body.scope, 'cart:read')
        assert.equal(typeof res.body.expires_in, 'number')
        const { header, payload } = decodeJwt(res.body.access_token)
        assert.equal(header.typ, 'at+jwt')
        assert.equal(payload.client_id, 'svc')
        assert.equal(payload.sub, 'svc')
        assert.equal(payload.iss, base)
        assert.equal(payload.sid, undefined)
        const narrowed = await form(
          { grant_type: 'client_credentials', scope: 'cart:read' },
          basic(service.client_id, service.client_secret),
        )
        assert.equal(narrowed.status, 200, narrowed.text)
        const wider = await form(
          { grant_type: 'client_credentials', scope: 'profile' },
          basic(service.client_id, service.client_secret),
        )
        assertError(wider, 400, 'invalid_scope', 'a scope the client was not given')
        // A client token names no user: /userinfo does not answer with a user for it.
        const info = await userinfo(res.body.access_token)
        assert.notEqual(info.status, 200)
        assertErrorBody(info, 'client token at /userinfo')
      })

      it('client_secret_post, which discovery advertises, works too', async () => {
        const res = await form({
          grant_type: 'client_credentials',
          client_id: service.client_id,
          client_secret: service.client_secret,
        })
        assert.equal(res.status, 200, res.text)
      })

      it('a wrong secret or an unknown client is 401 invalid_client with WWW-Authenticate', async () => {
        const cases: Array<[string, Record<string, string>]> = [
          ['wrong secret', basic(service.client_id, `${service.client_secret}x`)],
          ['empty secret', basic(service.client_id, '')],
          ['unknown client', basic('ghost', service.client_secret)],
        ]
        for (const [name, headers] of cases) {
          const res = await form({ grant_type: 'client_credentials' }, headers)
          assertError(res, 401, 'invalid_client', name)
          assert.match(
            res.headers.get('www-authenticate') ?? '',
            /^Basic /i,
            `${name}: WWW-Authenticate`,
          )
        }
        const post = await form({
          grant_type: 'client_credentials',
          client_id: service.client_id,
          client_secret: 'wrong',
        })
        assertError(post, 401, 'invalid_client', 'wrong client_secret_post')
      })

      it('a public client (or none) cannot use client_credentials: 401', async () => {
        const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
          ['public client, Basic with an empty secret', {}, basic(publicApp.client_id, '')],
          ['public client by client_id', { client_id: publicApp.client_id }, {}],
          ['no client at all', {}, {}],
        ]
        for (const [name, params, headers] of cases) {
          const res = await form({ grant_type: 'client_credentials', ...params }, headers)
          assertError(res, 401, 'invalid_client', name)
        }
      })
    })

    describe('POST /revoke', () => {
      const revoke = (params: Record<string, string>, headers: Record<string, string> = {}) =>
        postForm(`${base}/revoke`, params, headers)

      it('answers 200 for unknown and malformed tokens', async () => {
        for (const token of ['unknown', 'tbr_' + 'B'.repeat(43), 'a.b.c']) {
          const res = await revoke({ token })
          assert.equal(res.status, 200, `${token}: ${res.text}`)
        }
        assertError(await revoke({}), 400, 'invalid_request', 'no token')
      })

      it('revoking a refresh token ends the session: its access token is rejected at once', async () => {
        const user = await signUp('revrt')
        const t = await login(user.username)
        const other = await login(user.username)
        await assertLive(t.access_token, 'before')
        const res = await revoke({ token: t.refresh_token, token_type_hint: 'refresh_token' })
        assert.equal(res.status, 200, res.text)
        await assertRejected(t.access_token, 'access token of the revoked session')
        assertError(
          await refresh(t.refresh_token),
          400,
          'invalid_grant',
          'the revoked refresh token',
        )
        await assertLive(other.access_token, 'another session')
        assert.equal((await revoke({ token: t.refresh_token })).status, 200, 'twice is fine')
      })

      it('a wrong token_type_hint still revokes', async () => {
        const user = await signUp('revhint')
        const a = await login(user.username)
        assert.equal(
          (await revoke({ token: a.refresh_token, token_type_hint: 'access_token' })).status,
          200,
        )
        await assertRejected(a.access_token, 'refresh token revoked with hint access_token')
        assertError(await refresh(a.refresh_token), 400, 'invalid_grant', 'hint access_token')

        const b = await login(user.username)
        assert.equal(
          (await revoke({ token: b.access_token, token_type_hint: 'refresh_token' })).status,
          200,
        )
        await assertRejected(b.access_token, 'access token revoked with hint refresh_token')

        const c = await login(user.username)
        assert.equal(
          (await revoke({ token: c.refresh_token, token_type_hint: 'unheard_of' })).status,
          200,
        )
        assertError(await refresh(c.refresh_token), 400, 'invalid_grant', 'unknown hint')
      })

      it('revoking an access token makes /userinfo reject it', async () => {
        const user = await signUp('revat')
        const t = await login(user.username)
        await assertLive(t.access_token, 'before')
        assert.equal((await revoke({ token: t.access_token })).status, 200)
        await assertRejected(t.access_token, 'the revoked access token')
      })
    })

    describe('POST /introspect', () => {
      const introspect = (
        token: string,
        headers: Record<string, string> = basic(service.client_id, service.client_secret),
      ) => postForm(`${base}/introspect`, { token }, headers)
      const INACTIVE = '{"active":false}'

      it('requires client authentication', async () => {
        const user = await signUp('intauth')
        const t = await login(user.username)
        for (const [name, headers] of [
          ['none', {}],
          ['wrong secret', basic(service.client_id, 'wrong')],
          ['public client', basic(publicApp.client_id, '')],
        ] as Array<[string, Record<string, string>]>) {
          const res = await introspect(t.access_token, headers)
          assertError(res, 401, 'invalid_client', name)
          assert.ok(!res.text.includes('"active"'), `${name}: no introspection result leaks`)
        }
        const pub = await postForm(`${base}/introspect`, {
          token: t.access_token,
          client_id: publicApp.client_id,
        })
        assertError(pub, 401, 'invalid_client', 'public client by client_id')
      })

      it('describes a valid access token with the RFC 7662 fields', async () => {
        const user = await signUp('intok')
        const t = await login(user.username)
        const res = await introspect(t.access_token)
        assert.equal(res.status, 200, res.text)
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
        const { payload } = decodeJwt(t.access_token)
        const info = res.body
        assert.equal(info.active, true)
        assert.equal(info.sub, user.id)
        assert.equal(info.username, user.username)
        assert.equal(info.scope, t.scope)
        assert.equal(info.client_id, payload.client_id)
        assert.equal(info.iss, base)
        assert.equal(info.exp, payload.exp)
        assert.equal(info.iat, payload.iat)
        assert.equal(info.jti, payload.jti)
        assert.deepEqual(info.aud, payload.aud)
        assert.ok(
          ['Bearer', 'access_token'].includes(info.token_type),
          `token_type ${info.token_type}`,
        )
      })

      it('answers exactly {"active":false} for garbage, revoked and ended-session tokens', async () => {
        const user = await signUp('intno')
        for (const token of ['garbage', 'a.b.c', 'tbr_' + 'C'.repeat(43)]) {
          const res = await introspect(token)
          assert.equal(res.status, 200, res.text)
          assert.equal(res.text, INACTIVE, token)
        }
        const revoked = await login(user.username)
        assert.equal(
          (await postForm(`${base}/revoke`, { token: revoked.access_token })).status,
          200,
        )
        assert.equal(
          (await introspect(revoked.access_token)).text,
          INACTIVE,
          'revoked access token',
        )

        const ended = await login(user.username)
        assert.equal(
          (await call(`${base}/logout`, { method: 'POST', headers: bearer(ended.access_token) }))
            .status,
          200,
        )
        assert.equal((await introspect(ended.access_token)).text, INACTIVE, 'ended session')

        const tampered = await login(user.username)
        const [h, , s] = tampered.access_token.split('.')
        const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(tampered.access_token).payload, scope: 'admin' })).toString('base64url')}.${s}`
        assert.equal((await introspect(forged)).text, INACTIVE, 'tampered token')
        assert.equal((await introspect(tampered.access_token)).body.active, true)
      })
    })

    describe('GET /userinfo', () => {
      it('answers {sub, username}', async () => {
        const user = await signUp('ui')
        const t = await login(user.username)
        const res = await userinfo(t.access_token)
        assert.equal(res.status, 200)
        assert.deepEqual(res.body, { sub: user.id, username: user.username })
      })

      it('no credentials: 401 with a Bearer realm challenge and no error code', async () => {
        for (const headers of [{}, { authorization: '' }] as Array<Record<string, string>>) {
          const res = await call(`${base}/userinfo`, { headers })
          assert.equal(res.status, 401, res.text)
          assertErrorBody(res, 'no credentials')
          const challenge = res.headers.get('www-authenticate') ?? ''
          assert.match(challenge, /^Bearer realm="[^"]*"/)
          assert.doesNotMatch(challenge, /error=/)
        }
      })

      it('a bad token: 401 error="invalid_token"', async () => {
        for (const authorization of [
          'Bearer garbage',
          'Bearer a.b.c',
          'Bearer ',
          'Basic dXNlcjpwYXNz',
          'Bearer tbr_' + 'D'.repeat(43),
        ]) {
          const res = await call(`${base}/userinfo`, { headers: { authorization } })
          assert.equal(res.status, 401, `${authorization}: ${res.text}`)
          assertErrorBody(res, authorization)
          if (authorization.startsWith('Bearer ') && authorization !== 'Bearer ') {
            assert.match(
              res.headers.get('www-authenticate') ?? '',
              /^Bearer .*error="invalid_token"/,
              authorization,
            )
          }
        }
      })

      it('a token without the profile scope: 403 insufficient_scope', async () => {
        const user = await signUp('noprof')
        // Not `scope=`: RFC 6749 §3.1 treats a parameter without a value as omitted (the default).
        for (const scope of ['cart:read']) {
          const t = await login(user.username, { scope })
          assert.equal(t.scope, scope)
          const res = await userinfo(t.access_token)
          assertError(res, 403, 'insufficient_scope', `scope "${scope}"`)
          assert.match(
            res.headers.get('www-authenticate') ?? '',
            /^Bearer .*error="insufficient_scope"/,
          )
        }
      })
    })

    describe('logout and sessions', () => {
      it("POST /logout ends only the caller's session", async () => {
        const user = await signUp('logout')
        const one = await login(user.username)
        const two = await login(user.username)
        assertError(
          await call(`${base}/logout`, { method: 'POST' }),
          401,
          'invalid_request',
          'no token',
        )
        const res = await call(`${base}/logout`, {
          method: 'POST',
          headers: bearer(one.access_token),
        })
        assert.equal(res.status, 200, res.text)
        await assertRejected(one.access_token, 'the logged-out session')
        assertError(await refresh(one.refresh_token), 400, 'invalid_grant', 'refresh after logout')
        await assertLive(two.access_token, 'the other session')
        assert.equal((await refresh(two.refresh_token)).status, 200)
      })

      it("POST /logout/all ends every session of the user and no one else's", async () => {
        const user = await signUp('all')
        const other = await signUp('all_other')
        const one = await login(user.username)
        const two = await login(user.username)
        const theirs = await login(other.username)
        const res = await call(`${base}/logout/all`, {
          method: 'POST',
          headers: bearer(one.access_token),
        })
        assert.equal(res.status, 200, res.text)
        for (const t of [one, two]) {
          await assertRejected(t.access_token, 'after logout/all')
          assertError(
            await refresh(t.refresh_token),
            400,
            'invalid_grant',
            'refresh after logout/all',
          )
        }
        await assertLive(theirs.access_token, "another user's session")
        const again = await login(user.username)
        await assertLive(again.access_token, 'a new login after logout/all')
      })

      it("GET /sessions lists the user's sessions with id, created_at, last_used_at, user_agent, current", async () => {
        const user = await signUp('list')
        const other = await signUp('list_other')
        const one = await login(user.username, {}, { 'user-agent': 'contract-test/one' })
        const two = await login(user.username, {}, { 'user-agent': 'contract-test/two' })
        const theirs = await login(other.username, {}, { 'user-agent': 'contract-test/theirs' })
        const res = await call(`${base}/sessions`, { headers: bearer(one.access_token) })
        assert.equal(res.status, 200, res.text)
        const sessions = res.body.sessions as Array<Record<string, any>>
        assert.equal(sessions.length, 2)
        const sid1 = decodeJwt(one.access_token).payload.sid
        const sid2 = decodeJwt(two.access_token).payload.sid
        const sidOther = decodeJwt(theirs.access_token).payload.sid
        assert.deepEqual(sessions.map((s) => s.id).sort(), [sid1, sid2].sort())
        assert.ok(!sessions.some((s) => s.id === sidOther))
        for (const s of sessions) {
          for (const field of ['id', 'created_at', 'last_used_at', 'user_agent', 'current'])
            assert.ok(field in s, field)
          assert.ok(!Number.isNaN(Date.parse(s.created_at)), 'created_at is a date')
          assert.ok(!Number.isNaN(Date.parse(s.last_used_at)), 'last_used_at is a date')
          assert.equal(s.current, s.id === sid1)
          assert.equal(s.user_agent, s.id === sid1 ? 'contract-test/one' : 'contract-test/two')
          assert.ok(!JSON.stringify(s).includes('tbr_'), 'no refresh token in the list')
        }
        const fromTwo = await call(`${base}/sessions`, { headers: bearer(two.access_token) })
        assert.deepEqual(
          fromTwo.body.sessions.filter((s: any) => s.current).map((s: any) => s.id),
          [sid2],
        )
        assertError(await call(`${base}/sessions`), 401, 'invalid_request', 'no token')
      })

      it("DELETE /sessions/{id}: one's own → 204 and rejected at once; another user's → 404 and it survives", async () => {
        const user = await signUp('del')
        const other = await signUp('del_other')
        const mine = await login(user.username)
        const spare = await login(user.username)
        const theirs = await login(other.username)
        const spareSid = decodeJwt(spare.access_token).payload.sid
        const theirSid = decodeJwt(theirs.access_token).payload.sid

        const foreign = await call(`${base}/sessions/${theirSid}`, {
          method: 'DELETE',
          headers: bearer(mine.access_token),
        })
        assertError(foreign, 404, foreign.body?.error ?? '?', "another user's session")
        await assertLive(theirs.access_token, 'the victim session survives')
        assert.equal((await refresh(theirs.refresh_token)).status, 200, 'and can still refresh')

        const unknown = await call(`${base}/sessions/00000000-0000-4000-8000-000000000000`, {
          method: 'DELETE',
          headers: bearer(mine.access_token),
        })
        assert.equal(unknown.status, 404)
        assert.equal(
          unknown.text,
          foreign.text,
          "another user's session and no session look the same",
        )

        const own = await call(`${base}/sessions/${spareSid}`, {
          method: 'DELETE',
          headers: bearer(mine.access_token),
        })
        assert.equal(own.status, 204, own.text)
        assert.equal(own.text, '')
        await assertRejected(spare.access_token, 'the deleted session')
        assertError(
          await refresh(spare.refresh_token),
          400,
          'invalid_grant',
          'refresh of the deleted session',
        )
        await assertLive(mine.access_token, 'the caller')
        const again = await call(`${base}/sessions/${spareSid}`, {
          method: 'DELETE',
          headers: bearer(mine.access_token),
        })
        assert.equal(again.status, 404, 'deleting twice')
        const noAuth = await call(`${base}/sessions/${spareSid}`, { method: 'DELETE' })
        assert.equal(noAuth.status, 401)
      })

      it('two users are isolated: tokens, sessions and logout never cross', async () => {
        const a = await signUp('iso_a')
        const b = await signUp('iso_b')
        const ta = await login(a.username)
        const tb = await login(b.username)
        assert.equal((await userinfo(ta.access_token)).body.sub, a.id)
        assert.equal((await userinfo(tb.access_token)).body.sub, b.id)
        const la = await call(`${base}/sessions`, { headers: bearer(ta.access_token) })
        const lb = await call(`${base}/sessions`, { headers: bearer(tb.access_token) })
        const idsA = new Set(la.body.sessions.map((s: any) => s.id))
        assert.ok(!lb.body.sessions.some((s: any) => idsA.has(s.id)))
        await call(`${base}/logout/all`, { method: 'POST', headers: bearer(ta.access_token) })
        await assertRejected(ta.access_token, 'a after logout/all')
        await assertLive(tb.access_token, 'b untouched')
        // A refresh token works only for its own session, even when sent with another user's token.
        assertError(
          await refresh(tb.refresh_token, { access_token: ta.access_token }),
          400,
          'invalid_grant',
          'cross-user',
        )
      })
    })

    describe('CORS (TOKENBOOTH_CORS_ORIGINS)', () => {
      it('a configured origin is echoed (never *), with credentials; any other origin gets no ACAO', async () => {
        const preflight = (origin: string) =>
          call(`${base}/token`, {
            method: 'OPTIONS',
            headers: {
              origin,
              'access-control-request-method': 'POST',
              'access-control-request-headers': 'content-type',
            },
          })
        const ok = await preflight(ALLOWED_ORIGIN)
        assert.ok(ok.status < 300, `preflight ${ok.status}`)
        assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN)
        assert.equal(ok.headers.get('access-control-allow-credentials'), 'true')
        assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/)
        const get = await call(`${base}/.well-known/jwks.json`, {
          headers: { origin: ALLOWED_ORIGIN },
        })
        assert.equal(get.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN)
        assert.match(get.headers.get('vary') ?? '', /origin/i)
        for (const origin of [
          'https://evil.example',
          'null',
          `${ALLOWED_ORIGIN}.evil.example`,
          'http://shop.example',
        ]) {
          for (const res of [
            await preflight(origin),
            await call(`${base}/userinfo`, { headers: { origin } }),
          ]) {
            const acao = res.headers.get('access-control-allow-origin')
            assert.ok(acao === null, `${origin} got Access-Control-Allow-Origin: ${acao}`)
            assert.ok(res.status < 500)
          }
        }
      })
    })

    describe('bad input never breaks the booth', () => {
      it('malformed JSON, wrong content types, odd bodies and a 1 MB body are 4xx with a JSON error, never 500', async () => {
        const json = { 'content-type': 'application/json' }
        const formType = { 'content-type': 'application/x-www-form-urlencoded' }
        const mb = 'x'.repeat(1024 * 1024)
        const cases: Array<[string, string, RequestInit]> = [
          [
            'malformed JSON',
            '/token',
            { method: 'POST', headers: json, body: '{"grant_type": "password",' },
          ],
          [
            'malformed JSON at signup',
            '/signup',
            { method: 'POST', headers: json, body: '{username:' },
          ],
          ['empty JSON body', '/token', { method: 'POST', headers: json, body: '' }],
          ['JSON array', '/token', { method: 'POST', headers: json, body: '["password"]' }],
          ['JSON string', '/signup', { method: 'POST', headers: json, body: '"alice"' }],
          ['JSON null', '/token', { method: 'POST', headers: json, body: 'null' }],
          [
            'JSON number values',
            '/token',
            { method: 'POST', headers: json, body: '{"grant_type":1}' },
          ],
          [
            'JSON nested',
            '/signup',
            { method: 'POST', headers: json, body: '{"username":{"$ne":null},"password":["x"]}' },
          ],
          [
            'JSON __proto__',
            '/token',
            {
              method: 'POST',
              headers: json,
              body: '{"__proto__":{"grant_type":"password"},"constructor":{"prototype":{}}}',
            },
          ],
          [
            'text/plain',
            '/token',
            {
              method: 'POST',
              headers: { 'content-type': 'text/plain' },
              body: 'grant_type=password',
            },
          ],
          [
            'application/xml',
            '/signup',
            { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' },
          ],
          [
            'multipart',
            '/token',
            {
              method: 'POST',
              headers: { 'content-type': 'multipart/form-data; boundary=x' },
              body: '--x--',
            },
          ],
          ['no content type', '/token', { method: 'POST', body: new Uint8Array([1, 2, 3]) }],
          [
            'bad percent-encoding',
            '/token',
            { method: 'POST', headers: formType, body: 'grant_type=%zz&username=%' },
          ],
          [
            '1 MB form',
            '/token',
            { method: 'POST', headers: formType, body: `grant_type=password&username=${mb}` },
          ],
          [
            '1 MB JSON',
            '/signup',
            {
              method: 'POST',
              headers: json,
              body: JSON.stringify({ username: 'big', password: mb }),
            },
          ],
          ['1 MB revoke', '/revoke', { method: 'POST', headers: formType, body: `token=${mb}` }],
          [
            '1 MB introspect',
            '/introspect',
            { method: 'POST', headers: formType, body: `token=${mb}` },
          ],
          ['unknown route', '/nope', { method: 'GET' }],
          ['wrong method', '/token', { method: 'GET' }],
          ['wrong method on userinfo', '/userinfo', { method: 'DELETE' }],
          [
            'session id with odd characters',
            `/sessions/${encodeURIComponent("' OR 1=1 --")}`,
            { method: 'DELETE', headers: { authorization: 'Bearer x' } },
          ],
        ]
        for (const [name, path, init] of cases) {
          const res = await call(`${base}${path}`, init)
          assertErrorBody(res, name)
        }
        const health = await call(`${base}/healthz`)
        assert.equal(health.status, 200, 'the booth stays healthy')
        const user = await signUp('afterbad')
        await login(user.username)
      })

      it('no error body anywhere carries a stack trace', async () => {
        const replies: Reply[] = await Promise.all([
          call(`${base}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{',
          }),
          call(`${base}/userinfo`, {
            headers: { authorization: 'Bearer ' + 'x.'.repeat(2) + 'x' },
          }),
          call(`${base}/sessions/${'a'.repeat(500)}`, {
            method: 'DELETE',
            headers: { authorization: 'Bearer x' },
          }),
        ])
        for (const r of replies) assertNoStack(r.text)
      })
    })
  })
}

defineEndpointSuite('SQLite', async () => ({ env: {}, cleanup: async () => {} }))

defineEndpointSuite('PostgreSQL', async () => {
  const db = await createTestDatabase()
  return {
    env: { TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: randomSecret() },
    cleanup: () => db.drop(),
  }
})
