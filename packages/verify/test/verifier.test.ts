// createVerifier with a static key set (no network): the verified-token cache, verifyRequest's
// credential rules, requireScope, the shared error mapping, and option validation.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  InsufficientScope,
  RequestMalformed,
  TokenExpired,
  TokenInvalid,
  TokenKeyUnknown,
  TokenMalformed,
  TokenMissing,
  TokenRevoked,
  TokenSignatureInvalid,
  VerifierUnavailable,
  createVerifier,
  describeAuthError,
  requireScope,
} from '../src/index.ts'
import type { AccessTokenClaims, VerifierOptions } from '../src/index.ts'
import {
  AUDIENCE,
  ISSUER,
  NOW,
  claims,
  keys,
  secretKeys,
  signToken,
  signers,
  withPayload,
} from './helpers.ts'

let t = NOW * 1000
const clock = () => t
const base: VerifierOptions = { issuer: ISSUER, audience: AUDIENCE, jwks: keys, clock }
const verifiers: Array<{ close(): Promise<void> }> = []
function make(options: Partial<VerifierOptions> = {}) {
  const verifier = createVerifier({ ...base, ...options })
  verifiers.push(verifier)
  return verifier
}
after(async () => {
  for (const v of verifiers) await v.close()
})

describe('verified-token cache', () => {
  test('a repeated token is a cache hit: the same frozen claims object', async () => {
    t = NOW * 1000
    const verifier = make()
    const token = signToken(signers.ES256, claims({ jti: 'hit' }))
    const first = await verifier.verify(token)
    assert.equal(await verifier.verify(token), first)
    assert.ok(Object.isFrozen(first))
    assert.throws(() => {
      ;(first as { scope?: string }).scope = 'admin'
    }, TypeError)
    assert.equal(verifier.status().cacheSize, 1)
  })

  test('exp is re-checked on a hit, with the clock tolerance, and the entry dropped', async () => {
    t = NOW * 1000
    const verifier = make({ clockTolerance: 5 })
    const token = signToken(signers.ES256, claims({ exp: NOW + 60 }))
    await verifier.verify(token)
    t = (NOW + 65) * 1000 // exp + tolerance: still accepted (inclusive, as the core)
    await verifier.verify(token)
    t += 1
    await assert.rejects(verifier.verify(token), TokenExpired)
    assert.equal(verifier.status().cacheSize, 0)
    t = NOW * 1000
  })

  test('bounded by cacheSize', async () => {
    t = NOW * 1000
    const verifier = make({ cacheSize: 4 })
    for (let i = 0; i < 20; i++)
      await verifier.verify(signToken(signers.EdDSA, claims({ jti: `j${i}` })))
    assert.ok(verifier.status().cacheSize <= 4)
  })

  test('failures are not cached; every algorithm goes through the core', async () => {
    const verifier = make()
    const good = signToken(signers.ES256)
    const tampered = withPayload(good, claims({ sub: 'mallory' }))
    await assert.rejects(verifier.verify(tampered), TokenSignatureInvalid)
    await assert.rejects(verifier.verify(tampered), TokenSignatureInvalid)
    assert.equal(verifier.status().cacheSize, 0)
    await assert.rejects(verifier.verify('a.b'), TokenMalformed)
    await assert.rejects(verifier.verify(undefined as unknown as string), TokenMalformed)
    await assert.rejects(verifier.verify(signToken(signers.HS256)), TokenKeyUnknown)
    const hs = make({ jwks: secretKeys })
    assert.equal((await hs.verify(signToken(signers.HS256))).sub, 'user-1')
  })

  test('status without a feed', async () => {
    const verifier = make()
    await verifier.ready()
    assert.deepEqual(verifier.status(), { keys: 5, feed: 'off', revocations: 0, cacheSize: 0 })
  })
})

