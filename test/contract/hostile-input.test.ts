/**
 * Bad input that reaches for the database (issue 2, "never a 500 for bad input"), spoken to a
 * real `tokenbooth serve` on SQLite and on PostgreSQL. PostgreSQL refuses a NUL byte in text
 * (SQLSTATE 22021) where SQLite stores it, so a value the booth forgot to validate answered 500
 * on PostgreSQL alone: each attack here is sent to both, and each must get the documented 4xx
 * in the JSON error shape, the same on both. Also: a JSON body that repeats a parameter, which
 * `JSON.parse` alone would silently resolve to the last value.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { addClient, assertError, randomSecret, uniqueName } from '../support/contract.ts'
import { call, postForm, postJson, type Reply } from '../support/http.ts'
import { createTestDatabase } from '../support/postgres.ts'

const PASSWORD = 'hostile input passphrase'
const NUL = '\u0000'

interface Variant {
  env: Record<string, string>
  cleanup(): Promise<void>
}

/** `Authorization: Basic` with the id and secret as given: no form-encoding, so a NUL stays raw. */
function rawBasic(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` }
}

function basic(id: string, secret: string): Record<string, string> {
  return rawBasic(encodeURIComponent(id), encodeURIComponent(secret))
}

const postRaw = (url: string, type: string, body: string, headers: Record<string, string> = {}) =>
  call(url, { method: 'POST', headers: { 'content-type': type, ...headers }, body })

/** One request written byte for byte on a socket (fetch refuses to send a NUL in a header). */
async function rawRequest(port: number, head: Buffer, body = ''): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let answer = ''
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
  // Not end(): a half-closed socket makes Node's server abort the request. `connection: close`
  // in the head has the server close it once it has answered.
  socket.write(Buffer.concat([head, Buffer.from(body)]))
  await once(socket, 'close')
  return answer
}

function defineHostileInputSuite(label: string, variantFactory: () => Promise<Variant>): void {
  describe(`hostile input on ${label}`, () => {
    let booth: Booth
    let variant: Variant
    let base: string
    let service: { client_id: string; client_secret: string }
    let username: string

    before(async () => {
      variant = await variantFactory()
      booth = await startBooth({ env: variant.env })
      base = booth.url
      const added = await addClient(booth.env, uniqueName('svc'))
      service = { client_id: added.client_id, client_secret: added.client_secret! }
      username = uniqueName('victim')
      const signup = await postJson(`${base}/signup`, { username, password: PASSWORD })
      assert.equal(signup.status, 201, signup.text)
    })
    after(async () => {
      await booth?.stop()
      if (booth) removeDir(booth.dataDir)
      await variant?.cleanup()
    })

    /** The booth logged no failed request: no 500 was hidden behind a retry or a 4xx. */
    function assertNoServerErrors(context: string): void {
      const failed = booth
        .output()
        .split('\n')
        .filter((line) => line.includes('"request failed"'))
      assert.deepEqual(failed, [], `${context}: the log shows a failed request`)
    }

    it('a NUL or control character in client_id (form, JSON, HTTP Basic) is 401 invalid_client', async () => {
      const token = `${base}/token`
      const login = { grant_type: 'password', username, password: PASSWORD }
      const cases: Array<[string, Promise<Reply>]> = [
        ['form client_id=%00', postForm(token, { ...login, client_id: NUL })],
        ['form client_id with a NUL inside', postForm(token, { ...login, client_id: `a${NUL}b` })],
        ['form client_id with \\x01', postForm(token, { ...login, client_id: '\u0001' })],
        ['JSON client_id "\\u0000"', postJson(token, { ...login, client_id: NUL })],
        ['JSON client_id, a lone surrogate', postJson(token, { ...login, client_id: '\ud800' })],
        ['form client_id of 10 kB', postForm(token, { ...login, client_id: 'c'.repeat(10_000) })],
        [
          'client_secret_post with a NUL in client_id',
          postForm(token, {
            grant_type: 'client_credentials',
            client_id: `${service.client_id}${NUL}`,
            client_secret: service.client_secret,
          }),
        ],
        [
          'Basic id %00 (form-encoded, RFC 6749 §2.3.1)',
          postForm(
            token,
            { grant_type: 'client_credentials' },
            basic(`${NUL}`, service.client_secret),
          ),
        ],
        [
          'Basic id with a raw NUL',
          postForm(
            token,
            { grant_type: 'client_credentials' },
            rawBasic(`${service.client_id}${NUL}`, service.client_secret),
          ),
        ],
        [
          'Basic id, invalid UTF-8',
          postForm(
            token,
            { grant_type: 'client_credentials' },
            {
              authorization: `Basic ${Buffer.concat([Buffer.from([0xc3, 0x28, 0x00]), Buffer.from(':x')]).toString('base64')}`,
            },
          ),
        ],
        [
          '/revoke, Basic id with a NUL',
          postForm(`${base}/revoke`, { token: 'x' }, basic(`a${NUL}`, 'x')),
        ],
        [
          '/introspect, Basic id with a NUL',
          postForm(`${base}/introspect`, { token: 'x' }, basic(`a${NUL}`, 'x')),
        ],
        [
          '/introspect, client_secret_post with a NUL',
          postForm(`${base}/introspect`, { token: 'x', client_id: NUL, client_secret: 'x' }),
        ],
        [
          'revocation feed, Basic id with a NUL',
          call(`${base}/events/revocations`, { headers: basic(`a${NUL}`, 'x') }),
        ],
        [
          'revocation feed, Basic id with a raw NUL',
          call(`${base}/events/revocations`, { headers: rawBasic(NUL, 'x') }),
        ],
      ]
      for (const [name, pending] of cases) {
        const res = await pending
        assertError(res, 401, 'invalid_client', name)
        assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /, name)
      }
      assertNoServerErrors('client ids')
    })

    it('a NUL in a username is refused before any look-up: invalid_grant at login, invalid_request at signup', async () => {
      const cases: Array<[string, Promise<Reply>, number, string]> = [
        [
          'login, form',
          postForm(`${base}/token`, {
            grant_type: 'password',
            username: `${username}${NUL}`,
            password: PASSWORD,
          }),
          400,
          'invalid_grant',
        ],
        [
          'login, JSON',
          postJson(`${base}/token`, {
            grant_type: 'password',
            username: `${NUL}${username}`,
            password: PASSWORD,
          }),
          400,
          'invalid_grant',
        ],
        [
          'login, control characters',
          postForm(`${base}/token`, {
            grant_type: 'password',
            username: '\u0007\u001b[31m',
            password: PASSWORD,
          }),
          400,
          'invalid_grant',
        ],
        [
          'signup, form',
          postForm(`${base}/signup`, { username: `new${NUL}user`, password: PASSWORD }),
          400,
          'invalid_request',
        ],
        [
          'signup, JSON',
          postJson(`${base}/signup`, { username: `${NUL}`.repeat(5), password: PASSWORD }),
          400,
          'invalid_request',
        ],
        [
          'signup, a lone surrogate',
          postJson(`${base}/signup`, { username: 'ab\udc00', password: PASSWORD }),
          400,
          'invalid_request',
        ],
      ]
      for (const [name, pending, status, error] of cases) {
        assertError(await pending, status, error, name)
      }
      assertNoServerErrors('usernames')
    })

    it('a NUL in a password is hashed, never queried: the account works, and a near miss fails', async () => {
      // Passwords never reach SQL (only their Argon2id hash does), so a NUL in one is allowed.
      const name = uniqueName('nulpass')
      const password = `pass${NUL}word with a nul`
      const signup = await postJson(`${base}/signup`, { username: name, password })
      assert.equal(signup.status, 201, signup.text)
      const ok = await postForm(`${base}/token`, {
        grant_type: 'password',
        username: name,
        password,
      })
      assert.equal(ok.status, 200, ok.text)
      // Not truncated at the NUL: the part before it is a wrong password.
      const cut = await postForm(`${base}/token`, {
        grant_type: 'password',
        username: name,
        password: 'pass',
      })
      assertError(cut, 400, 'invalid_grant', 'the password cut at its NUL')
    })

    it('a NUL in tokens, scope and other parameters is a 4xx (or RFC 7009 200), never a 500', async () => {
      const auth = basic(service.client_id, service.client_secret)
      const refresh = await postForm(`${base}/token`, {
        grant_type: 'refresh_token',
        refresh_token: `tb_${NUL}`,
      })
      assertError(refresh, 400, 'invalid_grant', 'refresh_token with a NUL')
      const scope = await postForm(`${base}/token`, {
        grant_type: 'password',
        username,
        password: PASSWORD,
        scope: `profile${NUL}`,
      })
      assertError(scope, 400, 'invalid_scope', 'scope with a NUL')
      const grant = await postForm(`${base}/token`, { grant_type: `password${NUL}` })
      assertError(grant, 400, 'unsupported_grant_type', 'grant_type with a NUL')
      const delivery = await postForm(`${base}/token`, {
        grant_type: 'password',
        username,
        password: PASSWORD,
        token_delivery: NUL,
      })
      assertError(delivery, 400, 'invalid_request', 'token_delivery with a NUL')

      // RFC 7009 §2.2: an unknown token is revoked with 200, whatever it holds.
      const revoke = await postForm(`${base}/revoke`, { token: `${NUL}.${NUL}.${NUL}` }, auth)
      assert.equal(revoke.status, 200, revoke.text)
      const introspect = await postForm(`${base}/introspect`, { token: `a${NUL}` }, auth)
      assert.equal(introspect.status, 200, introspect.text)
      assert.deepEqual(introspect.body, { active: false })
      assertNoServerErrors('other parameters')
    })

    it('a NUL in a header value is refused by the HTTP parser with the JSON shape; latin-1 bytes in User-Agent are stored', async () => {
      const body = new URLSearchParams({ grant_type: 'password', username, password: PASSWORD })
      const head = (userAgent: Buffer) =>
        Buffer.concat([
          Buffer.from(
            'POST /token HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n' +
              'content-type: application/x-www-form-urlencoded\r\n' +
              `content-length: ${Buffer.byteLength(body.toString())}\r\nuser-agent: `,
          ),
          userAgent,
          Buffer.from('\r\n\r\n'),
        ])
      const nul = await rawRequest(booth.port, head(Buffer.from('agent\u0000x')), body.toString())
      assert.match(nul, /^HTTP\/1\.1 400 /, nul)
      assert.match(nul, /\r\n\r\n\{"error":"invalid_request","error_description":"[^"]+"\}$/, nul)
      // obs-text (RFC 9110 §5.5) is legal in a field value: the session records it, on both stores.
      const latin = await rawRequest(
        booth.port,
        head(Buffer.from([0x41, 0xc3, 0x28, 0xff])),
        body.toString(),
      )
      assert.match(latin, /^HTTP\/1\.1 200 /, latin)
      const tokens = JSON.parse(latin.slice(latin.indexOf('\r\n\r\n') + 4)) as {
        access_token: string
      }
      const sessions = await call(`${base}/sessions`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      assert.equal(sessions.status, 200, sessions.text)
      const current = (
        sessions.body.sessions as Array<{ current: boolean; user_agent: string }>
      ).find((s) => s.current)
      assert.equal(current?.user_agent, 'A\u00c3(\u00ff')
      assertNoServerErrors('headers')
    })

    it('a JSON body naming a parameter twice is invalid_request on /token, /revoke, /introspect and /signup', async () => {
      const json = 'application/json'
      const auth = basic(service.client_id, service.client_secret)
      const cases: Array<[string, string, string, Record<string, string>]> = [
        [
          '/token, client_id twice',
          '/token',
          `{"grant_type":"password","username":"${username}","password":"${PASSWORD}","client_id":"tokenbooth","client_id":"other"}`,
          {},
        ],
        [
          // Decoded, "\u0063lient_id" is "client_id": the escape must not hide the repeat.
          '/token, client_id twice, once escaped',
          '/token',
          `{"grant_type":"password","username":"${username}","password":"${PASSWORD}","client_id":"tokenbooth","\\u0063lient_id":"other"}`,
          {},
        ],
        [
          '/token, the password twice, the right one last',
          '/token',
          `{"grant_type":"password","username":"${username}","password":"wrong one","password":"${PASSWORD}"}`,
          {},
        ],
        [
          '/token, grant_type twice, with whitespace and escapes around',
          '/token',
          `{ "grant_type" : "client_credentials" ,\n "gr\\u0061nt_type":"client_credentials" }`,
          auth,
        ],
        ['/revoke, token twice', '/revoke', '{"token":"a","token":"b"}', auth],
        ['/introspect, token twice', '/introspect', '{"token":"a","token":"b"}', auth],
        [
          '/signup, username twice',
          '/signup',
          `{"username":"${uniqueName('dup')}","username":"${uniqueName('dup')}","password":"${PASSWORD}"}`,
          {},
        ],
      ]
      for (const [name, path, body, headers] of cases) {
        const res = await postRaw(`${base}${path}`, json, body, headers)
        assertError(res, 400, 'invalid_request', name)
        assert.match(res.body.error_description, /is repeated/, name)
      }
    })

    it('a JSON body with look-alike names, or names inside values, is not a repeat', async () => {
      // Names differ once decoded ("client_id" vs "client_id "), a value holds a quoted
      // "password": and braces, and a nested repeat is refused for not being a string, not
      // taken for a top-level repeat.
      const decoy = JSON.stringify({
        grant_type: 'password',
        username,
        note: '"password":"x", {"username":"y"} \\"',
        password: PASSWORD,
        'client_id ': 'ignored',
      })
      const ok = await postRaw(`${base}/token`, 'application/json', decoy)
      assert.equal(ok.status, 200, ok.text)
      const nested = await postRaw(
        `${base}/token`,
        'application/json',
        `{"grant_type":"password","extra":{"a":"1","a":"2"},"username":"${username}","password":"${PASSWORD}"}`,
      )
      assertError(nested, 400, 'invalid_request', 'nested object')
      assert.match(nested.body.error_description, /must be a string/)
      // Still Fastify's JSON parsing underneath: prototype poisoning is refused.
      const poison = await postRaw(
        `${base}/token`,
        'application/json',
        '{"grant_type":"password","__proto__":{"admin":"1"}}',
      )
      assertError(poison, 400, 'invalid_request', '__proto__')
      const empty = await postRaw(`${base}/token`, 'application/json', '')
      assertError(empty, 400, 'invalid_request', 'empty JSON body')
      assertNoServerErrors('JSON names')
    })

    it('the booth is still healthy and logs in', async () => {
      assert.equal((await call(`${base}/healthz`)).status, 200)
      const res = await postForm(`${base}/token`, {
        grant_type: 'password',
        username,
        password: PASSWORD,
      })
      assert.equal(res.status, 200, res.text)
    })
  })
}

defineHostileInputSuite('SQLite', async () => ({ env: {}, cleanup: async () => {} }))

defineHostileInputSuite('PostgreSQL', async () => {
  const db = await createTestDatabase()
  return {
    env: { TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: randomSecret() },
    cleanup: () => db.drop(),
  }
})
