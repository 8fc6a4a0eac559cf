/**
 * The store, written once over `SqlDatabase`; SQLite and PostgreSQL differ only in how a
 * transaction is run and in row locking (SQLite's writer lock makes `FOR UPDATE` unnecessary).
 */
import type { Selectable } from 'kysely'
import { compileOnce } from './compile-once.ts'
import { migrateToLatest } from './migrations.ts'
import type { SessionsTable } from './schema.ts'
import type { SqlDatabase, SqlRunner } from './sql.ts'
import { isLiveRefreshToken } from './store.ts'
import type {
  ClientRecord,
  NewRefreshToken,
  RefreshTokenRecord,
  RevocationKind,
  RevocationRecord,
  RotationOutcome,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserRecord,
} from './store.ts'

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    clientId: row.client_id,
    scope: row.scope,
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    expiresAt: Number(row.expires_at),
    revokedAt: row.revoked_at === null ? undefined : Number(row.revoked_at),
    userAgent: row.user_agent ?? undefined,
  }
}

// The advisory lock of the revocation log's writers on PostgreSQL (lockRevocationLog); the
// signing-key table's writers take 7_238_541.
const REVOCATION_LOG_LOCK = 7_238_542

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; errcode?: number; message?: string }
  // PostgreSQL: 23505; node:sqlite: SQLITE_CONSTRAINT_PRIMARYKEY / _UNIQUE (1555 / 2067)
  return e.code === '23505' || e.errcode === 1555 || e.errcode === 2067
}

