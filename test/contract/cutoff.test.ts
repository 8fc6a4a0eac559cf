/**
 * A login in the same second right after /logout/all (issue 3's revocation feed meets issue 2's
 * tokens). The feed publishes a user cut-off at millisecond `at`, and verifiers reject every
 * token of that user with `iat * 1000 <= at`; `iat` has whole seconds, so a token issued in that
 * second after the cut-off used to be rejected by every verifier for its whole lifetime. The
 * booth now stamps such a token with the next whole second. A real @tokenbooth/verify verifier
 * follows the real booth's feed here.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createVerifier, TokenRevoked, type Verifier } from '@tokenbooth/verify'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { addClient, decodeJwt, sleep, uniqueName } from '../support/contract.ts'
import { bearer, postForm, signUpAndLogin } from '../support/http.ts'

const PASSWORD = 'same second passphrase'
const TTL = 900

describe('a login in the same second as a /logout/all cut-off', () => {
  let booth: Booth
  let verifier: Verifier

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_FEED_HEARTBEAT: '1' } })
    const client = await addClient(booth.env, 'cutoff-verifier')
    verifier = createVerifier({
      issuer: booth.url,
      audience: booth.url,
      revocation: { clientId: client.client_id, clientSecret: client.client_secret! },
    })
    await verifier.ready()
  })
  after(async () => {
    // The booth first: it ends the feed stream itself (see packages/verify/test/booth.test.ts).
    await booth?.stop()
    await verifier?.close()
    if (booth) removeDir(booth.dataDir)
  })

  const login = async (username: string) => {
    const res = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password: PASSWORD,
    })
    assert.equal(res.status, 200, res.text)
    return res.body as { access_token: string; refresh_token: string }
  }

  /** Resolves once the verifier rejects `token` as revoked (the feed delivered the cut-off). */
  async function untilRevoked(token: string): Promise<void> {
    const deadline = Date.now() + 5_000
    for (;;) {
      try {
        await verifier.verify(token)
      } catch (error) {
        assert.ok(error instanceof TokenRevoked, `expected TokenRevoked, got ${String(error)}`)
        return
      }
      assert.ok(Date.now() < deadline, 'the old token is still accepted after 5 s')
      await sleep(20)
    }
  }

  it('the new tokens (login and refresh) are accepted by a verifier following the feed; the old one is not', async () => {
    const username = uniqueName('samesecond')
    await signUpAndLogin(booth.url, username, PASSWORD)
    // Whether the cut-off and the login share a second is up to the clock: a round counts only
    // when both fell into one second (booth and test read the same clock), and one must.
    let rounds = 0
    for (; rounds < 5; rounds++) {
      const old = await login(username)
      await verifier.verify(old.access_token)
      await sleep(1000 - (Date.now() % 1000) + 10) // just after a second begins
      const started = Date.now()
      const out = await postForm(`${booth.url}/logout/all`, {}, bearer(old.access_token))
      assert.equal(out.status, 200, out.text)
      const fresh = await login(username)
      const refreshed = await postForm(`${booth.url}/token`, {
        grant_type: 'refresh_token',
        refresh_token: fresh.refresh_token,
      })
      assert.equal(refreshed.status, 200, refreshed.text)
      const ended = Date.now()
      if (Math.floor(started / 1000) !== Math.floor(ended / 1000)) continue

      await untilRevoked(old.access_token)
      const second = Math.floor(started / 1000)
      for (const [name, token] of [
        ['the login', fresh.access_token],
        ['its refresh', refreshed.body.access_token as string],
      ] as const) {
        const { iat, exp } = decodeJwt(token).payload
        assert.equal(iat, second + 1, `${name}: iat is the second after the cut-off`)
        assert.equal(exp, iat + TTL, `${name}: exp counts from that iat`)
        const claims = await verifier.verify(token)
        assert.equal(claims.sub, decodeJwt(old.access_token).payload.sub, name)
      }
      break
    }
    assert.ok(rounds < 5, 'no round fitted into one second')
  })

  it('a login in a later second is stamped as usual', async () => {
    const username = uniqueName('latersecond')
    const { access_token: old } = await signUpAndLogin(booth.url, username, PASSWORD)
    const out = await postForm(`${booth.url}/logout/all`, {}, bearer(old))
    assert.equal(out.status, 200, out.text)
    await sleep(1000 - (Date.now() % 1000) + 10)
    const before = Math.floor(Date.now() / 1000)
    const fresh = await login(username)
    const iat = decodeJwt(fresh.access_token).payload.iat
    assert.ok(iat >= before && iat <= Math.floor(Date.now() / 1000), `iat ${iat} is now`)
    await untilRevoked(old)
    await verifier.verify(fresh.access_token)
  })
})
