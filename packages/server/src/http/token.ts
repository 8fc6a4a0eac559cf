/** POST /token (RFC 6749 §3.2, §5): parse, authenticate the client, run the grant, answer. */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import { clientCredentialsGrant } from '../grants/client-credentials.ts'
import { passwordGrant } from '../grants/password.ts'
import { refreshTokenGrant } from '../grants/refresh-token.ts'
import { InvalidGrant, InvalidRequest, UnsupportedGrantType } from '../errors.ts'
import { resolveClient } from './client-auth.ts'
import { checkCsrf, cookieOrigins, REFRESH_COOKIE, setTokenCookies } from './cookies.ts'
import { readParams, required, type Params } from './params.ts'

export const GRANT_TYPES = ['password', 'refresh_token', 'client_credentials'] as const

export function tokenRoutes(app: FastifyInstance, ctx: BoothContext): void {
  const origins = cookieOrigins(ctx.config)

  app.post('/token', async (request, reply) => {
    // RFC 6749 §5.1: token responses must never be cached.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    let params = readParams(request.body)
    const grantType = required(params, 'grant_type')
    if (!(GRANT_TYPES as readonly string[]).includes(grantType)) {
      throw new UnsupportedGrantType({
        description: `grant_type "${grantType.slice(0, 64)}" is not supported`,
      })
    }
    const delivery = params.token_delivery ?? 'json'
    if (delivery !== 'json' && delivery !== 'cookie') {
      throw new InvalidRequest({ description: 'token_delivery must be json or cookie' })
    }
    if (delivery === 'json') return grant(request, grantType, params)

    // Cookie mode (cookies.ts): browsers of allowed origins, user grants only.
    checkCsrf(request, origins)
    if (grantType === 'client_credentials') {
      throw new InvalidRequest({ description: 'cookie delivery is for user sessions' })
    }
    const cookie = request.cookies[REFRESH_COOKIE]
    if (grantType === 'refresh_token' && params.refresh_token === undefined) {
      // The browser dropped the cookie (its Max-Age passed): the session is over for this client.
      if (cookie === undefined)
        throw new InvalidGrant({
          description: 'invalid refresh token',
          detail: 'no refresh cookie',
        })
      params = { ...params, refresh_token: cookie }
    }
    const tokens = await grant(request, grantType, params)
    setTokenCookies(reply, ctx.config, tokens)
    return {
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      scope: tokens.scope,
      token_delivery: 'cookie',
    }
  })

  async function grant(request: FastifyRequest, grantType: string, params: Params) {
    const client = await resolveClient(ctx, request, params)
    switch (grantType) {
      case 'password':
        return passwordGrant(ctx, params, client.client, {
          address: request.ip,
          userAgent: request.headers['user-agent'],
        })
      case 'refresh_token':
        return refreshTokenGrant(ctx, params, client.client)
      default:
        return clientCredentialsGrant(ctx, params, client)
    }
  }
}
