/**
 * The one adapter suite: every adapter (node:http, Express, Fastify, Hono) runs exactly these
 * cases over real HTTP on loopback, against verifiers following a (fake) issuer's feed.
 *
 * An adapter under test is a `start(verifier)` that serves, on 127.0.0.1:
 * - `GET /me`: authentication only; answers 200 with the claims as JSON;
 * - `GET /admin`: requires the scope `admin`; answers 200 with the claims as JSON;
 * - `GET /boom`: authentication only, then the handler fails (a rejected promise).
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { createVerifier } from '../src/index.ts'
import type { Verifier } from '../src/index.ts'
import {
  AUDIENCE,
  FEED_CLIENT_ID,
  FEED_CLIENT_SECRET,
  FakeIssuer,
  generateIssuerKey,
  waitFor,
} from './fake-issuer.ts'

export interface StartedServer {
  url: string
  close(): Promise<void>
}

export type StartAdapter = (verifier: Verifier) => Promise<StartedServer>

interface Fixture {
  issuer: FakeIssuer
  /** fail-open, feed live */
  live: Verifier
  /** fail-closed, its issuer's feed gone silent: stale */
  stale: Verifier
  staleIssuer: FakeIssuer
}

let fixture: Promise<Fixture> | undefined

// Shared by every suite in the file: two issuers and two verifiers are set up once
function sharedFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const revocation = { clientId: FEED_CLIENT_ID, clientSecret: FEED_CLIENT_SECRET }
    const issuer = await FakeIssuer.start()
    const live = createVerifier({ issuer: issuer.url, audience: AUDIENCE, revocation })
    const staleIssuer = await FakeIssuer.start()
    const stale = createVerifier({
      issuer: staleIssuer.url,
      audience: AUDIENCE,
      revocation: { ...revocation, policy: 'fail-closed', staleAfterMs: 300 },
    })
    await Promise.all([live.ready(), stale.ready()])
    staleIssuer.silent = true
    await waitFor(() => stale.status().feed === 'stale', 5_000, 'the fail-closed feed to go stale')
    return { issuer, live, stale, staleIssuer }
  })()
  return fixture
}

/** Closes the shared fixture; call once from the test file's top-level `after`. */
export async function closeAdapterFixture(): Promise<void> {
  if (fixture === undefined) return
  const { issuer, live, stale, staleIssuer } = await fixture
  await Promise.all([live.close(), stale.close()])
  await Promise.all([issuer.close(), staleIssuer.close()])
}

async function get(url: string, token?: string, scheme = 'Bearer') {
  const res = await fetch(url, {
    headers: token === undefined ? {} : { authorization: `${scheme} ${token}` },
  })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: text === '' ? undefined : JSON.parse(text),
  }
}

function assertJsonError(
  reply: Awaited<ReturnType<typeof get>>,
  status: number,
  error: string,
): void {
  assert.equal(reply.status, status, reply.text)
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/)
  assert.deepEqual(Object.keys(reply.body).sort(), ['error', 'error_description'])
  assert.equal(reply.body.error, error)
}

