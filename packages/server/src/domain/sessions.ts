/**
 * Sessions: a login starts one (a refresh-token family); every refresh rotates its token;
 * logout, logout-all, revocation and reuse detection end it.
 */
import { randomUUID } from 'node:crypto'
import { InvalidGrant, ServerError } from '../errors.ts'
import type { ClientRecord, SessionRecord, UserRecord } from '../store/store.ts'
import { revocationHorizon, type BoothContext } from './context.ts'
import type { ActiveKey } from './keys.ts'
import { grantScope } from './scopes.ts'
import {
  hashRefreshToken,
  issueAccessToken,
  newRefreshToken,
  openSuccessor,
  sealSuccessor,
} from './tokens.ts'

export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token?: string
  scope: string
}

function scopesOf(session: SessionRecord): string[] {
  return session.scope.split(' ').filter(Boolean)
}

/**
 * The `iat` of a user's access token issued at `now`.
 *
 * A user cut-off (/logout/all) at millisecond `at` makes every verifier reject that user's tokens
 * with `iat * 1000 <= at`; `iat` has whole seconds, so a login in the same second right after
 * the cut-off would get a token every verifier rejects for its whole lifetime. Such a token gets
 * the next whole second after the cut-off instead: at most 1 s ahead, within the 5 s of clock
 * tolerance verifiers allow on `iat`, and `exp` counts from it. Only a session created in the
 * current second can face a cut-off in the current second (a cut-off revokes every session that
 * exists when it is made), so an older session needs no look-up: refreshes stay one transaction.
 */
async function issuedAt(ctx: BoothContext, session: SessionRecord, now: number): Promise<number> {
  const second = Math.floor(now / 1000)
  if (Math.floor(session.createdAt / 1000) < second) return second
  const cutoff = await ctx.store.latestUserCutoff(session.userId)
  if (cutoff === undefined || Math.floor(cutoff / 1000) < second) return second
  // A cut-off stamped later than this second comes from a clock ahead of ours; not compensated.
  return second + 1
}

async function respond(
  ctx: BoothContext,
  signer: ActiveKey,
  session: SessionRecord,
  scope: readonly string[],
  refreshToken: string,
  now: number,
): Promise<TokenResponse> {
  const access = issueAccessToken(signer, {
    issuer: ctx.config.issuer,
    audience: ctx.config.audience,
    subject: session.userId,
    clientId: session.clientId,
    scope,
    sessionId: session.id,
    ttl: ctx.config.accessTokenTtl,
    now,
    issuedAt: await issuedAt(ctx, session, now),
    // no access token outlives its session's absolute end, where the booth stops refreshing it
    notAfter: session.expiresAt,
  })
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    refresh_token: refreshToken,
    scope: scope.join(' '),
  }
}

/** Starts a session for an authenticated user and returns its first tokens. */
export async function startSession(
  ctx: BoothContext,
  user: UserRecord,
  client: ClientRecord,
  scope: readonly string[],
  userAgent: string | undefined,
): Promise<TokenResponse> {
  // Before anything is stored: no key means 503 (keys.ts), not a session without tokens.
  const signer = ctx.keys.signer()
  const now = ctx.clock()
  await ctx.horizon.cover(now)
  const session: SessionRecord = {
    id: randomUUID(),
    userId: user.id,
    clientId: client.id,
    scope: scope.join(' '),
    createdAt: now,
    lastUsedAt: now,
    expiresAt: now + ctx.config.sessionMaxAge * 1000,
    revokedAt: undefined,
    userAgent: userAgent?.slice(0, 256),
  }
  const refreshToken = newRefreshToken(now)
  await ctx.store.startSession(session, {
    hash: hashRefreshToken(refreshToken)!,
    expiresAt: Math.min(now + ctx.config.refreshTokenTtl * 1000, session.expiresAt),
  })
  return respond(ctx, signer, session, scope, refreshToken, now)
}

export interface RefreshInput {
  refreshToken: string
  client: ClientRecord
  /** The narrower scope asked for, if any. */
  scope: readonly string[] | undefined
  /** The session proven by the old access token sent along, if any. */
  sessionId: string | undefined
}

