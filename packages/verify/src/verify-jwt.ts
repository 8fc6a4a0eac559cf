import { Buffer } from 'node:buffer'
import { assertClaims } from './claims.ts'
import type { AccessTokenClaims } from './claims.ts'
import {
  assertCompact,
  decodeJsonSegment,
  isCanonicalSegment,
  maxTokenLengthOption,
} from './compact.ts'
import {
  TokenAlgorithmNotAllowed,
  TokenHeaderUnsupported,
  TokenKeyUnknown,
  TokenMalformed,
  TokenSignatureInvalid,
  TokenTooLarge,
} from './errors.ts'
import { findKnownHeader, rememberHeader } from './known-headers.ts'
import { MAX_KID_LENGTH } from './key-set.ts'
import type { KeySet, VerificationKey } from './key-set.ts'
import { verifySignature } from './signature.ts'

/**
 * Options for {@link verifyAccessToken}.
 *
 * @example
 * ```ts
 * const options: VerifyOptions = { issuer: 'https://booth.example', audience: 'https://api.example' }
 * ```
 */
export interface VerifyOptions {
  /** The exact `iss` expected (RFC 9068 §4). */
  issuer: string
  /** The token's `aud` (string or array) must contain one of these. */
  audience: string | readonly string[]
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. Default 5. */
  clockTolerance?: number
  /** Current time in epoch milliseconds. Default `Date.now`. */
  now?: () => number
  /** Longest token accepted, in characters; longer ones throw `TokenTooLarge`. Default 8192. */
  maxTokenLength?: number
  /**
   * Expected header `typ`, compared case-insensitively with an optional `application/` prefix
   * (RFC 7515 §4.1.9). Default `'at+jwt'` (RFC 9068 §2.1): an ID token is not an access token.
   */
  typ?: string
  /**
   * Skip only the `exp` comparison (`exp` must still be a number). For the booth checking an old
   * access token sent with a refresh request: signature, `iss`, `aud`, `typ`, `nbf`, `iat` and the
   * required claims are all still checked. Default false.
   */
  ignoreExpiration?: boolean
}

// Default allowance for clock skew between issuer and verifier, in seconds
const DEFAULT_CLOCK_TOLERANCE = 5
const DEFAULT_TYP = 'at+jwt'

/**
 * {@link VerifyOptions} validated once by {@link resolveVerifyOptions}, with every default
 * applied and `typ` normalized. Only objects made by `resolveVerifyOptions` count as resolved.
 *
 * @example
 * ```ts
 * const options: ResolvedVerifyOptions = resolveVerifyOptions({ issuer, audience })
 * ```
 */
export interface ResolvedVerifyOptions {
  readonly issuer: string
  readonly audience: string | readonly string[]
  readonly clockTolerance: number
  readonly now: () => number
  readonly maxTokenLength: number
  /** Normalized with {@link normalizeTyp}. */
  readonly typ: string
  readonly ignoreExpiration: boolean
}

// The option objects made by resolveVerifyOptions, so verifyAccessToken can tell them apart
const resolved = new WeakSet<object>()

/**
 * Validates `options` once (a `TypeError` naming the option) and applies the defaults, for a
 * caller that verifies many tokens with the same options: `verifyAccessToken` then skips its
 * per-call validation when given the result.
 *
 * @example
 * ```ts
 * const options = resolveVerifyOptions({ issuer: 'https://booth.example', audience: 'https://api.example' })
 * const claims = verifyAccessToken(bearer, keys, options) // no option checks per token
 * ```
 */
export function resolveVerifyOptions(
  options: VerifyOptions | ResolvedVerifyOptions,
): ResolvedVerifyOptions {
  if (resolved.has(options)) return options as ResolvedVerifyOptions
  const result = Object.freeze(checkOptions(options))
  resolved.add(result)
  return result
}

// Validates and completes options; registering the result is resolveVerifyOptions's business
function checkOptions(options: VerifyOptions): ResolvedVerifyOptions {
  const { issuer, audience, clockTolerance = DEFAULT_CLOCK_TOLERANCE, typ = DEFAULT_TYP } = options
  const { now = Date.now, ignoreExpiration = false } = options
  const maxTokenLength = maxTokenLengthOption(options.maxTokenLength)
  assertOptions(issuer, audience, clockTolerance, now, typ, ignoreExpiration)
  return {
    issuer,
    audience,
    clockTolerance,
    now,
    maxTokenLength,
    typ: typ === DEFAULT_TYP ? DEFAULT_TYP : normalizeTyp(typ),
    ignoreExpiration,
  }
}

