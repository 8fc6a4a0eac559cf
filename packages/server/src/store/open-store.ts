import { join } from 'node:path'
import type { Config } from '../config.ts'
import { openPostgres } from './postgres/database.ts'
import { createSqlStore } from './sql-store.ts'
import { openSqlite } from './sqlite/database.ts'
import type { Store } from './store.ts'

/** The store the configuration names, migrated and ready. */
export async function openStore(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'sqliteSynchronous'>,
): Promise<Store> {
  const db =
    config.databaseUrl === undefined
      ? openSqlite(join(config.dataDir, 'tokenbooth.db'), { synchronous: config.sqliteSynchronous })
      : openPostgres(config.databaseUrl)
  const store = createSqlStore(db)
  try {
    await store.migrate()
  } catch (error) {
    await store.close().catch(() => {})
    throw error
  }
  return store
}
