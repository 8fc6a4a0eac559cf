/**
 * The peers compared in process: signing an RFC 9068 access token, and verifying it, with
 * node:crypto alone (the lower bound), jose (what the booth signs with), fast-jwt, jsonwebtoken,
 * and, for verification, @tokenbooth/verify.
 *
 * Every peer signs the same header and claims and every verifier checks the same token (signed
 * by jose, as the booth signs), each with its keys prepared once, in the form that library
 * handles best, as a long-running server would hold them:
 * - jose: the booth's own call (`SignJWT` with a node:crypto KeyObject); a second row with a
 *   WebCrypto CryptoKey, which is what jose converts KeyObjects to and what its JWKS helpers give.
 * - fast-jwt: `createSigner`/`createVerifier` once, PEM keys (all it accepts), `cache: false`.
 * - jsonwebtoken: KeyObjects (it converts PEM strings on every call). It has no EdDSA.
 * - raw: the least work that yields the same token: a precomputed header segment, the payload
 *   serialized, one `crypto.sign`; and to verify, one `crypto.verify`, the payload parsed, and
 *   `exp`, `iss` and `aud` compared. It reads no header and checks no other claim, so it is a
 *   floor, not a verifier anyone should ship.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
  type webcrypto,
} from 'node:crypto'
import { createRequire } from 'node:module'
import { createSigner, createVerifier } from 'fast-jwt'
import { SignJWT, jwtVerify } from 'jose'
import {
  createKeySet,
  createSecretKeySet,
  verifyAccessToken,
  type KeySet,
} from '@tokenbooth/verify'
import type { Peer } from './harness.ts'

export type Alg = 'ES256' | 'EdDSA' | 'RS256' | 'HS256'
export const ALGS: readonly Alg[] = ['ES256', 'EdDSA', 'RS256', 'HS256']

// jsonwebtoken ships no types and this package installs no @types for it
interface JsonWebToken {
  sign(payload: object, key: KeyObject | Buffer, options: object): string
  verify(token: string, key: KeyObject | Buffer, options: object): unknown
}
const jsonwebtoken = createRequire(import.meta.url)('jsonwebtoken') as JsonWebToken

export const ISSUER = 'http://127.0.0.1:4000'

export interface Claims {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  jti: string
  client_id: string
  scope: string
  sid: string
}

/** The claims the booth puts in an access token (RFC 9068 §2.2), 15 minutes of life. */
export function accessTokenClaims(): Claims {
  const iat = Math.floor(Date.now() / 1000)
  return {
    iss: ISSUER,
    sub: randomUUID(),
    aud: ISSUER,
    exp: iat + 15 * 60,
    iat,
    jti: randomUUID(),
    client_id: 'tokenbooth',
    scope: 'profile',
    sid: randomUUID(),
  }
}

export interface Keys {
  kid: string
  /** node:crypto KeyObjects, as the booth holds them. */
  signKey: KeyObject
  verifyKey: KeyObject
  /** PEM (or the raw secret for HS256), for fast-jwt. */
  signPem: string | Buffer
  verifyPem: string | Buffer
  /** WebCrypto keys, for jose's second row. */
  signCryptoKey: CryptoKey
  verifyCryptoKey: CryptoKey
  keySet: KeySet
}

type CryptoKey = webcrypto.CryptoKey

const WEBCRYPTO: Record<Alg, Parameters<KeyObject['toCryptoKey']>[0]> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  HS256: { name: 'HMAC', hash: 'SHA-256' },
}

export async function makeKeys(alg: Alg): Promise<Keys> {
  const kid = `bench-${alg.toLowerCase()}`
  if (alg === 'HS256') {
    const secret = randomBytes(32)
    const key = createSecretKey(secret)
    const cryptoKey = key.toCryptoKey(WEBCRYPTO.HS256, false, ['sign', 'verify'])
    return {
      kid,
      signKey: key,
      verifyKey: key,
      signPem: secret,
      verifyPem: secret,
      signCryptoKey: cryptoKey,
      verifyCryptoKey: cryptoKey,
      keySet: createSecretKeySet([{ kid, secret }]),
    }
  }
  // The booth's key types: P-256, Ed25519, and RSA 3072 (packages/server/src/domain/keys.ts)
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 3072 })
  // reload the private key from PKCS#8 DER, exactly as the booth does after unsealing it
  const signKey = createPrivateKey({
    key: pair.privateKey.export({ format: 'der', type: 'pkcs8' }),
    format: 'der',
    type: 'pkcs8',
  })
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }
  return {
    kid,
    signKey,
    verifyKey: createPublicKey({ key: jwk, format: 'jwk' }),
    signPem: signKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    verifyPem: pair.publicKey.export({ format: 'pem', type: 'spki' }) as string,
    signCryptoKey: signKey.toCryptoKey(WEBCRYPTO[alg], false, ['sign']),
    verifyCryptoKey: pair.publicKey.toCryptoKey(WEBCRYPTO[alg], false, ['verify']),
    keySet: createKeySet({ keys: [jwk] }),
  }
}

