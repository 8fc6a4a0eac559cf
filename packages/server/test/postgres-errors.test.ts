/**
 * What the booth answers for PostgreSQL's errors, on a real server: a value PostgreSQL refuses to
 * read (SQLSTATE 22021, 22P02) is the request's fault and answers 400, whatever route let it
 * through (defence in depth: validation should stop it first); any other database error stays a
 * 500. The PostgreSQL module turns the two into the store's StoreInputRejected, the only form in
 * which the HTTP layer sees them (store/store.ts is the only door to the database).
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import pg from 'pg'
import { pino } from 'pino'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { loadConfig } from '../src/config.ts'
import { createTokenServer, type TokenServer } from '../src/server.ts'
import { openPostgres } from '../src/store/postgres/database.ts'
import type { SqlDatabase } from '../src/store/sql.ts'
import { StoreInputRejected } from '../src/store/store.ts'

describe('a PostgreSQL error in a request', () => {
  let db: TestDatabase
  let booth: TokenServer
  let pool: pg.Pool
  let database: SqlDatabase
  const lines: Array<{ level: number; msg: string }> = []

  before(async () => {
    db = await createTestDatabase()
    pool = new pg.Pool({ connectionString: db.url, max: 2 })
    database = openPostgres(db.url, 2)
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line))
        done()
      },
    })
    booth = await createTokenServer({
      config: loadConfig({
        TOKENBOOTH_DATABASE_URL: db.url,
        TOKENBOOTH_SECRET: 's'.repeat(40),
        TOKENBOOTH_ISSUER: 'https://booth.test',
      }),
      logger: pino({ level: 'warn' }, sink),
    })
    // Routes that hand the booth's error handler real PostgreSQL errors, as a route that forgot
    // to validate its input would: the store's own query with a NUL byte, a bad cast through the
    // same database module, and an error that is not about input at all.
    booth.app.get('/probe/nul', async () => booth.ctx.store.findClient('shop\u0000'))
    booth.app.get('/probe/cast', async () =>
      database.all(database.qb.selectNoFrom(sql<number>`'twelve'::int`.as('n'))),
    )
    booth.app.get('/probe/missing-table', async () => pool.query('select * from no_such_table'))
  })
  after(async () => {
    await booth?.close()
    await pool?.end()
    await database?.close()
    await db?.drop()
  })

  it('22021 (a NUL byte in text) is 400 invalid_request, logged as a warning', async () => {
    const res = await booth.app.inject({ method: 'GET', url: '/probe/nul' })
    assert.equal(res.statusCode, 400, res.body)
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    assert.deepEqual(res.json(), {
      error: 'invalid_request',
      error_description: 'a parameter holds a value the booth cannot accept',
    })
    assert.ok(
      lines.some((l) => l.level === 40 && l.msg === 'the database refused a request value'),
      'the operator hears of the validation gap',
    )
  })

  it('22P02 (text that is not the column type) is 400 invalid_request', async () => {
    const res = await booth.app.inject({ method: 'GET', url: '/probe/cast' })
    assert.equal(res.statusCode, 400, res.body)
    assert.equal(res.json().error, 'invalid_request')
  })

  it('the PostgreSQL module hands them on as StoreInputRejected, the pg error as its cause, inside a transaction too and not retried', async () => {
    const outside = await booth.ctx.store.findClient('shop\u0000').catch((e: unknown) => e)
    assert.ok(outside instanceof StoreInputRejected, String(outside))
    assert.equal((outside.cause as { code?: string }).code, '22021')
    let attempts = 0
    const inside = await database
      .transaction(async (tx) => {
        attempts++
        return tx.all(database.qb.selectNoFrom(sql<number>`'twelve'::int`.as('n')))
      })
      .catch((e: unknown) => e)
    assert.ok(inside instanceof StoreInputRejected, String(inside))
    assert.equal((inside.cause as { code?: string }).code, '22P02')
    assert.equal(attempts, 1)
    const other = await database
      .all(database.qb.selectNoFrom(sql<number>`(select 1 from no_such_table)`.as('n')))
      .catch((e: unknown) => e)
    assert.ok(!(other instanceof StoreInputRejected), 'any other error is passed on as it is')
    assert.equal((other as { code?: string }).code, '42P01')
  })

  it('any other database error is still a 500 server_error, without the detail', async () => {
    const res = await booth.app.inject({ method: 'GET', url: '/probe/missing-table' })
    assert.equal(res.statusCode, 500, res.body)
    assert.deepEqual(res.json(), { error: 'server_error', error_description: 'internal error' })
    assert.doesNotMatch(res.body, /no_such_table/)
  })
})
