/**
 * What the SQL store needs from a database: run a query built with Kysely, and run a function
 * in one transaction. The SQLite and PostgreSQL modules each provide one.
 */
import type { Compilable, Kysely } from 'kysely'
import type { Schema } from './schema.ts'

export interface SqlRunner {
  /** Rows of a query. */
  all<R>(query: Compilable<R>): Promise<R[]>
  /** Rows changed by a statement. */
  run(query: Compilable<unknown>): Promise<number>
}

export interface SqlDatabase extends SqlRunner {
  readonly kind: 'sqlite' | 'postgres'
  /** Builds queries (and runs migrations); the store runs what it builds through `all`/`run`. */
  readonly qb: Kysely<Schema>
  /**
   * Runs `fn` in one transaction and resolves only once it is durable. On PostgreSQL, `fn` runs
   * again from the start (up to 3 times in all) when the database rolled the transaction back
   * and asks for a retry (a deadlock, 40P01, or a serialisation failure, 40001), so `fn` must
   * not have effects outside the transaction. SQLite never asks: its transactions take the
   * write lock up front (BEGIN IMMEDIATE) and wait for it (busy_timeout).
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>
  close(): Promise<void>
}
