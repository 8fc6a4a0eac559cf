/**
 * PostgreSQL transactions the server rolls back and asks to be run again, on a real server: a
 * deadlock victim (SQLSTATE 40P01) or a serialisation failure (40001) runs again, at most 3
 * times in all; no other error is retried.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql, type Compilable, type RawBuilder } from 'kysely'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { openPostgres } from '../src/store/postgres/database.ts'
import { createSqlStore } from '../src/store/sql-store.ts'
import type { SqlDatabase } from '../src/store/sql.ts'
import { StoreInputRejected } from '../src/store/store.ts'

describe('PostgreSQL transactions rolled back by the server', () => {
  let test: TestDatabase
  let db: SqlDatabase
  // A raw statement as the runner takes it.
  const raw = (query: RawBuilder<unknown>): Compilable<unknown> => ({
    compile: () => query.compile(db.qb),
  })
  const raise = (state: string) =>
    raw(sql.raw(`do $$ begin raise exception 'probe' using errcode = '${state}'; end $$`))
  const touch = (id: string) =>
    db.qb
      .updateTable('clients')
      .set({ scope: sql<string>`scope || '+'` })
      .where('id', '=', id)

  before(async () => {
    test = await createTestDatabase()
    db = openPostgres(test.url)
    const store = createSqlStore(db)
    await store.migrate()
    for (const id of ['left', 'right']) {
      assert.equal(
        await store.createClient({
          id,
          name: id,
          secretHash: undefined,
          scope: '',
          createdAt: 0,
        }),
        'created',
      )
    }
  })
  after(async () => {
    await db?.close()
    await test?.drop()
  })

  it('a deadlock victim runs again and both transactions commit', async () => {
    let runs = 0
    const locked = { left: Promise.withResolvers<void>(), right: Promise.withResolvers<void>() }
    // Each takes one row, waits until the other holds the other row, then asks for it: a
    // deadlock PostgreSQL must break by rolling one of them back.
    const crossing = (first: 'left' | 'right', second: 'left' | 'right') =>
      db.transaction(async (tx) => {
        runs++
        await tx.run(touch(first))
        locked[first].resolve()
        await locked[second].promise
        await tx.run(touch(second))
        return first
      })
    const outcomes = await Promise.all([crossing('left', 'right'), crossing('right', 'left')])
    assert.deepEqual(outcomes, ['left', 'right'])
    assert.equal(runs, 3, 'the victim ran twice, the winner once')
    // Both committed exactly once: each row was touched by each transaction's committed run.
    const rows = await db.all(db.qb.selectFrom('clients').select(['id', 'scope']).orderBy('id'))
    assert.deepEqual(rows, [
      { id: 'left', scope: '++' },
      { id: 'right', scope: '++' },
    ])
  })

  it('a serialisation failure is retried at most 3 times in all, then reported', async () => {
    let runs = 0
    await assert.rejects(
      db.transaction(async (tx) => {
        runs++
        await tx.run(raise('40001'))
      }),
      (error: unknown) => (error as { code?: string }).code === '40001',
    )
    assert.equal(runs, 3)
  })

  it('a transaction that fails once with 40001 succeeds on its second run', async () => {
    let runs = 0
    const result = await db.transaction(async (tx) => {
      runs++
      if (runs === 1) await tx.run(raise('40001'))
      return 'done'
    })
    assert.equal(result, 'done')
    assert.equal(runs, 2)
  })

  it('other errors are not retried: a unique violation, a refused value, a raised exception', async () => {
    for (const state of ['23505', '22021', 'P0001']) {
      let runs = 0
      await assert.rejects(
        db.transaction(async (tx) => {
          runs++
          await tx.run(raise(state))
        }),
        // A refused value reaches the store's callers as StoreInputRejected, the pg error its cause.
        (error: unknown) =>
          state === '22021'
            ? error instanceof StoreInputRejected &&
              (error.cause as { code?: string }).code === state
            : (error as { code?: string }).code === state,
      )
      assert.equal(runs, 1, state)
    }
    // Nor an error thrown by the function itself.
    let runs = 0
    await assert.rejects(
      db.transaction(async () => {
        runs++
        throw Object.assign(new Error('not from the database'), { code: 40001 })
      }),
      /not from the database/,
    )
    assert.equal(runs, 1)
  })
})
