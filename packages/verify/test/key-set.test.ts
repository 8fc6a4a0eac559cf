import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { describe, test } from 'node:test'
import { createKeySet, createSecretKeySet, verifyAccessToken } from '../src/index.ts'
import type { PublicJwk } from '../src/index.ts'
import { options, publicJwk, signToken, signers } from './helpers.ts'

const es256 = publicJwk(signers.ES256)
const rsa = publicJwk(signers.RS256)

function kidsOf(...entries: unknown[]): readonly string[] {
  return createKeySet({ keys: entries as PublicJwk[] }).kids
}

describe('createKeySet', () => {
  test('imports every supported algorithm and pins it to the key', () => {
    const set = createKeySet({
      keys: [
        es256,
        publicJwk(signers.ES384),
        publicJwk(signers.EdDSA),
        rsa,
        publicJwk(signers.PS256),
      ],
    })
    assert.deepEqual(set.kids, ['es256-1', 'es384-1', 'ed-1', 'rs256-1', 'ps256-1'])
    assert.equal(set.size, 5)
    const key = set.get('es256-1')
    assert.equal(key?.alg, 'ES256')
    assert.equal(key?.kid, 'es256-1')
    assert.equal(key?.key.type, 'public')
    assert.equal(set.get('ps256-1')?.alg, 'PS256')
    assert.equal(set.get('nope'), undefined)
    assert.equal(set.get('__proto__'), undefined)
  })

  test('the set and its keys are frozen', () => {
    const set = createKeySet({ keys: [es256] })
    assert.ok(Object.isFrozen(set))
    assert.ok(Object.isFrozen(set.kids))
    assert.ok(Object.isFrozen(set.get('es256-1')))
    assert.throws(() => (set.kids as string[]).push('x'), TypeError)
  })

  test('a private JWK member throws TypeError, even on a key that would be skipped', () => {
    const privateEc = exportPrivate('ES256')
    assert.throws(() => createKeySet({ keys: [privateEc] }), { name: 'TypeError', message: /"d"/ })
    const privateRsa = exportPrivate('RS256')
    assert.throws(() => createKeySet({ keys: [es256, privateRsa] }), TypeError)
    assert.throws(() => createKeySet({ keys: [{ ...privateRsa, use: 'enc' }] }), TypeError)
    for (const member of ['p', 'q', 'dp', 'dq', 'qi', 'oth']) {
      assert.throws(() => createKeySet({ keys: [{ ...rsa, [member]: 'AQAB' }] }), TypeError, member)
    }
  })

  test('a symmetric key in a JWKS throws TypeError (secrets only via createSecretKeySet)', () => {
    const oct = { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'h', alg: 'HS256' }
    assert.throws(() => createKeySet({ keys: [oct] }), { name: 'TypeError', message: /"k"/ })
  })

  test('alg that does not fit kty/crv is skipped', () => {
    const p384 = publicJwk(signers.ES384)
    const ed = publicJwk(signers.EdDSA)
    assert.deepEqual(kidsOf({ ...es256, alg: 'RS256' }), [])
    assert.deepEqual(kidsOf({ ...es256, alg: 'ES384' }), [])
    assert.deepEqual(kidsOf({ ...p384, alg: 'ES256' }), [])
    assert.deepEqual(kidsOf({ ...rsa, alg: 'ES256' }), [])
    assert.deepEqual(kidsOf({ ...rsa, alg: 'HS256' }), [])
    assert.deepEqual(kidsOf({ ...rsa, alg: 'EdDSA' }), [])
    assert.deepEqual(kidsOf({ ...ed, alg: 'ES256' }), [])
    // a crv that lies about the coordinates fails the import
    assert.deepEqual(kidsOf({ ...p384, crv: 'P-256', alg: 'ES256' }), [])
  })

  test('missing or unsupported alg, missing or oversized kid are skipped', () => {
    const { alg: _alg, ...noAlg } = es256
    const { kid: _kid, ...noKid } = es256
    assert.deepEqual(kidsOf(noAlg, noKid), [])
    for (const alg of ['none', 'RS384', 'RS512', 'ES512', 'PS384', 'Ed25519', 'es256', 'HS256']) {
      assert.deepEqual(kidsOf({ ...es256, alg }), [], alg)
    }
    assert.deepEqual(kidsOf({ ...es256, kid: '' }), [])
    assert.deepEqual(kidsOf({ ...es256, kid: 'k'.repeat(257) }), [])
    assert.deepEqual(kidsOf({ ...es256, kid: 'k'.repeat(256) }), ['k'.repeat(256)])
    assert.deepEqual(kidsOf({ ...es256, kid: 7 }), [])
  })

  test('an RSA key under 2048 bits is skipped', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const weak = { ...publicKey.export({ format: 'jwk' }), kid: 'weak' }
    assert.deepEqual(kidsOf({ ...weak, alg: 'RS256' }, { ...weak, alg: 'PS256' }), [])
  })

  test('Ed448 is not EdDSA here', () => {
    const { publicKey } = generateKeyPairSync('ed448')
    assert.deepEqual(kidsOf({ ...publicKey.export({ format: 'jwk' }), kid: 'x', alg: 'EdDSA' }), [])
  })

  test('use other than sig, or key_ops without verify, is skipped', () => {
    assert.deepEqual(kidsOf({ ...es256, use: 'enc' }), [])
    assert.deepEqual(kidsOf({ ...es256, use: 'SIG' }), [])
    assert.deepEqual(kidsOf({ ...es256, key_ops: ['encrypt'] }), [])
    assert.deepEqual(kidsOf({ ...es256, key_ops: 'verify' }), [])
    assert.deepEqual(kidsOf({ ...es256, key_ops: ['verify'] }), ['es256-1'])
    const { use: _use, ...noUse } = es256
    assert.deepEqual(kidsOf(noUse), ['es256-1'])
  })

  test('bad entries are skipped and good ones kept; an unusable JWKS is an empty set', () => {
    assert.deepEqual(kidsOf(null, 'x', 42, [], { ...es256, use: 'enc' }, rsa), ['rs256-1'])
    const empty = createKeySet({
      keys: [{ ...es256, alg: 'none' }, { kty: 'EC' }, null] as PublicJwk[],
    })
    assert.equal(empty.size, 0)
    assert.deepEqual(empty.kids, [])
    assert.equal(createKeySet({ keys: [] }).size, 0)
  })

  test('a duplicate kid keeps the first key', () => {
    const set = createKeySet({ keys: [es256, { ...rsa, kid: 'es256-1' }] })
    assert.equal(set.size, 1)
    assert.equal(set.get('es256-1')?.alg, 'ES256')
  })

  test('onSkip reports every skipped entry', () => {
    const skipped: [string, number][] = []
    createKeySet(
      { keys: [es256, { ...es256, kid: 'b', use: 'enc' }, { ...rsa, alg: 'ES256' }] },
      { onSkip: (reason, index) => skipped.push([reason, index]) },
    )
    assert.deepEqual(
      skipped.map(([, index]) => index),
      [1, 2],
    )
    assert.match(skipped[0]![0], /use/)
  })

  test('a JWKS that is not { keys: [] } is a TypeError', () => {
    for (const bad of [null, undefined, 'x', {}, { keys: {} }, { keys: 'a' }]) {
      assert.throws(() => createKeySet(bad as never), TypeError)
    }
  })
})

