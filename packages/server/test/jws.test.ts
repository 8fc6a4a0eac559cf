/** Our hand-written JWS signing is checked by jose's verifier, the reference we trust. */
import assert from 'node:assert/strict'
import { createHash, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto'
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
  const now = Date.parse('2026-12-01T10:00:00Z')

  it('opens only with the predecessor, and only to the stored successor', () => {
    const predecessor = newRefreshToken(now)
    const successor = newRefreshToken(now + 1)
    const sealed = sealSuccessor(successor, predecessor)
    const hash = hashRefreshToken(successor)!
    assert.equal(openSuccessor(sealed, predecessor, hash), successor)
    assert.equal(
      openSuccessor(sealed, newRefreshToken(now), hash),
      undefined,
      'another token opens nothing',
    )
    const flipped = sealed.slice(0, 11) + flipFirstBit(sealed.slice(11))
    assert.equal(openSuccessor(flipped, predecessor, hash), undefined, 'a tampered seal is refused')
    const otherTime = (now + 2).toString(16).padStart(11, '0') + sealed.slice(11)
    assert.equal(openSuccessor(otherTime, predecessor, hash), undefined, 'so is a changed time')
    assert.ok(!sealed.includes(successor.slice(15, 31)), 'the seal does not contain the token')
  })

  it('still opens a successor of the first format (no time), sealed before the upgrade', () => {
    const predecessor = `tbr_${randomBytes(32).toString('base64url')}`
    const successor = `tbr_${randomBytes(32).toString('base64url')}`
    const sealed = sealSuccessor(successor, predecessor)
    assert.equal(sealed.length, 43)
    assert.equal(openSuccessor(sealed, predecessor, hashRefreshToken(successor)!), successor)
  })
})

function flipFirstBit(base64url: string): string {
  const bytes = Buffer.from(base64url, 'base64url')
  bytes[0]! ^= 1
  return bytes.toString('base64url')
}

describe('refresh tokens and their store keys', () => {
  it('are tbr_, the issue time, and 256 random bits, each one different', () => {
    const now = Date.parse('2026-12-01T10:00:00Z')
    const tokens = Array.from({ length: 300 }, () => newRefreshToken(now))
    for (const token of tokens) {
      assert.match(token, /^tbr_[\da-f]{11}[\w-]{43}$/)
      assert.equal(parseInt(token.slice(4, 15), 16), now)
      assert.equal(Buffer.from(token.slice(15), 'base64url').length, 32)
    }
    // 300 tokens draw more than one 4 KiB pool: no random part is ever handed out twice
    assert.equal(new Set(tokens.map((t) => t.slice(15))).size, tokens.length)
  })

  it('key later tokens after earlier ones, so inserts go to the end of the index', () => {
    const start = Date.parse('2026-12-01T10:00:00Z')
    const keys = [0, 1, 999, 60_000, 86_400_000].map((dt) =>
      hashRefreshToken(newRefreshToken(start + dt))!,
    )
    assert.deepEqual([...keys].sort(), keys)
  })

  it('key a token by its time and its SHA-256, never by the token itself', () => {
    const token = newRefreshToken(Date.parse('2026-12-01T10:00:00Z'))
    const key = hashRefreshToken(token)!
    assert.equal(key, token.slice(4, 15) + createHash('sha256').update(token).digest('base64url'))
    assert.ok(!key.includes(token.slice(15, 31)))
  })

  it('key a token of the first format (no time) by its hash alone, as it was stored', () => {
    const old = `tbr_${'A'.repeat(43)}`
    assert.equal(hashRefreshToken(old), createHash('sha256').update(old).digest('base64url'))
  })

  it('refuse anything else', () => {
    for (const bad of [
      'tbr_' + 'A'.repeat(42),
      'tbr_' + 'A'.repeat(44),
      'tbr_' + 'G'.repeat(11) + 'A'.repeat(43), // a time that is not hex
      'tbr_' + '0'.repeat(10) + 'A'.repeat(43), // ten digits: neither format
      'xyz_' + 'A'.repeat(43),
      'eyJhbGciOiJFUzI1NiJ9.e30.sig',
    ]) {
      assert.equal(hashRefreshToken(bad), undefined, bad)
    }
  })
})
