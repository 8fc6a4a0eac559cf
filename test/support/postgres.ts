/**
 * PostgreSQL for tests. CI points TOKENBOOTH_TEST_DATABASE_URL at the local server (.ci/run);
 * each test gets a database of its own, created from that URL's role and dropped afterwards.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const TEST_DATABASE_URL =
  process.env.TOKENBOOTH_TEST_DATABASE_URL ??
  'postgres://tokenbooth:tokenbooth@127.0.0.1:5432/tokenbooth_test'

export interface TestDatabase {
  url: string
  drop(): Promise<void>
}

/** True when the test server answers. */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    connectionTimeoutMillis: 2000,
  })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tokenbooth_t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await c.connect()
      try {
        await c.query(`drop database if exists ${name} with (force)`)
      } finally {
        await c.end()
      }
    },
  }
}
