/**
 * Bearer authentication of the booth's own endpoints (RFC 6750). Verification is the one code
 * path in @tokenbooth/verify; the booth then adds what only it can check at once: the session
 * is still live and the token's jti was not revoked.
 */
import type { FastifyRequest } from 'fastify'
import {
  TokenInvalid,
  resolveVerifyOptions,
  verifyAccessToken,
  type AccessTokenClaims,
  type KeySet,
  type ResolvedVerifyOptions,
} from '@tokenbooth/verify'
import type { BoothContext } from '../domain/context.ts'
import { hasScope } from '../domain/scopes.ts'
import { InsufficientScope, InvalidToken, MissingToken } from '../errors.ts'
import type { SessionRecord } from '../store/store.ts'
import { ACCESS_COOKIE, checkCsrf, cookieOrigins } from './cookies.ts'

export interface Caller {
  claims: AccessTokenClaims
  /** The user session the token belongs to. */
  session: SessionRecord
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

// The verify options of each booth, checked once rather than on every request: with exp, and
// without (the old access token sent with a refresh)
const optionsOf = new WeakMap<
  BoothContext,
  readonly [ResolvedVerifyOptions, ResolvedVerifyOptions]
>()

function verifyOptions(ctx: BoothContext, ignoreExpiration: boolean): ResolvedVerifyOptions {
  let options = optionsOf.get(ctx)
  if (options === undefined) {
    const base = { issuer: ctx.config.issuer, audience: ctx.config.audience, now: ctx.clock }
    options = [
      resolveVerifyOptions(base),
      resolveVerifyOptions({ ...base, ignoreExpiration: true }),
    ] as const
    optionsOf.set(ctx, options)
  }
  return options[ignoreExpiration ? 1 : 0]
}

/**
 * Verifies the token's signature and claims; no revocation checks. Throws InvalidToken.
 * `keys` defaults to the published keys.
 */
export function verifyToken(
  ctx: BoothContext,
  token: string,
  ignoreExpiration = false,
  keys: KeySet = ctx.keys.keySet(),
): AccessTokenClaims {
  try {
    return verifyAccessToken(token, keys, verifyOptions(ctx, ignoreExpiration))
  } catch (error) {
    if (error instanceof TokenInvalid) {
      throw new InvalidToken({ description: 'the access token is invalid', detail: error.code })
    }
    throw error
  }
}

/**
 * Throws InvalidToken when the booth knows the token is dead: its jti was revoked, or its
 * session (for user tokens) has ended. Returns that session, `undefined` for client tokens.
 */
export async function checkNotRevoked(
  ctx: BoothContext,
  claims: AccessTokenClaims,
): Promise<SessionRecord | undefined> {
  const sid = typeof claims.sid === 'string' ? claims.sid : undefined
  const [session, revoked] = await Promise.all([
    sid === undefined ? undefined : ctx.store.findSession(sid),
    ctx.store.isAccessTokenRevoked(claims.jti),
  ])
  const ended =
    sid !== undefined &&
    (session === undefined || session.revokedAt !== undefined || session.expiresAt <= ctx.clock())
  if (revoked || ended) {
    throw new InvalidToken({
      description: 'the access token is no longer valid',
      detail: revoked ? 'jti revoked' : 'session ended',
    })
  }
  return session
}

/** The token from `Authorization: Bearer`, or from the access cookie (with the CSRF checks). */
function presentedToken(ctx: BoothContext, request: FastifyRequest): string {
  const header = request.headers.authorization
  if (header !== undefined && header !== '') {
    const token = BEARER.exec(header)?.[1]
    if (token === undefined)
      throw new InvalidToken({ description: 'the Authorization header is not a Bearer token' })
    return token
  }
  const cookie = request.cookies[ACCESS_COOKIE]
  if (cookie === undefined || cookie === '')
    throw new MissingToken({ description: 'an access token is required' })
  if (request.method !== 'GET' && request.method !== 'HEAD')
    checkCsrf(request, cookieOrigins(ctx.config))
  return cookie
}

/** Authenticates a user request; with `scope`, also requires that scope (403 otherwise). */
export async function authenticateUser(
  ctx: BoothContext,
  request: FastifyRequest,
  scope?: string,
): Promise<Caller> {
  const token = presentedToken(ctx, request)
  const claims = verifyToken(ctx, token)
  const session = await checkNotRevoked(ctx, claims)
  if (session === undefined) {
    throw new InvalidToken({
      description: 'this endpoint needs a user token',
      detail: 'client token',
    })
  }
  if (scope !== undefined && !hasScope(claims.scope, scope)) throw new InsufficientScope(scope)
  return { claims, session }
}
