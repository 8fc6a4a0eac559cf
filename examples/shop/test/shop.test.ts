/**
 * The articles' picture as real processes on loopback: the booth, the cart service (Express)
 * and the payment service (Hono), each verifying tokens on its own (issue 3, "examples/shop"):
 * revocation within 1 s, the booth killed for longer than the services' staleness bound, and a
 * booth restarted after an operator revoked a session while it was down.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { freePort, removeDir, runCli, startBooth, type Booth } from '../../../test/support/booth.ts'
import { bearer, call, postForm, postJson } from '../../../test/support/http.ts'

const AUDIENCE = 'https://shop.example'
const boothEnv = {
  TOKENBOOTH_AUDIENCE: AUDIENCE,
  TOKENBOOTH_SCOPES: 'profile cart:read cart:write payment:pay',
  TOKENBOOTH_DEFAULT_SCOPE: 'profile cart:read cart:write',
  TOKENBOOTH_FEED_HEARTBEAT: '1',
}
// The services call the feed stale after three missed heartbeats (the SDK's default ratio, at the
// booth's 1 s heartbeat here): short enough that a test outage outlasts it.
const STALE_AFTER_MS = 3000
// The issue's bound: "a session is revoked → cart and payment reject its token within 1 s"
const REVOCATION_BOUND_MS = 1000

interface Service {
  url: string
  process: ChildProcess
  /** Everything the service logged. */
  output(): string
  health(): Promise<{ status: number; body: any }>
  stop(): Promise<void>
}

/** Starts a service and waits until it listens (`ready`: until its /healthz answers 200). */
async function startService(
  file: string,
  port: number,
  env: Record<string, string>,
  until: 'listening' | 'ready' = 'ready',
): Promise<Service> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`../${file}`, import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d))
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${file} exited:\n${output}`)
    try {
      const res = await fetch(`${url}/healthz`)
      if (until === 'listening' || res.ok) break
    } catch {
      // starting
    }
    if (i > 400) throw new Error(`${file} did not start:\n${output}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    url,
    process: child,
    output: () => output,
    async health() {
      const res = await call(`${url}/healthz`)
      return { status: res.status, body: res.body }
    },
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGKILL')
      await once(child, 'exit')
    },
  }
}

/**
 * How long until `probe` answers 401, polling every 2 ms; fails past the issue's 1 s bound (the
 * booth pushes the revocation at once, so this is a requirement, not a benchmark).
 */
