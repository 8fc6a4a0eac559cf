/**
 * What the session-store scenarios need outside Node: wrk and redis-server (installed with apt
 * when missing), a redis-server of our own on a free loopback port, and a PostgreSQL database of
 * our own on the local server (created, then dropped).
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createConnection } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { freePort } from '../lib/booth.ts'

// the schema connect-pg-simple ships (and its createTableIfMissing runs)
const SESSION_TABLE_SQL = createRequire(import.meta.url).resolve('connect-pg-simple/table.sql')

/**
 * The local PostgreSQL, as the tests use it; its role may CREATE DATABASE. The bench's only
 * setting from the environment, so that another machine can point it elsewhere.
 */
export const PG_ADMIN_URL =
  process.env.TOKENBOOTH_BENCH_PG_URL ??
  'postgres://tokenbooth:tokenbooth@127.0.0.1:5432/tokenbooth_test'

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Installs the Debian packages whose commands are missing; throws if apt cannot. */
export function ensureCommands(packages: Record<string, string>): void {
  const missing = Object.entries(packages).filter(([command]) => !has(command))
  if (missing.length === 0) return
  const names = missing.map(([, pkg]) => pkg)
  process.stderr.write(`installing ${names.join(', ')} with apt-get\n`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () =>
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...names], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  try {
    install()
  } catch {
    // a fresh machine has no package lists yet
    execFileSync('apt-get', ['update'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    install()
  }
  for (const [command] of missing) {
    if (!has(command)) throw new Error(`${command} is still missing after apt-get install`)
  }
}

export interface RedisServer {
  url: string
  pid: number
  stop(): Promise<void>
}

/** Starts redis-server on 127.0.0.1 with no persistence (a pure cache, Redis's cheapest setup). */
export async function startRedis(pin: string[]): Promise<RedisServer> {
  const port = await freePort()
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ]
  const [command, ...rest] = [...pin, 'redis-server', ...args]
  const child = spawn(command!, rest, { stdio: ['ignore', 'ignore', 'pipe'] })
  let output = ''
  child.stderr.on('data', (d: Buffer) => (output += d))
  const exited = once(child, 'exit')
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`)
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.end()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (up) break
    if (i > 200) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not start:\n${output}`)
    }
    await sleep(25)
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}

export interface PgDatabase {
  url: string
  name: string
  /** The pids of the server processes (backends) serving connections named `applicationName`. */
  backends(applicationName: string): Promise<number[]>
  drop(): Promise<void>
}

/** Creates a database of our own for the session store; throws if PostgreSQL is unreachable. */
export async function createPgDatabase(): Promise<PgDatabase> {
  const name = `tokenbooth_bench_sessions_${process.pid}`
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${name}`)
  } catch (error) {
    await admin.end()
    throw error
  }
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  // connect-pg-simple's own schema, created once here: its createTableIfMissing, run by three
  // server processes starting together, races (one CREATE TABLE fails, and that store then fails
  // every request)
  const schema = new pg.Client({ connectionString: url.toString() })
  try {
    await schema.connect()
    await schema.query(readFileSync(SESSION_TABLE_SQL, 'utf8'))
  } catch (error) {
    // leave nothing behind: the database goes, and the caller says why the store is skipped
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
    await admin.end()
    throw new Error(`creating the session table failed: ${(error as Error).message}`, {
      cause: error,
    })
  } finally {
    await schema.end().catch(() => {})
  }
  return {
    url: url.toString(),
    name,
    async backends(applicationName) {
      const { rows } = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
        [name, applicationName],
      )
      return rows.map((r) => r.pid)
    },
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await admin.end()
      }
    },
  }
}
