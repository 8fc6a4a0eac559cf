// Known attacks on JWT verification (RFC 8725 §2) and malformed input. Every case asserts the
// specific error class, so a check that silently moves or disappears makes a test fail.
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  createKeySet,
  TokenAlgorithmNotAllowed,
  TokenHeaderUnsupported,
  TokenInvalid,
  TokenKeyUnknown,
  TokenMalformed,
  TokenSignatureInvalid,
  TokenTooLarge,
  verifyAccessToken,
} from '../src/index.ts'
import type { KeySet, VerificationAlgorithm } from '../src/index.ts'
import {
  asymmetric,
  b64,
  claims,
  keys,
  options,
  parts,
  publicJwk,
  rawSign,
  secretKeys,
  signToken,
  signers,
  withPayload,
} from './helpers.ts'
import type { Signer } from './helpers.ts'

const all = [...asymmetric, signers.HS256]
const keySetFor = (signer: Signer): KeySet => (signer.alg === 'HS256' ? secretKeys : keys)

function rejects(token: string, expected: new (...args: never[]) => TokenInvalid, set = keys) {
  assert.throws(
    () => verifyAccessToken(token, set, options),
    (err: unknown) => {
      assert.ok(err instanceof expected, `expected ${expected.name}, got ${String(err)}`)
      return true
    },
  )
}

/** Builds `header.payload.signature` from raw segment strings. */
const compact = (header: unknown, payload: unknown, signature = '') =>
  `${b64(header)}.${b64(payload)}.${signature}`

function attacker(alg: VerificationAlgorithm, kid: string): Signer {
  if (alg === 'HS256') return { alg, kid, key: randomBytes(32) }
  const { privateKey, publicKey } =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'ES384'
          ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
          : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { alg, kid, key: privateKey, publicKey }
}

describe('alg none', () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    test(`"${alg}" with an empty signature is TokenAlgorithmNotAllowed`, () => {
      rejects(compact({ alg, kid: 'es256-1', typ: 'at+jwt' }, claims()), TokenAlgorithmNotAllowed)
      rejects(compact({ alg, typ: 'at+jwt' }, claims()), TokenAlgorithmNotAllowed)
    })
  }

  test('none with a non-empty signature is TokenAlgorithmNotAllowed', () => {
    const [, , s] = parts(signToken(signers.ES256))
    rejects(
      compact({ alg: 'none', kid: 'es256-1', typ: 'at+jwt' }, claims(), s),
      TokenAlgorithmNotAllowed,
    )
  })

  test('unknown, lower-cased and non-string alg', () => {
    for (const alg of ['es256', 'HS512', 'RS512', 'ES256 ', 'Ed25519', '']) {
      rejects(
        compact({ alg, kid: 'es256-1', typ: 'at+jwt' }, claims(), 'AAAA'),
        TokenAlgorithmNotAllowed,
      )
    }
    for (const alg of [null, 1, ['ES256'], { alg: 'ES256' }]) {
      rejects(compact({ alg, kid: 'es256-1', typ: 'at+jwt' }, claims(), 'AAAA'), TokenMalformed)
    }
    rejects(compact({ kid: 'es256-1', typ: 'at+jwt' }, claims(), 'AAAA'), TokenMalformed)
  })
})

