// Property: changing any single byte of a valid token makes it fail verification with a
// TokenInvalid. This catches lenient base64url decoding (several strings, one signature) as well
// as any check that silently ignores part of the token.
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { TokenInvalid, verifyAccessToken } from '../src/index.ts'
import { keys, options, parts, secretKeys, signToken, signers } from './helpers.ts'

function mutate(token: string, index: number, byte: number): string {
  const bytes = Buffer.from(token, 'latin1')
  bytes[index] = byte
  return bytes.toString('latin1')
}

function assertRejected(token: string, set = keys): void {
  assert.throws(
    () => verifyAccessToken(token, set, options),
    (err: unknown) => err instanceof TokenInvalid,
    `mutated token verified: ${token}`,
  )
}

describe('single-byte mutation never verifies', () => {
  for (const signer of [signers.ES256, signers.EdDSA, signers.RS256, signers.HS256]) {
    const set = signer.alg === 'HS256' ? secretKeys : keys
    const token = signToken(signer)

    test(`${signer.alg}: property over random positions and bytes`, () => {
      assert.equal(verifyAccessToken(token, set, options).sub, 'user-1')
      fc.assert(
        fc.property(
          fc.nat({ max: token.length - 1 }),
          fc.integer({ min: 0, max: 255 }),
          (index, byte) => {
            fc.pre(byte !== token.charCodeAt(index))
            assertRejected(mutate(token, index, byte), set)
          },
        ),
        { numRuns: 2000 },
      )
    })

    // The last character of a base64url segment carries unused low bits; a decoder that ignores
    // them would accept up to 15 other spellings of the same signature.
    test(`${signer.alg}: every other character at the end of each segment`, () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const [h, p, s] = parts(token)
      for (const end of [h.length - 1, h.length + 1 + p.length - 1, token.length - 1]) {
        for (const c of alphabet) {
          if (c !== token[end]) assertRejected(mutate(token, end, c.charCodeAt(0)), set)
        }
      }
      assert.ok(s.length > 0)
    })
  }
})
