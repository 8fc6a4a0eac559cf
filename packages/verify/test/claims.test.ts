import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  TokenClaimInvalid,
  TokenExpired,
  TokenNotYetValid,
  verifyAccessToken,
} from '../src/index.ts'
import type { VerifyOptions } from '../src/index.ts'
import {
  AUDIENCE,
  ISSUER,
  NOW,
  atSeconds,
  b64,
  claims,
  keys,
  options,
  rawSign,
  signToken,
  signers,
} from './helpers.ts'

const token = (overrides: Record<string, unknown>) => signToken(signers.ES256, claims(overrides))

/** Signs a payload given as raw JSON text (for values JSON.stringify cannot produce). */
function rawToken(json: string): string {
  const input = `${b64({ alg: 'ES256', kid: 'es256-1', typ: 'at+jwt' })}.${b64(json)}`
  return `${input}.${b64(rawSign('ES256', signers.ES256.key, input))}`
}

function accepts(t: string, opts: VerifyOptions = options) {
  assert.equal(verifyAccessToken(t, keys, opts).sub, 'user-1')
}

function rejectsClaim(t: string, claim: string, opts: VerifyOptions = options) {
  assert.throws(
    () => verifyAccessToken(t, keys, opts),
    (err: unknown) => {
      assert.ok(err instanceof TokenClaimInvalid, `expected TokenClaimInvalid, got ${String(err)}`)
      assert.equal(err.claim, claim)
      return true
    },
  )
}

describe('exp', () => {
  const t = token({ exp: NOW, iat: NOW - 60 })

  test('valid up to and including exp + tolerance (default 5 s)', () => {
    accepts(t, atSeconds(NOW))
    accepts(t, atSeconds(NOW + 5))
    assert.throws(() => verifyAccessToken(t, keys, atSeconds(NOW + 5.001)), TokenExpired)
    assert.throws(() => verifyAccessToken(t, keys, atSeconds(NOW + 3600)), TokenExpired)
  })

  test('clockTolerance moves the boundary', () => {
    accepts(t, { ...atSeconds(NOW), clockTolerance: 0 })
    assert.throws(
      () => verifyAccessToken(t, keys, { ...atSeconds(NOW + 0.001), clockTolerance: 0 }),
      TokenExpired,
    )
    accepts(t, { ...atSeconds(NOW + 60), clockTolerance: 60 })
  })

  test('fractional NumericDate is accepted', () => {
    accepts(token({ exp: NOW + 0.5 }), atSeconds(NOW + 5.5))
    assert.throws(
      () => verifyAccessToken(token({ exp: NOW + 0.5 }), keys, atSeconds(NOW + 5.6)),
      TokenExpired,
    )
  })

  test('missing, non-number or non-finite exp is TokenClaimInvalid', () => {
    rejectsClaim(token({ exp: undefined }), 'exp')
    rejectsClaim(token({ exp: String(NOW + 300) }), 'exp')
    rejectsClaim(token({ exp: null }), 'exp')
    rejectsClaim(token({ exp: [NOW + 300] }), 'exp')
    // 1e999 parses to Infinity, which would never expire
    rejectsClaim(rawToken(JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e999')), 'exp')
  })
})

describe('nbf', () => {
  const t = token({ nbf: NOW + 100 })

  test('valid from nbf - tolerance', () => {
    accepts(t, atSeconds(NOW + 95))
    assert.throws(() => verifyAccessToken(t, keys, atSeconds(NOW + 94.999)), TokenNotYetValid)
    assert.throws(() => verifyAccessToken(t, keys, atSeconds(NOW)), TokenNotYetValid)
  })

  test('nbf of the wrong type is TokenClaimInvalid', () => {
    rejectsClaim(token({ nbf: 'soon' }), 'nbf')
    rejectsClaim(token({ nbf: null }), 'nbf')
    rejectsClaim(rawToken(JSON.stringify(claims()).replace('{', '{"nbf":-1e999,')), 'nbf')
  })
})

describe('iat', () => {
  test('may be at most tolerance seconds in the future', () => {
    const t = token({ iat: NOW + 100, exp: NOW + 400 })
    accepts(t, atSeconds(NOW + 95))
    assert.throws(() => verifyAccessToken(t, keys, atSeconds(NOW + 94.999)), TokenNotYetValid)
  })

  test('missing or non-number iat is TokenClaimInvalid', () => {
    rejectsClaim(token({ iat: undefined }), 'iat')
    rejectsClaim(token({ iat: '0' }), 'iat')
  })
})

describe('iss and aud', () => {
  test('iss must match exactly', () => {
    for (const iss of [
      `${ISSUER}/`,
      ISSUER.toUpperCase(),
      'https://evil.test',
      '',
      [ISSUER],
      undefined,
    ]) {
      rejectsClaim(token({ iss }), 'iss')
    }
    rejectsClaim(token({}), 'iss', { ...options, issuer: 'https://other.test' })
  })

  test('aud must contain the expected audience', () => {
    for (const aud of [
      'https://evil.test',
      `${AUDIENCE}/`,
      AUDIENCE.slice(0, -1),
      '',
      [],
      ['https://evil.test'],
      [AUDIENCE, 42],
      [[AUDIENCE]],
      42,
      undefined,
      { [AUDIENCE]: true },
    ]) {
      rejectsClaim(token({ aud }), 'aud')
    }
    rejectsClaim(token({}), 'aud', { ...options, audience: ['https://a.test', 'https://b.test'] })
  })

  test('aud array containing the audience anywhere is accepted', () => {
    accepts(token({ aud: ['https://a.test', AUDIENCE] }))
    accepts(token({ aud: [AUDIENCE] }))
  })
})

describe('required and typed claims', () => {
  for (const claim of ['sub', 'client_id', 'jti']) {
    test(`${claim} must be a non-empty string`, () => {
      for (const value of [undefined, '', 42, null, ['x'], {}])
        rejectsClaim(token({ [claim]: value }), claim)
    })
  }

  test('scope and sid, when present, must be strings', () => {
    rejectsClaim(token({ scope: ['read'] }), 'scope')
    rejectsClaim(token({ scope: null }), 'scope')
    rejectsClaim(token({ sid: 42 }), 'sid')
    accepts(token({ scope: '' }))
    accepts(token({ sid: 'session-1' }))
  })

  test('claim errors come after the signature: a forged token with bad claims is a signature error', () => {
    const forged = `${signToken(signers.ES256).split('.').slice(0, 1)}.${b64({ iss: 'x' })}.AAAA`
    assert.throws(() => verifyAccessToken(forged, keys, options), { name: 'TokenSignatureInvalid' })
  })
})