// RFC 7518 §3.4: a JWS ECDSA signature is R || S (IEEE P1363), node:crypto's default is DER.
// Node 24 takes a slower path whenever the key comes wrapped in an options object, which
// `dsaEncoding` requires (about +20 µs to sign and +30 µs to verify P-256 here), so the floor
// passes the bare KeyObject and converts between DER and R || S in JavaScript, as fast-jwt and
// jsonwebtoken do. The `ieee-p1363` rows measure the wrapped path for comparison.
function derToJose(der: Buffer, size: number): Buffer {
  // SEQUENCE { INTEGER r, INTEGER s }; P-256 and P-384 lengths fit the one-byte form
  const out = Buffer.alloc(size * 2)
  let at = 2
  for (let i = 0; i < 2; i++) {
    const length = der[at + 1]!
    let start = at + 2
    let n = length
    while (n > size) {
      start++
      n--
    }
    der.copy(out, i * size + size - n, start, start + n)
    at += 2 + length
  }
  return out
}

// R || S → DER SEQUENCE { INTEGER r, INTEGER s }, each INTEGER minimal (leading zeros dropped, a
// 0x00 put back before a set high bit), in one allocation: the floor should cost as little as it can
export function joseToDer(sig: Buffer): Buffer {
  const size = sig.length >> 1
  let r = 0
  while (r < size - 1 && sig[r] === 0) r++
  let s = size
  while (s < 2 * size - 1 && sig[s] === 0) s++
  const rPad = sig[r]! & 0x80 ? 1 : 0
  const sPad = sig[s]! & 0x80 ? 1 : 0
  const rLength = size - r + rPad
  const sLength = 2 * size - s + sPad
  const der = Buffer.allocUnsafe(6 + rLength + sLength)
  der[0] = 0x30
  der[1] = 4 + rLength + sLength
  der[2] = 2
  der[3] = rLength
  let at = 4
  if (rPad === 1) der[at++] = 0
  at += sig.copy(der, at, r, size)
  der[at++] = 2
  der[at++] = sLength
  if (sPad === 1) der[at++] = 0
  sig.copy(der, at, s, 2 * size)
  return der
}

export function rawSign(alg: Alg, key: KeyObject, data: Buffer): Buffer {
  switch (alg) {
    case 'ES256':
      return derToJose(cryptoSign('sha256', data, key), 32)
    case 'EdDSA':
      return cryptoSign(null, data, key)
    case 'RS256':
      return cryptoSign('sha256', data, key)
    case 'HS256':
      return createHmac('sha256', key).update(data).digest()
  }
}

export function rawVerify(alg: Alg, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  switch (alg) {
    case 'ES256':
      return signature.length === 64 && cryptoVerify('sha256', data, key, joseToDer(signature))
    case 'EdDSA':
      return cryptoVerify(null, data, key, signature)
    case 'RS256':
      return cryptoVerify('sha256', data, key, signature)
    case 'HS256': {
      const expected = createHmac('sha256', key).update(data).digest()
      return expected.length === signature.length && timingSafeEqual(expected, signature)
    }
  }
}

export interface AlgPeers {
  alg: Alg
  /** A token signed by jose, as the booth signs; every verifier checks this one. */
  token: string
  sign: Peer[]
  verify: Peer[]
}

