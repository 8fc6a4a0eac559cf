/**
 * PostgreSQL through `pg` and Kysely. Transactions run at READ COMMITTED with explicit row locks
 * (`FOR UPDATE`) where the store needs them, which keeps concurrent refreshes on one row serial
 * across every booth instance; READ COMMITTED raises no serialisation failures. Two
 * transactions that lock rows in opposite orders can still deadlock, and PostgreSQL then rolls
 * one back: that one is run again (see `transaction`).
 */
import pg from 'pg'
import { Kysely, PostgresDialect, type Compilable } from 'kysely'
import type { Schema } from '../schema.ts'
import type { SqlDatabase, SqlRunner } from '../sql.ts'
import { StoreInputRejected } from '../store.ts'

// int8 columns hold epoch milliseconds, far below 2^53: read them as numbers, not strings.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (value: string) => Number(value)
    return pg.types.getTypeParser(oid, format)
  },
}

// The SQLSTATE-shaped code of an error from the server (pg's DatabaseError, PGlite's), if any.
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

// 22021 character_not_in_repertoire (a NUL byte in text, invalid UTF-8), 22P02
// invalid_text_representation (text that does not read as the column's type): the value's
// fault, which the store's callers see as StoreInputRejected, never as a pg error.
const REJECTED_INPUT = new Set(['22021', '22P02'])

function storeError(error: unknown): unknown {
  const state = sqlState(error)
  return state !== undefined && REJECTED_INPUT.has(state) ? new StoreInputRejected(error) : error
}

// 40001 serialization_failure, 40P01 deadlock_detected: PostgreSQL rolled the transaction back
// and it may simply be run again (PostgreSQL manual, "Serialization Failure Handling"). Nothing
// else is retried: after a lost connection the outcome of a COMMIT is unknown.
const RETRYABLE = new Set(['40001', '40P01'])
// A deadlock needs a second transaction taking the same rows in another order; it will not
// happen three times in a row unless something is badly wrong, which the error then reports.
const MAX_ATTEMPTS = 3

function runnerFor(db: Kysely<Schema>): SqlRunner {
  return {
    async all<R>(query: Compilable<R>): Promise<R[]> {
      try {
        return (await db.executeQuery(query.compile())).rows
      } catch (error) {
        throw storeError(error)
      }
    },
    async run(query: Compilable<unknown>): Promise<number> {
      try {
        const result = await db.executeQuery(query.compile())
        return Number(result.numAffectedRows ?? 0n)
      } catch (error) {
        throw storeError(error)
      }
    },
  }
}

export function openPostgres(connectionString: string, maxConnections = 10): SqlDatabase {
  const pool = new pg.Pool({ connectionString, max: maxConnections, types })
  return postgresDatabase(new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) }))
}

/** A PostgreSQL store over any Kysely PostgreSQL dialect (the tests also use PGlite's). */
export function postgresDatabase(qb: Kysely<Schema>): SqlDatabase {
  return {
    kind: 'postgres',
    qb,
    ...runnerFor(qb),
    async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await qb.transaction().execute((trx) => fn(runnerFor(trx)))
        } catch (error) {
          // No pause before the retry: the transaction that won holds the locks, and the rerun
          // simply waits on them until it commits.
          const state = sqlState(error)
          if (attempt >= MAX_ATTEMPTS || state === undefined || !RETRYABLE.has(state))
            throw storeError(error)
        }
      }
    },
    async close() {
      await qb.destroy()
    },
  }
}
