import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import { DummyDriver, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely'
import type { DatabaseIntrospector, DialectAdapter, QueryCompiler } from 'kysely'
import { compileOnce } from '../../src/store/compile-once.ts'
import type { Schema } from '../../src/store/schema.ts'

// Query builders with no database behind them: only compile() is used here. The store's own
// queries run against real SQLite and PostgreSQL in the conformance suite.
function compilerOnly(
  Adapter: new () => DialectAdapter,
  Introspector: new (db: Kysely<any>) => DatabaseIntrospector,
  Compiler: new () => QueryCompiler,
) {
  return new Kysely<Schema>({
    dialect: {
      createAdapter: () => new Adapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new Introspector(db),
      createQueryCompiler: () => new Compiler(),
    },
  })
}
const sqlite = compilerOnly(SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler)
const postgres = compilerOnly(PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler)

describe('compileOnce', () => {
  for (const [name, qb] of [
    ['sqlite', sqlite],
    ['postgres', postgres],
  ] as const) {
    it(`${name}: each call compiles to what the builder would give for those values`, () => {
      const build = (v: { id: string; now: number }) =>
        qb
          .updateTable('sessions')
          .set({ last_used_at: v.now, revoked_at: null })
          .where('id', '=', v.id)
          .where('expires_at', '>', 5)
      const once = compileOnce(build)
      for (const values of [
        { id: 'a', now: 1 },
        { id: 'b', now: 2 },
      ]) {
        const direct = build(values).compile()
        const reused = once(values).compile()
        assert.equal(reused.sql, direct.sql)
        // the constants (null, 5) stay where the builder put them
        assert.deepEqual(reused.parameters, direct.parameters)
      }
    })
  }

  it('a value used twice fills both of its parameters', () => {
    const once = compileOnce((v: { at: number }) =>
      sqlite
        .selectFrom('sessions')
        .select('id')
        .where('created_at', '<', v.at)
        .where('expires_at', '>', v.at),
    )
    assert.deepEqual(once({ at: 7 }).compile().parameters, [7, 7])
  })

  it('calls do not share their parameter arrays', () => {
    const once = compileOnce((v: { id: string }) =>
      sqlite.selectFrom('users').selectAll().where('id', '=', v.id),
    )
    const first = once({ id: 'first' }).compile()
    once({ id: 'second' }).compile()
    assert.deepEqual(first.parameters, ['first'])
  })

  it('refuses, when built, a placeholder that never became a parameter', () => {
    // Looking at a value in JavaScript sees the placeholder: here its string form went into a
    // column name, so the SQL would be the same whatever the value. Refused at once.
    assert.throws(
      () =>
        compileOnce((v: { column: string }) =>
          sqlite.selectFrom('users').select(sqlite.dynamic.ref(String(v.column))),
        ),
      /placeholder "column" is not a parameter/,
    )
  })
})
