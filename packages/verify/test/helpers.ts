// Shared fixtures: real keys from node:crypto, tokens signed by hand so that tests can build
// exactly the malformed or hostile token they need.
import { Buffer } from 'node:buffer'
import { constants, createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { createKeySet, createSecretKeySet } from '../src/index.ts'
import type { PublicJwk, VerificationAlgorithm, VerifyOptions } from '../src/index.ts'

export const ISSUER = 'https://booth.test'
export const AUDIENCE = 'https://api.test'
/** Frozen "now", in seconds. */
export const NOW = 1_750_000_000

export const options: VerifyOptions = { issuer: ISSUER, audience: AUDIENCE, now: () => NOW * 1000 }

export function atSeconds(seconds: number): VerifyOptions {
  return { ...options, now: () => seconds * 1000 }
}

export function b64(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url')
  if (typeof value === 'string') return Buffer.from(value, 'utf8').toString('base64url')
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    exp: NOW + 300,
    iat: NOW - 10,
    jti: 'jti-1',
    client_id: 'client-1',
    scope: 'read write',
    ...overrides,
  }
}

export interface Signer {
  kid: string
  alg: VerificationAlgorithm
  /** A private KeyObject, or the HMAC secret for HS256. */
  key: KeyObject | Uint8Array
  publicKey?: KeyObject
}

/** Raw JWS signature over `input` with node:crypto. */
export function rawSign(alg: string, key: KeyObject | Uint8Array, input: string): Buffer {
  const data = Buffer.from(input, 'latin1')
  switch (alg) {
    case 'ES256':
      return sign('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' })
    case 'ES384':
      return sign('sha384', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA':
      return sign(null, data, key as KeyObject)
    case 'RS256':
      return sign('sha256', data, key as KeyObject)
    case 'PS256':
      return sign('sha256', data, {
        key: key as KeyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      })
    case 'HS256':
      return createHmac('sha256', key as Uint8Array)
        .update(data)
        .digest()
    default:
      throw new Error(`test helper cannot sign ${alg}`)
  }
}

/** Signs `payload` under `header` (merged over alg/kid/typ defaults for `signer`). */
export function signToken(
  signer: Signer,
  payload: unknown = claims(),
  header: Record<string, unknown> = {},
): string {
  const input = `${b64({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt', ...header })}.${b64(payload)}`
  return `${input}.${b64(rawSign(signer.alg, signer.key, input))}`
}

function pair(alg: VerificationAlgorithm, kid: string): Signer {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, alg, key: privateKey, publicKey }
}

export function publicJwk(signer: Signer, extra: Record<string, unknown> = {}): PublicJwk {
  return {
    ...signer.publicKey!.export({ format: 'jwk' }),
    kid: signer.kid,
    alg: signer.alg,
    use: 'sig',
    ...extra,
  }
}

// Generated once per test file: RSA key generation is slow
export const signers = {
  ES256: pair('ES256', 'es256-1'),
  ES384: pair('ES384', 'es384-1'),
  EdDSA: pair('EdDSA', 'ed-1'),
  RS256: pair('RS256', 'rs256-1'),
  PS256: pair('PS256', 'ps256-1'),
  HS256: { kid: 'hs-1', alg: 'HS256', key: randomBytes(32) } satisfies Signer as Signer,
}

export const asymmetric = [
  signers.ES256,
  signers.ES384,
  signers.EdDSA,
  signers.RS256,
  signers.PS256,
]
export const jwks = { keys: asymmetric.map((s) => publicJwk(s)) }
export const keys = createKeySet(jwks)
export const secretKeys = createSecretKeySet([
  { kid: signers.HS256.kid, secret: signers.HS256.key as Uint8Array },
])

/** Splits a compact token into its three segments. */
export function parts(token: string): [string, string, string] {
  const [h = '', p = '', s = ''] = token.split('.')
  return [h, p, s]
}

/** Replaces the payload and keeps the original header and signature. */
export function withPayload(token: string, payload: unknown): string {
  const [h, , s] = parts(token)
  return `${h}.${b64(payload)}.${s}`
}