describe('createSecretKeySet', () => {
  test('builds an HS256 set that verifies', () => {
    const secret = randomBytes(32)
    const set = createSecretKeySet([{ kid: 'hs', secret }])
    assert.deepEqual(set.kids, ['hs'])
    assert.equal(set.get('hs')?.alg, 'HS256')
    assert.equal(set.get('hs')?.key.type, 'secret')
    const token = signToken({ kid: 'hs', alg: 'HS256', key: secret })
    assert.equal(verifyAccessToken(token, set, options).sub, 'user-1')
  })

  test('copies the secret', () => {
    const secret = randomBytes(32)
    const token = signToken({ kid: 'hs', alg: 'HS256', key: Buffer.from(secret) })
    const set = createSecretKeySet([{ kid: 'hs', secret }])
    secret.fill(0)
    assert.equal(verifyAccessToken(token, set, options).sub, 'user-1')
  })

  test('rejects short secrets, bad kids and duplicates with TypeError', () => {
    assert.throws(() => createSecretKeySet([{ kid: 'a', secret: randomBytes(31) }]), /32 bytes/)
    assert.throws(
      () => createSecretKeySet([{ kid: 'a', secret: 'x'.repeat(64) as never }]),
      TypeError,
    )
    assert.throws(() => createSecretKeySet([{ kid: '', secret: randomBytes(32) }]), TypeError)
    assert.throws(
      () => createSecretKeySet([{ kid: 'k'.repeat(257), secret: randomBytes(32) }]),
      TypeError,
    )
    const secret = randomBytes(32)
    assert.throws(
      () =>
        createSecretKeySet([
          { kid: 'a', secret },
          { kid: 'a', secret },
        ]),
      /duplicates/,
    )
    assert.throws(() => createSecretKeySet('x' as never), TypeError)
  })
})

function exportPrivate(alg: 'ES256' | 'RS256'): PublicJwk {
  const key = signers[alg].key as KeyObject
  return { ...key.export({ format: 'jwk' }), kid: `${alg}-private`, alg }
}
