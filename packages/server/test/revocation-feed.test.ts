/**
 * The feed's poller and backlog (domain/revocation-feed.ts) on real stores: a late commit on
 * PostgreSQL (a lower seq committing after a higher one was published), the watermark of a
 * restarted booth, and a backlog longer than a page.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { createRevocationFeed } from '../src/domain/revocation-feed.ts'
import { openPostgres } from '../src/store/postgres/database.ts'
import { openSqlite } from '../src/store/sqlite/database.ts'
import { createSqlStore } from '../src/store/sql-store.ts'
import type { RevocationRecord, Store } from '../src/store/store.ts'

const T0 = Date.parse('2025-01-01T00:00:00Z')
const HOUR = 3_600_000

async function collect(
  pages: AsyncIterable<RevocationRecord[]>,
): Promise<{ values: string[]; pages: number }> {
  const values: string[] = []
  let count = 0
  for await (const page of pages) {
    count++
    values.push(...page.map((entry) => entry.value))
  }
  return { values, pages: count }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function seqOf(store: Store, value: string): Promise<number> {
  const rows = await store.listRevocations(0, T0, 10_000)
  const row = rows.find((r) => r.value === value)
  assert.ok(row, `${value} is in the log`)
  return row.seq
}

describe('revocation feed on PostgreSQL', () => {
  let db: TestDatabase
  let store: Store
  before(async () => {
    db = await createTestDatabase()
    store = createSqlStore(openPostgres(db.url))
    await store.migrate()
  })
  after(async () => {
    await store?.close()
    await db?.drop()
  })

  /** A feed on the store at the given clock, and the values it publishes live, in order. */
  function follow(clock: () => number) {
    const feed = createRevocationFeed({ store, clock, pollMs: 10 })
    const live: string[] = []
    const unsubscribe = feed.subscribe((entry) => live.push(entry.value))
    return {
      feed,
      live,
      stop() {
        unsubscribe()
        feed.close()
      },
    }
  }

  /** Another connection's transaction that has inserted a `sid` revocation (taken its seq), open. */
  async function beginLateCommit(value: string, at: number) {
    const slow = new pg.Client({ connectionString: db.url })
    await slow.connect()
    await slow.query('begin')
    await slow.query(
      `insert into revocations (kind, value, at, expires_at) values ('sid', $1, $2, $3)`,
      [value, at, at + HOUR],
    )
    return { commit: () => slow.query('commit'), end: () => slow.end() }
  }

  it('publishes a late commit live, and a resume from a higher seq within the window gets it too', async () => {
    let now = T0
    const { feed, live, stop } = follow(() => now)
    // The slow transaction takes its seq first and commits last.
    const slow = await beginLateCommit('late', T0)
    try {
      await store.revokeAccessToken('early', T0, T0 + HOUR)
      await until(() => live.includes('early'), 'the early entry')
      const early = await seqOf(store, 'early')
      now = T0 + 2_000
      await slow.commit()
      await until(() => live.includes('late'), 'the late commit, published live')
      assert.ok((await seqOf(store, 'late')) < early)
      const resumed = await collect(feed.backlog(early))
      assert.ok(resumed.values.includes('late'), 'a resume from a higher seq gets the late entry')

      // Once the window has passed, a resume from `early` sends nothing at or below it.
      now = T0 + 13_000
      await store.revokeAccessToken('after', now, now + HOUR)
      await until(() => live.includes('after'), 'the next entry')
      now = T0 + 25_000
      await new Promise((r) => setTimeout(r, 50)) // a few polls at the new time
      assert.deepEqual((await collect(feed.backlog(early))).values, ['after'])
      assert.deepEqual(live, ['early', 'late', 'after'], 'each entry published once')
    } finally {
      stop()
      await slow.end()
    }
  })

  it('an entry stamped far in the past (a lagging clock, a slow transaction) does not settle at first sight: a lower seq committing after it is still published', async () => {
    let now = T0 + 5 * 60_000
    const { feed, live, stop } = follow(() => now)
    const slow = await beginLateCommit('in-flight', now)
    try {
      // Written by an instance whose clock is an hour behind, or whose transaction read its clock
      // an hour before it committed: its `at` says nothing about when it committed.
      await store.revokeAccessToken('stamped-long-ago', now - HOUR, now + HOUR)
      await until(() => live.includes('stamped-long-ago'), 'the entry stamped long ago')
      const stamped = await seqOf(store, 'stamped-long-ago')
      now += 2_000
      await new Promise((r) => setTimeout(r, 50)) // a few polls before the late commit
      await slow.commit()
      await until(() => live.includes('in-flight'), 'the lower seq, committed late, published live')
      assert.ok((await seqOf(store, 'in-flight')) < stamped)
      const resumed = await collect(feed.backlog(stamped))
      assert.ok(resumed.values.includes('in-flight'), 'and a resume after the higher seq gets it')
    } finally {
      stop()
      await slow.end()
    }
  })

  it('a restarted poller settles entries older than twice the window at once, and rereads newer ones', async () => {
    const base = T0 + 10 * 60_000
    await store.revokeAccessToken('old-1', base - 60_000, base + HOUR)
    await store.revokeAccessToken('old-2', base - 30_000, base + HOUR)
    await store.revokeAccessToken('recent', base - 1_000, base + HOUR)
    const feed = createRevocationFeed({ store, clock: () => base, pollMs: 10 })
    try {
      const fromOld = await collect(feed.backlog(await seqOf(store, 'old-1')))
      assert.deepEqual(fromOld.values, ['old-2', 'recent'], 'old-1 is settled: not resent')
      const fromRecent = await collect(feed.backlog(await seqOf(store, 'recent')))
      assert.deepEqual(
        fromRecent.values,
        ['recent'],
        'recent may still be preceded by a late commit: the window is reread',
      )
    } finally {
      feed.close()
    }
  })
})

describe('revocation feed on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenbooth-feed-'))
  let store: Store
  before(async () => {
    store = createSqlStore(openSqlite(join(dir, 'feed.db'), { synchronous: 'NORMAL' }))
    await store.migrate()
  })
  after(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a restarted poller resumes exactly after Last-Event-ID: SQLite commits in seq order', async () => {
    for (const value of ['a', 'b', 'c']) await store.revokeAccessToken(value, T0, T0 + HOUR)
    const feed = createRevocationFeed({ store, clock: () => T0 })
    try {
      assert.deepEqual((await collect(feed.backlog(await seqOf(store, 'b')))).values, ['c'])
      assert.deepEqual((await collect(feed.backlog(0))).values, ['a', 'b', 'c'])
    } finally {
      feed.close()
    }
  })

  it('pages a backlog longer than a page, in seq order, leaving out expired entries', async () => {
    const values = Array.from({ length: 2500 }, (_, i) => `bulk-${i}`)
    await Promise.all(values.map((v) => store.revokeAccessToken(v, T0, T0 + HOUR)))
    await store.revokeAccessToken('expired', T0 - 2 * HOUR, T0 - HOUR)
    const feed = createRevocationFeed({ store, clock: () => T0 })
    try {
      const all = await collect(feed.backlog(await seqOf(store, 'c')))
      assert.equal(all.pages, 3)
      assert.deepEqual(all.values, values)
    } finally {
      feed.close()
    }
  })
})