export async function peersFor(alg: Alg): Promise<AlgPeers> {
  const keys = await makeKeys(alg)
  const claims = accessTokenClaims()
  const header = { alg, kid: keys.kid, typ: 'at+jwt' }
  const { client_id, scope, sid } = claims

  // The booth's call, from packages/server/src/domain/tokens.ts
  const joseSign = (key: KeyObject | CryptoKey) => () =>
    new SignJWT({ client_id, scope, sid })
      .setProtectedHeader(header)
      .setIssuer(claims.iss)
      .setSubject(claims.sub)
      .setAudience(claims.aud)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp)
      .setJti(claims.jti)
      .sign(key)

  const fastSigner = createSigner({
    key: keys.signPem,
    algorithm: alg,
    kid: keys.kid,
    header: { alg, typ: 'at+jwt' },
  })
  const headerSegment = Buffer.from(JSON.stringify(header)).toString('base64url')

  const sign: Peer[] = [
    {
      name: 'node:crypto (raw)',
      run: () => {
        const input = `${headerSegment}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
        return `${input}.${rawSign(alg, keys.signKey, Buffer.from(input, 'latin1')).toString('base64url')}`
      },
    },
    ...(alg === 'ES256'
      ? [
          {
            name: 'node:crypto (ieee-p1363 option)',
            run: () => {
              const input = `${headerSegment}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
              const data = Buffer.from(input, 'latin1')
              const signature = cryptoSign('sha256', data, {
                key: keys.signKey,
                dsaEncoding: 'ieee-p1363',
              })
              return `${input}.${signature.toString('base64url')}`
            },
          },
        ]
      : []),
    { name: 'jose (KeyObject, booth)', run: joseSign(keys.signKey) },
    { name: 'jose (CryptoKey)', run: joseSign(keys.signCryptoKey) },
    { name: 'fast-jwt', run: () => fastSigner(claims) },
  ]
  if (alg !== 'EdDSA') {
    sign.push({
      name: 'jsonwebtoken',
      run: () =>
        jsonwebtoken.sign(claims, keys.signKey, {
          algorithm: alg,
          keyid: keys.kid,
          header: { typ: 'at+jwt' },
        }),
    })
  }

  const token = await joseSign(keys.signKey)()
  const options = { issuer: ISSUER, audience: ISSUER }
  const fastVerifier = createVerifier({
    key: keys.verifyPem,
    algorithms: [alg],
    allowedIss: ISSUER,
    allowedAud: ISSUER,
    checkTyp: 'at+jwt',
    cache: false,
  })
  const joseVerify = (key: KeyObject | CryptoKey) => () =>
    jwtVerify(token, key, { ...options, algorithms: [alg], typ: 'at+jwt' })

  const floor = (check: (data: Buffer, signature: Buffer) => boolean) => () => {
    const dot = token.indexOf('.')
    const last = token.lastIndexOf('.')
    const ok = check(
      Buffer.from(token.slice(0, last), 'latin1'),
      Buffer.from(token.slice(last + 1), 'base64url'),
    )
    const payload = JSON.parse(
      Buffer.from(token.slice(dot + 1, last), 'base64url').toString(),
    ) as Claims
    if (
      !ok ||
      payload.exp <= Date.now() / 1000 ||
      payload.iss !== ISSUER ||
      payload.aud !== ISSUER
    ) {
      throw new Error('raw verify failed')
    }
    return payload
  }

  const verify: Peer[] = [
    {
      name: 'node:crypto (raw)',
      run: floor((data, sig) => rawVerify(alg, keys.verifyKey, data, sig)),
    },
    ...(alg === 'ES256'
      ? [
          {
            name: 'node:crypto (ieee-p1363 option)',
            run: floor((data, sig) =>
              cryptoVerify('sha256', data, { key: keys.verifyKey, dsaEncoding: 'ieee-p1363' }, sig),
            ),
          },
        ]
      : []),
    { name: '@tokenbooth/verify', run: () => verifyAccessToken(token, keys.keySet, options) },
    { name: 'jose (KeyObject)', run: joseVerify(keys.verifyKey) },
    { name: 'jose (CryptoKey)', run: joseVerify(keys.verifyCryptoKey) },
    { name: 'fast-jwt', run: () => fastVerifier(token) },
  ]
  if (alg !== 'EdDSA') {
    verify.push({
      name: 'jsonwebtoken',
      run: () => jsonwebtoken.verify(token, keys.verifyKey, { ...options, algorithms: [alg] }),
    })
  }
  await checkPeers({ alg, token, sign, verify }, keys, claims)
  return { alg, token, sign, verify }
}

/**
 * Before anything is timed: every signer's token verifies with node:crypto and carries the same
 * header and claims, and every verifier accepts the token and returns its subject. A peer that
 * quietly did less work would otherwise look fast.
 */
async function checkPeers(peers: AlgPeers, keys: Keys, claims: Claims): Promise<void> {
  const decode = (segment: string) =>
    JSON.parse(Buffer.from(segment, 'base64url').toString()) as Record<string, unknown>
  for (const peer of peers.sign) {
    const token = (await peer.run()) as string
    const [h, p, s] = token.split('.') as [string, string, string]
    const header = decode(h)
    const payload = decode(p)
    const same =
      header.alg === peers.alg &&
      header.kid === keys.kid &&
      header.typ === 'at+jwt' &&
      Object.keys(claims).every((k) => payload[k] === claims[k as keyof Claims])
    const valid = rawVerify(
      peers.alg,
      keys.verifyKey,
      Buffer.from(`${h}.${p}`),
      Buffer.from(s, 'base64url'),
    )
    if (!same || !valid)
      throw new Error(`${peers.alg} signer "${peer.name}" made a different or invalid token`)
  }
  for (const peer of peers.verify) {
    const result = (await peer.run()) as { sub?: unknown; payload?: { sub?: unknown } }
    const sub = result.payload?.sub ?? result.sub
    if (sub !== claims.sub)
      throw new Error(`${peers.alg} verifier "${peer.name}" did not return the claims`)
  }
}
