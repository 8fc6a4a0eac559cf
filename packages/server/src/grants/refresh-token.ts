/**
 * grant_type=refresh_token (RFC 6749 §6). The client may also send its old access token
 * (`access_token`), as the articles describe: its signature, issuer and audience are checked —
 * not its expiry — and it must belong to the refresh token's session.
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
  const scope = parseScope(params.scope)
  let sessionId: string | undefined
  const oldAccessToken = optional(params, 'access_token')
  if (oldAccessToken !== undefined) {
    try {
      const claims = verifyToken(ctx, oldAccessToken, true)
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
