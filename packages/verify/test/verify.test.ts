import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SignJWT, exportJWK } from 'jose'
import type { KeyObject } from 'node:crypto'
import {
  TokenHeaderUnsupported,
  TokenMalformed,
  TokenTooLarge,
  createKeySet,
  decodeProtectedHeader,
  resolveVerifyOptions,
  verifyAccessToken,
} from '../src/index.ts'
import {
  AUDIENCE,
  ISSUER,
  NOW,
  asymmetric,
  atSeconds,
  claims,
  keys,
  options,
  secretKeys,
  signToken,
  signers,
  withPayload,
} from './helpers.ts'

// jose is an independent implementation: tokens it signs must verify here
async function joseToken(alg: keyof typeof signers, header: Record<string, unknown> = {}) {
  const signer = signers[alg]
  return new SignJWT(claims())
    .setProtectedHeader({ alg, kid: signer.kid, typ: 'at+jwt', ...header })
    .sign(signer.key as KeyObject | Uint8Array)
}

describe('verifyAccessToken accepts valid tokens', () => {
  for (const alg of ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256', 'HS256'] as const) {
    test(`${alg} signed by jose`, async () => {
      const token = await joseToken(alg)
      const set = alg === 'HS256' ? secretKeys : keys
      assert.deepEqual(verifyAccessToken(token, set, options), claims())
    })
  }

  test('keys exported by jose import cleanly', async () => {
    const jwk = await exportJWK(signers.EdDSA.publicKey!)
    const set = createKeySet({ keys: [{ ...jwk, kid: 'ed-1', alg: 'EdDSA' }] })
    assert.equal(verifyAccessToken(await joseToken('EdDSA'), set, options).sub, 'user-1')
  })

  test('tokens signed by hand with node:crypto verify for every key', () => {
    for (const signer of asymmetric) {
      assert.equal(verifyAccessToken(signToken(signer), keys, options).jti, 'jti-1', signer.alg)
    }
  })

  test('returns extra claims untouched', () => {
    const token = signToken(signers.ES256, claims({ sid: 's-1', nbf: NOW - 5, cnf: { jkt: 'x' } }))
    const result = verifyAccessToken(token, keys, options)
    assert.equal(result.sid, 's-1')
    assert.equal(result.nbf, NOW - 5)
    assert.deepEqual(result.cnf, { jkt: 'x' })
  })

  test('scope is optional', () => {
    const token = signToken(signers.ES256, claims({ scope: undefined }))
    assert.equal(verifyAccessToken(token, keys, options).scope, undefined)
  })

  test('audience may be a list, and aud may be an array', () => {
    const token = signToken(signers.ES256, claims({ aud: ['https://other.test', AUDIENCE] }))
    assert.deepEqual(verifyAccessToken(token, keys, options).aud, ['https://other.test', AUDIENCE])
    const single = signToken(signers.ES256)
    const multi = { ...options, audience: ['https://x.test', AUDIENCE] }
    assert.equal(verifyAccessToken(single, keys, multi).aud, AUDIENCE)
  })

  test('typ is case-insensitive and may carry application/ (RFC 9068 §4)', () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT']) {
      assert.equal(
        verifyAccessToken(signToken(signers.ES256, claims(), { typ }), keys, options).sub,
        'user-1',
      )
    }
    const jwt = signToken(signers.ES256, claims(), { typ: 'JWT' })
    assert.equal(verifyAccessToken(jwt, keys, { ...options, typ: 'jwt' }).sub, 'user-1')
    assert.throws(() => verifyAccessToken(jwt, keys, options), TokenHeaderUnsupported)
    const doubled = signToken(signers.ES256, claims(), { typ: 'application/application/at+jwt' })
    assert.throws(() => verifyAccessToken(doubled, keys, options), TokenHeaderUnsupported)
  })

  test('unknown header parameters such as cty are ignored', () => {
    const token = signToken(signers.ES256, claims(), { cty: 'json', foo: 1 })
    assert.equal(verifyAccessToken(token, keys, options).sub, 'user-1')
  })

  test('defaults to Date.now', () => {
    const nowS = Math.floor(Date.now() / 1000)
    const token = signToken(signers.ES256, claims({ iat: nowS, exp: nowS + 60 }))
    const { now: _now, ...withoutNow } = options
    assert.equal(verifyAccessToken(token, keys, withoutNow).sub, 'user-1')
  })

  test('maxTokenLength can be raised', () => {
    const token = signToken(signers.ES256, claims({ pad: 'x'.repeat(9000) }))
    assert.throws(() => verifyAccessToken(token, keys, options), TokenTooLarge)
    assert.equal(
      verifyAccessToken(token, keys, { ...options, maxTokenLength: 20_000 }).sub,
      'user-1',
    )
  })
})

