import { Buffer, isUtf8 } from 'node:buffer'
import { TokenMalformed, TokenTooLarge } from './errors.ts'

/**
 * A JOSE protected header as decoded from a token. Every member is untrusted until the signature
 * has been verified.
 *
 * @example
 * ```ts
 * const { kid } = decodeProtectedHeader(token)
 * ```
 */
export interface ProtectedHeader {
  alg?: unknown
  kid?: unknown
  typ?: unknown
  [parameter: string]: unknown
}

/**
 * Options for {@link decodeProtectedHeader}.
 *
 * @example
 * ```ts
 * decodeProtectedHeader(token, { maxTokenLength: 16_384 })
 * ```
 */
export interface DecodeOptions {
  /** Longest token accepted, in characters; longer ones throw `TokenTooLarge`. Default 8192. */
  maxTokenLength?: number
}

// 8 KiB is far above any sane access token (a few hundred bytes) and far below header limits
export const DEFAULT_MAX_TOKEN_LENGTH = 8192

// base64url alphabet (RFC 4648 §5) → 6-bit value; -1 for every other ASCII character
const B64URL = new Int8Array(128).fill(-1)
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
for (let i = 0; i < ALPHABET.length; i++) B64URL[ALPHABET.charCodeAt(i)] = i
const DOT = 0x2e

/** Validates the `maxTokenLength` option and applies its default. */
export function maxTokenLengthOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_TOKEN_LENGTH
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`"maxTokenLength" must be a positive integer, got ${String(value)}`)
  }
  return value
}

/**
 * Throws unless `token` is exactly `header.payload.signature`, each part unpadded, canonical
 * base64url (RFC 7515 §2, RFC 4648 §3.5). The header and payload must be non-empty; an empty
 * signature passes here and is rejected by the algorithm or signature check. One pass, no regex,
 * no allocation.
 */
export function assertCompact(token: unknown, maxTokenLength: number): asserts token is string {
  if (typeof token !== 'string') throw new TokenMalformed('token must be a string')
  const length = token.length
  if (length > maxTokenLength) throw new TokenTooLarge(`token is longer than ${maxTokenLength}`)
  let dots = 0
  let start = 0
  for (let i = 0; i <= length; i++) {
    const c = i === length ? DOT : token.charCodeAt(i)
    if (c !== DOT) {
      if (c > 127 || B64URL[c]! < 0) throw new TokenMalformed('token is not base64url')
      continue
    }
    if (i < length && ++dots > 2) throw new TokenMalformed('token must have three parts')
    assertCanonical(token, start, i, i === length)
    start = i + 1
  }
  if (dots !== 2) throw new TokenMalformed('token must have three parts')
}

// A segment of n characters is canonical iff n % 4 != 1 and the bits past the last full byte
// are zero; otherwise several strings decode to the same bytes (a malleable signature).
function assertCanonical(token: string, start: number, end: number, last: boolean): void {
  const n = end - start
  if (n === 0) {
    if (last) return
    throw new TokenMalformed('token has an empty part')
  }
  if (!hasCanonicalEnd(token, start, end)) {
    throw new TokenMalformed('token is not canonical base64url')
  }
}

// The length and last-character rule above, for a segment already known to be base64url
function hasCanonicalEnd(token: string, start: number, end: number): boolean {
  const rem = (end - start) & 3
  if (rem === 0) return true
  const unused = rem === 2 ? 0x0f : rem === 3 ? 0x03 : -1
  return unused !== -1 && (B64URL[token.charCodeAt(end - 1)]! & unused) === 0
}

// The longest run of base64url characters from lastIndex; V8 compiles it to native code, about
// four times faster per character than the loop of assertCompact
const BASE64URL_RUN = /[A-Za-z0-9_-]*/y

/**
 * True if `token.slice(start, end)` is canonical unpadded base64url (possibly empty): the check
 * {@link assertCompact} makes of each part, for one part, as a boolean and without a slice.
 *
 * @example
 * ```ts
 * isCanonicalSegment('a.QQ.b', 2, 4) // true: "QQ" decodes to "A" and back
 * isCanonicalSegment('a.QR.b', 2, 4) // false: "QR" has non-zero bits past its last byte
 * ```
 */
export function isCanonicalSegment(token: string, start: number, end: number): boolean {
  BASE64URL_RUN.lastIndex = start
  BASE64URL_RUN.test(token) // always matches, possibly nothing; lastIndex is where the run ends
  return BASE64URL_RUN.lastIndex === end && hasCanonicalEnd(token, start, end)
}

/**
 * Decodes one base64url segment as a UTF-8 JSON object. The segment must already have passed
 * {@link assertCompact}.
 */
export function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  const bytes = Buffer.from(segment, 'base64url')
  if (!isUtf8(bytes)) throw new TokenMalformed(`${what} is not UTF-8`)
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (cause) {
    throw new TokenMalformed(`${what} is not JSON`, { cause })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenMalformed(`${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/**
 * Decodes the protected header of a JWS compact token, for callers that need the `kid` before
 * verifying (for example to decide whether to refresh a JWKS). The whole token must be
 * structurally valid; throws `TokenMalformed` or `TokenTooLarge`.
 *
 * It does NOT verify anything else: the signature, `alg`, `typ` and every header member are
 * untrusted. Never use the result to choose a key type or algorithm.
 *
 * @example
 * ```ts
 * const { kid } = decodeProtectedHeader(token)
 * if (typeof kid === 'string' && keys.get(kid) === undefined) keys = await refreshJwksOnce()
 * ```
 */
export function decodeProtectedHeader(token: string, options: DecodeOptions = {}): ProtectedHeader {
  assertCompact(token, maxTokenLengthOption(options.maxTokenLength))
  return decodeJsonSegment(token.slice(0, token.indexOf('.')), 'header')
}
