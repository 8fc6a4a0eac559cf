/**
 * SQLite through `node:sqlite` (bundled with Node: no native build at install time).
 *
 * Durability: WAL with synchronous=FULL by default, so an acknowledged rotation survives a power
 * failure. An fsync per commit would cap writes at a few thousand a second and block the event
 * loop for each, so transactions are group-committed: every transaction queued during one turn
 * of the event loop runs inside one BEGIN … COMMIT, each in its own SAVEPOINT (a failing one rolls
 * back alone), and all of them resolve after the single COMMIT has reached the disk.
 *
 * Isolation: reads outside a transaction go to a second, read-only connection. A batch awaits
 * each transaction's function in turn, and other requests' promise callbacks run between those
 * awaits; on the writing connection their reads would see what the open batch has written and
 * not committed (a dirty read: a savepoint rolled back afterwards, or a COMMIT that fails, would
 * make it never have happened, and a revocation the feed had already sent could have its
 * sequence number given to another). In WAL mode the reading connection sees the last COMMIT,
 * which is already on disk: `COMMIT` returns only after the fsync, and blocks the thread until
 * then, so nothing reads in between.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite'
import { Kysely, SqliteDialect, type Compilable } from 'kysely'
import type { Schema } from '../schema.ts'
import type { SqlDatabase, SqlRunner } from '../sql.ts'

interface Pending {
  fn: (tx: SqlRunner) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

export interface SqliteOptions {
  synchronous: 'FULL' | 'NORMAL'
}

export function openSqlite(path: string, options: SqliteOptions): SqlDatabase {
  // two connections must reach one database: an in-memory one would be two
  if (path === ':memory:') throw new TypeError('the SQLite store needs a file, not :memory:')
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const db = new DatabaseSync(path)
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous};
    PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000`)
  // after the writer: the file exists and is in WAL mode (a database property, kept in the file)
  const readerDb = new DatabaseSync(path, { readOnly: true })
  readerDb.exec('PRAGMA busy_timeout = 5000')

  const prepare = statementCache(db)
  const prepareRead = statementCache(readerDb)

  // Kysely's SqliteDialect expects better-sqlite3's shape; node:sqlite differs in small ways.
  const qb = new Kysely<Schema>({
    dialect: new SqliteDialect({
      database: {
        close: () => {},
        prepare(sqlText: string) {
          const stmt = prepare(sqlText)
          return {
            reader: stmt.columns().length > 0,
            all: (params: readonly unknown[]) => stmt.all(...(params as SQLInputValue[])),
            run: (params: readonly unknown[]) => stmt.run(...(params as SQLInputValue[])),
            iterate: (params: readonly unknown[]) => stmt.iterate(...(params as SQLInputValue[])),
          }
        },
      },
    }),
  })

  // Inside a transaction: the writing connection, within the batch's BEGIN and the op's SAVEPOINT
  const runner: SqlRunner = {
    async all<R>(query: Compilable<R>): Promise<R[]> {
      const { sql, parameters } = query.compile()
      return prepare(sql).all(...(parameters as SQLInputValue[])) as R[]
    },
    async run(query: Compilable<unknown>): Promise<number> {
      const { sql, parameters } = query.compile()
      return Number(prepare(sql).run(...(parameters as SQLInputValue[])).changes)
    },
  }

  let queue: Pending[] = []
  let flushing: Promise<void> | undefined
  let closed = false

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue
      queue = []
      const outcomes: Array<{ ok: boolean; value: unknown }> = []
      try {
        // Inside the try: a BEGIN that fails (SQLITE_BUSY past busy_timeout) must reject the
        // batch, not leave it pending forever and reject `flushing` unhandled.
        db.exec('BEGIN IMMEDIATE')
        for (const item of batch) {
          db.exec('SAVEPOINT op')
          try {
            outcomes.push({ ok: true, value: await item.fn(runner) })
            db.exec('RELEASE op')
          } catch (error) {
            db.exec('ROLLBACK TO op')
            db.exec('RELEASE op')
            outcomes.push({ ok: false, value: error })
          }
        }
        db.exec('COMMIT')
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK')
        for (const item of batch) item.reject(error)
        continue
      }
      batch.forEach((item, i) => {
        const outcome = outcomes[i]!
        if (outcome.ok) item.resolve(outcome.value)
        else item.reject(outcome.value)
      })
    }
  }

  function scheduleFlush(): void {
    flushing ??= new Promise<void>((done) => setImmediate(done)).then(flush).finally(() => {
      flushing = undefined
      // A transaction queued after flush() last found the queue empty, but before this ran,
      // saw `flushing` still set and scheduled nothing: run it now, or it waits forever.
      if (queue.length > 0) scheduleFlush()
    })
  }

  function transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new Error('the store is closed'))
    return new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      scheduleFlush()
    })
  }

  return {
    kind: 'sqlite',
    qb,
    // Outside a transaction: reads see only committed data (above); a write becomes a
    // transaction of its own, rather than join whatever savepoint the open batch is in
    async all<R>(query: Compilable<R>): Promise<R[]> {
      const { sql, parameters } = query.compile()
      return prepareRead(sql).all(...(parameters as SQLInputValue[])) as R[]
    },
    run: (query) => transaction((tx) => tx.run(query)),
    transaction,
    async close() {
      closed = true
      while (flushing !== undefined) await flushing
      await qb.destroy()
      readerDb.close()
      db.close()
    },
  }
}

// Prepared statements, reused by SQL text: the store builds a small fixed set of queries
function statementCache(db: DatabaseSync): (sqlText: string) => StatementSync {
  const statements = new Map<string, StatementSync>()
  return (sqlText) => {
    let stmt = statements.get(sqlText)
    if (stmt === undefined) {
      stmt = db.prepare(sqlText)
      if (statements.size > 500) statements.clear()
      statements.set(sqlText, stmt)
    }
    return stmt
  }
}