describe('ignoreExpiration', () => {
  const expired = signToken(signers.ES256, claims({ exp: NOW - 3600, iat: NOW - 4000 }))

  test('accepts an expired token, still checking everything else', () => {
    const opts = { ...options, ignoreExpiration: true }
    assert.equal(verifyAccessToken(expired, keys, opts).sub, 'user-1')
    const tampered = withPayload(expired, claims({ exp: NOW - 3600, iat: NOW - 4000, sub: 'root' }))
    assert.throws(() => verifyAccessToken(tampered, keys, opts), { name: 'TokenSignatureInvalid' })
    assert.throws(
      () => verifyAccessToken(expired, keys, { ...opts, issuer: 'https://evil.test' }),
      {
        name: 'TokenClaimInvalid',
        claim: 'iss',
      },
    )
    assert.throws(() => verifyAccessToken(expired, keys, { ...opts, audience: 'https://x.test' }), {
      name: 'TokenClaimInvalid',
      claim: 'aud',
    })
    const idToken = signToken(signers.ES256, claims({ exp: NOW - 3600 }), { typ: 'JWT' })
    assert.throws(() => verifyAccessToken(idToken, keys, opts), TokenHeaderUnsupported)
    const noExp = signToken(signers.ES256, claims({ exp: undefined }))
    assert.throws(() => verifyAccessToken(noExp, keys, opts), {
      name: 'TokenClaimInvalid',
      claim: 'exp',
    })
  })

  test('without it the same token is expired', () => {
    assert.throws(() => verifyAccessToken(expired, keys, options), { name: 'TokenExpired' })
  })
})

describe('decodeProtectedHeader', () => {
  test('returns the header without verifying', () => {
    const token = signToken(signers.RS256, claims(), { extra: true })
    assert.deepEqual(decodeProtectedHeader(token), {
      alg: 'RS256',
      kid: 'rs256-1',
      typ: 'at+jwt',
      extra: true,
    })
  })

  test('throws TokenMalformed for structural errors', () => {
    for (const bad of ['', 'a.b', 'a.b.c.d', '=.e30.e30', 'bnVsbA.e30.sig', 'W10.e30.sig']) {
      assert.throws(() => decodeProtectedHeader(bad), TokenMalformed, bad)
    }
  })

  test('enforces the length limit', () => {
    assert.throws(() => decodeProtectedHeader('a'.repeat(9000)), TokenTooLarge)
    assert.throws(() => decodeProtectedHeader('a', { maxTokenLength: 0 }), TypeError)
  })
})

describe('resolveVerifyOptions', () => {
  test('options resolved once verify exactly like the plain ones, typ included', () => {
    const resolved = resolveVerifyOptions({ ...options, typ: 'application/AT+JWT' })
    const token = signToken(signers.ES256)
    assert.equal(verifyAccessToken(token, keys, resolved).sub, 'user-1')
    assert.equal(resolveVerifyOptions(resolved), resolved, 'resolving twice is the identity')
    assert.equal(
      verifyAccessToken(token, keys, { ...options, typ: 'application/AT+JWT' }).sub,
      'user-1',
      'options passed with the call normalize typ too',
    )
    assert.ok(Object.isFrozen(resolved))
    assert.throws(
      () => verifyAccessToken(signToken(signers.ES256, claims(), { typ: 'jwt' }), keys, resolved),
      TokenHeaderUnsupported,
    )
    assert.throws(
      () =>
        verifyAccessToken(token, keys, resolveVerifyOptions({ ...options, issuer: 'https://x' })),
      { name: 'TokenClaimInvalid' },
    )
  })

  test('a look-alike object is validated, not trusted as resolved', () => {
    const fake = { ...resolveVerifyOptions(options), clockTolerance: -1 }
    assert.throws(() => verifyAccessToken(signToken(signers.ES256), keys, fake), TypeError)
  })
})

describe('invalid options are TypeErrors', () => {
  const token = signToken(signers.ES256)
  const cases: Record<string, unknown>[] = [
    { issuer: '' },
    { issuer: undefined },
    { audience: '' },
    { audience: [] },
    { audience: ['ok', ''] },
    { audience: 42 },
    { clockTolerance: -1 },
    { clockTolerance: Number.NaN },
    { clockTolerance: Infinity },
    { clockTolerance: '5' },
    { now: 5 },
    { now: () => Number.NaN },
    { maxTokenLength: 0 },
    { maxTokenLength: 1.5 },
    { typ: '' },
    { ignoreExpiration: 'yes' },
  ]
  for (const overrides of cases) {
    test(
      JSON.stringify(overrides, (_k, v) =>
        typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
      ) ?? '',
      () => {
        assert.throws(
          () => verifyAccessToken(token, keys, { ...options, ...overrides } as never),
          TypeError,
        )
      },
    )
  }

  test('issuer and audience are required', () => {
    assert.equal(ISSUER, options.issuer)
    assert.throws(() => verifyAccessToken(token, keys, { audience: AUDIENCE } as never), TypeError)
    assert.throws(() => verifyAccessToken(token, keys, { issuer: ISSUER } as never), TypeError)
    assert.equal(verifyAccessToken(token, keys, atSeconds(NOW)).sub, 'user-1')
  })
})
