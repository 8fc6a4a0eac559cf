/** grant_type=client_credentials (RFC 6749 §4.4): service-to-service tokens, no refresh token. */
import type { BoothContext } from '../domain/context.ts'
import { grantScope, parseScope } from '../domain/scopes.ts'
import type { TokenResponse } from '../domain/sessions.ts'
import { issueAccessToken } from '../domain/tokens.ts'
import { InvalidClient } from '../errors.ts'
import { optional, type Params } from '../http/params.ts'
import type { AuthenticatedClient } from '../http/client-auth.ts'

export async function clientCredentialsGrant(
  ctx: BoothContext,
  params: Params,
  { client, confidential }: AuthenticatedClient,
): Promise<TokenResponse> {
  if (!confidential) {
    throw new InvalidClient({ description: 'client_credentials needs client authentication' })
  }
  const allowed = client.scope.split(' ').filter(Boolean)
  // RFC 6749 §3.1: `scope=` (no value) is treated as omitted: everything the client may have.
  const scope = grantScope(parseScope(optional(params, 'scope')), allowed, allowed)
  const signer = ctx.keys.signer()
  const now = ctx.clock()
  await ctx.horizon.cover(now)
  const access = issueAccessToken(signer, {
    issuer: ctx.config.issuer,
    audience: ctx.config.audience,
    subject: client.id,
    clientId: client.id,
    scope,
    sessionId: undefined,
    ttl: ctx.config.accessTokenTtl,
    now,
  })
  ctx.events.emit('client_credentials.issued', { client_id: client.id })
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope: scope.join(' '),
  }
}