/**
 * Rotates a refresh token (RFC 9700 §4.14.2): a new refresh token for each use; the previous one
 * again within the grace window gets the same successor; anything older revokes the family.
 * Every failure is the same `invalid_grant` to the client; the event says which it was.
 */
export async function refreshSession(
  ctx: BoothContext,
  input: RefreshInput,
): Promise<TokenResponse> {
  const presentedHash = hashRefreshToken(input.refreshToken)
  if (presentedHash === undefined) {
    throw new InvalidGrant({ description: 'invalid refresh token', detail: 'not a refresh token' })
  }
  // The signing key first: once the rotation commits, a failure to sign would leave the client
  // without the successor, and its retry after the grace window would count as reuse and revoke
  // the session. With no key this is a 503 and the refresh token is left as it was.
  const signer = ctx.keys.signer()
  const now = ctx.clock()
  // Before the rotation too: once it commits, the client must get its successor.
  await ctx.horizon.cover(now)
  if (input.scope !== undefined) {
    // Refuse a scope beyond the grant before rotating: a failed request must not consume the token.
    // Only for the client (and session) the token is bound to: anyone else gets the rotation's
    // invalid_grant, not an invalid_scope that would tell them the token is live.
    const session = await ctx.store.findSessionByRefreshToken(presentedHash, now)
    if (
      session !== undefined &&
      session.clientId === input.client.id &&
      (input.sessionId === undefined || session.id === input.sessionId)
    ) {
      grantScope(input.scope, scopesOf(session), [])
    }
  }
  const successor = newRefreshToken(now)
  const outcome = await ctx.store.rotateRefreshToken({
    presentedHash,
    next: {
      hash: hashRefreshToken(successor)!,
      expiresAt: now + ctx.config.refreshTokenTtl * 1000,
      sealedForPredecessor: sealSuccessor(successor, input.refreshToken),
    },
    clientId: input.client.id,
    sessionId: input.sessionId,
    now,
    graceMs: ctx.config.refreshGrace * 1000,
    revocationExpiresAt: revocationHorizon(ctx, now),
  })

  switch (outcome.status) {
    case 'rotated': {
      const granted = scopesOf(outcome.session)
      ctx.events.emit('refresh_token.rotated', { sid: outcome.session.id })
      return respond(
        ctx,
        signer,
        outcome.session,
        grantScope(input.scope, granted, granted),
        successor,
        now,
      )
    }
    case 'retried': {
      const same = openSuccessor(outcome.sealedSuccessor, input.refreshToken, outcome.successorHash)
      if (same === undefined) throw new ServerError({ detail: 'sealed successor does not open' })
      const granted = scopesOf(outcome.session)
      ctx.events.emit('refresh_token.retried', { sid: outcome.session.id })
      const scope = grantScope(input.scope, granted, granted)
      return respond(ctx, signer, outcome.session, scope, same, now)
    }
    case 'reused':
      ctx.events.emit('refresh_token.reused', {
        sid: outcome.session.id,
        sub: outcome.session.userId,
        detail: 'refresh token reused; session family revoked',
      })
      throw new InvalidGrant({
        description: 'invalid refresh token',
        detail: 'refresh token reused; session family revoked',
      })
    default:
      ctx.events.emit('refresh_token.rejected', { reason: outcome.status })
      throw new InvalidGrant({
        description: 'invalid refresh token',
        detail: `refresh token ${outcome.status}`,
      })
  }
}

/** Ends one session. With `userId`, only if it is that user's. */
export async function endSession(
  ctx: BoothContext,
  sessionId: string,
  userId: string | undefined,
  reason: string,
) {
  const now = ctx.clock()
  const ended = await ctx.store.revokeSession(sessionId, userId, now, revocationHorizon(ctx, now))
  if (ended) ctx.events.emit('session.revoked', { sid: sessionId, sub: userId, reason })
  return ended
}

/** Ends every session of a user and cuts off every access token issued to them until now. */
export async function endAllSessions(ctx: BoothContext, userId: string, reason: string) {
  const now = ctx.clock()
  const count = await ctx.store.revokeAllSessions(userId, now, revocationHorizon(ctx, now))
  ctx.events.emit('user.sessions_revoked', { sub: userId, count, reason })
  return count
}
