/** Our hand-written JWS signing is checked by jose's verifier, the reference we trust. */
import assert from 'node:assert/strict'
import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { compactVerify } from 'jose'
import { signCompact } from '../src/domain/jws.ts'
import {
  openSuccessor,
  sealSuccessor,
  newRefreshToken,
  hashRefreshToken,
} from '../src/domain/tokens.ts'

describe('signCompact', () => {
  const cases = [
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }), 2000],
    ['EdDSA', generateKeyPairSync('ed25519'), 50],
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }), 20],
  ] as const
  for (const [alg, { privateKey, publicKey }, count] of cases) {
    // ES256: 2,000 signatures hit r or s with leading zero bytes (about 1 in 128 each), which
    // the DER → r||s conversion must pad back to 32 bytes.
    it(`${alg}: ${count} tokens verify with jose`, async () => {
      for (let i = 0; i < count; i++) {
        const token = signCompact(
          alg,
          privateKey,
          { alg, kid: 'k', typ: 'at+jwt' },
          { i, n: randomBytes(8).toString('hex') },
        )
        const { payload, protectedHeader } = await compactVerify(token, publicKey, {
          algorithms: [alg],
        })
        assert.equal(protectedHeader.alg, alg)
        assert.equal(JSON.parse(new TextDecoder().decode(payload)).i, i)
      }
    })
  }

  it('HS256 verifies with jose, and not with another secret', async () => {
    const key = createSecretKey(randomBytes(32))
    const token = signCompact('HS256', key, { alg: 'HS256', kid: 'h' }, { sub: 'x' })
    await compactVerify(token, key)
    await assert.rejects(compactVerify(token, createSecretKey(randomBytes(32))))
  })
})

describe('successor sealing', () => {
  it('opens only with the predecessor, and only to the stored successor', () => {
    const predecessor = newRefreshToken()
    const successor = newRefreshToken()
    const sealed = sealSuccessor(successor, predecessor)
    const hash = hashRefreshToken(successor)!
    assert.equal(openSuccessor(sealed, predecessor, hash), successor)
    assert.equal(
      openSuccessor(sealed, newRefreshToken(), hash),
      undefined,
      'another token opens nothing',
    )
    const flipped = Buffer.from(sealed, 'base64url')
    flipped[0]! ^= 1
    assert.equal(
      openSuccessor(flipped.toString('base64url'), predecessor, hash),
      undefined,
      'a tampered seal is refused',
    )
    assert.ok(!sealed.includes(successor.slice(4, 20)), 'the seal does not contain the token')
  })
})