describe('verifyRequest', () => {
  const token = signToken(signers.ES256)

  test('Authorization: Bearer, scheme case-insensitive, Headers or Node records', async () => {
    const verifier = make()
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      assert.equal(
        (await verifier.verifyRequest({ authorization: `${scheme} ${token}` })).sub,
        'user-1',
      )
    }
    assert.equal(
      (await verifier.verifyRequest(new Headers({ Authorization: `Bearer  ${token}` }))).sub,
      'user-1',
    )
    assert.equal((await verifier.verifyRequest({ Authorization: `Bearer ${token}` })).sub, 'user-1')
    assert.equal(
      (await verifier.verifyRequest({ authorization: [`Bearer ${token}`] })).sub,
      'user-1',
    )
  })

  test('no credentials, or another scheme, is TokenMissing (a TokenInvalid)', async () => {
    const verifier = make()
    for (const headers of [
      {},
      { authorization: '' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearerx abc' },
      // one header of another scheme with commas of its own is still just another scheme
      { authorization: 'Digest username="u", realm="r", nonce="n", bearer="x"' },
      new Headers({ authorization: 'Digest username="u", realm="r"' }),
      new Headers(),
    ]) {
      await assert.rejects(verifier.verifyRequest(headers), (error: unknown) => {
        assert.ok(error instanceof TokenMissing && error instanceof TokenInvalid)
        assert.equal(error.code, 'ERR_TOKEN_MISSING')
        return true
      })
    }
  })

  test('"Bearer" without a token, or two Authorization headers, is RequestMalformed (RFC 6750 §3.1 invalid_request)', async () => {
    const verifier = make()
    for (const headers of [
      { authorization: 'Bearer' },
      { authorization: 'Bearer    ' },
      { authorization: [`Bearer ${token}`, `Bearer ${token}`] },
    ]) {
      await assert.rejects(verifier.verifyRequest(headers), (error: unknown) => {
        // not a TokenInvalid: no token was judged, and adapters answer 400, not 401
        assert.ok(error instanceof RequestMalformed && !(error instanceof TokenInvalid))
        assert.equal(error.code, 'ERR_REQUEST_MALFORMED')
        return true
      })
    }
  })

  test('the configured cookie is the fallback; the header wins when both are present', async () => {
    const verifier = make({ cookie: 'at' })
    const csrf = { 'x-tokenbooth-csrf': '1' }
    assert.equal(
      (await verifier.verifyRequest({ ...csrf, cookie: `theme=dark; at=${token}; x=1` })).sub,
      'user-1',
    )
    assert.equal((await verifier.verifyRequest({ ...csrf, cookie: `at="${token}"` })).sub, 'user-1')
    assert.equal(
      (await verifier.verifyRequest(new Headers({ ...csrf, cookie: `at=${token}` }))).sub,
      'user-1',
    )
    await assert.rejects(verifier.verifyRequest({ ...csrf, cookie: `xat=${token}` }), TokenMissing)
    await assert.rejects(verifier.verifyRequest({ ...csrf, cookie: 'at=' }), TokenMissing)
    await assert.rejects(
      verifier.verifyRequest({ ...csrf, authorization: 'Bearer bad', cookie: `at=${token}` }),
      TokenMalformed,
    )
    // without the option, cookies are never read
    await assert.rejects(make().verifyRequest({ ...csrf, cookie: `at=${token}` }), TokenMissing)
  })

  test('CSRF: a valid access cookie without the X-Tokenbooth-CSRF header is refused', async () => {
    // what a cross-site form post (or an <img>) sends: the cookie, and no custom header
    const verifier = make({ cookie: 'at' })
    for (const headers of [
      { cookie: `at=${token}` },
      { cookie: `at=${token}`, origin: 'https://evil.example' },
      new Headers({ cookie: `at=${token}` }),
    ]) {
      await assert.rejects(verifier.verifyRequest(headers), RequestMalformed)
      assert.throws(() => verifier.verifyRequestNow(headers), RequestMalformed)
    }
    // a Bearer header needs no CSRF header: a browser never attaches one by itself
    assert.equal((await verifier.verifyRequest({ authorization: `Bearer ${token}` })).sub, 'user-1')
  })

  test('verifyRequestNow answers a known token without a promise, and throws what it knows at once', async () => {
    const verifier = make()
    await verifier.ready()
    const first = verifier.verifyRequestNow({ authorization: `Bearer ${token}` })
    assert.ok(!(first instanceof Promise))
    assert.equal((first as AccessTokenClaims).sub, 'user-1')
    assert.throws(() => verifier.verifyRequestNow({}), TokenMissing)
    assert.throws(
      () => verifier.verifyRequestNow({ authorization: `Bearer ${token.slice(0, -4)}AAAA` }),
      TokenInvalid,
    )
  })
})

describe('requireScope', () => {
  const c = claims({ scope: 'cart:read cart:write payment' }) as AccessTokenClaims

  test('passes when every scope is granted, as whole words', () => {
    requireScope(c, 'cart:read')
    requireScope(c, 'cart:write', 'payment')
    requireScope(c)
  })

  test('throws InsufficientScope carrying the needed scopes', () => {
    assert.throws(() => requireScope(c, 'cart'), {
      name: 'InsufficientScope',
      scope: 'cart',
      code: 'ERR_SCOPE_INSUFFICIENT',
    })
    assert.throws(
      () => requireScope(c, 'cart:read', 'pay'),
      (error: unknown) => {
        assert.ok(error instanceof InsufficientScope && !(error instanceof TokenInvalid))
        assert.equal(error.scope, 'cart:read pay')
        return true
      },
    )
    assert.throws(() => requireScope({ ...c, scope: undefined }, 'cart:read'), InsufficientScope)
  })

  test('a scope with a space or an empty one is a TypeError', () => {
    assert.throws(() => requireScope(c, 'cart:read cart:write'), TypeError)
    assert.throws(() => requireScope(c, ''), TypeError)
  })
})

