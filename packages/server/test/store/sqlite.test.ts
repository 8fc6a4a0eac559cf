import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { openSqlite } from '../../src/store/sqlite/database.ts'
import { createSqlStore } from '../../src/store/sql-store.ts'
import type { Store } from '../../src/store/store.ts'
import { closeOnce, defineStoreConformance } from './conformance.ts'

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
