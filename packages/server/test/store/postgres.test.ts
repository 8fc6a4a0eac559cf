/**
 * The conformance suite on a real PostgreSQL server: one fresh database per run (from
 * TOKENBOOTH_TEST_DATABASE_URL), its `public` schema emptied before each case. Each case also gets
 * a second pool on the same database, standing in for a second booth instance. When the server
 * is unreachable the same cases run against PGlite instead: never skipped.
 */
import { after } from 'node:test'
import { sql } from 'kysely'
import {
  TEST_DATABASE_URL,
  createTestDatabase,
  postgresReachable,
} from '../../../../test/support/postgres.ts'
import { openPostgres } from '../../src/store/postgres/database.ts'
import { createSqlStore } from '../../src/store/sql-store.ts'
import type { Store } from '../../src/store/store.ts'
import { closeOnce, defineStoreConformance, type OpenStore } from './conformance.ts'
import { pgliteBackend } from './pglite-backend.ts'

async function postgresBackend(): Promise<OpenStore> {
  const database = await createTestDatabase()
  after(() => database.drop())
  return async () => {
    const stores: Store[] = []
    const connect = () => {
      const store = closeOnce(createSqlStore(openPostgres(database.url)))
      stores.push(store)
      return store
    }
    const store = connect()
    const admin = openPostgres(database.url, 1)
    try {
      await sql`drop schema if exists public cascade`.execute(admin.qb)
      await sql`create schema public`.execute(admin.qb)
    } finally {
      await admin.close()
    }
    return {
      store,
      peer: connect(),
      reopen: async () => connect(),
      async cleanup() {
        for (const store of stores) await store.close()
      },
    }
  }
}

if (await postgresReachable()) {
  defineStoreConformance('postgres', await postgresBackend())
} else {
  const where = new URL(TEST_DATABASE_URL)
  where.password = ''
  console.log(
    `# PostgreSQL at ${where} is unreachable: running the postgres cases on PGlite instead`,
  )
  const pglite = pgliteBackend()
  after(() => pglite.close())
  defineStoreConformance('postgres (on PGlite: server unreachable)', pglite.open)
}
