/**
 * The `tokenbooth` command: the only place that reads `process.env`, hosts the server on
 * node:http, and handles signals.
 */
import { Command } from 'commander'
import { pino } from 'pino'
import { loadConfig, type Config } from './config.ts'
import { registerClient } from './domain/clients.ts'
import { signUp } from './domain/accounts.ts'
import { createEvents } from './domain/events.ts'
import { createKeyManager } from './domain/keys.ts'
import { createKeyring } from './domain/keyring.ts'
import { createMetrics } from './domain/metrics.ts'
import {
  listUserSessions,
  OperatorError,
  revokeAccessTokens,
  revokeSessions,
  revokeUser,
  type OperatorContext,
} from './domain/operator-revocations.ts'
import { loadOrCreateSecret } from './domain/secret-file.ts'
import { parseScope } from './domain/scopes.ts'
import { HttpError } from './errors.ts'
import { createTokenServer } from './server.ts'
import { openStore } from './store/open-store.ts'
import type { Store } from './store/store.ts'

function config(): Config {
  return loadConfig(process.env)
}

async function withStore<T>(fn: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const cfg = config()
  const store = await openStore(cfg)
  try {
    return await fn(store, cfg)
  } finally {
    await store.close()
  }
}

function keyringOf(cfg: Config) {
  return createKeyring(
    cfg.secrets.length > 0 ? cfg.secrets : [loadOrCreateSecret(cfg.dataDir).secret],
  )
}

/**
 * The booth's store and security events for an operator command. The events go to standard
 * error, in the booth's log format, so that an operator's revocation leaves the same trace as a
 * user's.
 */
function withOperator<T>(fn: (ctx: OperatorContext) => Promise<T>): Promise<T> {
  return withStore((store, cfg) => {
    const log = pino(
      { level: cfg.logLevel, base: { service: 'tokenbooth', actor: 'operator' } },
      process.stderr,
    )
    return fn({ config: cfg, store, clock: Date.now, events: createEvents(log, createMetrics()) })
  })
}

const iso = (ms: number) => new Date(ms).toISOString()

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
}

const program = new Command('tokenbooth').description('a token server').showHelpAfterError()

