/** Every signing algorithm the booth offers works end to end, and jose agrees with us. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose'
import { startBooth } from '../support/booth.ts'
import { uniqueName } from '../support/contract.ts'
import { bearer, call, signUpAndLogin } from '../support/http.ts'

describe('signing algorithms', () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    it(`${alg}: tokens verify at the booth and with jose from the JWKS`, async () => {
      const booth = await startBooth({ env: { TOKENBOOTH_SIGNING_ALG: alg } })
      try {
        const jwks = (await call(`${booth.url}/.well-known/jwks.json`)).body
        assert.deepEqual(
          jwks.keys.map((k: { alg: string }) => k.alg),
          [alg],
        )
        const tokens = await signUpAndLogin(booth.url, uniqueName(alg.toLowerCase()))
        assert.equal(
          (await call(`${booth.url}/userinfo`, { headers: bearer(tokens.access_token) })).status,
          200,
        )
        const { protectedHeader, payload } = await jwtVerify(
          tokens.access_token,
          createRemoteJWKSet(new URL(`${booth.url}/.well-known/jwks.json`)),
          {
            issuer: booth.url,
            audience: booth.url,
            typ: 'at+jwt',
            algorithms: [alg],
          },
        )
        assert.equal(protectedHeader.alg, alg)
        assert.equal(typeof payload.sid, 'string')
        // A local copy of the key set, used with another algorithm, refuses the token.
        const other = alg === 'RS256' ? 'PS256' : 'RS256'
        await assert.rejects(
          jwtVerify(tokens.access_token, createLocalJWKSet(jwks), { algorithms: [other] }),
        )
      } finally {
        await booth.stop()
      }
    })
  }

  it('HS256: only with an explicit 256-bit secret, warned about, and no key is published', async () => {
    const secret = Buffer.alloc(32, 9).toString('base64url')
    const booth = await startBooth({
      env: { TOKENBOOTH_SIGNING_ALG: 'HS256', TOKENBOOTH_HMAC_SECRET: secret },
    })
    try {
      assert.deepEqual((await call(`${booth.url}/.well-known/jwks.json`)).body.keys, [])
      const tokens = await signUpAndLogin(booth.url, uniqueName('hs'))
      assert.equal(
        (await call(`${booth.url}/userinfo`, { headers: bearer(tokens.access_token) })).status,
        200,
      )
      await jwtVerify(tokens.access_token, Buffer.from(secret, 'base64url'), {
        algorithms: ['HS256'],
      })
      assert.match(booth.output(), /HS256 is configured/)
    } finally {
      await booth.stop()
    }
  })
})
