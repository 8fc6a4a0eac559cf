/**
 * When tokens expire and when to refresh them, on the client's own clock.
 *
 * A client clock may be minutes or hours off the booth's. Comparing the token's `exp` with
 * `Date.now()` would then refresh on every call (clock ahead) or send expired tokens (clock
 * behind). So the client measures the offset between the booth's clock (`iat`, stamped when the
 * token was issued) and its own, at the moment it sent the request that got the token, and moves
 * `exp` onto its own clock with that offset. Measuring at the send (not at the receipt) makes
 * network latency err on the early side: a token may be refreshed a round trip early, never late.
 *
 * @module
 */
import { decodeJwtPayload } from './jwt.ts'
import type { StoredTokens } from './storage.ts'

/** A token with no known expiry is refreshed only on a 401. (`Infinity` does not survive JSON.) */
export const NO_EXPIRY = Number.MAX_SAFE_INTEGER

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/** What a token response says about timing and session. */
export interface Expiry {
  /** Local-clock milliseconds at which the access token expires. */
  expiresAt: number
  /** The `sid` claim, when the access token is a readable JWT. */
  sessionId: string | undefined
}

/**
 * Computes the local expiry of a freshly received access token: from its `exp`, corrected by the
 * skew measured against `iat`, when the token is a readable JWT; otherwise from `expires_in`
 * (cookie mode, opaque tokens). When both are known the earlier wins.
 *
 * It does NOT verify the token (see `decodeJwtPayload`): a forged `exp` can only make this client
 * refresh early or late, which the booth and the resource servers still police.
 *
 * @example
 * ```ts
 * const sentAt = clock()
 * const body = await (await fetch(tokenUrl, request)).json()
 * const { expiresAt } = computeExpiry(body.access_token, body.expires_in, sentAt)
 * ```
 */
export function computeExpiry(
  accessToken: string | undefined,
  expiresIn: unknown,
  sentAt: number,
): Expiry {
  const claims = accessToken === undefined ? undefined : decodeJwtPayload(accessToken)
  const sessionId = typeof claims?.sid === 'string' ? claims.sid : undefined
  const candidates: number[] = []
  const iat = claims?.iat
  const exp = claims?.exp
  if (isNumber(iat) && isNumber(exp) && exp > iat) {
    // skew = our clock minus the booth's, at the moment the token was issued
    const skew = sentAt - iat * 1000
    candidates.push(exp * 1000 + skew)
  }
  if (isNumber(expiresIn) && expiresIn > 0) candidates.push(sentAt + expiresIn * 1000)
  return { expiresAt: candidates.length > 0 ? Math.min(...candidates) : NO_EXPIRY, sessionId }
}

/**
 * The local-clock moment at which `tokens` should be refreshed: `margin` before expiry, but
 * never earlier than halfway through the token's life, so that a margin longer than the token
 * lifetime (60 s against a 10 s token) cannot make every call refresh.
 *
 * It does NOT look at the booth: a token revoked early is caught by the 401 path instead.
 *
 * @example
 * ```ts
 * if (clock() >= refreshDueAt(tokens, 60_000)) await refresh()
 * ```
 */
export function refreshDueAt(tokens: StoredTokens, marginMs: number): number {
  if (tokens.expiresAt === NO_EXPIRY) return NO_EXPIRY
  const lifetime = Math.max(0, tokens.expiresAt - tokens.obtainedAt)
  return tokens.expiresAt - Math.min(marginMs, lifetime / 2)
}

/**
 * True while `tokens` need no refresh at local time `now`.
 *
 * @example
 * ```ts
 * const token = isFresh(tokens, clock(), margin) ? tokens.accessToken : (await refresh()).accessToken
 * ```
 */
export function isFresh(tokens: StoredTokens, now: number, marginMs: number): boolean {
  return now < refreshDueAt(tokens, marginMs)
}
