import type { Buffer } from 'node:buffer'
import { constants, createHmac, timingSafeEqual, verify } from 'node:crypto'
import type { VerificationKey } from './key-set.ts'

const PSS = constants.RSA_PKCS1_PSS_PADDING
// RFC 7518 §3.5: the PSS salt is as long as the hash output (32 bytes for SHA-256)
const PSS_SALT = constants.RSA_PSS_SALTLEN_DIGEST

/**
 * Checks a JWS signature with node:crypto, synchronously, under the key's PINNED algorithm (the
 * caller has already required header `alg` === `key.alg`). Returns false for a wrong signature,
 * including one of the wrong length, which is rejected before any crypto runs. Throws `TypeError`
 * if the key object does not fit its algorithm (a hand-built KeySet).
 *
 * It does NOT look at the header or the claims.
 */
export function verifySignature(
  { alg, key }: VerificationKey,
  signingInput: Buffer,
  signature: Buffer,
): boolean {
  // defence in depth against hand-built key sets: an HMAC key must be secret, everything else public
  if (key.type !== (alg === 'HS256' ? 'secret' : 'public')) {
    throw new TypeError(`a ${key.type} KeyObject cannot verify ${alg}`)
  }
  switch (alg) {
    // RFC 7518 §3.4: ECDSA signatures are the fixed-width R || S, not DER
    case 'ES256':
      return (
        signature.length === 64 &&
        verify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature)
      )
    case 'ES384':
      return (
        signature.length === 96 &&
        verify('sha384', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature)
      )
    case 'EdDSA':
      return signature.length === 64 && verify(null, signingInput, key, signature)
    // OpenSSL rejects an RSA signature whose length differs from the modulus
    case 'RS256':
      return signature.length > 0 && verify('sha256', signingInput, key, signature)
    case 'PS256':
      return (
        signature.length > 0 &&
        verify('sha256', signingInput, { key, padding: PSS, saltLength: PSS_SALT }, signature)
      )
    case 'HS256': {
      // timingSafeEqual requires equal lengths; the length of a MAC is not secret
      if (signature.length !== 32) return false
      return timingSafeEqual(createHmac('sha256', key).update(signingInput).digest(), signature)
    }
    default:
      return false
  }
}
