/**
 * The `tokenbooth` command: the only place that reads `process.env`, hosts the server on
 * node:http, and handles signals.
 */
import { Command } from 'commander'
import { pino } from 'pino'
import { loadConfig, type Config } from './config.ts'
import { registerClient } from './domain/clients.ts'
import { signUp } from './domain/accounts.ts'
import { createKeyManager } from './domain/keys.ts'
import { createKeyring } from './domain/keyring.ts'
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

program
  .command('users')
  .description('user accounts')
  .command('add <username>')
  .description('create a user; the password is read from standard input')
  .action((username: string) =>
    withStore(async (store) => {
      const user = await signUp(store, username, await readStdin(), Date.now())
      console.log(JSON.stringify({ id: user.id, username: user.username }))
    }),
  )

program.parseAsync().catch((error: unknown) => {
  // Operator mistakes get one clear line, not a stack trace.
  if (
    error instanceof TypeError ||
    error instanceof HttpError ||
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
