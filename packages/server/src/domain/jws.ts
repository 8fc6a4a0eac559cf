/**
 * JWS compact signing (RFC 7515 §7.1) with node:crypto, synchronously.
 *
 * Why not jose here: jose signs through WebCrypto's async path, measured at 103 µs per ES256
 * token against 30 µs for node:crypto with a bare KeyObject (BENCHMARKS.md) — a third of the
 * booth's CPU per refresh. Signing is a few lines; the risky half of JOSE, verification, is
 * @tokenbooth/verify's, and interop tests check that jose and oauth4webapi accept what we sign.
 */
import { createHmac, sign, type KeyObject } from 'node:crypto'
import type { SigningAlg } from '../config.ts'

/** DER `SEQUENCE { INTEGER r, INTEGER s }` → the JWS form `r || s`, each `size` bytes. */
function derToRaw(der: Buffer, size: number): Buffer {
  let offset = 2
  if (der[1]! & 0x80) offset += der[1]! & 0x7f // long-form length (not for P-256, kept for safety)
  const out = Buffer.alloc(2 * size)
  for (let i = 0; i < 2; i++) {
    const length = der[offset + 1]!
    let start = offset + 2
    let n = length
    while (n > size) {
      // a leading 0x00 keeps a DER integer positive; the raw form has no sign
      start++
      n--
    }
    der.copy(out, i * size + (size - n), start, start + n)
    offset += 2 + length
  }
  return out
}

function signature(alg: SigningAlg, key: KeyObject, input: Buffer): Buffer {
  switch (alg) {
    case 'ES256':
      // A bare KeyObject is ~2× faster than { key, dsaEncoding } on Node 24; convert instead.
      return derToRaw(sign('sha256', input, key), 32)
    case 'EdDSA':
      return sign(null, input, key)
    case 'RS256':
      return sign('sha256', input, key)
    case 'HS256':
      return createHmac('sha256', key).update(input).digest()
  }
}

export function signCompact(
  alg: SigningAlg,
  key: KeyObject,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${input}.${signature(alg, key, Buffer.from(input)).toString('base64url')}`
}