describe('describeAuthError (RFC 6750 §3)', () => {
  test('missing token: 401, bare challenge without error attribute', () => {
    const answer = describeAuthError(new TokenMissing(), 'shop')!
    assert.equal(answer.status, 401)
    assert.equal(answer.headers['www-authenticate'], 'Bearer realm="shop"')
    assert.deepEqual(JSON.parse(answer.body), {
      error: 'invalid_request',
      error_description: 'an access token is required',
    })
  })

  test('invalid, expired, revoked: 401 invalid_token with a fixed description', () => {
    for (const [error, description] of [
      [new TokenSignatureInvalid('secret detail'), 'the access token is invalid'],
      [new TokenExpired(), 'the access token expired'],
      [new TokenRevoked('sid'), 'the access token was revoked'],
    ] as const) {
      const answer = describeAuthError(error)!
      assert.equal(answer.status, 401)
      assert.equal(
        answer.headers['www-authenticate'],
        `Bearer realm="tokenbooth", error="invalid_token", error_description="${description}"`,
      )
      assert.deepEqual(JSON.parse(answer.body), {
        error: 'invalid_token',
        error_description: description,
      })
      assert.doesNotMatch(answer.body, /secret detail/)
    }
  })

  test('malformed credentials: 400 invalid_request in the challenge and the body', () => {
    const answer = describeAuthError(new RequestMalformed('two Authorization headers'), 'shop')!
    assert.equal(answer.status, 400)
    assert.match(
      answer.headers['www-authenticate']!,
      /^Bearer realm="shop", error="invalid_request"/,
    )
    assert.equal(JSON.parse(answer.body).error, 'invalid_request')
    assert.doesNotMatch(answer.body, /two Authorization/)
  })

  test('insufficient scope: 403 with the scope attribute; unsafe scopes are left out', () => {
    const answer = describeAuthError(new InsufficientScope('cart:read cart:write'))!
    assert.equal(answer.status, 403)
    assert.match(
      answer.headers['www-authenticate']!,
      /^Bearer realm="tokenbooth", error="insufficient_scope", .*scope="cart:read cart:write"$/,
    )
    assert.equal(JSON.parse(answer.body).error, 'insufficient_scope')
    assert.doesNotMatch(
      describeAuthError(new InsufficientScope('a"b'))!.headers['www-authenticate']!,
      /scope=/,
    )
  })

  test('unavailable: 503 temporarily_unavailable with Retry-After and no challenge', () => {
    const answer = describeAuthError(new VerifierUnavailable('x'))!
    assert.equal(answer.status, 503)
    assert.equal(answer.headers['retry-after'], '5')
    assert.equal(answer.headers['www-authenticate'], undefined)
    assert.equal(JSON.parse(answer.body).error, 'temporarily_unavailable')
  })

  test('anything else is not ours to answer', () => {
    assert.equal(describeAuthError(new TypeError('bug')), undefined)
    assert.equal(describeAuthError('string'), undefined)
  })
})

describe('options', () => {
  test('a bad option is a TypeError naming it', () => {
    const cases: Array<[Partial<VerifierOptions>, RegExp]> = [
      [{ issuer: '' }, /"issuer"/],
      [{ audience: [] }, /"audience"/],
      [{ clockTolerance: -1 }, /"clockTolerance"/],
      [{ cacheSize: 1.5 }, /"cacheSize"/],
      [{ jwksCooldownMs: Number.NaN }, /"jwksCooldownMs"/],
      [{ cookie: 'a b' }, /"cookie"/],
      [{ clock: 5 as never }, /"clock"/],
      [{ jwks: undefined, issuer: 'not a url' }, /"issuer" must be an http\(s\) URL/],
      [{ revocation: { clientId: '', clientSecret: 's' } }, /"revocation.clientId"/],
      [
        { revocation: { clientId: 'c', clientSecret: 's', policy: 'maybe' as never } },
        /"revocation.policy"/,
      ],
      [
        { revocation: { clientId: 'c', clientSecret: 's', staleAfterMs: 0 } },
        /"revocation.staleAfterMs"/,
      ],
    ]
    for (const [options, message] of cases) {
      assert.throws(
        () => createVerifier({ ...base, ...options }),
        { name: 'TypeError', message },
        String(message),
      )
    }
  })

  test('a JWKS object is accepted as a static key set', async () => {
    const { publicJwk } = await import('./helpers.ts')
    const verifier = make({ jwks: { keys: [publicJwk(signers.ES256)] } })
    assert.equal((await verifier.verify(signToken(signers.ES256))).sub, 'user-1')
  })
})
