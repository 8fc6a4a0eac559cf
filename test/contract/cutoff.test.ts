/**
 * Log out everywhere, then log in again (issue 3's revocation feed meets issue 2's tokens): a
 * real @tokenbooth/verify verifier following the real booth's feed rejects the old token and
 * accepts the new ones, whether or not the login fell into the second of the cut-off. The feed
 * publishes a user cut-off at millisecond `at`, and verifiers reject every token of that user
 * with `iat * 1000 <= at`; `iat` has whole seconds, so the booth stamps a token issued in that
 * second with the next one. That same-second case needs a frozen clock to hit every time:
 * packages/server/test/cutoff.test.ts runs it in process.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createVerifier, type Verifier } from '@tokenbooth/verify'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { addClient, decodeJwt, sleep, uniqueName } from '../support/contract.ts'
import { untilRevoked } from '../support/feed.ts'
import { bearer, postForm, logIn, signUpAndLogin } from '../support/http.ts'

const PASSWORD = 'same second passphrase'
const TTL = 900

describe('a login right after a /logout/all cut-off', () => {
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

  const login = (username: string) => logIn(booth.url, username, PASSWORD)

  it('after /logout/all, the new login and its refresh are accepted by a verifier following the feed; the old token is not', async () => {
    const username = uniqueName('relogin')
    const old = await signUpAndLogin(booth.url, username, PASSWORD)
    await verifier.verify(old.access_token)
    const out = await postForm(`${booth.url}/logout/all`, {}, bearer(old.access_token))
    assert.equal(out.status, 200, out.text)
    const fresh = await login(username)
    const refreshed = await postForm(`${booth.url}/token`, {
      grant_type: 'refresh_token',
      refresh_token: fresh.refresh_token,
    })
    assert.equal(refreshed.status, 200, refreshed.text)

    await untilRevoked(verifier, old.access_token)
    for (const [name, token] of [
      ['the login', fresh.access_token],
      ['its refresh', refreshed.body.access_token as string],
    ] as const) {
      const { iat, exp } = decodeJwt(token).payload
      assert.equal(exp, iat + TTL, `${name}: exp counts from its iat`)
      const claims = await verifier.verify(token)
      assert.equal(claims.sub, decodeJwt(old.access_token).payload.sub, name)
    }
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
    await untilRevoked(verifier, old)
    await verifier.verify(fresh.access_token)
  })
})
