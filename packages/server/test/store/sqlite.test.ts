import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { sql } from 'kysely'
import { loadConfig } from '../../src/config.ts'
import { openSqlite } from '../../src/store/sqlite/database.ts'
import { createSqlStore } from '../../src/store/sql-store.ts'
import type { Store } from '../../src/store/store.ts'
import { closeOnce, defineStoreConformance } from './conformance.ts'
import { userRecord } from './fixtures.ts'

// Real files (WAL, synchronous=FULL) in a temporary directory: one database file per case.
const dir = mkdtempSync(join(tmpdir(), 'tokenbooth-store-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let cases = 0

defineStoreConformance('sqlite', async () => {
  const path = join(dir, `case-${++cases}.db`)
  const stores: Store[] = []
  const connect = () => {
    const store = closeOnce(createSqlStore(openSqlite(path, { synchronous: 'FULL' })))
    stores.push(store)
    return store
  }
  return {
    store: connect(),
    reopen: async () => connect(),
    async cleanup() {
      for (const store of stores) await store.close()
    },
  }
})

describe('sqlite durability settings', () => {
  // Issue 2, "Storage": "SQLite in WAL mode with synchronous=FULL by default". Asked of the
  // store's own connection (the one its queries and transactions run on), not of a second one.
  async function pragmas(synchronous: 'FULL' | 'NORMAL') {
    const db = openSqlite(join(dir, `pragmas-${synchronous}.db`), { synchronous })
    const store = createSqlStore(db)
    try {
      await store.migrate()
      // Through the store's query builder, whose dialect prepares on the store's DatabaseSync.
      const [journal] = (await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db.qb))
        .rows
      const [sync] = (await sql<{ synchronous: number }>`pragma synchronous`.execute(db.qb)).rows
      return { journal: journal?.journal_mode, synchronous: sync?.synchronous }
    } finally {
      await store.close()
    }
  }

  it('the default configuration opens WAL with synchronous=FULL', async () => {
    const { sqliteSynchronous } = loadConfig({})
    assert.equal(sqliteSynchronous, 'FULL')
    // PRAGMA synchronous answers 2 for FULL, 1 for NORMAL.
    assert.deepEqual(await pragmas(sqliteSynchronous), { journal: 'wal', synchronous: 2 })
  })

  it('the documented opt-out is synchronous=NORMAL, still in WAL mode', async () => {
    assert.deepEqual(await pragmas('NORMAL'), { journal: 'wal', synchronous: 1 })
  })
})

describe('sqlite group commit', () => {
  it('runs a transaction queued as the previous batch resolves (it used to hang)', async () => {
    const store = createSqlStore(openSqlite(join(dir, 'sequential.db'), { synchronous: 'FULL' }))
    try {
      await store.migrate()
      for (let i = 0; i < 20; i++) {
        assert.equal(await store.createUser(userRecord(`u${i}`)), 'created')
      }
    } finally {
      await store.close()
    }
  })

  it('a read outside a transaction never sees what an open batch has not committed', async () => {
    // Between the awaits of a batch's transactions other requests run; their reads must not see
    // rows that a savepoint rolled back afterwards makes never have existed (a dirty read)
    const db = openSqlite(join(dir, 'isolation.db'), { synchronous: 'FULL' })
    const store = createSqlStore(db)
    try {
      await store.migrate()
      let written!: () => void
      const wrote = new Promise<void>((resolve) => (written = resolve))
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const doomed = db.transaction(async (tx) => {
        const user = userRecord('dirty')
        await tx.run(
          db.qb.insertInto('users').values({
            id: user.id,
            username: user.username,
            password_hash: user.passwordHash,
            created_at: user.createdAt,
          }),
        )
        written()
        await gate // the batch stays open here, its insert made and not committed
        throw new Error('rolled back on purpose')
      })
      await wrote
      let seen
      try {
        seen = await store.findUserByUsername('dirty')
      } finally {
        release() // even if the read failed: the batch must end for the store to close
      }
      assert.equal(seen, undefined)
      await assert.rejects(doomed, /rolled back on purpose/)
      assert.equal(await store.findUserByUsername('dirty'), undefined)
      // and a committed write is seen by the next read at once (read-your-writes)
      assert.equal(await store.createUser(userRecord('clean')), 'created')
      assert.equal((await store.findUserByUsername('clean'))?.id, 'clean')
    } finally {
      await store.close()
    }
  })

  it('rejects the batch when BEGIN fails on a locked file, then recovers', async () => {
    const path = join(dir, 'locked.db')
    const db = openSqlite(path, { synchronous: 'FULL' })
    const store = createSqlStore(db)
    // Another process holding the write lock: BEGIN IMMEDIATE fails after busy_timeout, which is
    // shortened here so the case does not block the event loop for the default 5 seconds.
    const other = new DatabaseSync(path)
    try {
      await store.migrate()
      await sql`pragma busy_timeout = 20`.execute(db.qb)
      other.exec('BEGIN IMMEDIATE')
      await assert.rejects(store.createUser(userRecord('u1')), /locked/)
      other.exec('ROLLBACK')
      assert.equal(await store.createUser(userRecord('u1')), 'created')
    } finally {
      other.close()
      await store.close()
    }
  })
})
