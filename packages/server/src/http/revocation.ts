/** POST /revoke (RFC 7009) and POST /introspect (RFC 7662). */
import type { FastifyInstance } from 'fastify'
import type { AccessTokenClaims } from '@tokenbooth/verify'
import { REVOCATION_MARGIN_MS, type BoothContext } from '../domain/context.ts'
import { endSession } from '../domain/sessions.ts'
import { hashRefreshToken } from '../domain/tokens.ts'
import { InvalidClient, InvalidToken, UnauthorizedClient } from '../errors.ts'
import { isLiveRefreshToken, type SessionRecord } from '../store/store.ts'
import { checkNotRevoked, verifyToken } from './bearer.ts'
import { resolveClient } from './client-auth.ts'
import { readParams, required } from './params.ts'

const INACTIVE = JSON.stringify({ active: false })

function claimsOf(
  ctx: BoothContext,
  token: string,
  ignoreExpiration: boolean,
): AccessTokenClaims | undefined {
  if (token.split('.').length !== 3) return undefined
  try {
    return verifyToken(ctx, token, ignoreExpiration)
  } catch (error) {
    if (error instanceof InvalidToken) return undefined
    throw error
  }
}

export function revocationRoutes(app: FastifyInstance, ctx: BoothContext): void {
  app.post('/revoke', async (request, reply) => {
    const params = readParams(request.body)
    const token = required(params, 'token')
    const { client } = await resolveClient(ctx, request, params)
    // The hint only orders the look-ups (RFC 7009 §2.1): a wrong hint still revokes.
    const hash = hashRefreshToken(token)
    if (hash !== undefined) {
      // Any generation of the family, not only the current token: §2.1 says revoking a refresh
      // token ends its grant, and a client that revokes the token it has just exchanged (still
      // inside the grace window, where it could be retried) must not leave the session running.
      // Presenting an old generation to /token would revoke the family anyway (reuse detection).
      const found = await ctx.store.findRefreshToken(hash)
      if (found !== undefined && found.session.revokedAt === undefined) {
        if (found.session.clientId !== client.id) {
          throw new UnauthorizedClient({ description: 'this token was issued to another client' })
        }
        await endSession(ctx, found.session.id, undefined, 'revoked_refresh_token')
      }
    } else {
      const claims = claimsOf(ctx, token, false)
      if (claims !== undefined) {
        if (claims.client_id !== client.id) {
          throw new UnauthorizedClient({ description: 'this token was issued to another client' })
        }
        await ctx.store.revokeAccessToken(
          claims.jti,
          ctx.clock(),
          claims.exp * 1000 + REVOCATION_MARGIN_MS,
        )
        ctx.events.emit('access_token.revoked', { jti: claims.jti, sub: claims.sub })
      }
    }
    // §2.2: 200 whether or not the token was known, so revocation reveals nothing.
    return reply.code(200).header('cache-control', 'no-store').send()
  })

  app.post('/introspect', async (request, reply) => {
    const params = readParams(request.body)
    const { client, confidential } = await resolveClient(ctx, request, params)
    // §2.1: the endpoint requires authentication, so token scanning needs a client secret.
    if (!confidential)
      throw new InvalidClient({ description: 'introspection needs client authentication' })
    const token = required(params, 'token')
    reply.header('cache-control', 'no-store').type('application/json')

    const hash = hashRefreshToken(token)
    if (hash !== undefined) {
      const now = ctx.clock()
      const found = await ctx.store.findRefreshToken(hash)
      // Active: a live token (the current one of a live session), shown only to the client it
      // was issued to.
      if (
        found === undefined ||
        !isLiveRefreshToken(found, now) ||
        found.session.clientId !== client.id
      )
        return INACTIVE
      return refreshTokenInfo(ctx, found.session, found.expiresAt)
    }
    const claims = claimsOf(ctx, token, false)
    if (claims === undefined) return INACTIVE
    try {
      await checkNotRevoked(ctx, claims)
    } catch (error) {
      if (error instanceof InvalidToken) return INACTIVE
      throw error
    }
    const user =
      typeof claims.sid === 'string' ? await ctx.store.findUserById(claims.sub) : undefined
    return {
      active: true,
      token_type: 'Bearer',
      scope: claims.scope,
      client_id: claims.client_id,
      username: user?.username,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      sid: claims.sid,
    }
  })
}

async function refreshTokenInfo(ctx: BoothContext, session: SessionRecord, expiresAt: number) {
  const user = await ctx.store.findUserById(session.userId)
  return {
    active: true,
    token_type: 'refresh_token',
    scope: session.scope,
    client_id: session.clientId,
    username: user?.username,
    sub: session.userId,
    iss: ctx.config.issuer,
    sid: session.id,
    // The token's own end: its idle expiry, or the session's absolute end if that comes first.
    exp: Math.floor(Math.min(expiresAt, session.expiresAt) / 1000),
    iat: Math.floor(session.createdAt / 1000),
  }
}
