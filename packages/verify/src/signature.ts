import { Buffer } from 'node:buffer'
import { constants, createHmac, timingSafeEqual, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
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
 * `signingInput` is `header.payload`, which the caller has checked is base64url (ASCII). It is
 * encoded as UTF-8 rather than latin1 as defence in depth: should an unchecked string ever get
 * here, a character above U+00FF cannot pass for the byte latin1 would truncate it to (U+0141
 * for "A"), since no other string has the UTF-8 bytes of an ASCII one. Passing the string lets
 * HMAC hash it without an intermediate Buffer.
 *
 * It does NOT look at the header or the claims.
 */
export function verifySignature(
  { alg, key }: VerificationKey,
  signingInput: string,
  signature: Buffer,
): boolean {
  // defence in depth against hand-built key sets: an HMAC key must be secret, everything else public
  if (key.type !== (alg === 'HS256' ? 'secret' : 'public')) {
    throw new TypeError(`a ${key.type} KeyObject cannot verify ${alg}`)
  }
  switch (alg) {
    // RFC 7518 §3.4: ECDSA signatures are the fixed-width R || S, converted to DER here (below)
    case 'ES256':
      return (
        signature.length === 64 &&
        verify('sha256', bytes(signingInput), key, rsToDer(signature, 32))
      )
    case 'ES384':
      return (
        signature.length === 96 &&
        verify('sha384', bytes(signingInput), key, rsToDer(signature, 48))
      )
    case 'EdDSA':
      return signature.length === 64 && verify(null, bytes(signingInput), key, signature)
    // RFC 8017 §8.2.2 step 1, §8.1.2 step 1: a signature is exactly as long as the modulus.
    // OpenSSL enforces it for PKCS #1 v1.5 but left-pads a short PSS signature, so a PS256 token
    // whose signature starts with 0x00 would verify with that byte dropped too: a second string
    // for the same token. Checked here for both, before any crypto runs
    case 'RS256':
      return (
        signature.length === modulusBytes(key) &&
        verify('sha256', bytes(signingInput), key, signature)
      )
    case 'PS256':
      return (
        signature.length === modulusBytes(key) &&
        verify(
          'sha256',
          bytes(signingInput),
          { key, padding: PSS, saltLength: PSS_SALT },
          signature,
        )
      )
    case 'HS256': {
      // timingSafeEqual requires equal lengths; the length of a MAC is not secret
      if (signature.length !== 32) return false
      const mac = createHmac('sha256', key).update(signingInput, 'utf8').digest()
      return timingSafeEqual(mac, signature)
    }
    default:
      return false
  }
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8')

// `asymmetricKeyDetails` builds a new object on every read: the length is read once per key
const modulusLengths = new WeakMap<KeyObject, number>()

function modulusBytes(key: KeyObject): number {
  let length = modulusLengths.get(key)
  if (length === undefined) {
    length = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
    modulusLengths.set(key, length)
  }
  return length
}

/**
 * Re-encodes a JWS ECDSA signature, R || S with each half `size` bytes (RFC 7518 §3.4), as the
 * DER `SEQUENCE { INTEGER r, INTEGER s }` that node:crypto reads by default (RFC 3279 §2.2.3).
 * The caller has checked that `signature` is exactly `2 * size` bytes.
 *
 * Why not `{ key, dsaEncoding: 'ieee-p1363' }`: on Node 24 wrapping the key in an options object
 * takes a slower path, ~30 µs more per P-256 verify (~1.45× the bare KeyObject with this
 * conversion, which costs ~0.3 µs; see BENCHMARKS.md). The result is the same: each INTEGER is
 * minimal (leading zero bytes dropped, one 0x00 put back when the high bit is set, so the value
 * stays positive, X.690 §8.3.2), so an R or S of zero or ≥ the curve order still fails in OpenSSL's
 * range check exactly as it did, and the lengths (≤ 102 content bytes for P-384) all fit DER's
 * one-byte short form.
 */
function rsToDer(signature: Buffer, size: number): Buffer {
  let r = 0
  while (r < size - 1 && signature[r] === 0) r++
  let s = size
  while (s < 2 * size - 1 && signature[s] === 0) s++
  const rPad = signature[r]! & 0x80 ? 1 : 0
  const sPad = signature[s]! & 0x80 ? 1 : 0
  const rLength = size - r + rPad
  const sLength = 2 * size - s + sPad
  const der = Buffer.allocUnsafe(6 + rLength + sLength) // every byte is written below
  der[0] = 0x30 // SEQUENCE
  der[1] = 4 + rLength + sLength
  der[2] = 0x02 // INTEGER
  der[3] = rLength
  let at = 4
  if (rPad === 1) der[at++] = 0
  at += signature.copy(der, at, r, size)
  der[at++] = 0x02
  der[at++] = sLength
  if (sPad === 1) der[at++] = 0
  signature.copy(der, at, s, 2 * size)
  return der
}
