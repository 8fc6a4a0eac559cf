/**
 * Versioned migrations, shared by SQLite and PostgreSQL through Kysely's schema builder.
 * Kysely's Migrator takes a lock (an advisory lock on PostgreSQL), so instances that start
 * together apply each migration once. Never edit a migration that has shipped: add one.
 */
import { sql, type Kysely } from 'kysely'
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration'

type Kind = 'sqlite' | 'postgres'

function migrations(kind: Kind): Record<string, Migration> {
  const serial = kind === 'postgres' ? 'bigserial' : 'integer'
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('clients')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('secret_hash', 'text')
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('client_id', 'text', (c) => c.notNull())
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .addColumn('user_agent', 'text')
          .execute()
        await db.schema
          .createIndex('sessions_user')
          .on('sessions')
          .columns(['user_id', 'created_at'])
          .execute()
        await db.schema
          .createTable('refresh_tokens')
          .addColumn('hash', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) =>
            c.notNull().references('sessions.id').onDelete('cascade'),
          )
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('consumed_at', 'bigint')
          .addColumn('successor_hash', 'text')
          .addColumn('successor_sealed', 'text')
          .execute()
        await db.schema
          .createIndex('refresh_tokens_session')
          .on('refresh_tokens')
          .column('session_id')
          .execute()
        await db.schema
          .createTable('signing_keys')
          .addColumn('kid', 'text', (c) => c.primaryKey())
          .addColumn('alg', 'text', (c) => c.notNull())
          .addColumn('public_jwk', 'text', (c) => c.notNull())
          .addColumn('private_sealed', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('activates_at', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('revocations')
          .addColumn('seq', sql.raw(serial), (c) =>
            kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('revocations_value')
          .on('revocations')
          .columns(['kind', 'value'])
          .execute()
      },
    },
    // One row: the least `expires_at` of every revocation logged from now on
    // (extendRevocationHorizon), so that lowering the access-token lifetime cannot make an entry
    // expire before tokens issued under the longer one. 0 until a booth issues a token.
    '0002_revocation_horizon': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('revocation_horizon')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('kept_until', 'bigint', (c) => c.notNull())
          .execute()
        await db.insertInto('revocation_horizon').values({ id: 1, kept_until: 0 }).execute()
      },
    },
  }
}

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<any>, kind: Kind): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(kind) }
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'tokenbooth_migrations',
    migrationLockTableName: 'tokenbooth_migrations_lock',
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new Error(`migration ${failed} failed`, { cause: error })
  }
}