program
  .command('serve')
  .description('run the booth (configured by TOKENBOOTH_* environment variables)')
  .action(async () => {
    const cfg = config()
    const server = await createTokenServer({ config: cfg })
    const address = await server.listen()
    server.app.log.info(
      { address, issuer: cfg.issuer, store: server.ctx.store.kind },
      'tokenbooth is serving',
    )
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      server.app.log.info({ signal }, 'stopping: finishing requests in flight')
      server.close().then(
        () => process.exit(0),
        (error: unknown) => {
          server.app.log.error({ err: error }, 'stop failed')
          process.exit(1)
        },
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
  })

const keys = program.command('keys').description('signing keys')
keys
  .command('list')
  .option('--json', 'print JSON')
  .action((options: { json?: boolean }) =>
    withStore(async (store, cfg) => {
      const manager = await createKeyManager({
        store,
        keyring: keyringOf(cfg),
        config: cfg,
        clock: Date.now,
        create: false,
      })
      manager.close()
      const rows = manager.list().map((k) => ({
        kid: k.kid,
        alg: k.alg,
        state: k.state,
        created_at: new Date(k.createdAt).toISOString(),
        activates_at: new Date(k.activatesAt).toISOString(),
      }))
      if (options.json) console.log(JSON.stringify(rows))
      else
        for (const r of rows)
          console.log(`${r.kid}\t${r.alg}\t${r.state}\tactivates ${r.activates_at}`)
    }),
  )
keys
  .command('rotate')
  .description('create a key that signs once every verifier has had time to see it')
  .option('--json', 'print JSON')
  .action((options: { json?: boolean }) =>
    withStore(async (store, cfg) => {
      const manager = await createKeyManager({
        store,
        keyring: keyringOf(cfg),
        config: cfg,
        clock: Date.now,
      })
      manager.close()
      const key = await manager.rotate()
      const out = {
        kid: key.kid,
        alg: key.alg,
        activates_at: new Date(key.activatesAt).toISOString(),
      }
      console.log(
        options.json ? JSON.stringify(out) : `created ${out.kid}, signing from ${out.activates_at}`,
      )
    }),
  )

program
  .command('clients')
  .description('OAuth clients')
  .command('add <name>')
  .option('--scope <scopes>', 'space-separated scopes the client may get', '')
  .option('--public', 'a public client (no secret): first-party apps using the password grant')
  .option('--json', 'print JSON')
  .action((name: string, options: { scope: string; public?: boolean; json?: boolean }) =>
    withStore(async (store) => {
      const scope = (parseScope(options.scope) ?? []).join(' ')
      const { client, secret } = await registerClient(
        store,
        name,
        scope,
        Date.now(),
        options.public ? 'public' : 'confidential',
      )
      const out = { client_id: client.id, client_secret: secret, scope }
      if (options.json) console.log(JSON.stringify(out))
      else
        console.log(
          `client_id: ${out.client_id}\n${secret ? `client_secret: ${secret}  (shown once)\n` : ''}scope: ${scope}`,
        )
    }),
  )

const users = program.command('users').description('user accounts')
users
  .command('add <username>')
  .description('create a user; the password is read from standard input')
  .action((username: string) =>
    withStore(async (store) => {
      const user = await signUp(store, username, await readStdin(), Date.now())
      console.log(JSON.stringify({ id: user.id, username: user.username }))
    }),
  )
users
  .command('revoke <username>')
  .description('end every session of a user and cut off every access token issued to them so far')
  .option('--json', 'print JSON')
  .action((username: string, options: { json?: boolean }) =>
    withOperator(async (ctx) => {
      const { sub, sessions, cutOff } = await revokeUser(ctx, username)
      const out = { sub, username, sessions, cut_off: iso(cutOff) }
      if (options.json) console.log(JSON.stringify(out))
      else
        console.log(
          `revoked ${sessions} session(s) of ${username}; access tokens issued until ${out.cut_off} are refused`,
        )
    }),
  )

// Every revocation below goes to the shared log: running booths push it to their feed subscribers.
const sessions = program.command('sessions').description('login sessions (refresh-token families)')
sessions
  .command('list <username>')
  .description("a user's live sessions, newest first")
  .option('--json', 'print JSON')
  .action((username: string, options: { json?: boolean }) =>
    withOperator(async (ctx) => {
      const rows = (await listUserSessions(ctx, username)).map((s) => ({
        sid: s.id,
        client_id: s.clientId,
        scope: s.scope,
        created_at: iso(s.createdAt),
        last_used_at: iso(s.lastUsedAt),
        expires_at: iso(s.expiresAt),
        user_agent: s.userAgent ?? null,
      }))
      if (options.json) console.log(JSON.stringify(rows))
      else
        for (const r of rows)
          console.log(
            `${r.sid}\t${r.client_id}\tlast used ${r.last_used_at}\t${r.user_agent ?? ''}`,
          )
    }),
  )
sessions
  .command('revoke <sid...>')
  .description('end sessions by id; exits 1 if one of them was not live')
  .option('--json', 'print JSON')
  .action((ids: string[], options: { json?: boolean }) =>
    withOperator(async (ctx) => {
      const { revoked, notLive } = await revokeSessions(ctx, ids)
      if (options.json) console.log(JSON.stringify({ revoked, not_live: notLive }))
      else for (const sid of revoked) console.log(`revoked session ${sid}`)
      if (notLive.length > 0) {
        throw new OperatorError(
          `no live session ${notLive.join(', ')} (unknown, expired or already revoked)`,
        )
      }
    }),
  )

program
  .command('tokens')
  .description('access tokens')
  .command('revoke [jti...]')
  .description('revoke access tokens by jti; with none given, one jti per line from standard input')
  .option('--json', 'print JSON')
  .action((given: string[], options: { json?: boolean }) =>
    withOperator(async (ctx) => {
      const jtis = given.length > 0 ? given : (await readStdin()).split(/\r?\n/).filter(Boolean)
      const revoked = await revokeAccessTokens(ctx, jtis)
      console.log(options.json ? JSON.stringify({ revoked }) : `revoked ${revoked} access token(s)`)
    }),
  )

program.parseAsync().catch((error: unknown) => {
  // Operator mistakes get one clear line, not a stack trace.
  if (
    error instanceof TypeError ||
    error instanceof HttpError ||
    error instanceof OperatorError ||
    (error as Error).name === 'KeyDecryptionFailed'
  ) {
    const message =
      error instanceof HttpError ? (error.description ?? error.message) : (error as Error).message
    console.error(`tokenbooth: ${message}`)
  } else {
    pino({ base: null }).fatal({ err: error }, 'tokenbooth failed')
  }
  process.exit(1)
})
