/**
 * `node bench/sqlite/batch.ts [--keys=hash|time] [--checkpoint=PAGES] [--synchronous=FULL|NORMAL]`
 *
 * One group-commit batch of refresh rotations on `node:sqlite`, without the booth around it: the
 * statements of `rotateRefreshToken` (select the token, select its session, mark it consumed,
 * insert the successor, touch the session) for 16 rotations, each in a SAVEPOINT, inside one
 * BEGIN IMMEDIATE … COMMIT, on the store's tables and indexes (migration 0001), 64 sessions,
 * 1,200 batches. It isolates what the store's keys and the checkpoint interval cost a commit:
 * `--keys=hash` keys refresh tokens by their SHA-256 alone (the first format), `--keys=time` by
 * the issue time then the hash (tokens.ts). Prints the time per batch spent in the statements
 * and in the COMMIT, and the process's CPU per batch. Not part of `npm run bench`; BENCHMARKS.md
 * quotes it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: 'time' },
    checkpoint: { type: 'string', default: '4000' },
    synchronous: { type: 'string', default: 'FULL' },
  },
})
const keys = values.keys === 'hash' ? 'hash' : 'time'
const checkpoint = Number(values.checkpoint)
const synchronous = values.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'
const BATCHES = 1200
const PER_BATCH = 16
const SESSIONS = 64

const dir = mkdtempSync(join(tmpdir(), 'tokenbooth-batch-'))
const db = new DatabaseSync(join(dir, 'batch.db'))
db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};
  PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = ${checkpoint};
  CREATE TABLE sessions (id text PRIMARY KEY, user_id text NOT NULL, client_id text NOT NULL,
    scope text NOT NULL, created_at bigint NOT NULL, last_used_at bigint NOT NULL,
    expires_at bigint NOT NULL, revoked_at bigint, user_agent text);
  CREATE TABLE refresh_tokens (hash text PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at bigint NOT NULL, expires_at bigint NOT NULL, consumed_at bigint,
    successor_hash text, successor_sealed text);
  CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);`)

const far = Date.now() + 86_400_000
function newKey(now: number): string {
  const hash = createHash('sha256').update(randomBytes(32)).digest('base64url')
  return keys === 'time' ? Math.floor(now).toString(16).padStart(11, '0') + hash : hash
}

const sessions: string[] = []
const current: string[] = []
const insertSession = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)')
const insertToken = db.prepare('INSERT INTO refresh_tokens VALUES (?, ?, ?, ?, NULL, NULL, NULL)')
for (let i = 0; i < SESSIONS; i++) {
  const id = randomUUID()
  insertSession.run(id, 'user', 'tokenbooth', 'profile', 1, 1, far, 'bench')
  const key = newKey(Date.now())
  insertToken.run(key, id, 1, far)
  sessions.push(id)
  current.push(key)
}

const selectToken = db.prepare('SELECT * FROM refresh_tokens WHERE hash = ?')
const selectSession = db.prepare('SELECT * FROM sessions WHERE id = ?')
const consume = db.prepare(
  'UPDATE refresh_tokens SET consumed_at = ?, successor_hash = ?, successor_sealed = ? WHERE hash = ?',
)
const touch = db.prepare('UPDATE sessions SET last_used_at = ? WHERE id = ?')
const savepoint = db.prepare('SAVEPOINT op')
const release = db.prepare('RELEASE op')

let statementsMs = 0
let commitMs = 0
const cpu = process.cpuUsage()
const started = performance.now()
for (let b = 0; b < BATCHES; b++) {
  const t0 = performance.now()
  db.exec('BEGIN IMMEDIATE')
  for (let j = 0; j < PER_BATCH; j++) {
    const s = (b * PER_BATCH + j) % SESSIONS
    const now = Date.now()
    savepoint.run()
    selectToken.get(current[s]!)
    selectSession.get(sessions[s]!)
    const next = newKey(now)
    consume.run(now, next, randomBytes(32).toString('base64url'), current[s]!)
    insertToken.run(next, sessions[s]!, now, far)
    touch.run(now, sessions[s]!)
    release.run()
    current[s] = next
  }
  const t1 = performance.now()
  db.exec('COMMIT')
  statementsMs += t1 - t0
  commitMs += performance.now() - t1
}
const used = process.cpuUsage(cpu)
const perBatch = (ms: number) => ((ms * 1000) / BATCHES).toFixed(0)
console.log(
  `keys=${keys} checkpoint=${checkpoint} synchronous=${synchronous}: per batch of ${PER_BATCH} ` +
    `rotations, ${perBatch(performance.now() - started)} µs wall (statements ${perBatch(statementsMs)}, ` +
    `COMMIT ${perBatch(commitMs)}), CPU user ${(used.user / BATCHES).toFixed(0)} µs, ` +
    `system ${(used.system / BATCHES).toFixed(0)} µs`,
)
db.close()
rmSync(dir, { recursive: true, force: true })
