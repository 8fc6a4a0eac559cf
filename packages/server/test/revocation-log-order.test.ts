/**
 * The revocation log commits in seq order on PostgreSQL (review B, bug 1: a late commit lost on
 * resume). A seq is taken at insert; without the log's lock (lockRevocationLog in
 * store/sql-store.ts) a revoking transaction that took a lower seq could commit after one with a
 * higher seq, and a verifier that had seen the higher one and resumed after it (once the feed's
 * window had passed) was never sent the lower one.
 *
 * Each case parks a revoking transaction of one instance after its first insert (a second
 * connection holds the row of the next session it revokes), then has another instance revoke.
 * Real PostgreSQL, a database of its own; no clocks and no sleeping: the test waits on what the
 * server reports in pg_stat_activity and pg_locks.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { openPostgres } from '../src/store/postgres/database.ts'
import { createSqlStore } from '../src/store/sql-store.ts'
import type { RevocationRecord, Store } from '../src/store/store.ts'
import { DAY, GRACE, NOW, SECOND, rotation, seedAccounts, startSession } from './store/fixtures.ts'

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('revocation log order on PostgreSQL (review B bug 1)', () => {
  let db: TestDatabase
  let admin: pg.Client
  // Two instances: `first` parks its transaction, `second` revokes meanwhile.
  let first: Store
  let second: Store
  let run = 0

  before(async () => {
    db = await createTestDatabase()
    first = createSqlStore(openPostgres(db.url))
    second = createSqlStore(openPostgres(db.url))
    await first.migrate()
    await seedAccounts(first)
    admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
  })
  after(async () => {
    await admin?.end()
    await first?.close()
    await second?.close()
    await db?.drop()
  })

  const log = () => first.listRevocations(0, 0, 1000)

  /**
   * `first` revokes every session of alice, and is parked on her second session's row (held by
   * another connection) after logging the first. Returns the revocation and the release.
   */
  /** How many seqs have been taken from the log's sequence (sequences ignore rollbacks). */
  async function seqsTaken(): Promise<number> {
    const { rows } = await admin.query<{ last: string; called: boolean }>(
      'select last_value::text as last, is_called as called from revocations_seq_seq',
    )
    return Number(rows[0]!.last) - (rows[0]!.called ? 0 : 1)
  }

  async function parkRevokeAll() {
    run++
    await startSession(first, `a1-${run}`, 'alice', `rt-a1-${run}`)
    await startSession(first, `a2-${run}`, 'alice', `rt-a2-${run}`, { createdAt: NOW + 1 })
    const holder = new pg.Client({ connectionString: db.url })
    await holder.connect()
    await holder.query('begin')
    await holder.query('select id from sessions where id = $1 for update', [`a2-${run}`])
    const release = async () => {
      await holder.query('commit')
      await holder.end()
    }
    const taken = await seqsTaken()
    const revokeAll = first.revokeAllSessions('alice', NOW + run, NOW + DAY)
    try {
      await until(async () => {
        const waiting = await admin.query(
          `select 1 from pg_stat_activity where datname = current_database()
             and wait_event_type = 'Lock' and query like 'update "sessions"%'`,
        )
        return waiting.rowCount! > 0
      }, 'the revocation to wait on the held session')
      assert.equal(
        await seqsTaken(),
        taken + 1,
        'precondition: the parked transaction has logged its first session (taken a seq)',
      )
    } catch (error) {
      await release()
      await revokeAll
      throw error
    }
    return {
      async release() {
        await release()
        return revokeAll
      },
    }
  }

  /** Resolves 'committed' when `op` does, 'waiting' once a backend waits on an advisory lock. */
  async function committedOrWaiting(op: Promise<unknown>): Promise<'committed' | 'waiting'> {
    let waiting = false
    const committed = op.then(() => 'committed' as const)
    const blocked = until(async () => {
      if (waiting) return true
      const r = await admin.query(
        // this database's revocation-log lock only: other tests (and other users of the server)
        // wait on advisory locks of their own
        `select 1 from pg_locks where locktype = 'advisory' and not granted and objid = 7238542
           and database = (select oid from pg_database where datname = current_database())`,
      )
      return r.rowCount! > 0
    }, 'the second revocation to commit or to wait').then(() => 'waiting' as const)
    try {
      return await Promise.race([committed, blocked])
    } finally {
      waiting = true // stops the poll once the other side has won
      await blocked.catch(() => {})
    }
  }

  /**
   * Parks `first`, runs `revoke` on `second`, reads the log while `first` is parked, then lets
   * it commit. What a reader saw then must be a prefix of the final log, and the entries `second`
   * logged must come after all of `first`'s: they committed after it.
   */
  async function assertCommitOrder(revoke: () => Promise<unknown>, values: string[]) {
    const parked = await parkRevokeAll()
    const revoking = revoke()
    let outcome: string
    let seen: RevocationRecord[]
    try {
      outcome = await committedOrWaiting(revoking)
      seen = await log()
    } finally {
      await parked.release()
      await revoking
    }
    const final = await log()
    const seqs = (entries: RevocationRecord[]) => entries.map((e) => `${e.seq}:${e.value}`)
    assert.deepEqual(
      seqs(seen),
      seqs(final).slice(0, seen.length),
      `read while a revocation was in flight (the second one ${outcome}): not a prefix of the log`,
    )
    const firsts = final.filter((e) => e.at === NOW + run).map((e) => e.seq)
    assert.equal(firsts.length, 3, 'alice: two sessions and her cut-off')
    for (const value of values) {
      const entry = final.find((e) => e.value === value)
      assert.ok(entry, `${value} is logged`)
      assert.ok(
        entry.seq > Math.max(...firsts),
        `${value} committed after alice's entries, so its seq is higher (${entry.seq} vs ${firsts})`,
      )
    }
  }

  it('revokeAccessToken waits for a revoking transaction in flight on another instance', () =>
    assertCommitOrder(() => second.revokeAccessToken('jti-1', NOW, NOW + DAY), ['jti-1']))

  it('revokeSession waits too', async () => {
    await startSession(first, 'b1', 'bob', 'rt-b1')
    await assertCommitOrder(() => second.revokeSession('b1', 'bob', NOW, NOW + DAY), ['b1'])
  })

  it('a rotation that detects reuse (and revokes) waits too', async () => {
    await startSession(first, 'b2', 'bob', 'rt-b2')
    assert.equal(
      (await first.rotateRefreshToken(rotation('rt-b2', 'rt-b2-next'))).status,
      'rotated',
    )
    const reuse = rotation('rt-b2', 'rt-b2-again', { now: NOW + SECOND + GRACE + 1 })
    await assertCommitOrder(async () => {
      assert.equal((await second.rotateRefreshToken(reuse)).status, 'reused')
    }, ['b2'])
  })

  it('an ordinary rotation does not wait: only revoking transactions take the lock', async () => {
    await startSession(first, 'b3', 'bob', 'rt-b3')
    const parked = await parkRevokeAll()
    try {
      const rotate = second.rotateRefreshToken(rotation('rt-b3', 'rt-b3-next'))
      assert.equal(await committedOrWaiting(rotate), 'committed')
      assert.equal((await rotate).status, 'rotated')
    } finally {
      await parked.release()
    }
  })
})
