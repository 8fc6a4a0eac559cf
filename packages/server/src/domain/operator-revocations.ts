/**
 * Revocations made by the operator from the command line (`tokenbooth sessions revoke`, `users
 * revoke`, `tokens revoke`), for incident response: a stolen laptop, a leaked token in a log.
 *
 * They write to the store through the same methods as `/logout`, `/logout/all` and `/revoke`, so
 * each lands in the shared revocation log in the same transaction as the change it records; every
 * running booth on that store (a second process on the same SQLite file, or any instance on the
 * same PostgreSQL) finds it at its next poll and pushes it to its feed subscribers.
 */
import type { SessionRecord } from '../store/store.ts'
import { accountName } from './accounts.ts'
import { revocationHorizon, type BoothContext } from './context.ts'

/** What the operator commands need of a booth: no keys, no throttle, no HTTP. */
export type OperatorContext = Pick<BoothContext, 'config' | 'store' | 'events' | 'clock'>

/** A wrong name or id given by the operator: one clear line, exit code 1. */
export class OperatorError extends Error {
  override readonly name = 'OperatorError'
}

// The booth issues UUIDs; any printable token up to this length is accepted, as RFC 7519 allows
const MAX_JTI_LENGTH = 256

async function userIdOf(ctx: OperatorContext, username: string): Promise<string> {
  // The name as sign-up stored it (`users add Kim` stores `kim`); one that could never be
  // registered is simply not found.
  const normalized = accountName(username)
  const user = normalized === undefined ? undefined : await ctx.store.findUserByUsername(normalized)
  if (user === undefined) throw new OperatorError(`no user named ${JSON.stringify(username)}`)
  return user.id
}

/**
 * The live sessions of a user, newest first.
 *
 * @example
 * ```ts
 * for (const s of await listUserSessions(ctx, 'kim')) console.log(s.id, s.clientId)
 * ```
 */
export async function listUserSessions(
  ctx: OperatorContext,
  username: string,
): Promise<SessionRecord[]> {
  return ctx.store.listActiveSessions(await userIdOf(ctx, username), ctx.clock())
}

/**
 * Ends sessions by id, as `DELETE /sessions/{id}` does, and logs each as a `sid` revocation.
 * Returns the ids that were live (and are now revoked) and those that were not: unknown,
 * expired or already revoked. It does not check who owns them: the operator may end any.
 *
 * @example
 * ```ts
 * const { revoked, notLive } = await revokeSessions(ctx, ['9b1d…'])
 * ```
 */
export async function revokeSessions(
  ctx: OperatorContext,
  ids: readonly string[],
): Promise<{ revoked: string[]; notLive: string[] }> {
  const revoked: string[] = []
  const notLive: string[] = []
  for (const id of ids) {
    const session = await ctx.store.findSession(id)
    const now = ctx.clock()
    const ended =
      session !== undefined &&
      (await ctx.store.revokeSession(id, session.userId, now, revocationHorizon(ctx, now)))
    if (ended) {
      ctx.events.emit('session.revoked', { sid: id, sub: session.userId, reason: 'operator' })
      revoked.push(id)
    } else notLive.push(id)
  }
  return { revoked, notLive }
}

/**
 * Ends every session of a user and cuts off every access token issued to them until now, as
 * `/logout/all` does: one `sub` entry (at `now`) plus a `sid` entry per session.
 *
 * @example
 * ```ts
 * const { sub, sessions, cutOff } = await revokeUser(ctx, 'kim')
 * ```
 */
export async function revokeUser(
  ctx: OperatorContext,
  username: string,
): Promise<{ sub: string; sessions: number; cutOff: number }> {
  const sub = await userIdOf(ctx, username)
  const now = ctx.clock()
  const sessions = await ctx.store.revokeAllSessions(sub, now, revocationHorizon(ctx, now))
  ctx.events.emit('user.sessions_revoked', { sub, count: sessions, reason: 'operator' })
  return { sub, sessions, cutOff: now }
}

/**
 * Revokes access tokens by `jti`, as `/revoke` does for an access token it is shown. The token
 * itself is not needed (and not checked: access tokens are not stored), so its expiry is not
 * known and the entry is kept for the longest access-token lifetime. Throws `OperatorError` for
 * an empty list or a jti that is not 1 to 256 printable characters, before revoking any.
 *
 * @example
 * ```ts
 * await revokeAccessTokens(ctx, ['5f0c…', '8e21…'])
 * ```
 */
export async function revokeAccessTokens(
  ctx: OperatorContext,
  jtis: readonly string[],
): Promise<number> {
  if (jtis.length === 0) throw new OperatorError('no jti given')
  for (const jti of jtis) {
    if (jti.length > MAX_JTI_LENGTH || !/^[\x21-\x7e]+$/.test(jti))
      throw new OperatorError(`not a jti: ${JSON.stringify(jti.slice(0, 80))}`)
  }
  const unique = [...new Set(jtis)]
  // In batches, so that SQLite commits each batch with one fsync (group commit); on PostgreSQL
  // they commit one after another under the revocation log's lock (sql-store.ts). Each
  // revocation is still its own transaction.
  for (let i = 0; i < unique.length; i += 500) {
    const batch = unique.slice(i, i + 500)
    const now = ctx.clock()
    await Promise.all(
      batch.map((jti) => ctx.store.revokeAccessToken(jti, now, revocationHorizon(ctx, now))),
    )
    for (const jti of batch) ctx.events.emit('access_token.revoked', { jti, reason: 'operator' })
  }
  return unique.length
}
