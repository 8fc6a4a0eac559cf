/**
 * grant_type=refresh_token (RFC 6749 §6). The client may also send its old access token
 * (`access_token`), as the articles describe: its signature, issuer and audience are checked —
 * not its expiry — and it must belong to the refresh token's session.
 *
 * The issue: "the booth checks its signature — not its expiry — and that it belongs to the same
 * session". A client that was idle may hold an access token whose key has since been retired and
 * left the JWKS, while its refresh token (14 days idle) is still good. So this check, and only
 * this one, accepts every key retired within the refresh-token lifetime (keys.ts
 * sessionKeySet(); the store keeps every key's public half). A kid it does not know is still
 * invalid_grant: no key the booth made can have signed it, so the token is not this session's.
 */
import type { BoothContext } from '../domain/context.ts'
import { parseScope } from '../domain/scopes.ts'
import { refreshSession, type TokenResponse } from '../domain/sessions.ts'
import { InvalidGrant, InvalidToken } from '../errors.ts'
import { verifyToken } from '../http/bearer.ts'
import { optional, required, type Params } from '../http/params.ts'
import type { ClientRecord } from '../store/store.ts'

export async function refreshTokenGrant(
  ctx: BoothContext,
  params: Params,
  client: ClientRecord,
): Promise<TokenResponse> {
  const refreshToken = required(params, 'refresh_token')
  // RFC 6749 §3.1: `scope=` (no value) is treated as omitted: the scope of the session.
  const scope = parseScope(optional(params, 'scope'))
  let sessionId: string | undefined
  const oldAccessToken = optional(params, 'access_token')
  if (oldAccessToken !== undefined) {
    try {
      const claims = verifyToken(ctx, oldAccessToken, true, ctx.keys.sessionKeySet())
      sessionId = typeof claims.sid === 'string' ? claims.sid : ''
    } catch (error) {
      if (error instanceof InvalidToken) {
        throw new InvalidGrant({
          description: 'the access token sent along is invalid',
          detail: error.detail,
        })
      }
      throw error
    }
  }
  return refreshSession(ctx, { refreshToken, client, scope, sessionId })
}
