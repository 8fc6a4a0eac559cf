/**
 * The articles' picture as real processes on loopback: the booth, the cart service (Express)
 * and the payment service (Hono), each verifying tokens on its own (issue 3, "examples/shop"):
 * revocation within 1 s, the booth killed for longer than the services' staleness bound, and a
 * booth restarted after an operator revoked sessions while it was down. The services reach the
 * booth through a pass-through door that notes what the revocation feed was asked, so that the
 * resume from the last event id is seen as the booth received it.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { freePort, removeDir, runCli, startBooth, type Booth } from '../../../test/support/booth.ts'
import { basic, bearer, call, postForm, postJson } from '../../../test/support/http.ts'

const AUDIENCE = 'https://shop.example'
// As start.ts sets it up: `payment:pay` is no scope a user may ask for (config.ts)
const USER_SCOPES = 'profile cart:read cart:write'
// its issuer, the door's address, is set once the door is open
const boothEnv: Record<string, string> = {
  TOKENBOOTH_AUDIENCE: AUDIENCE,
  TOKENBOOTH_SCOPES: USER_SCOPES,
  TOKENBOOTH_DEFAULT_SCOPE: USER_SCOPES,
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

interface FeedRequest {
  /** The client_id of the Basic credentials: which service asked. */
  client: string
  lastEventId: string | undefined
  /** The booth's answer; undefined while the booth is down (the connection failed). */
  status?: number
}

interface Door {
  url: string
  /** Every request for the revocation feed that came through, oldest first. */
  feedRequests: FeedRequest[]
  close(): Promise<void>
}

/**
 * The services' way to the booth: a pass-through on loopback that forwards every request and
 * answer unchanged (the feed's stream included) and notes, for each request of the revocation
 * feed, who asked and with which `Last-Event-ID`: what the booth received, which the booth does
 * not log. The booth's issuer is the door's address, so tokens, discovery and JWKS all name it.
 * While the booth is down a connection through the door fails, as one to the booth would.
 */
