/**
 * A session's absolute end (TOKENBOOTH_SESSION_MAX_AGE) bounds its access tokens too: a stateless
 * verifier cannot know the session is over, so a token refreshed just before the end must not be
 * valid for a whole access-token lifetime past it.
 *
 * An in-process booth (createTokenServer) on a real SQLite file, its clock moved by hand; the
 * token checked with @tokenbooth/verify against the booth's own JWKS.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createKeySet, verifyAccessToken, TokenExpired } from '@tokenbooth/verify'
import { loadConfig } from '../src/config.ts'
import { createTokenServer } from '../src/server.ts'
import { signUp } from './inject.ts'

const T0 = Date.parse('2027-06-01T00:00:00Z')
const PASSWORD = 'a long enough passphrase'

describe('the absolute session end caps the access token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-session-cap-'))
  let now = T0
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('a refresh a minute before the end gets a token that expires at the end, expires_in to match', async () => {
    const config = loadConfig({
      TOKENBOOTH_ISSUER: 'https://booth.test',
      TOKENBOOTH_DATA_DIR: dir,
      TOKENBOOTH_SECRET: 's'.repeat(40),
      TOKENBOOTH_LOG_LEVEL: 'silent',
      TOKENBOOTH_ACCESS_TOKEN_TTL: '900',
      TOKENBOOTH_SESSION_MAX_AGE: '3600',
    })
    const booth = await createTokenServer({ config, clock: () => now })
    try {
      await signUp(booth.app, 'kim', PASSWORD)
      const login = await booth.app.inject({
        method: 'POST',
        url: '/token',
        payload: { grant_type: 'password', username: 'kim', password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      assert.equal(login.json().expires_in, 900, 'far from the end: the whole lifetime')

      now = T0 + 3600_000 - 60_000
      const refreshed = await booth.app.inject({
        method: 'POST',
        url: '/token',
        payload: { grant_type: 'refresh_token', refresh_token: login.json().refresh_token },
      })
      assert.equal(refreshed.statusCode, 200, refreshed.body)
      const body = refreshed.json()
      const claims = JSON.parse(
        Buffer.from(body.access_token.split('.')[1], 'base64url').toString(),
      )
      assert.equal(claims.exp, (T0 + 3600_000) / 1000)
      assert.equal(body.expires_in, claims.exp - claims.iat)
      assert.ok(body.expires_in <= 60, `expires_in ${body.expires_in}`)

      // past the end, a verifier with the booth's keys refuses it (no tolerance here)
      const keys = createKeySet(booth.ctx.keys.jwks())
      const options = { issuer: 'https://booth.test', audience: config.audience, clockTolerance: 0 }
      verifyAccessToken(body.access_token, keys, { ...options, now: () => now })
      assert.throws(
        () => verifyAccessToken(body.access_token, keys, { ...options, now: () => T0 + 3601_000 }),
        TokenExpired,
      )
    } finally {
      await booth.close()
    }
  })
})