export function defineAdapterSuite(name: string, start: StartAdapter): void {
  describe(`adapter: ${name}`, () => {
    let f: Fixture
    let live: StartedServer
    let stale: StartedServer

    before(async () => {
      f = await sharedFixture()
      live = await start(f.live)
      stale = await start(f.stale)
    })
    after(async () => {
      await live?.close()
      await stale?.close()
    })

    test('no token: 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
      const reply = await get(`${live.url}/me`)
      assertJsonError(reply, 401, 'invalid_request')
      assert.equal(reply.headers.get('www-authenticate'), 'Bearer realm="tokenbooth"')
      // another scheme is no Bearer token either
      const basic = await get(`${live.url}/me`, 'dXNlcjpwYXNz', 'Basic')
      assert.equal(basic.status, 401)
      assert.equal(basic.headers.get('www-authenticate'), 'Bearer realm="tokenbooth"')
    })

    test('bad token: 401 invalid_token', async () => {
      const token = await f.issuer.sign()
      const tampered = `${token.slice(0, -4)}AAAA`
      for (const bad of [tampered, 'not-a-jwt', 'a.b.c']) {
        const reply = await get(`${live.url}/me`, bad)
        assertJsonError(reply, 401, 'invalid_token')
        assert.match(
          reply.headers.get('www-authenticate') ?? '',
          /^Bearer realm="tokenbooth", error="invalid_token"/,
        )
      }
      const other = await FakeIssuer.start()
      const foreign = await other.sign()
      await other.close()
      assertJsonError(await get(`${live.url}/me`, foreign), 401, 'invalid_token')
    })

    test('"Bearer" with no token: 400 invalid_request (RFC 6750 §3.1)', async () => {
      for (const authorization of ['Bearer', 'Bearer   ']) {
        const res = await fetch(`${live.url}/me`, { headers: { authorization } })
        const text = await res.text()
        assert.equal(res.status, 400, text)
        assert.equal(JSON.parse(text).error, 'invalid_request')
        assert.match(
          res.headers.get('www-authenticate') ?? '',
          /^Bearer realm="tokenbooth", error="invalid_request"/,
        )
      }
    })

    test('two Authorization headers: 400 invalid_request, whichever of them is good', async () => {
      const good = await f.issuer.sign()
      for (const pair of [
        [`Bearer ${good}`, `Bearer ${good}`],
        [`Bearer ${good}`, 'Bearer forged'],
        ['Bearer forged', `Bearer ${good}`],
        // another scheme first: a Fetch Headers (Hono) joins them as "Basic …, Bearer …"
        ['Basic dXNlcjpwYXNz', `Bearer ${good}`],
      ]) {
        // fetch() would join them into one header; node:http sends two header lines
        const { status, body } = await new Promise<{ status: number; body: string }>(
          (resolve, reject) => {
            const req = request(`${live.url}/me`, { headers: { authorization: pair } }, (res) => {
              let text = ''
              res.setEncoding('utf8')
              res.on('data', (chunk: string) => (text += chunk))
              res.on('end', () => resolve({ status: res.statusCode!, body: text }))
            })
            req.on('error', reject)
            req.end()
          },
        )
        assert.equal(status, 400, body)
        assert.equal(JSON.parse(body).error, 'invalid_request')
      }
    })

    test('keys not loaded yet, then a kid published later: both wait for the keys (the async path)', async () => {
      // a verifier of its own, no ready() awaited; no cooldown, so the new kid may refetch at once
      const fresh = createVerifier({ issuer: f.issuer.url, audience: AUDIENCE, jwksCooldownMs: 0 })
      const server = await start(fresh)
      try {
        const first = await get(`${server.url}/me`, await f.issuer.sign({ sub: 'early' }))
        assert.equal(first.status, 200, first.text)
        assert.equal(first.body.sub, 'early')
        const key = generateIssuerKey()
        f.issuer.keys.push(key)
        const rotated = await get(`${server.url}/me`, await f.issuer.sign({ sub: 'later' }, key))
        assert.equal(rotated.status, 200, rotated.text)
        assert.equal(rotated.body.sub, 'later')
      } finally {
        await server.close()
        await fresh.close()
      }
    })

    // For node:http the 500 is the adapter's own (protect catches the handler); for Express,
    // Fastify and Hono it is the framework's error handler, reached because the adapter passed
    // the request on rather than swallowing the failure or taking the process down
    test('a handler that fails: 500, and the server keeps serving', async () => {
      const token = await f.issuer.sign()
      const reply = await get(`${live.url}/boom`, token)
      assert.equal(reply.status, 500)
      assert.equal((await get(`${live.url}/me`, token)).status, 200)
    })

    test('good token: 200 with the claims (scheme case-insensitive)', async () => {
      const token = await f.issuer.sign({ sub: 'alice' })
      for (const scheme of ['Bearer', 'bearer']) {
        const reply = await get(`${live.url}/me`, token, scheme)
        assert.equal(reply.status, 200, reply.text)
        assert.equal(reply.body.sub, 'alice')
        assert.equal(reply.body.iss, f.issuer.url)
      }
    })

    test('missing scope: 403 insufficient_scope naming it; with it: 200', async () => {
      const reader = await f.issuer.sign({ scope: 'cart:read' })
      const reply = await get(`${live.url}/admin`, reader)
      assertJsonError(reply, 403, 'insufficient_scope')
      assert.match(
        reply.headers.get('www-authenticate') ?? '',
        /^Bearer realm="tokenbooth", error="insufficient_scope", .*scope="admin"$/,
      )
      const admin = await f.issuer.sign({ scope: 'cart:read admin' })
      assert.equal((await get(`${live.url}/admin`, admin)).status, 200)
    })

    test('revoked: 401 invalid_token, within moments of the revocation', async () => {
      const sid = `sid-${name}`
      const token = await f.issuer.sign({ sid })
      assert.equal((await get(`${live.url}/me`, token)).status, 200)
      f.issuer.revoke('sid', sid)
      const deadline = Date.now() + 3_000
      let reply = await get(`${live.url}/me`, token)
      while (reply.status === 200 && Date.now() < deadline)
        reply = await get(`${live.url}/me`, token)
      assertJsonError(reply, 401, 'invalid_token')
      assert.equal(reply.body.error_description, 'the access token was revoked')
    })

    test('feed stale under fail-closed: 503 temporarily_unavailable', async () => {
      const token = await f.staleIssuer.sign()
      const reply = await get(`${stale.url}/me`, token)
      assertJsonError(reply, 503, 'temporarily_unavailable')
      assert.equal(reply.headers.get('retry-after'), '5')
      assert.equal(reply.headers.get('www-authenticate'), null)
      // an invalid token is still a 401: unavailability does not hide a bad signature
      assertJsonError(
        await get(`${stale.url}/me`, `${token.slice(0, -4)}AAAA`),
        401,
        'invalid_token',
      )
    })
  })
}
