/**
 * The store conformance suite: one set of cases that every backend of the store port
 * (src/store/store.ts) must pass. sqlite.test.ts, postgres.test.ts and pglite.test.ts each call
 * `defineStoreConformance` with a function that opens a fresh, empty database.
 *
 * @example
 * defineStoreConformance('sqlite', async () => {
 *   const store = createSqlStore(openSqlite(path, { synchronous: 'FULL' }))
 *   return { store, reopen: async () => …, cleanup: () => store.close() }
 * })
 */
import { describe } from 'node:test'
import { accountCases } from './account-cases.ts'
import { concurrencyCases } from './concurrency-cases.ts'
import type { OpenStore } from './fixtures.ts'
import { revocationCases } from './revocation-cases.ts'
import { rotationCases } from './rotation-cases.ts'

export { closeOnce, type OpenStore, type OpenedStore } from './fixtures.ts'

/**
 * Defines the cases under `describe(name)`. `open` is called once per case and must return an
 * unmigrated store on an empty database; the case migrates it and calls `cleanup()` at the end.
 * Cases run one after another (node:test's default within a file), so a backend may reuse one
 * database server between cases as long as `open` empties it.
 */
export function defineStoreConformance(name: string, open: OpenStore): void {
  describe(`store conformance: ${name}`, () => {
    accountCases(open)
    rotationCases(open)
    revocationCases(open)
    concurrencyCases(open)
  })
}
