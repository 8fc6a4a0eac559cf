// The R || S → DER conversion in signature.ts meets every shape of R and S: with thousands of
// signatures, halves with a leading zero byte (1 in 256) and with the high bit set (1 in 2)
// both occur. Each must verify, and flipping a bit in either half must not.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { claims, keys, options, signers, signToken } from './helpers.ts'
import { TokenSignatureInvalid, verifyAccessToken } from '../src/index.ts'

for (const [alg, count, size] of [
  ['ES256', 3000, 32],
  ['ES384', 1000, 48],
] as const) {
  describe(`${alg} signatures of every shape`, () => {
    it(`${count} fresh tokens verify, including halves with leading zeros`, () => {
      let leadingZero = 0
      for (let i = 0; i < count; i++) {
        const token = signToken(signers[alg], claims({ jti: `j${i}` }))
        const sig = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')
        if (sig[0] === 0 || sig[size] === 0) leadingZero++
        assert.equal(verifyAccessToken(token, keys, options).jti, `j${i}`)
      }
      assert.ok(leadingZero > 0, 'the sample reached a half with a leading zero byte')
    })

    it('a flipped bit in R or in S fails', () => {
      const token = signToken(signers[alg])
      const dot = token.lastIndexOf('.')
      for (const index of [0, size - 1, size, 2 * size - 1]) {
        const sig = Buffer.from(token.slice(dot + 1), 'base64url')
        sig[index]! ^= 1
        assert.throws(
          () =>
            verifyAccessToken(`${token.slice(0, dot)}.${sig.toString('base64url')}`, keys, options),
          TokenSignatureInvalid,
        )
      }
    })
  })
}