describe('signature tampering', () => {
  for (const signer of all) {
    test(`${signer.alg}: stripped, zeroed, truncated, tampered payload`, () => {
      const set = keySetFor(signer)
      const token = signToken(signer)
      const [h, p, s] = parts(token)
      const signature = Buffer.from(s, 'base64url')
      rejects(`${h}.${p}.`, TokenSignatureInvalid, set)
      rejects(`${h}.${p}`, TokenMalformed, set)
      rejects(`${h}.${p}.${b64(Buffer.alloc(signature.length))}`, TokenSignatureInvalid, set)
      rejects(`${h}.${p}.${b64(signature.subarray(0, -1))}`, TokenSignatureInvalid, set)
      rejects(
        `${h}.${p}.${b64(Buffer.concat([signature, Buffer.of(0)]))}`,
        TokenSignatureInvalid,
        set,
      )
      rejects(withPayload(token, claims({ sub: 'admin' })), TokenSignatureInvalid, set)
      rejects(withPayload(token, claims({ scope: 'read write admin' })), TokenSignatureInvalid, set)
      // positive control: the untouched token verifies
      assert.equal(verifyAccessToken(token, set, options).sub, 'user-1')
    })

    test(`${signer.alg}: a foreign key's signature under our kid`, () => {
      const foreign = attacker(signer.alg, signer.kid)
      rejects(signToken(foreign), TokenSignatureInvalid, keySetFor(signer))
    })
  }

  for (const signer of [signers.RS256, signers.PS256]) {
    test(`${signer.alg}: a signature with its leading zero byte dropped is not a second form (RFC 8017 §8.1.2)`, () => {
      const set = keySetFor(signer)
      // about one signature in 256 starts with 0x00: sign distinct payloads until one does
      for (let n = 0; ; n++) {
        const token = signToken(signer, claims({ n }))
        const [h, p, s] = parts(token)
        const signature = Buffer.from(s, 'base64url')
        if (signature[0] !== 0) continue
        assert.equal(verifyAccessToken(token, set, options).sub, 'user-1')
        rejects(`${h}.${p}.${b64(signature.subarray(1))}`, TokenSignatureInvalid, set)
        break
      }
    })
  }

  test('a DER-encoded ECDSA signature is rejected (JWS uses raw r||s)', () => {
    const signer = signers.ES256
    const [h, p] = parts(signToken(signer))
    const der = sign('sha256', Buffer.from(`${h}.${p}`), signer.key as KeyObject)
    rejects(`${h}.${p}.${b64(der)}`, TokenSignatureInvalid)
  })

  test('the payload is not parsed before the signature verifies', () => {
    const [h, , s] = parts(signToken(signers.ES256))
    rejects(`${h}.${b64('{not json')}.${s}`, TokenSignatureInvalid)
  })

  test('alg swapped to another allowed alg fails on the pinned key', () => {
    // RS256 key, PS256 signature by the same private key: a different algorithm is still refused
    const rsKey = { ...signers.RS256, alg: 'PS256' as const }
    rejects(signToken(rsKey), TokenAlgorithmNotAllowed)
    rejects(signToken({ ...signers.ES384, kid: 'es256-1' }), TokenAlgorithmNotAllowed)
    rejects(signToken({ ...signers.HS256, kid: 'es256-1' }), TokenAlgorithmNotAllowed)
  })
})

describe('HS256 key confusion', () => {
  for (const victim of [signers.ES256, signers.RS256, signers.EdDSA]) {
    const publicKey = victim.publicKey!
    const texts = {
      'SPKI PEM': publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      'JWK JSON': JSON.stringify(publicKey.export({ format: 'jwk' })),
      ...(victim.alg === 'RS256'
        ? { 'PKCS#1 PEM': publicKey.export({ format: 'pem', type: 'pkcs1' }).toString() }
        : {}),
    }
    for (const [label, text] of Object.entries(texts)) {
      test(`HMAC with the ${victim.alg} public key as ${label} is TokenAlgorithmNotAllowed`, () => {
        const forged: Signer = { alg: 'HS256', kid: victim.kid, key: Buffer.from(text) }
        rejects(signToken(forged), TokenAlgorithmNotAllowed)
      })
    }
  }

  test('a hand-built key set that pins HS256 to a public key is a TypeError, not a pass', () => {
    const forged: Signer = {
      alg: 'HS256',
      kid: 'x',
      key: Buffer.from(signers.ES256.publicKey!.export({ format: 'pem', type: 'spki' })),
    }
    const broken: KeySet = {
      get: (kid) => ({ kid, alg: 'HS256', key: signers.ES256.publicKey! }),
      kids: ['x'],
      size: 1,
    }
    assert.throws(() => verifyAccessToken(signToken(forged), broken, options), TypeError)
  })
})

describe('keys named or carried by the header are never used', () => {
  const evil = attacker('ES256', 'es256-1')
  const evilJwk = { ...evil.publicKey!.export({ format: 'jwk' }), kid: 'es256-1', alg: 'ES256' }
  let server: ReturnType<typeof createServer>
  let requests = 0
  let base = ''

  before(async () => {
    server = createServer((_req, res) => {
      requests++
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [evilJwk] }))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => server.close())

  test('embedded jwk (attacker key) is TokenHeaderUnsupported', () => {
    rejects(signToken(evil, claims(), { jwk: evilJwk }), TokenHeaderUnsupported)
    rejects(
      signToken({ ...evil, kid: 'attacker' }, claims(), { jwk: evilJwk }),
      TokenHeaderUnsupported,
    )
  })

  test('jku, x5u, x5c, x5t, x5t#S256 are refused and nothing is fetched', async () => {
    const headers = [
      { jku: `${base}/jwks.json` },
      { jku: `${base}/jwks.json`, kid: 'unknown-kid' },
      { x5u: `${base}/cert.pem` },
      { x5c: ['MIIB'] },
      { x5t: 'AAAA' },
      { 'x5t#S256': 'AAAA' },
    ]
    for (const header of headers) rejects(signToken(evil, claims(), header), TokenHeaderUnsupported)
    await sleep(100) // room for any stray background fetch to arrive
    assert.equal(requests, 0)
    // positive control: the server does answer when asked
    await fetch(`${base}/jwks.json`).then((res) => res.json())
    assert.equal(requests, 1)
  })

  test('crit, b64, zip and enc are TokenHeaderUnsupported', () => {
    for (const header of [
      { crit: ['exp'], exp: 1 },
      { crit: [] },
      { crit: null },
      { crit: ['b64'], b64: false },
      { b64: true },
      { zip: 'DEF' },
      { enc: 'A256GCM' },
    ]) {
      rejects(signToken(signers.ES256, claims(), header), TokenHeaderUnsupported)
    }
  })
})