async function msUntilRejected(probe: () => Promise<number>): Promise<number> {
  const started = performance.now()
  for (;;) {
    const status = await probe()
    const elapsed = performance.now() - started
    if (status === 401) return elapsed
    assert.equal(status, 200, 'accepted or rejected, nothing else')
    if (elapsed > REVOCATION_BOUND_MS)
      assert.fail(`still accepted ${elapsed.toFixed(0)} ms after the revocation`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Polls `probe` until `done(value)`, or fails after `ms` with the last value. */
async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const sidOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string

describe('the shop', () => {
  let booth: Booth
  let cart: Service
  let payment: Service
  let serviceEnv: Record<string, string>
  let cartEnv: Record<string, string>
  let paymentEnv: Record<string, string>
  let n = 0

  async function buyer(): Promise<{ access_token: string; refresh_token: string }> {
    const username = `buyer${++n}`
    const password = 'a bus token, please'
    await postJson(`${booth.url}/signup`, { username, password })
    const login = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password,
    })
    assert.equal(login.status, 200, login.text)
    return login.body
  }
  const getCart = (token: string) => call(`${cart.url}/cart`, { headers: bearer(token) })
  const getPayments = (token: string) => call(`${payment.url}/payments`, { headers: bearer(token) })

  before(async () => {
    booth = await startBooth({ env: boothEnv })
    const cartClient = JSON.parse(
      (
        await runCli(
          ['clients', 'add', 'cart-service', '--scope', 'payment:pay', '--json'],
          booth.env,
        )
      ).stdout,
    )
    const paymentClient = JSON.parse(
      (await runCli(['clients', 'add', 'payment-service', '--json'], booth.env)).stdout,
    )
    const [cartPort, paymentPort] = [await freePort(), await freePort()]
    serviceEnv = {
      SHOP_BOOTH_URL: booth.url,
      SHOP_AUDIENCE: AUDIENCE,
      SHOP_CART_PORT: String(cartPort),
      SHOP_PAYMENT_PORT: String(paymentPort),
      SHOP_FEED_STALE_AFTER_MS: String(STALE_AFTER_MS),
    }
    cartEnv = {
      ...serviceEnv,
      CART_CLIENT_ID: cartClient.client_id,
      CART_CLIENT_SECRET: cartClient.client_secret,
    }
    paymentEnv = {
      ...serviceEnv,
      PAYMENT_CLIENT_ID: paymentClient.client_id,
      PAYMENT_CLIENT_SECRET: paymentClient.client_secret,
    }
    ;[cart, payment] = await Promise.all([
      startService('cart.ts', cartPort, cartEnv),
      startService('payment.ts', paymentPort, paymentEnv),
    ])
  })

  after(async () => {
    await Promise.all([cart?.stop(), payment?.stop()])
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })
  const restartBooth = async () => {
    booth = await startBooth({ env: boothEnv, dataDir: booth.dataDir, port: booth.port })
  }

  it('a buyer fills the cart and pays; cart calls payment with its own client_credentials token', async () => {
    const { access_token } = await buyer()
    assert.equal(
      (
        await call(`${cart.url}/cart/items`, {
          method: 'POST',
          headers: { ...bearer(access_token), 'content-type': 'application/json' },
          body: JSON.stringify({ sku: 'day-pass', qty: 2 }),
        })
      ).status,
      201,
    )
    const checkout = await call(`${cart.url}/checkout`, {
      method: 'POST',
      headers: bearer(access_token),
    })
    assert.equal(checkout.status, 200, checkout.text)
    assert.equal(checkout.body.paid, 10_000)
    assert.equal(
      checkout.body.receipt.by,
      'cart-service',
      'paid with the service token, not the user token',
    )
    const payments = await getPayments(access_token)
    assert.equal(payments.status, 200)
    assert.equal(payments.body.payments.length, 1)
  })

  it('scopes hold: a user token cannot pay directly, and a token without cart:write cannot add', async () => {
    const { access_token } = await buyer()
    const direct = await call(`${payment.url}/payments`, {
      method: 'POST',
      headers: { ...bearer(access_token), 'content-type': 'application/json' },
      body: '{"user":"x","amount":1}',
    })
    assert.equal(direct.status, 403)
    assert.match(direct.headers.get('www-authenticate') ?? '', /insufficient_scope/)
    await postJson(`${booth.url}/signup`, { username: 'reader', password: 'only reading here' })
    const reader = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username: 'reader',
      password: 'only reading here',
      scope: 'cart:read',
    })
    assert.equal((await getCart(reader.body.access_token)).status, 200)
    const add = await call(`${cart.url}/cart/items`, {
      method: 'POST',
      headers: { ...bearer(reader.body.access_token), 'content-type': 'application/json' },
      body: '{"sku":"day-pass","qty":1}',
    })
    assert.equal(add.status, 403)
  })

  it('a tampered or foreign token is rejected by both services', async () => {
    const { access_token } = await buyer()
    const [h, p, s] = access_token.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`
    const foreignBooth = await startBooth({ env: { ...boothEnv, TOKENBOOTH_ISSUER: booth.url } })
    try {
      await postJson(`${foreignBooth.url}/signup`, {
        username: 'mallory',
        password: 'my own booth entirely',
      })
      const foreign = await postForm(`${foreignBooth.url}/token`, {
        grant_type: 'password',
        username: 'mallory',
        password: 'my own booth entirely',
      })
      for (const token of [tampered, foreign.body.access_token as string, `${h}.${p}.`]) {
        for (const res of [await getCart(token), await getPayments(token)]) {
          assert.equal(res.status, 401)
          assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/)
        }
      }
    } finally {
      await foreignBooth.stop()
    }
  })

  it('a revoked session is rejected by cart and payment within 1 s, every trial (p50/p99 printed)', async () => {
    const latencies: number[] = []
    for (let trial = 0; trial < 30; trial++) {
      const { access_token } = await buyer()
      assert.equal((await getCart(access_token)).status, 200)
      assert.equal((await getPayments(access_token)).status, 200)
      const logout = await call(`${booth.url}/logout`, {
        method: 'POST',
        headers: bearer(access_token),
      })
      assert.equal(logout.status, 200)
      const [toCart, toPayment] = await Promise.all([
        msUntilRejected(async () => (await getCart(access_token)).status),
        msUntilRejected(async () => (await getPayments(access_token)).status),
      ])
      latencies.push(Math.max(toCart, toPayment))
    }
    console.log(
      `# revocation reached both services: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms over ${latencies.length} trials`,
    )
    assert.ok(
      latencies.every((ms) => ms < REVOCATION_BOUND_MS),
      `every trial under ${REVOCATION_BOUND_MS} ms: ${latencies.map((ms) => ms.toFixed(0)).join(', ')}`,
    )
  })

  it('the booth killed past staleAfterMs: cart and payment keep serving valid tokens (fail-open), log and report the feed stale, and a service started meanwhile listens', async () => {
    const alive = await buyer()
    const revokedBefore = await buyer()
    await call(`${booth.url}/logout`, {
      method: 'POST',
      headers: bearer(revokedBefore.access_token),
    })
    await msUntilRejected(async () => (await getCart(revokedBefore.access_token)).status)
    await msUntilRejected(async () => (await getPayments(revokedBefore.access_token)).status)
    for (const service of [cart, payment]) {
      assert.equal((await service.health()).body.verifier.feed, 'live')
    }

    await booth.kill()
    for (const service of [cart, payment]) {
      const health = await eventually(
        () => service.health(),
        (h) => h.body.verifier.feed === 'stale',
        `${service.url} notices the silent feed`,
        STALE_AFTER_MS + 10_000,
      )
      assert.equal(health.status, 200, 'degraded, still serving')
      assert.equal(health.body.status, 'degraded')
      // the service logs before it answers, but its stdout reaches this process on a pipe of its
      // own, which may be read after the answer to /healthz
      await eventually(
        async () => service.output(),
        (output) => /"level":"warn","msg":"feed\.stale"/.test(output),
        `${service.url} logs the stale feed as a warning`,
        5_000,
      )
    }
    assert.equal((await getCart(alive.access_token)).status, 200, 'cart serves past the bound')
    assert.equal((await getPayments(alive.access_token)).status, 200, 'payment serves past it')
    const add = await call(`${cart.url}/cart/items`, {
      method: 'POST',
      headers: { ...bearer(alive.access_token), 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'bus-token', qty: 1 }),
    })
    assert.equal(add.status, 201)
    const checkout = await call(`${cart.url}/checkout`, {
      method: 'POST',
      headers: bearer(alive.access_token),
    })
    assert.equal(
      checkout.status,
      200,
      `checkout pays with the cached service token: ${checkout.text}`,
    )
    assert.equal(
      (await getCart(revokedBefore.access_token)).status,
      401,
      'a revocation learnt before stays',
    )
    assert.equal((await getPayments(revokedBefore.access_token)).status, 401)

    // A service (re)started while the booth is down comes up, says so, and waits for the booth.
    const latePort = await freePort()
    const late = await startService(
      'cart.ts',
      latePort,
      { ...cartEnv, SHOP_CART_PORT: String(latePort) },
      'listening',
    )
    try {
      const starting = await late.health()
      assert.equal(starting.status, 503)
      assert.equal(starting.body.status, 'starting')
      assert.equal(
        (await call(`${late.url}/cart`, { headers: bearer(alive.access_token) })).status,
        503,
      )

      await restartBooth()
      for (const service of [cart, payment, late]) {
        // live feed and keys: a late service loads its keys once the booth is back, which may
        // come a moment after the feed's backlog
        const health = await eventually(
          () => service.health(),
          (h) => h.body.status === 'ok',
          `${service.url} reconnects`,
        )
        assert.equal(health.status, 200)
        assert.equal(health.body.verifier.feed, 'live')
        assert.ok(health.body.verifier.keys > 0)
      }
      const cartOfLate = await call(`${late.url}/cart`, { headers: bearer(alive.access_token) })
      assert.equal(cartOfLate.status, 200, 'the late service serves once the booth is back')
      const revokedAtLate = await call(`${late.url}/cart`, {
        headers: bearer(revokedBefore.access_token),
      })
      assert.equal(revokedAtLate.status, 401, 'and knows the revocations from its first backlog')
    } finally {
      await late.stop()
    }
  })

  it('the booth restarts: cart and payment resume from their last event id and reject a session revoked while it was down', async () => {
    const alive = await buyer()
    const victim = await buyer()
    const before = await Promise.all([cart.health(), payment.health()])
    for (const health of before) assert.equal(health.body.verifier.feed, 'live')

    assert.equal(await booth.stop(), 0)
    // The operator revokes the session on the booth's store while no booth runs.
    const revoke = await runCli(['sessions', 'revoke', sidOf(victim.access_token)], booth.env)
    assert.equal(revoke.code, 0, revoke.stderr)
    assert.equal(
      (await getCart(victim.access_token)).status,
      200,
      'no booth, no feed: the revocation is not known yet (fail-open)',
    )

    await restartBooth()
    for (const [i, probe] of [getCart, getPayments].entries()) {
      await eventually(
        async () => (await probe(victim.access_token)).status,
        (status) => status === 401,
        `${i === 0 ? 'cart' : 'payment'} learns the revocation made while the booth was down`,
      )
    }
    const resumed = await Promise.all([cart.health(), payment.health()])
    for (const [i, health] of resumed.entries()) {
      assert.equal(health.body.verifier.feed, 'live')
      assert.ok(
        health.body.verifier.lastEventId > (before[i]!.body.verifier.lastEventId ?? 0),
        `lastEventId advanced: ${before[i]!.body.verifier.lastEventId} → ${health.body.verifier.lastEventId}`,
      )
    }
    assert.equal((await getCart(alive.access_token)).status, 200)
    assert.equal((await getPayments(alive.access_token)).status, 200)
  })
})
