/**
 * What the booth answers for PostgreSQL's errors, on a real server: a value PostgreSQL refuses to
 * read (SQLSTATE 22021, 22P02) is the request's fault and answers 400, whatever route let it
 * through (defence in depth: validation should stop it first); any other database error stays a
 * 500.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { pino } from 'pino'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { loadConfig } from '../src/config.ts'
import { createTokenServer, type TokenServer } from '../src/server.ts'

describe('a PostgreSQL error in a request', () => {
  let db: TestDatabase
  let booth: TokenServer
  let pool: pg.Pool
  const lines: Array<{ level: number; msg: string }> = []

  before(async () => {
    db = await createTestDatabase()
    pool = new pg.Pool({ connectionString: db.url, max: 2 })
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
    // to validate its input would: the store's own query with a NUL byte, a bad cast, and an
    // error that is not about input at all.
    booth.app.get('/probe/nul', async () => booth.ctx.store.findClient('shop\u0000'))
    booth.app.get('/probe/cast', async () => pool.query("select 'twelve'::int"))
    booth.app.get('/probe/missing-table', async () => pool.query('select * from no_such_table'))
  })
  after(async () => {
    await booth?.close()
    await pool?.end()
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

  it('any other database error is still a 500 server_error, without the detail', async () => {
    const res = await booth.app.inject({ method: 'GET', url: '/probe/missing-table' })
    assert.equal(res.statusCode, 500, res.body)
    assert.deepEqual(res.json(), { error: 'server_error', error_description: 'internal error' })
    assert.doesNotMatch(res.body, /no_such_table/)
  })
})
