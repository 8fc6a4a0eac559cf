// The SDK against the real booth binary over loopback: discovery, the JWKS, and the revocation
// feed fed by /logout, /logout/all and /revoke; the booth killed (valid tokens keep verifying) and
// restarted (the verifier resumes from its Last-Event-ID and misses nothing).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TokenRevoked, createVerifier } from '../src/index.ts'
import type { Verifier, VerifierEvent } from '../src/index.ts'
import { removeDir, startBooth } from '../../../test/support/booth.ts'
import type { Booth } from '../../../test/support/booth.ts'
import { addClient, decodeJwt, uniqueName } from '../../../test/support/contract.ts'
import { postForm, logIn, signUpAndLogin } from '../../../test/support/http.ts'

const PASSWORD = 'a fine long passphrase'

/** Resolves with the rejection once `verify` rejects; fails after `ms`. */
async function rejectedWithin(verify: () => Promise<unknown>, ms: number): Promise<unknown> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      await verify()
    } catch (error) {
      return error
    }
    if (Date.now() > deadline) throw new Error(`token still accepted after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function revoked(error: unknown, ...by: string[]): void {
  assert.ok(error instanceof TokenRevoked, `expected TokenRevoked, got ${String(error)}`)
  assert.ok(by.includes(error.by), `revoked by ${error.by}, expected ${by.join(' or ')}`)
}

describe('against the real booth', () => {
  let booth: Booth
  let verifier: Verifier
  const events: VerifierEvent[] = []

  const login = (username: string) => logIn(booth.url, username, PASSWORD)
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  before(async () => {
    booth = await startBooth({
      env: { TOKENBOOTH_SCOPES: 'profile cart:read', TOKENBOOTH_FEED_HEARTBEAT: '1' },
    })
    const client = await addClient(booth.env, 'inventory')
    verifier = createVerifier({
      issuer: booth.url,
      audience: booth.url, // the booth's default audience is its issuer
      revocation: {
        clientId: client.client_id,
        clientSecret: client.client_secret!,
        staleAfterMs: 4_000,
      },
      onEvent: (event) => events.push(event),
    })
    await verifier.ready()
  })

  after(async () => {
    // The booth first: it ends the feed stream itself. A verifier closing first aborts its
    // streaming fetch, and Node's bundled undici then opens a spare connection that it never uses
    // (nodejs/undici#5845); the booth's graceful stop waits for that socket for ~70 s.
    await booth?.stop()
    await verifier?.close()
    if (booth) removeDir(booth.dataDir)
  })

  test('discovers the JWKS and verifies the booth’s access tokens', async () => {
    const { access_token: token } = await signUpAndLogin(booth.url, uniqueName('v'), PASSWORD)
    const claims = await verifier.verifyRequest(bearer(token))
    assert.equal(claims.iss, booth.url)
    assert.equal(claims.jti, decodeJwt(token).payload.jti)
    const status = verifier.status()
    assert.equal(status.feed, 'live')
    assert.ok(status.keys >= 1)
    assert.ok(events.some((e) => e.type === 'jwks.refreshed'))
    assert.ok(events.some((e) => e.type === 'feed.ready'))
  })

  test('/logout revokes the session: rejected by sid within a second', async () => {
    const { access_token: token } = await signUpAndLogin(booth.url, uniqueName('v'), PASSWORD)
    await verifier.verify(token)
    const res = await postForm(`${booth.url}/logout`, {}, bearer(token))
    assert.equal(res.status, 200, res.text)
    revoked(await rejectedWithin(() => verifier.verify(token), 1_000), 'sid')
  })

  test('/logout/all revokes every session of the user', async () => {
    const username = uniqueName('v')
    const { access_token: first } = await signUpAndLogin(booth.url, username, PASSWORD)
    const { access_token: second } = await login(username)
    await Promise.all([verifier.verify(first), verifier.verify(second)])
    const res = await postForm(`${booth.url}/logout/all`, {}, bearer(second))
    assert.equal(res.status, 200, res.text)
    revoked(await rejectedWithin(() => verifier.verify(first), 1_000), 'sid', 'sub')
    revoked(await rejectedWithin(() => verifier.verify(second), 1_000), 'sid', 'sub')
  })

  test('/revoke of an access token revokes its jti only', async () => {
    const { access_token: token } = await signUpAndLogin(booth.url, uniqueName('v'), PASSWORD)
    const clientId = String(decodeJwt(token).payload.client_id)
    const res = await postForm(`${booth.url}/revoke`, { token, client_id: clientId })
    assert.equal(res.status, 200, res.text)
    revoked(await rejectedWithin(() => verifier.verify(token), 1_000), 'jti')
  })

  test('booth killed: valid tokens keep verifying; restarted: resume with nothing missed', async () => {
    const username = uniqueName('v')
    const { access_token: token } = await signUpAndLogin(booth.url, username, PASSWORD)
    await verifier.verify(token)
    const before = verifier.status().lastEventId
    const { dataDir, port, env } = booth
    await booth.kill()
    // no booth: verification is local
    assert.equal((await verifier.verify(token)).iss, booth.url)
    booth = await startBooth({ dataDir, port, env })
    // revoked at once, most likely before the verifier has reconnected: it must come from the
    // backlog after the verifier's Last-Event-ID
    const res = await postForm(`${booth.url}/logout`, {}, bearer(token))
    assert.equal(res.status, 200, res.text)
    revoked(await rejectedWithin(() => verifier.verify(token), 10_000), 'sid')
    const after = verifier.status().lastEventId
    assert.ok(
      after !== undefined && (before === undefined || after > before),
      `lastEventId ${before} → ${after}`,
    )
    assert.equal(verifier.status().feed, 'live')
  })
})
