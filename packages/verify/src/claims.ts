import { TokenClaimInvalid, TokenExpired, TokenNotYetValid } from './errors.ts'

/**
 * The claims of a verified tokenbooth access token (RFC 9068 §2.2). Every listed claim has been
 * type-checked; any other claim is returned as the issuer wrote it, unchecked.
 *
 * @example
 * ```ts
 * const { sub, client_id, scope = '' } = verifyAccessToken(token, keys, options)
 * const scopes = new Set(scope.split(' '))
 * ```
 */
export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string | string[]
  exp: number
  iat: number
  nbf?: number
  jti: string
  client_id: string
  scope?: string
  sid?: string
  [claim: string]: unknown
}

/** What the claims are checked against; already validated by the caller. */
export interface ClaimExpectations {
  issuer: string
  audience: string | readonly string[]
  /** Current time in seconds since the epoch. */
  now: number
  /** Seconds of clock skew allowed on each time comparison. */
  tolerance: number
  ignoreExpiration: boolean
}

/**
 * Validates the registered claims of an access token whose signature has already been verified.
 * Throws `TokenClaimInvalid` (naming the claim), `TokenExpired` or `TokenNotYetValid`.
 *
 * It does NOT check `scope` contents, `sid` against a session store, `jti` against a replay cache,
 * or any claim not listed in {@link AccessTokenClaims}.
 */
export function assertClaims(
  payload: Record<string, unknown>,
  expect: ClaimExpectations,
): asserts payload is AccessTokenClaims {
  const { iss, aud, exp, nbf, iat, sub, client_id: clientId, jti, scope, sid } = payload
  const { now, tolerance } = expect
  // RFC 9068 §4: iss must exactly match; aud must contain the resource server's identifier
  if (iss !== expect.issuer) throw new TokenClaimInvalid('iss')
  if (!audienceMatches(aud, expect.audience)) throw new TokenClaimInvalid('aud')
  if (!isFiniteNumber(exp)) throw new TokenClaimInvalid('exp')
  // RFC 7519 §4.1.4 with leeway: accepted up to and including exp + tolerance
  if (!expect.ignoreExpiration && now > exp + tolerance) throw new TokenExpired('token has expired')
  if (nbf !== undefined) {
    if (!isFiniteNumber(nbf)) throw new TokenClaimInvalid('nbf')
    if (now < nbf - tolerance) throw new TokenNotYetValid('token is not valid yet ("nbf")')
  }
  if (!isFiniteNumber(iat)) throw new TokenClaimInvalid('iat')
  // a token issued in the future means the clocks disagree, the same diagnosis as nbf
  if (iat > now + tolerance) throw new TokenNotYetValid('token was issued in the future ("iat")')
  if (typeof sub !== 'string' || sub === '') throw new TokenClaimInvalid('sub')
  if (typeof clientId !== 'string' || clientId === '') throw new TokenClaimInvalid('client_id')
  if (typeof jti !== 'string' || jti === '') throw new TokenClaimInvalid('jti')
  if (scope !== undefined && typeof scope !== 'string') throw new TokenClaimInvalid('scope')
  if (sid !== undefined && typeof sid !== 'string') throw new TokenClaimInvalid('sid')
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

// aud is one string or a non-empty array of strings (RFC 7519 §4.1.3); one match is enough
function audienceMatches(aud: unknown, expected: string | readonly string[]): boolean {
  if (typeof aud === 'string') return isExpected(aud, expected)
  if (!Array.isArray(aud)) return false
  let match = false
  for (const value of aud as unknown[]) {
    if (typeof value !== 'string') return false
    if (!match) match = isExpected(value, expected)
  }
  return match
}

function isExpected(value: string, expected: string | readonly string[]): boolean {
  return typeof expected === 'string' ? value === expected : expected.includes(value)
}
