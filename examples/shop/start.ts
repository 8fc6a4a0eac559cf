/**
 * One command for the whole shop: the booth, the cart service and the payment service, each a
 * process of its own on loopback. `npm run shop` from the repository root; `node
 * examples/shop/start.ts booth` starts the booth alone again (after you stopped it to watch the
 * services carry on without it).
 *
 * The booth's data (SQLite) and the services' client secrets live in examples/shop/.data
 * (`SHOP_DATA_DIR`); the addresses come from config.ts (`SHOP_BOOTH_URL`, `SHOP_CART_PORT`,
 * `SHOP_PAYMENT_PORT`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { AUDIENCE, BOOTH_URL, CART_URL, PAYMENT_URL, SERVICE_SCOPE, USER_SCOPES } from './config.ts'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const dataDir = process.env.SHOP_DATA_DIR ?? here('./.data')
const bin = here('../../packages/server/bin/tokenbooth.js')
const booth = new URL(BOOTH_URL)

const boothEnv = {
  ...process.env,
  TOKENBOOTH_DATA_DIR: dataDir,
  TOKENBOOTH_HOST: booth.hostname,
  TOKENBOOTH_PORT: booth.port || '80',
  TOKENBOOTH_ISSUER: BOOTH_URL,
  TOKENBOOTH_AUDIENCE: AUDIENCE,
  // What a user may ask for at login; `payment:pay` is the cart client's alone (config.ts)
  TOKENBOOTH_SCOPES: USER_SCOPES,
  TOKENBOOTH_DEFAULT_SCOPE: USER_SCOPES,
  TOKENBOOTH_LOG_LEVEL: process.env.TOKENBOOTH_LOG_LEVEL ?? 'warn',
}

interface Credentials {
  client_id: string
  client_secret: string
}

/** Registers a confidential client once and keeps its secret (shown only once by the booth). */
function client(name: string, scope: string): Credentials {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = `${dataDir}/${name}.json`
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Credentials
  const out = spawnSync(
    process.execPath,
    [bin, 'clients', 'add', name, '--scope', scope, '--json'],
    { env: boothEnv, encoding: 'utf8' },
  )
  if (out.status !== 0) throw new Error(`could not register ${name}: ${out.stderr}`)
  writeFileSync(file, out.stdout, { mode: 0o600 })
  return JSON.parse(out.stdout) as Credentials
}

const cart = client('cart-service', SERVICE_SCOPE)
const payment = client('payment-service', '')

const children: Array<{ name: string; child: ChildProcess }> = []
let open = false
// Rejects when a child exits before the shop is open: that startup has failed, whatever the
// others are doing, and waiting for its health check to time out would only hide why.
let exitedEarly!: (error: Error) => void
const earlyExit = new Promise<never>((_, reject) => (exitedEarly = reject))
earlyExit.catch(() => {}) // raced against every step of the startup, which reports it

function start(name: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'inherit', 'inherit'] })
  child.on('exit', (code, signal) => {
    if (stopping) return
    console.error(`${name} exited (${signal ?? code})`)
    if (!open) exitedEarly(new Error(`${name} exited (${signal ?? code}) during startup`))
  })
  children.push({ name, child })
  return child
}

async function healthy(url: string): Promise<void> {
  const poll = async () => {
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) return
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`${url} did not become healthy`)
  }
  await Promise.race([poll(), earlyExit])
}

let stopping = false
/** SIGTERM to every child still running; resolves once all have exited. */
async function stop(): Promise<void> {
  stopping = true
  await Promise.all(
    children.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      // one that ignores SIGTERM must not keep the shop half up
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }),
  )
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

/**
 * Throws if something already listens on `url`'s port. The health checks ask `/healthz` only, so a
 * booth or service left from an earlier run would answer them in place of the one started here,
 * which then dies of EADDRINUSE behind a shop that says it is open.
 */
async function portFree(url: string): Promise<void> {
  const { hostname, port } = new URL(url)
  const probe = createServer()
  try {
    probe.listen(Number(port), hostname)
    await Promise.race([
      once(probe, 'listening'),
      once(probe, 'error').then(([e]) => Promise.reject(e)),
    ])
  } catch (error) {
    throw new Error(
      `${url} is taken (${(error as NodeJS.ErrnoException).code}): stop what runs there first`,
    )
  } finally {
    probe.close()
  }
}

let boothProcess: ChildProcess
try {
  for (const url of process.argv[2] === 'booth' ? [BOOTH_URL] : [BOOTH_URL, CART_URL, PAYMENT_URL])
    await portFree(url)
  boothProcess = start('booth', [bin, 'serve'], boothEnv)
  await healthy(BOOTH_URL)
  if (process.argv[2] !== 'booth') await startServices()
  open = true
} catch (error) {
  // A half-started shop is worse than none: a booth or a service left running holds its port
  // and answers the next start in place of the one that failed.
  const stopped = children.map(({ name, child }) => `${name} (pid ${child.pid})`).join(', ')
  const stopping = stopped === '' ? '' : `; stopping ${stopped}`
  console.error(`The shop did not start: ${(error as Error).message}${stopping}`)
  await stop()
  process.exit(1)
}
if (process.argv[2] === 'booth') {
  console.log(`The booth is back: ${BOOTH_URL} (pid ${boothProcess.pid}). Stop it with Ctrl-C.`)
} else {
  console.log(`
The shop is open:
  booth    ${BOOTH_URL}   (pid ${boothProcess.pid}; pages: ${BOOTH_URL}/login, ${BOOTH_URL}/debugger)
  cart     ${CART_URL}
  payment  ${PAYMENT_URL}
Run a buyer in another terminal:  npm run shop:buyer
Stop only the booth:              kill ${boothProcess.pid}   (cart and payment keep serving)
Start it again:                   node examples/shop/start.ts booth
Stop everything with Ctrl-C.`)
}

async function startServices(): Promise<void> {
  const serviceEnv = { ...process.env, SHOP_BOOTH_URL: BOOTH_URL, SHOP_AUDIENCE: AUDIENCE }
  start('cart', [here('./cart.ts')], {
    ...serviceEnv,
    CART_CLIENT_ID: cart.client_id,
    CART_CLIENT_SECRET: cart.client_secret,
  })
  start('payment', [here('./payment.ts')], {
    ...serviceEnv,
    PAYMENT_CLIENT_ID: payment.client_id,
    PAYMENT_CLIENT_SECRET: payment.client_secret,
    // payment takes payments from this client only (payment.ts)
    PAYMENT_CART_CLIENT_ID: cart.client_id,
  })
  await Promise.all([healthy(CART_URL), healthy(PAYMENT_URL)])
}