async function openDoor(boothPort: () => number): Promise<Door> {
  const feedRequests: FeedRequest[] = []
  const server = createServer((req, res) => {
    let seen: FeedRequest | undefined
    if (req.url?.startsWith('/events/revocations')) {
      const credentials = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
      const id = Buffer.from(credentials, 'base64').toString().split(':')[0] ?? ''
      const lastEventId = req.headers['last-event-id']
      seen = { client: decodeURIComponent(id), lastEventId: lastEventId as string | undefined }
      feedRequests.push(seen)
    }
    // one connection per request: nothing pooled here outlives the booth it went to
    const headers: Record<string, string | string[] | undefined> = {
      ...req.headers,
      connection: 'close',
    }
    delete headers['keep-alive']
    const upstream = request(
      { host: '127.0.0.1', port: boothPort(), method: req.method, path: req.url, headers },
      (answer) => {
        if (seen) seen.status = answer.statusCode
        const forwarded = { ...answer.headers }
        delete forwarded.connection
        delete forwarded['keep-alive']
        res.writeHead(answer.statusCode ?? 502, forwarded)
        answer.pipe(res)
        // the booth gone mid-stream: the service's stream breaks too
        answer.on('close', () => {
          if (!answer.complete) res.destroy()
        })
      },
    )
    upstream.on('error', () => res.destroy())
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    req.pipe(upstream)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    feedRequests,
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
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

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, string>
const sidOf = (token: string) => claimsOf(token).sid!
const subOf = (token: string) => claimsOf(token).sub!
const jtiOf = (token: string) => claimsOf(token).jti!

describe('the shop', () => {
  let door: Door
  let booth: Booth
  let boothPort: number
  let cart: Service
  let payment: Service
  let serviceEnv: Record<string, string>
  let cartEnv: Record<string, string>
  let paymentEnv: Record<string, string>
  let cartClientId: string
  let cartClientSecret: string
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
  const addItem = (url: string, token: string, sku: string, qty = 1) =>
    call(`${url}/cart/items`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ sku, qty }),
    })
  const checkoutAt = (url: string, token: string) =>
    call(`${url}/checkout`, { method: 'POST', headers: bearer(token) })
  /** A second booth on the same store (so the same signing keys) and issuer, configured apart. */
  const sameKeysBooth = (env: Record<string, string>) =>
    startBooth({ env: { ...boothEnv, ...env }, dataDir: booth.dataDir })

  before(async () => {
    boothPort = await freePort()
    door = await openDoor(() => boothPort)
    boothEnv.TOKENBOOTH_ISSUER = door.url
    booth = await startBooth({ env: boothEnv, port: boothPort })
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
    cartClientId = cartClient.client_id
    cartClientSecret = cartClient.client_secret
    const [cartPort, paymentPort] = [await freePort(), await freePort()]
    serviceEnv = {
      SHOP_BOOTH_URL: door.url,
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
      PAYMENT_CART_CLIENT_ID: cartClient.client_id,
    }
    ;[cart, payment] = await Promise.all([
      startService('cart.ts', cartPort, cartEnv),
      startService('payment.ts', paymentPort, paymentEnv),
    ])
  })

  after(async () => {
    await Promise.all([cart?.stop(), payment?.stop()])
    await booth?.stop()
    await door?.close()
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

  it('only the cart pays: a user cannot get payment:pay, and a user token carrying it is refused', async () => {
    const username = `buyer${++n}`
    const password = 'a bus token, please'
    await postJson(`${booth.url}/signup`, { username, password })
    const asked = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username,
      password,
      scope: 'payment:pay cart:read',
    })
    assert.equal(asked.status, 400, asked.text)
    assert.equal(asked.body.error, 'invalid_scope')
    const victim = await buyer()

    // A booth that does let users ask for it (the shop's old configuration), on the same keys
    // and issuer: its token verifies at payment, scope and all, and must still not pay.
    const lax = await sameKeysBooth({ TOKENBOOTH_SCOPES: `${USER_SCOPES} payment:pay` })
    try {
      const minted = await postForm(`${lax.url}/token`, {
        grant_type: 'password',
        username,
        password,
        scope: 'payment:pay cart:read',
      })
      assert.equal(minted.status, 200, minted.text)
      assert.equal(minted.body.scope, 'payment:pay cart:read')
      assert.equal((await getPayments(minted.body.access_token)).status, 200, 'a valid token')
      const charge = await call(`${payment.url}/payments`, {
        method: 'POST',
        headers: { ...bearer(minted.body.access_token), 'content-type': 'application/json' },
        body: JSON.stringify({ user: subOf(victim.access_token), amount: 99_999 }),
      })
      assert.equal(charge.status, 403, charge.text)
      assert.equal(charge.body.error, 'access_denied')
      assert.deepEqual(
        (await getPayments(victim.access_token)).body.payments,
        [],
        'nothing charged',
      )
      // a user's login through the cart's own client: the cart's client_id, but a session
      const viaCart = await postForm(
        `${lax.url}/token`,
        { grant_type: 'password', username, password, scope: 'payment:pay' },
        basic(cartClientId, cartClientSecret),
      )
      assert.equal(viaCart.status, 200, viaCart.text)
      const byUser = await call(`${payment.url}/payments`, {
        method: 'POST',
        headers: { ...bearer(viaCart.body.access_token), 'content-type': 'application/json' },
        body: JSON.stringify({ user: subOf(victim.access_token), amount: 1 }),
      })
      assert.equal(byUser.status, 403, byUser.text)
    } finally {
      await lax.stop()
    }

    // Another service with payment:pay of its own: a session-less token, but not the cart's
    const other = JSON.parse(
      (
        await runCli(
          ['clients', 'add', `other-service-${n}`, '--scope', 'payment:pay', '--json'],
          booth.env,
        )
      ).stdout,
    )
    const serviceToken = await postForm(
      `${booth.url}/token`,
      { grant_type: 'client_credentials', scope: 'payment:pay' },
      basic(other.client_id, other.client_secret),
    )
    assert.equal(serviceToken.status, 200, serviceToken.text)
    const byOther = await call(`${payment.url}/payments`, {
      method: 'POST',
      headers: { ...bearer(serviceToken.body.access_token), 'content-type': 'application/json' },
      body: JSON.stringify({ user: subOf(victim.access_token), amount: 1 }),
    })
    assert.equal(byOther.status, 403, byOther.text)
    assert.deepEqual((await getPayments(victim.access_token)).body.payments, [])
  })

  it('parallel checkouts of one cart charge it once', async () => {
    const { access_token } = await buyer()
    assert.equal((await addItem(cart.url, access_token, 'monthly-pass')).status, 201)
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => checkoutAt(cart.url, access_token)),
    )
    const statuses = answers.map((a) => a.status).sort((a, b) => a - b)
    assert.deepEqual(statuses, [200, ...Array(9).fill(400)], answers.map((a) => a.text).join('\n'))
    const payments = await getPayments(access_token)
    assert.equal(payments.body.payments.length, 1, JSON.stringify(payments.body))
    assert.equal(payments.body.payments[0].amount, 55_000)
    assert.deepEqual((await getCart(access_token)).body.items, [], 'the cart is empty after')
  })

  it('payment refuses the cached service token: the cart drops it, gets a new one and pays', async () => {
    const { access_token } = await buyer()
    assert.equal((await addItem(cart.url, access_token, 'bus-token')).status, 201)
    assert.equal((await checkoutAt(cart.url, access_token)).status, 200)
    const paidWith = () =>
      [...payment.output().matchAll(/"msg":"payment taken".*"by":"([^"]+)".*"jti":"([^"]+)"/g)]
        .filter((m) => m[1] === cartClientId)
        .map((m) => m[2]!)
    const cached = paidWith().at(-1)!
    // The operator revokes the cart's service token (a leaked token, say), together with a user
    // token behind it in the feed: once payment refuses that one, it knows of both.
    const marker = await buyer()
    const revoke = await runCli(['tokens', 'revoke', cached, jtiOf(marker.access_token)], booth.env)
    assert.equal(revoke.code, 0, revoke.stderr)
    await msUntilRejected(async () => (await getPayments(marker.access_token)).status)

    assert.equal((await addItem(cart.url, access_token, 'bus-token')).status, 201)
    const again = await checkoutAt(cart.url, access_token)
    assert.equal(again.status, 200, again.text)
    const used = paidWith().at(-1)!
    assert.notEqual(used, cached, 'paid with a new service token')
    assert.match(cart.output(), /payment refused the service token/)
  })

  it('a tampered or foreign token, or one for another audience, is rejected by both services', async () => {
    const { access_token } = await buyer()
    const [h, p, s] = access_token.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`
    // the same issuer, keys of its own
    const foreignBooth = await startBooth({ env: boothEnv })
    // the same issuer and keys, tokens for another audience
    const elsewhere = await sameKeysBooth({ TOKENBOOTH_AUDIENCE: 'https://elsewhere.example' })
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
      const other = await postForm(`${elsewhere.url}/token`, {
        grant_type: 'password',
        username: `buyer${n}`,
        password: 'a bus token, please',
      })
      assert.equal(other.status, 200, other.text)
      assert.equal(claimsOf(other.body.access_token).aud, 'https://elsewhere.example')
      assert.equal(claimsOf(other.body.access_token).iss, door.url)
      for (const token of [
        tampered,
        foreign.body.access_token as string,
        other.body.access_token as string,
        `${h}.${p}.`,
      ]) {
        for (const res of [await getCart(token), await getPayments(token)]) {
          assert.equal(res.status, 401)
          assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/)
        }
      }
    } finally {
      await Promise.all([foreignBooth.stop(), elsewhere.stop()])
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
    // A cart that has verified tokens but never paid: it holds no service token when the booth
    // goes down.
    const freshPort = await freePort()
    const fresh = await startService('cart.ts', freshPort, {
      ...cartEnv,
      SHOP_CART_PORT: String(freshPort),
    })

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
    try {
      assert.equal((await addItem(fresh.url, alive.access_token, 'day-pass')).status, 201)
      const unpaid = await checkoutAt(fresh.url, alive.access_token)
      assert.equal(unpaid.status, 503, unpaid.text)
      assert.equal(unpaid.body.error, 'booth_unreachable', 'the booth is down, not payment')
      assert.equal(unpaid.headers.get('retry-after'), '5')
      const kept = await call(`${fresh.url}/cart`, { headers: bearer(alive.access_token) })
      assert.equal(kept.body.items.length, 1, 'not paid: the items are still in the cart')
    } finally {
      await fresh.stop()
    }

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

  it('the booth restarts: cart and payment resume from their last event id, miss none of the revocations made while it was down, and forget none made before', async () => {
    const alive = await buyer()
    const victims = [await buyer(), await buyer(), await buyer()]
    // revoked while the booth is up, learnt by both before the outage
    const earlier = await buyer()
    await call(`${booth.url}/logout`, { method: 'POST', headers: bearer(earlier.access_token) })
    await msUntilRejected(async () => (await getCart(earlier.access_token)).status)
    await msUntilRejected(async () => (await getPayments(earlier.access_token)).status)
    const before = await Promise.all([cart.health(), payment.health()])
    for (const health of before) {
      assert.equal(health.body.verifier.feed, 'live')
      assert.equal(typeof health.body.verifier.lastEventId, 'number')
    }

    assert.equal(await booth.stop(), 0)
    const outage = door.feedRequests.length
    // The operator revokes sessions on the booth's store while no booth runs.
    const revoke = await runCli(
      ['sessions', 'revoke', ...victims.map((v) => sidOf(v.access_token))],
      booth.env,
    )
    assert.equal(revoke.code, 0, revoke.stderr)
    assert.equal(
      (await getCart(victims[0]!.access_token)).status,
      200,
      'no booth, no feed: the revocation is not known yet (fail-open)',
    )

    await restartBooth()
    for (const victim of victims) {
      for (const [i, probe] of [getCart, getPayments].entries()) {
        await eventually(
          async () => (await probe(victim.access_token)).status,
          (status) => status === 401,
          `${i === 0 ? 'cart' : 'payment'} learns every revocation made while the booth was down`,
        )
      }
    }
    const resumed = await Promise.all([cart.health(), payment.health()])
    for (const [i, health] of resumed.entries()) {
      assert.equal(health.body.verifier.feed, 'live')
      assert.ok(
        health.body.verifier.lastEventId >= before[i]!.body.verifier.lastEventId + victims.length,
        `lastEventId advanced past the outage: ${before[i]!.body.verifier.lastEventId} → ${health.body.verifier.lastEventId}`,
      )
    }
    // The resume as the booth received it: every feed request since the outage, up to the first
    // one it answered, asked for what came after the last event id held before it (a later
    // reconnect, after a stall on a busy machine, rightly asks for more)
    for (const [i, client] of [cartClientId, paymentEnv.PAYMENT_CLIENT_ID!].entries()) {
      const all = door.feedRequests.slice(outage).filter((r) => r.client === client)
      const answered = all.findIndex((r) => r.status === 200)
      assert.ok(answered !== -1, `${client} reconnected: ${JSON.stringify(all)}`)
      const since = all.slice(0, answered + 1)
      for (const r of since) {
        assert.equal(
          r.lastEventId,
          String(before[i]!.body.verifier.lastEventId),
          `${client} resumes from its last event id: ${JSON.stringify(since)}`,
        )
      }
    }
    // nothing forgotten: the resumed backlog held only what came after, the rest stayed known
    assert.equal((await getCart(earlier.access_token)).status, 401, 'cart still refuses it')
    assert.equal((await getPayments(earlier.access_token)).status, 401, 'and so does payment')
    assert.equal((await getCart(alive.access_token)).status, 200)
    assert.equal((await getPayments(alive.access_token)).status, 200)
  })
})
