/**
 * A login in the same second right after /logout/all, with a frozen clock (issue 3's revocation
 * feed meets issue 2's tokens). The feed publishes a user cut-off at millisecond `at`, and
 * verifiers reject every token of that user with `iat * 1000 <= at`; `iat` has whole seconds, so
 * a token issued in that second after the cut-off would be rejected by every verifier for its
 * whole lifetime. The booth stamps such a token with the next whole second (issuedAt in
 * domain/sessions.ts). The booth runs in process over a real SQLite file and listens on
 * 127.0.0.1; a real @tokenbooth/verify verifier on the same frozen clock follows its feed.
 * test/contract/cutoff.test.ts checks the end-to-end property on the real binary.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createVerifier, TokenRevoked, type Verifier } from '@tokenbooth/verify'
import { loadConfig } from '../src/config.ts'
import { registerClient } from '../src/domain/clients.ts'
import { issueAccessToken } from '../src/domain/tokens.ts'
import { createTokenServer, type TokenServer } from '../src/server.ts'
import { untilRevoked } from '../../../test/support/feed.ts'
import { signUp } from './inject.ts'

const ISSUER = 'https://booth.test'
const PASSWORD = 'same second passphrase'
const TTL = 900
// 100 ms into a whole second
const T0 = Date.parse('2027-05-01T00:00:00.100Z')
const SECOND = Math.floor(T0 / 1000)

function payloadOf(token: string): { iat: number; exp: number; sub: string } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
}

describe('a login in the same second as a /logout/all cut-off (frozen clock)', () => {
  let dir: string
  let booth: TokenServer
  let verifier: Verifier
  let now = T0
  const clock = () => now

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tb-cutoff-'))
    const config = loadConfig({
      TOKENBOOTH_ISSUER: ISSUER,
      TOKENBOOTH_DATA_DIR: dir,
      TOKENBOOTH_SECRET: 's'.repeat(40),
      TOKENBOOTH_LOG_LEVEL: 'silent',
      TOKENBOOTH_ACCESS_TOKEN_TTL: String(TTL),
    })
    booth = await createTokenServer({ config, clock })
    const base = await booth.app.listen({ host: '127.0.0.1', port: 0 })
    const { client, secret } = await registerClient(booth.ctx.store, 'cutoff-verifier', '', now)
    verifier = createVerifier({
      issuer: ISSUER,
      audience: ISSUER,
      clock,
      // The issuer's name, served by the in-process booth
      fetch: (url, init) => fetch(url.replace(ISSUER, base), init),
      revocation: { clientId: client.id, clientSecret: secret! },
    })
    await verifier.ready()
  })
  after(async () => {
    // The booth first: it ends the feed stream itself.
    await booth?.close()
    await verifier?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const form = async (fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await booth.app.inject({
      method: 'POST',
      url: fields.grant_type === undefined ? '/logout/all' : '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload: new URLSearchParams(fields).toString(),
    })
    assert.equal(res.statusCode, 200, res.body)
    return res.body === '' ? {} : (res.json() as Record<string, string>)
  }
  const login = (username: string) => form({ grant_type: 'password', username, password: PASSWORD })

  it('the login and its refresh in the cut-off second get iat = the next second, and the verifier accepts them', async () => {
    await signUp(booth.app, 'same.second', PASSWORD)
    const old = await login('same.second')
    await verifier.verify(old.access_token!)

    now = T0 + 1_000 // the cut-off, 100 ms into second S + 1
    await form({}, { authorization: `Bearer ${old.access_token}` })
    assert.equal(await booth.ctx.store.latestUserCutoff(payloadOf(old.access_token!).sub), now)
    now += 300 // still second S + 1
    const fresh = await login('same.second')
    now += 300
    const refreshed = await form({
      grant_type: 'refresh_token',
      refresh_token: fresh.refresh_token!,
    })

    await untilRevoked(verifier, old.access_token!)
    for (const [name, token] of [
      ['the login', fresh.access_token!],
      ['its refresh', refreshed.access_token!],
    ] as const) {
      const { iat, exp, sub } = payloadOf(token)
      assert.equal(iat, SECOND + 2, `${name}: iat is the second after the cut-off`)
      assert.equal(exp, iat + TTL, `${name}: exp counts from that iat`)
      assert.equal((await verifier.verify(token)).sub, sub, `${name}: accepted`)
    }
    // The probe can fail: a token stamped with the cut-off's own second is refused.
    const stamped = issueAccessToken(booth.ctx.keys.signer(), {
      issuer: ISSUER,
      audience: ISSUER,
      subject: payloadOf(fresh.access_token!).sub,
      clientId: 'tokenbooth',
      scope: [],
      ttl: TTL,
      now,
    }).token
    assert.equal(payloadOf(stamped).iat, SECOND + 1)
    await assert.rejects(verifier.verify(stamped), TokenRevoked)
  })

  it('a login in a later second than the cut-off is stamped with its own second', async () => {
    await signUp(booth.app, 'later.second', PASSWORD)
    const old = await login('later.second')
    now = T0 + 10_800 // 900 ms into second S + 10
    await form({}, { authorization: `Bearer ${old.access_token}` })
    now += 200 // second S + 11
    const fresh = await login('later.second')
    assert.equal(payloadOf(fresh.access_token!).iat, SECOND + 11)
    await untilRevoked(verifier, old.access_token!)
    await verifier.verify(fresh.access_token!)
  })
})