export function createSqlStore(db: SqlDatabase): Store {
  const { qb } = db
  const lock = db.kind === 'postgres'

  // The queries of every refresh and every authenticated request, built once (compile-once.ts)
  const q = {
    refreshTokenForRotation: compileOnce((v: { hash: string }) => {
      // The row lock serialises every rotation of this token across all booth instances.
      const select = qb.selectFrom('refresh_tokens').selectAll().where('hash', '=', v.hash)
      return lock ? select.forUpdate() : select
    }),
    consumeRefreshToken: compileOnce(
      (v: { hash: string; now: number; successorHash: string; sealed: string }) =>
        qb
          .updateTable('refresh_tokens')
          .set({ consumed_at: v.now, successor_hash: v.successorHash, successor_sealed: v.sealed })
          .where('hash', '=', v.hash),
    ),
    insertRefreshToken: compileOnce(
      (v: { hash: string; sessionId: string; createdAt: number; expiresAt: number }) =>
        qb.insertInto('refresh_tokens').values({
          hash: v.hash,
          session_id: v.sessionId,
          created_at: v.createdAt,
          expires_at: v.expiresAt,
          consumed_at: null,
          successor_hash: null,
          successor_sealed: null,
        }),
    ),
    successorConsumedAt: compileOnce((v: { hash: string }) =>
      qb.selectFrom('refresh_tokens').select('consumed_at').where('hash', '=', v.hash),
    ),
    touchSession: compileOnce((v: { id: string; now: number }) =>
      qb.updateTable('sessions').set({ last_used_at: v.now }).where('id', '=', v.id),
    ),
    session: compileOnce((v: { id: string }) =>
      qb.selectFrom('sessions').selectAll().where('id', '=', v.id),
    ),
    refreshTokenWithSession: compileOnce((v: { hash: string }) =>
      qb
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .selectAll('sessions')
        .select([
          'refresh_tokens.expires_at as token_expires_at',
          'refresh_tokens.consumed_at as token_consumed_at',
        ])
        .where('refresh_tokens.hash', '=', v.hash),
    ),
    client: compileOnce((v: { id: string }) =>
      qb.selectFrom('clients').selectAll().where('id', '=', v.id),
    ),
    userById: compileOnce((v: { id: string }) =>
      qb.selectFrom('users').selectAll().where('id', '=', v.id),
    ),
    jtiRevoked: compileOnce((v: { jti: string }) =>
      qb
        .selectFrom('revocations')
        .select('seq')
        .where('kind', '=', 'jti')
        .where('value', '=', v.jti)
        .limit(1),
    ),
  }

  /**
   * On PostgreSQL, makes the log's seq order its commit order. A seq is taken at insert, and
   * without this two revoking transactions could commit in the other order: a verifier that had
   * seen the higher seq and resumed after it would never be sent the lower one (the feed's
   * watermark covers only resumes within its window). Holding one lock from before the insert
   * until after the commit (PostgreSQL releases a transaction's locks once its commit is visible)
   * means the next writer takes its seq after the previous one committed, so a reader sees a
   * prefix of the log. SQLite has one writer at a time already.
   *
   * Deadlock-free as long as no transaction waits for this lock while holding a row lock that
   * a holder of it may wait for. Once they hold it, revoking transactions wait only for
   * `sessions` rows (and insert into `revocations`), so each takes the lock before it locks a
   * `sessions` row: first thing in revokeAllSessions and revokeAccessToken, and in revokeSession
   * after its owner check (a plain read, which locks nothing). A rotation
   * takes it only on reuse (every other rotation stays out of it), holding the presented token's
   * row alone, which no holder waits for: no transaction locks a `refresh_tokens` row after it.
   */
  async function lockRevocationLog(tx: SqlRunner): Promise<void> {
    if (!lock) return
    await tx.all(
      qb.selectNoFrom((eb) =>
        eb.fn<number>('pg_advisory_xact_lock', [eb.val(REVOCATION_LOG_LOCK)]).as('l'),
      ),
    )
  }

  async function logRevocation(
    tx: SqlRunner,
    kind: RevocationKind,
    value: string,
    at: number,
    expiresAt: number,
  ) {
    // Read in the logging transaction (on PostgreSQL after the log's lock and the session's row),
    // so it includes every extension made before a token this entry may match was issued.
    const [horizon] = await tx.all(
      qb.selectFrom('revocation_horizon').select('kept_until').where('id', '=', 1),
    )
    const keptUntil = Math.max(expiresAt, Number(horizon?.kept_until ?? 0))
    return tx.run(qb.insertInto('revocations').values({ kind, value, at, expires_at: keptUntil }))
  }

  async function revokeSessionIn(tx: SqlRunner, id: string, now: number, expiresAt: number) {
    const changed = await tx.run(
      qb
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null),
    )
    // The session's refresh tokens stay (purgeExpired drops them once expired), so presenting
    // one answers 'revoked' rather than 'unknown'.
    if (changed > 0) await logRevocation(tx, 'sid', id, now, expiresAt)
    return changed > 0
  }

  async function findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    const [row] = await db.all(q.refreshTokenWithSession({ hash }))
    return (
      row && {
        session: toSession(row),
        expiresAt: Number(row.token_expires_at),
        consumedAt: row.token_consumed_at === null ? undefined : Number(row.token_consumed_at),
      }
    )
  }

  return {
    kind: db.kind,
    migrate: () => migrateToLatest(qb, db.kind),
    close: () => db.close(),

    async createUser(user) {
      try {
        await db.transaction((tx) =>
          tx.run(
            qb.insertInto('users').values({
              id: user.id,
              username: user.username,
              password_hash: user.passwordHash,
              created_at: user.createdAt,
            }),
          ),
        )
        return 'created'
      } catch (error) {
        if (isUniqueViolation(error)) return 'taken'
        throw error
      }
    },

    async findUserByUsername(username) {
      const [row] = await db.all(
        qb.selectFrom('users').selectAll().where('username', '=', username),
      )
      return row && toUser(row)
    },

    async findUserById(id) {
      const [row] = await db.all(q.userById({ id }))
      return row && toUser(row)
    },

    async createClient(client) {
      try {
        await db.transaction((tx) =>
          tx.run(
            qb.insertInto('clients').values({
              id: client.id,
              name: client.name,
              secret_hash: client.secretHash ?? null,
              scope: client.scope,
              created_at: client.createdAt,
            }),
          ),
        )
        return 'created'
      } catch (error) {
        if (isUniqueViolation(error)) return 'taken'
        throw error
      }
    },

    async findClient(id) {
      const [row] = await db.all(q.client({ id }))
      return (
        row && {
          id: row.id,
          name: row.name,
          secretHash: row.secret_hash ?? undefined,
          scope: row.scope,
          createdAt: Number(row.created_at),
        }
      )
    },

    startSession(session: SessionRecord, token: NewRefreshToken) {
      return db.transaction(async (tx) => {
        await tx.run(
          qb.insertInto('sessions').values({
            id: session.id,
            user_id: session.userId,
            client_id: session.clientId,
            scope: session.scope,
            created_at: session.createdAt,
            last_used_at: session.lastUsedAt,
            expires_at: session.expiresAt,
            revoked_at: null,
            user_agent: session.userAgent ?? null,
          }),
        )
        await tx.run(
          q.insertRefreshToken({
            hash: token.hash,
            sessionId: session.id,
            createdAt: session.createdAt,
            expiresAt: token.expiresAt,
          }),
        )
      })
    },

    rotateRefreshToken(request) {
      const { presentedHash, next, now, graceMs, revocationExpiresAt } = request
      return db.transaction(async (tx): Promise<RotationOutcome> => {
        const [token] = await tx.all(q.refreshTokenForRotation({ hash: presentedHash }))
        if (token === undefined) return { status: 'unknown' }
        const [row] = await tx.all(q.session({ id: token.session_id }))
        if (row === undefined) return { status: 'unknown' }
        const session = toSession(row)
        if (session.clientId !== request.clientId) return { status: 'mismatch' }
        if (request.sessionId !== undefined && session.id !== request.sessionId)
          return { status: 'mismatch' }
        if (session.revokedAt !== undefined) return { status: 'revoked' }
        if (session.expiresAt <= now) return { status: 'expired' }

        if (token.consumed_at === null) {
          if (Number(token.expires_at) <= now) return { status: 'expired' }
          await tx.run(
            q.consumeRefreshToken({
              hash: presentedHash,
              now,
              successorHash: next.hash,
              sealed: next.sealedForPredecessor,
            }),
          )
          await tx.run(
            q.insertRefreshToken({
              hash: next.hash,
              sessionId: session.id,
              createdAt: now,
              expiresAt: Math.min(next.expiresAt, session.expiresAt),
            }),
          )
          await tx.run(q.touchSession({ id: session.id, now }))
          return { status: 'rotated', session: { ...session, lastUsedAt: now } }
        }

        // A consumed token: the same successor again if this is the immediately previous token
        // presented within the grace window (its successor not yet used), otherwise reuse.
        // The window is [consumed_at, consumed_at + graceMs): with graceMs = 0 there is none.
        // `now` was taken before this transaction waited for the row lock, so a request that
        // arrived before the rotation committed sees a negative age: inside a window, if any.
        const age = Math.max(0, now - Number(token.consumed_at))
        if (graceMs > 0 && age < graceMs && token.successor_hash && token.successor_sealed) {
          const [successor] = await tx.all(q.successorConsumedAt({ hash: token.successor_hash }))
          if (successor !== undefined && successor.consumed_at === null) {
            return {
              status: 'retried',
              session,
              sealedSuccessor: token.successor_sealed,
              successorHash: token.successor_hash,
            }
          }
        }
        await lockRevocationLog(tx)
        await revokeSessionIn(tx, session.id, now, revocationExpiresAt)
        return { status: 'reused', session: { ...session, revokedAt: now } }
      })
    },

    async findSessionByRefreshToken(hash, now) {
      const found = await findRefreshToken(hash)
      return found !== undefined && isLiveRefreshToken(found, now) ? found.session : undefined
    },

    findRefreshToken,

    async findSession(id) {
      const [row] = await db.all(q.session({ id }))
      return row && toSession(row)
    },

    async listActiveSessions(userId, now) {
      const rows = await db.all(
        qb
          .selectFrom('sessions')
          .selectAll()
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .orderBy('created_at', 'desc')
          .orderBy('id'),
      )
      return rows.map(toSession)
    },

    revokeSession(id, userId, now, revocationExpiresAt) {
      return db.transaction(async (tx) => {
        if (userId !== undefined) {
          // a plain read, no row lock: asking for someone else's session takes no log lock either
          const [owner] = await tx.all(
            qb.selectFrom('sessions').select('user_id').where('id', '=', id),
          )
          if (owner?.user_id !== userId) return false
        }
        await lockRevocationLog(tx)
        return revokeSessionIn(tx, id, now, revocationExpiresAt)
      })
    },

    revokeAllSessions(userId, now, revocationExpiresAt) {
      return db.transaction(async (tx) => {
        await lockRevocationLog(tx)
        const live = await tx.all(
          qb
            .selectFrom('sessions')
            .select('id')
            .where('user_id', '=', userId)
            .where('revoked_at', 'is', null),
        )
        for (const { id } of live) await revokeSessionIn(tx, id, now, revocationExpiresAt)
        // A cut-off also covers access tokens of sessions that were already gone from the list.
        await logRevocation(tx, 'sub', userId, now, revocationExpiresAt)
        return live.length
      })
    },

    async revokeAccessToken(jti, now, expiresAt) {
      await db.transaction(async (tx) => {
        await lockRevocationLog(tx)
        await logRevocation(tx, 'jti', jti, now, expiresAt)
      })
    },

    async isAccessTokenRevoked(jti) {
      const rows = await db.all(q.jtiRevoked({ jti }))
      return rows.length > 0
    },

    async latestUserCutoff(userId) {
      const [row] = await db.all(
        qb
          .selectFrom('revocations')
          .select((eb) => eb.fn.max('at').as('at'))
          .where('kind', '=', 'sub')
          .where('value', '=', userId),
      )
      return row?.at === null || row?.at === undefined ? undefined : Number(row.at)
    },

    async extendRevocationHorizon(until) {
      // A later `until` only: on PostgreSQL a concurrent extension holds the row, and this
      // statement rechecks the condition on the row it committed.
      await db.transaction((tx) =>
        tx.run(
          qb
            .updateTable('revocation_horizon')
            .set({ kept_until: until })
            .where('id', '=', 1)
            .where('kept_until', '<', until),
        ),
      )
    },

    async listRevocations(afterSeq, now, limit) {
      const rows = await db.all(
        qb
          .selectFrom('revocations')
          .selectAll()
          .where('seq', '>', afterSeq)
          .where('expires_at', '>', now)
          .orderBy('seq')
          .limit(limit),
      )
      return rows.map((r): RevocationRecord => ({
        seq: Number(r.seq),
        kind: r.kind as RevocationKind,
        value: r.value,
        at: Number(r.at),
        expiresAt: Number(r.expires_at),
      }))
    },

    async latestRevocationSeq() {
      const [row] = await db.all(
        qb.selectFrom('revocations').select((eb) => eb.fn.max('seq').as('seq')),
      )
      return row?.seq === null || row?.seq === undefined ? 0 : Number(row.seq)
    },

    async purgeExpired(now) {
      await db.transaction(async (tx) => {
        await tx.run(qb.deleteFrom('revocations').where('expires_at', '<=', now))
        await tx.run(qb.deleteFrom('refresh_tokens').where('expires_at', '<=', now))
        await tx.run(qb.deleteFrom('sessions').where('expires_at', '<=', now))
      })
    },

    async listSigningKeys() {
      const rows = await db.all(qb.selectFrom('signing_keys').selectAll().orderBy('activates_at'))
      return rows.map((r): SigningKeyRecord => ({
        kid: r.kid,
        alg: r.alg,
        publicJwk: r.public_jwk,
        privateSealed: r.private_sealed,
        createdAt: Number(r.created_at),
        activatesAt: Number(r.activates_at),
      }))
    },

    insertSigningKey(key, unlessActivatingAfter) {
      return db.transaction(async (tx) => {
        if (lock) {
          // Two instances rotating at the same moment must create one key, not two.
          await tx.all(
            qb.selectNoFrom((eb) =>
              eb.fn<number>('pg_advisory_xact_lock', [eb.val(7_238_541)]).as('l'),
            ),
          )
        }
        const newer = await tx.all(
          qb
            .selectFrom('signing_keys')
            .select('kid')
            .where('activates_at', '>=', unlessActivatingAfter)
            .limit(1),
        )
        if (newer.length > 0) return false
        await tx.run(
          qb.insertInto('signing_keys').values({
            kid: key.kid,
            alg: key.alg,
            public_jwk: key.publicJwk,
            private_sealed: key.privateSealed,
            created_at: key.createdAt,
            activates_at: key.activatesAt,
          }),
        )
        return true
      })
    },
  }
}

function toUser(row: {
  id: string
  username: string
  password_hash: string
  created_at: number
}): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: Number(row.created_at),
  }
}
