/**
 * Reading a JWT's payload without verifying it. The client only needs `iat`, `exp` and `sid` to
 * schedule refreshes; the servers that receive the token verify it.
 *
 * @module
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]))

/** base64url (RFC 4648 §5, padding optional) to bytes; `undefined` on a foreign character. */
function base64urlBytes(text: string): number[] | undefined {
  const clean = text.replace(/=+$/, '')
  const bytes: number[] = []
  let buffer = 0
  let bits = 0
  for (const char of clean) {
    const value = VALUES.get(char)
    if (value === undefined) return undefined
    buffer = (buffer << 6) | value
    bits += 6
    if (bits >= 8) {
      bits -= 8
      bytes.push((buffer >> bits) & 0xff)
    }
  }
  return bytes
}

/**
 * Decodes the payload of a JWS compact token (`header.payload.signature`) into an object, or
 * returns `undefined` when it is not one (an opaque token, broken base64url, not JSON).
 *
 * It does NOT verify the signature, the issuer, the audience or the expiry, and must never be
 * used to decide whether to trust a token: anyone can write any payload. The client uses it only
 * to read timing hints (`iat`, `exp`) and the session id (`sid`) of a token it just received from
 * the booth over TLS. Written without `atob`, `Buffer` or `TextDecoder` so that it runs anywhere.
 *
 * @example
 * ```ts
 * const claims = decodeJwtPayload(accessToken)
 * if (typeof claims?.exp === 'number') console.log('expires at', new Date(claims.exp * 1000))
 * ```
 */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3 || parts[1] === undefined) return undefined
  const bytes = base64urlBytes(parts[1])
  if (bytes === undefined) return undefined
  let json: string
  try {
    // Percent-decoding is a portable UTF-8 decoder: it throws on invalid UTF-8.
    json = decodeURIComponent(bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''))
  } catch {
    return undefined
  }
  let payload: unknown
  try {
    payload = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined
  return payload as Record<string, unknown>
}