/**
 * Verifies a JWS-compact access token synchronously with node:crypto and returns its claims, or
 * throws a `TokenInvalid` subclass saying why not (RFC 8725, RFC 9068 §4, RFC 7515):
 *
 * 1. length ≤ `maxTokenLength`, three canonical unpadded base64url parts, header a JSON object;
 * 2. header: no `jwk`/`jku`/`x5u`/`x5c`/`x5t`/`x5t#S256`/`crit`/`b64`/`zip`/`enc`; `typ` as
 *    expected; `kid` a string of 1–256 characters, used only as a map key;
 * 3. `alg` equals the algorithm pinned to that key, so `none` and algorithm confusion always fail;
 * 4. the signature, BEFORE the payload is even decoded;
 * 5. claims: `iss` exact, `aud`, `exp`, `nbf`, `iat`, `sub`, `client_id`, `jti`, `scope`, `sid`.
 *
 * Throws `TypeError` for invalid options. It does NOT fetch keys (the key set is all it trusts),
 * check revocation, `jti` replay, `scope` contents or any claim it does not list, nor verify
 * DPoP/mTLS sender constraints (`cnf`).
 *
 * @example
 * ```ts
 * const keys = createKeySet(jwks)
 * const claims = verifyAccessToken(bearer, keys, {
 *   issuer: 'https://booth.example',
 *   audience: 'https://api.example',
 * })
 * claims.sub // verified subject
 * ```
 */
export function verifyAccessToken(
  token: string,
  keys: KeySet,
  options: VerifyOptions | ResolvedVerifyOptions,
): AccessTokenClaims {
  // options given with the call are checked for this call only: registering them as resolved
  // would add a WeakSet entry per token, which cost ~1.2 µs a verify (BENCHMARKS.md)
  const checked = resolved.has(options)
    ? (options as ResolvedVerifyOptions)
    : checkOptions(options as VerifyOptions)
  return verifyWithOptions(token, keys, checked)
}

/**
 * {@link verifyAccessToken} with options resolved beforehand by {@link resolveVerifyOptions}.
 *
 * Two paths, one outcome. A token whose header segment is one that verified recently
 * (`known-headers.ts`) skips decoding and policing its header, the same bytes as before; its
 * payload and signature parts are checked character by character exactly as on the first-sight
 * path, and every later check is the same, in the same order.
 */
export function verifyWithOptions(
  token: string,
  keys: KeySet,
  options: ResolvedVerifyOptions,
): AccessTokenClaims {
  if (typeof token !== 'string') throw new TokenMalformed('token must be a string')
  if (token.length > options.maxTokenLength) {
    throw new TokenTooLarge(`token is longer than ${options.maxTokenLength}`)
  }
  const known = findKnownHeader(token)
  if (known === undefined) return verifyFirstSight(token, keys, options)

  const headerEnd = known.prefix.length - 1
  const payloadEnd = token.lastIndexOf('.')
  // a non-empty payload running up to the last dot (so exactly three parts), then the signature
  if (
    payloadEnd <= headerEnd + 1 ||
    !isCanonicalSegment(token, headerEnd + 1, payloadEnd) ||
    !isCanonicalSegment(token, payloadEnd + 1, token.length)
  ) {
    assertCompact(token, options.maxTokenLength) // throws, with the precise reason
    throw new TokenMalformed('token is not three canonical base64url parts')
  }
  if (known.typ !== options.typ) {
    throw new TokenHeaderUnsupported(`header "typ" is not "${options.typ}"`)
  }
  const key = keys.get(known.kid)
  if (key === undefined) throw new TokenKeyUnknown(known.kid)
  if (known.alg !== key.alg) {
    throw new TokenAlgorithmNotAllowed('header "alg" does not match the key')
  }
  checkSignature(token, payloadEnd, key)
  return checkPayload(token, headerEnd, payloadEnd, options)
}

// The full path, for a header not seen in a verified token before; it remembers the header after
// the token has passed every check
function verifyFirstSight(
  token: string,
  keys: KeySet,
  options: ResolvedVerifyOptions,
): AccessTokenClaims {
  assertCompact(token, options.maxTokenLength)
  const headerEnd = token.indexOf('.')
  const payloadEnd = token.lastIndexOf('.')
  const header = decodeJsonSegment(token.slice(0, headerEnd), 'header')
  const key = selectKey(header, keys, options.typ)
  checkSignature(token, payloadEnd, key)
  const claims = checkPayload(token, headerEnd, payloadEnd, options)
  rememberHeader({
    prefix: token.slice(0, headerEnd + 1),
    alg: key.alg,
    kid: header.kid as string, // selectKey has checked it; a hand-built key set may name keys otherwise
    typ: options.typ,
  })
  return claims
}

