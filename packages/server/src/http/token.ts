/** POST /token (RFC 6749 §3.2, §5): parse, authenticate the client, run the grant, answer. */
import type { FastifyInstance } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import { clientCredentialsGrant } from '../grants/client-credentials.ts'
import { passwordGrant } from '../grants/password.ts'
import { refreshTokenGrant } from '../grants/refresh-token.ts'
import { UnsupportedGrantType } from '../errors.ts'
import { resolveClient } from './client-auth.ts'
import { readParams, required } from './params.ts'

export const GRANT_TYPES = ['password', 'refresh_token', 'client_credentials'] as const

export function tokenRoutes(app: FastifyInstance, ctx: BoothContext): void {
  app.post('/token', async (request, reply) => {
    // RFC 6749 §5.1: token responses must never be cached.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    const params = readParams(request.body)
    const grantType = required(params, 'grant_type')
    if (!(GRANT_TYPES as readonly string[]).includes(grantType)) {
      throw new UnsupportedGrantType({ description: `grant_type "${grantType.slice(0, 64)}" is not supported` })
    }
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
  })
}