describe('kid injection', () => {
  test('hostile kids are only map keys', () => {
    for (const kid of [
      '../../etc/passwd',
      "' OR 1=1 --",
      '__proto__',
      'constructor',
      'ES256',
      '\u0000',
      'es256-1 ',
    ]) {
      const token = signToken({ ...signers.ES256, kid })
      assert.throws(
        () => verifyAccessToken(token, keys, options),
        (err: unknown) => {
          assert.ok(err instanceof TokenKeyUnknown)
          assert.equal(err.kid, kid)
          return true
        },
      )
    }
  })

  test('oversized or non-string kid', () => {
    rejects(signToken({ ...signers.ES256, kid: 'k'.repeat(257) }), TokenMalformed)
    const huge = signToken({ ...signers.ES256, kid: 'k'.repeat(10_000) })
    rejects(huge, TokenTooLarge)
    assert.throws(
      () => verifyAccessToken(huge, keys, { ...options, maxTokenLength: 1e6 }),
      TokenMalformed,
    )
    for (const kid of ['', 42, null, ['es256-1'], { toString: 'es256-1' }]) {
      rejects(signToken({ ...signers.ES256, kid: kid as string }), TokenMalformed)
    }
    rejects(signToken(signers.ES256, claims(), { kid: undefined }), TokenMalformed)
  })
})

describe('typ', () => {
  for (const typ of [
    'JWT',
    'jwt',
    'application/jwt',
    'at+jwt ',
    'at-jwt',
    '',
    1,
    null,
    undefined,
  ]) {
    test(`typ ${JSON.stringify(typ)} is TokenHeaderUnsupported`, () => {
      rejects(signToken(signers.ES256, claims(), { typ }), TokenHeaderUnsupported)
    })
  }
})

// Each case runs twice: once on a header that verified before (the fast path of verify-jwt.ts,
// which does not scan header and payload characters but leans on the signature) and once on a
// header never seen (the first-sight path, which checks every character before anything else)
for (const path of ['known header', 'first-sight header'] as const) {
  describe(`malformed compact serialization (${path})`, () => {
    // a header member nobody else uses makes the first-sight header unique to this run
    const token =
      path === 'known header'
        ? signToken(signers.ES256)
        : signToken(signers.ES256, claims(), { 'x-fresh': randomBytes(8).toString('hex') })
    before(() => {
      if (path === 'known header') verifyAccessToken(token, keys, options)
    })
    const [h, p, s] = parts(token)
    const std = (segment: string) => segment.replaceAll('-', '+').replaceAll('_', '/')
    // the 6th character c swapped for U+0100 + c, whose low byte is c: the same bytes under latin1
    const lookAlike = (segment: string) =>
      `${segment.slice(0, 5)}${String.fromCharCode(0x100 + segment.charCodeAt(5))}${segment.slice(6)}`

    const cases: Record<string, string> = {
      'padding on header': `${h}==.${p}.${s}`,
      'padding on payload': `${h}.${p}==.${s}`,
      'padding on signature': `${h}.${p}.${s}==`,
      'padding char inside': `${h}.${p.slice(0, 4)}=${p.slice(4)}.${s}`,
      "'+' (standard base64)": `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}`,
      "'/' (standard base64)": `${h}.${p}.${s.slice(0, 10)}/${s.slice(11)}`,
      "'+' in the payload": `${h}.${p.slice(0, 10)}+${p.slice(11)}.${s}`,
      'standard base64 signature': `${h}.${p}.${std(s)}${std(s) === s ? '+' : ''}`,
      'space inside': `${h}.${p.slice(0, 8)} ${p.slice(8)}.${s}`,
      'leading space': ` ${token}`,
      'trailing newline': `${token}\n`,
      'tab before signature': `${h}.${p}.\t${s}`,
      'non-ASCII character': `${h}.${p}é.${s}`,
      'a look-alike above U+00FF in the payload': `${h}.${lookAlike(p)}.${s}`,
      'a look-alike above U+00FF in the signature': `${h}.${p}.${lookAlike(s)}`,
      'two parts': `${h}.${p}`,
      'four parts': `${token}.${s}`,
      'five parts (JWE shape)': `${h}.${p}.${s}.${s}.${s}`,
      'empty header': `.${p}.${s}`,
      'empty payload': `${h}..${s}`,
      'all empty': '..',
      'empty string': '',
      'only dots': '....',
      'impossible length (4n+1)': `${h}.${p}.${s.padEnd(s.length + ((5 - (s.length % 4)) % 4), 'A')}`,
      'non-canonical last character': `${h}.${p}.${s.slice(0, -1)}${String.fromCharCode(s.charCodeAt(s.length - 1) + 1)}`,
      'non-canonical last character of the payload': `${h}.${p.slice(0, -1)}${String.fromCharCode(p.charCodeAt(p.length - 1) + 1)}.${s}`,
      'Bearer prefix left on': `Bearer ${token}`,
    }
    for (const [label, bad] of Object.entries(cases)) {
      test(`${label} is TokenMalformed`, () => rejects(bad, TokenMalformed))
    }

    test('the untouched token still verifies', () => {
      assert.equal(verifyAccessToken(token, keys, options).sub, 'user-1')
    })
  })
}

