/**
 * PGlite (PostgreSQL compiled to WebAssembly) as a store backend for tests. Starting PGlite takes
 * seconds, so one instance serves a whole test file and each case gets an emptied `public`
 * schema instead of a new instance.
 */
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, type PGlite as KyselyPGlite } from 'kysely'
import { postgresDatabase } from '../../src/store/postgres/database.ts'
import type { Schema } from '../../src/store/schema.ts'
import { createSqlStore } from '../../src/store/sql-store.ts'
import type { Store } from '../../src/store/store.ts'
import { closeOnce, type OpenStore } from './fixtures.ts'

/** The shared instance, behind a `close()` that leaves it open for the next case. */
function borrowed(pglite: PGlite): KyselyPGlite {
  let closed = false
  return {
    get closed() {
      return closed || pglite.closed
    },
    get ready() {
      return pglite.ready
    },
    waitReady: pglite.waitReady,
    query: (text, params, options) => pglite.query(text, params, options),
    transaction: (fn) => pglite.transaction(fn),
    async close() {
      closed = true
    },
  }
}

export interface PgliteBackend {
  open: OpenStore
  /** Closes the shared instance; call it once, after the file's cases. */
  close(): Promise<void>
}

export function pgliteBackend(): PgliteBackend {
  let instance: Promise<PGlite> | undefined
  return {
    async open() {
      const pglite = await (instance ??= PGlite.create())
      await pglite.exec('drop schema if exists public cascade; create schema public')
      const stores: Store[] = []
      const connect = () => {
        const qb = new Kysely<Schema>({ dialect: new PGliteDialect({ pglite: borrowed(pglite) }) })
        const store = closeOnce(createSqlStore(postgresDatabase(qb)))
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
    },
    async close() {
      if (instance !== undefined) await (await instance).close()
    },
  }
}