// RFC 7515 §5.2: the signature, before the payload is even decoded
function checkSignature(token: string, payloadEnd: number, key: VerificationKey): void {
  const signature = Buffer.from(token.slice(payloadEnd + 1), 'base64url')
  let valid: boolean
  try {
    valid = verifySignature(key, token.slice(0, payloadEnd), signature)
  } catch (cause) {
    if (cause instanceof TypeError) throw cause // a broken key set is the developer's mistake
    throw new TokenSignatureInvalid('signature verification failed', { cause })
  }
  if (!valid) throw new TokenSignatureInvalid('signature does not verify')
}

function checkPayload(
  token: string,
  headerEnd: number,
  payloadEnd: number,
  options: ResolvedVerifyOptions,
): AccessTokenClaims {
  const payload = decodeJsonSegment(token.slice(headerEnd + 1, payloadEnd), 'payload')
  const nowMs = options.now()
  if (!Number.isFinite(nowMs))
    throw new TypeError(`"now" must return a finite number, got ${nowMs}`)
  assertClaims(payload, {
    issuer: options.issuer,
    audience: options.audience,
    now: nowMs / 1000,
    tolerance: options.clockTolerance,
    ignoreExpiration: options.ignoreExpiration,
  })
  return payload
}

function selectKey(header: Record<string, unknown>, keys: KeySet, typ: string): VerificationKey {
  for (const name in header) {
    switch (name) {
      // RFC 8725 §3.10: keys named or carried by the token are attacker-controlled; never use them
      case 'jwk':
      case 'jku':
      case 'x5u':
      case 'x5c':
      case 'x5t':
      case 'x5t#S256':
      // RFC 7515 §4.1.11: we understand no extension, so any crit must be rejected;
      // RFC 7797 b64, and zip/enc (JWE only), change how the token is read: refuse them too
      case 'crit':
      case 'b64':
      case 'zip':
      case 'enc':
        throw new TokenHeaderUnsupported(`header parameter "${name}" is not supported`)
    }
  }
  const { alg, kid } = header
  if (typeof alg !== 'string') throw new TokenMalformed('header "alg" must be a string')
  if (!isSupportedAlg(alg)) throw new TokenAlgorithmNotAllowed('header "alg" is not allowed')
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== typ) {
    throw new TokenHeaderUnsupported(`header "typ" is not "${typ}"`)
  }
  if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
    throw new TokenMalformed(`header "kid" must be a string of 1 to ${MAX_KID_LENGTH} characters`)
  }
  const key = keys.get(kid)
  if (key === undefined) throw new TokenKeyUnknown(kid)
  // RFC 8725 §3.1: the key decides the algorithm, the token only has to agree with it
  if (alg !== key.alg) throw new TokenAlgorithmNotAllowed('header "alg" does not match the key')
  return key
}

function isSupportedAlg(alg: string): boolean {
  switch (alg) {
    case 'ES256':
    case 'ES384':
    case 'EdDSA':
    case 'RS256':
    case 'PS256':
    case 'HS256':
      return true
    default:
      return false
  }
}

// RFC 7515 §4.1.9: media types are case-insensitive and "application/" may be omitted
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

/** Throws `TypeError` unless `issuer` is a non-empty string and `audience` one or more. */
export function assertIssuerAudience(issuer: unknown, audience: unknown): void {
  if (typeof issuer !== 'string' || issuer === '') {
    throw new TypeError(`"issuer" must be a non-empty string, got ${typeof issuer}`)
  }
  const validAudience =
    typeof audience === 'string'
      ? audience !== ''
      : Array.isArray(audience) &&
        audience.length > 0 &&
        audience.every((a: unknown) => typeof a === 'string' && a !== '')
  if (!validAudience) {
    throw new TypeError('"audience" must be a non-empty string or array of non-empty strings')
  }
}

function assertOptions(
  issuer: unknown,
  audience: unknown,
  clockTolerance: unknown,
  now: unknown,
  typ: unknown,
  ignoreExpiration: unknown,
): void {
  assertIssuerAudience(issuer, audience)
  if (typeof clockTolerance !== 'number' || !(clockTolerance >= 0 && clockTolerance < Infinity)) {
    throw new TypeError(
      `"clockTolerance" must be a finite number ≥ 0, got ${String(clockTolerance)}`,
    )
  }
  if (typeof now !== 'function') throw new TypeError(`"now" must be a function, got ${typeof now}`)
  if (typeof typ !== 'string' || typ === '') {
    throw new TypeError(`"typ" must be a non-empty string, got ${typeof typ}`)
  }
  if (typeof ignoreExpiration !== 'boolean') {
    throw new TypeError(`"ignoreExpiration" must be a boolean, got ${typeof ignoreExpiration}`)
  }
}