// The header list of known-headers.ts is shared by every verifier in the process: a header one
// verifier has verified must not carry its key set, typ or alg into another verifier's decision
describe('a header known from another verifier decides nothing for this one', () => {
  const token = signToken(signers.ES256)
  before(() => {
    assert.equal(verifyAccessToken(token, keys, options).sub, 'user-1') // now a known header
  })

  test('a key set without that kid: TokenKeyUnknown', () => {
    const others = createKeySet({ keys: [publicJwk(signers.EdDSA)] })
    rejects(token, TokenKeyUnknown, others)
  })

  test('another expected typ: TokenHeaderUnsupported', () => {
    assert.throws(
      () => verifyAccessToken(token, keys, { ...options, typ: 'jwt' }),
      TokenHeaderUnsupported,
    )
  })

  test('the same kid pinned to another algorithm: TokenAlgorithmNotAllowed', () => {
    const impostor = createKeySet({
      keys: [publicJwk({ ...signers.EdDSA, kid: signers.ES256.kid })],
    })
    rejects(token, TokenAlgorithmNotAllowed, impostor)
  })

  test('the same kid with another key of the same algorithm: TokenSignatureInvalid', () => {
    const other = attacker('ES256', signers.ES256.kid)
    rejects(token, TokenSignatureInvalid, createKeySet({ keys: [publicJwk(other)] }))
  })

  test('and the first verifier still accepts it', () => {
    assert.equal(verifyAccessToken(token, keys, options).sub, 'user-1')
  })
})

describe('malformed compact serialization', () => {
  const token = signToken(signers.ES256)
  const [, p, s] = parts(token)

  test('a non-string token is TokenMalformed', () => {
    for (const bad of [undefined, null, 42, {}, Buffer.from(token)]) {
      assert.throws(() => verifyAccessToken(bad as never, keys, options), TokenMalformed)
    }
  })

  for (const [label, header] of Object.entries({
    null: 'null',
    array: '["ES256"]',
    string: '"ES256"',
    number: '42',
    boolean: 'true',
    'invalid JSON': '{"alg":"ES256"',
    'whitespace only': ' ',
  })) {
    test(`header that is ${label} is TokenMalformed`, () =>
      rejects(`${b64(header)}.${p}.${s}`, TokenMalformed))
  }

  test('header that is not UTF-8 is TokenMalformed', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"alg":"ES256","kid":"'),
      Buffer.of(0xff, 0xfe),
      Buffer.from('"}'),
    ])
    rejects(`${b64(bytes)}.${p}.${s}`, TokenMalformed)
  })

  for (const [label, payload] of Object.entries({
    null: 'null',
    array: '[]',
    string: '"sub"',
    number: '1',
    'invalid JSON': '{"sub":',
    'invalid UTF-8': Buffer.of(0x7b, 0xc3, 0x28, 0x7d),
  })) {
    test(`payload that is ${label} (validly signed) is TokenMalformed`, () => {
      const input = `${b64({ alg: 'ES256', kid: 'es256-1', typ: 'at+jwt' })}.${b64(payload)}`
      rejects(`${input}.${b64(rawSign('ES256', signers.ES256.key, input))}`, TokenMalformed)
    })
  }
})

describe('size limit', () => {
  test('a 100 kB token is TokenTooLarge before anything else is looked at', () => {
    const big = signToken(signers.ES256, claims({ pad: 'x'.repeat(100_000) }))
    rejects(big, TokenTooLarge)
    rejects('!'.repeat(100_000), TokenTooLarge)
  })

  test('the limit is inclusive', () => {
    const token = signToken(signers.ES256)
    const exact = { ...options, maxTokenLength: token.length }
    assert.equal(verifyAccessToken(token, keys, exact).sub, 'user-1')
    assert.throws(
      () => verifyAccessToken(token, keys, { ...exact, maxTokenLength: token.length - 1 }),
      TokenTooLarge,
    )
  })
})
