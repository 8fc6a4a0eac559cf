/** Discovery (RFC 8414, OpenID Connect Discovery) and the JWKS (RFC 7517). */
import type { FastifyInstance } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import { GRANT_TYPES } from './token.ts'

export function wellKnownRoutes(app: FastifyInstance, ctx: BoothContext): void {
  const { issuer } = ctx.config
  const metadata = JSON.stringify({
    issuer,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    userinfo_endpoint: `${issuer}/userinfo`,
    grant_types_supported: GRANT_TYPES,
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'none',
    ],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: ctx.config.scopes,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ctx.config.signingAlg],
  })
  const cache = `public, max-age=${ctx.config.jwksMaxAge}`
  for (const path of [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
  ]) {
    app.get(path, async (_request, reply) =>
      reply.header('cache-control', cache).type('application/json').send(metadata),
    )
  }
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    // max-age is what the key schedule allows: keys are published two max-ages before they sign.
    reply.header('cache-control', cache).type('application/jwk-set+json').send(ctx.keys.jwksJson()),
  )
}
