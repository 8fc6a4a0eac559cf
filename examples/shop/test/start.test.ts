/**
 * The shop as its README tells it (issue 3, "A buyer script that logs in, uses the cart, pays,
 * refreshes, logs out" and "One command starts it all"): `start.ts` on free ports, then
 * `buyer.ts`; then the booth alone is stopped, the services keep serving, and
 * `start.ts booth` brings it back. A start that fails stops whatever it had started.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { freePort, removeDir } from '../../../test/support/booth.ts'
import { bearer, call, postForm, postJson } from '../../../test/support/http.ts'

const script = (name: string) => fileURLToPath(new URL(`../${name}`, import.meta.url))

interface Run {
  child: ChildProcess
  output(): string
  exited: Promise<[number | null, NodeJS.Signals | null]>
}

function run(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d))
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, output: () => output, exited }
}

async function waitForOutput(process: Run, text: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!process.output().includes(text)) {
    if (process.child.exitCode !== null)
      assert.fail(`exited (${process.child.exitCode}) before "${text}":\n${process.output()}`)
    if (Date.now() > deadline) assert.fail(`no "${text}" within ${ms} ms:\n${process.output()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function reachable(url: string): Promise<boolean> {
  try {
    await fetch(url)
    return true
  } catch {
    return false
  }
}

async function stop(process: Run | undefined): Promise<void> {
  if (process === undefined || process.child.exitCode !== null) return
  process.child.kill('SIGTERM')
  await process.exited
}

describe('the shop, started with one command', () => {
  let env: Record<string, string>
  let boothUrl: string
  let cartUrl: string
  let paymentUrl: string
  let dataDir: string
  let shop: Run | undefined
  let boothAgain: Run | undefined

  before(async () => {
    const [boothPort, cartPort, paymentPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ]
    dataDir = mkdtempSync(join(tmpdir(), 'tokenbooth-shop-'))
    boothUrl = `http://127.0.0.1:${boothPort}`
    cartUrl = `http://127.0.0.1:${cartPort}`
    paymentUrl = `http://127.0.0.1:${paymentPort}`
    env = {
      PATH: process.env.PATH ?? '',
      SHOP_BOOTH_URL: boothUrl,
      SHOP_CART_PORT: String(cartPort),
      SHOP_PAYMENT_PORT: String(paymentPort),
      SHOP_DATA_DIR: dataDir,
    }
  })
  after(async () => {
    await stop(boothAgain)
    await stop(shop)
    removeDir(dataDir)
  })

  it('start.ts opens the shop and prints where everything is', async () => {
    shop = run([script('start.ts')], env)
    await waitForOutput(shop, 'Stop everything with Ctrl-C.')
    const out = shop.output()
    assert.match(out, new RegExp(`booth +${boothUrl} +\\(pid \\d+;`))
    assert.match(out, new RegExp(`cart +${cartUrl}`))
    assert.match(out, new RegExp(`payment +${paymentUrl}`))
    assert.match(out, /Stop only the booth: +kill \d+/)
    for (const url of [boothUrl, cartUrl, paymentUrl]) {
      assert.equal((await call(`${url}/healthz`)).status, 200, `${url} is healthy`)
    }
  })

  it('buyer.ts logs in, fills the cart, pays, refreshes and logs out, and exits 0', async () => {
    const buyer = run([script('buyer.ts')], env)
    const [code] = await buyer.exited
    const out = buyer.output()
    assert.equal(code, 0, out)
    const expected = [
      /^• signed up as buyer\w+$/,
      /^• logged in at the booth: scope "profile cart:read cart:write", access token valid 900 s$/,
      /^• added two day passes to the cart$/,
      /^ {4}\{"items":\[\{"sku":"day-pass","qty":2,"price":5000\}\]\}$/,
      /^• the cart, checked by the cart service alone$/,
      /"total":10000\}$/,
      /^• checked out: cart → payment with its own service token$/,
      /^ {4}\{"paid":10000,"receipt":\{"id":\d+,"user":"[^"]+","amount":10000,"by":"cart-service"/,
      /^• the same user token also works at the payment service$/,
      /^ {4}\{"payments":\[\{.*"amount":10000,"by":"cart-service"/,
      /^• refreshed: a new access token and a new \(rotated\) refresh token$/,
      /^ {4}\{"rotated":true\}$/,
      /^• re-using the old refresh token within the grace window gives the same successor: 200$/,
      /^• logged out: the cart service refused the token \d+ ms later, without asking the booth$/,
    ]
    const lines = out.trimEnd().split('\n')
    assert.equal(lines.length, expected.length, out)
    expected.forEach((line, i) => assert.match(lines[i]!, line))
  })

  it('the booth start.ts runs gives payment:pay to no user (the buyer above paid through the cart)', async () => {
    await postJson(`${boothUrl}/signup`, { username: 'mallory', password: 'a bus token, please' })
    const login = await postForm(`${boothUrl}/token`, {
      grant_type: 'password',
      username: 'mallory',
      password: 'a bus token, please',
      scope: 'payment:pay',
    })
    assert.equal(login.status, 400, login.text)
    assert.equal(login.body.error, 'invalid_scope')
  })

  it('with only the booth stopped (kill PID), cart and payment keep serving; start.ts booth brings it back', async () => {
    await postJson(`${boothUrl}/signup`, {
      username: 'walkthrough',
      password: 'a bus token, please',
    })
    const login = await postForm(`${boothUrl}/token`, {
      grant_type: 'password',
      username: 'walkthrough',
      password: 'a bus token, please',
    })
    assert.equal(login.status, 200, login.text)
    const token = login.body.access_token as string

    const pid = Number(/kill (\d+)/.exec(shop!.output())![1])
    process.kill(pid, 'SIGTERM')
    for (let i = 0; (await reachable(`${boothUrl}/healthz`)) && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(await reachable(`${boothUrl}/healthz`), false, 'the booth is down')
    assert.equal((await call(`${cartUrl}/cart`, { headers: bearer(token) })).status, 200)
    assert.equal((await call(`${paymentUrl}/payments`, { headers: bearer(token) })).status, 200)
    assert.equal(shop!.child.exitCode, null, 'start.ts and the services run on')

    boothAgain = run([script('start.ts'), 'booth'], env)
    await waitForOutput(boothAgain, 'The booth is back')
    const again = await postForm(`${boothUrl}/token`, {
      grant_type: 'password',
      username: 'walkthrough',
      password: 'a bus token, please',
    })
    assert.equal(again.status, 200, 'the same data: the user is still there')
    assert.equal((await call(`${cartUrl}/cart`, { headers: bearer(token) })).status, 200)
  })

  it('Ctrl-C (SIGTERM) stops every process it started', async () => {
    await stop(boothAgain)
    await stop(shop)
    for (const url of [boothUrl, cartUrl, paymentUrl]) {
      assert.equal(await reachable(`${url}/healthz`), false, `${url} is closed`)
    }
  })
})

describe('the shop, failing to start', () => {
  it('with a port taken (by a booth of an earlier run, answering /healthz), start.ts starts nothing and exits non-zero', async () => {
    const [boothPort, cartPort, paymentPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ]
    // a leftover that answers the health check as a booth would: it must not pass for ours
    const squatter = createServer((_req, res) => res.writeHead(200).end('{"status":"ok"}'))
    squatter.listen(boothPort, '127.0.0.1')
    await once(squatter, 'listening')
    const dataDir = mkdtempSync(join(tmpdir(), 'tokenbooth-shop-'))
    try {
      for (const args of [[script('start.ts')], [script('start.ts'), 'booth']]) {
        const shop = run(args, {
          PATH: process.env.PATH ?? '',
          SHOP_BOOTH_URL: `http://127.0.0.1:${boothPort}`,
          SHOP_CART_PORT: String(cartPort),
          SHOP_PAYMENT_PORT: String(paymentPort),
          SHOP_DATA_DIR: dataDir,
        })
        const [code] = await shop.exited
        const out = shop.output()
        assert.notEqual(code, 0, out)
        assert.match(
          out,
          new RegExp(`The shop did not start: http://127.0.0.1:${boothPort} is taken`),
        )
        assert.doesNotMatch(out, /The shop is open|The booth is back|\(pid \d+\)/, out)
        for (const port of [cartPort, paymentPort]) {
          assert.equal(await reachable(`http://127.0.0.1:${port}/healthz`), false, `${port}`)
        }
      }
    } finally {
      squatter.close()
      removeDir(dataDir)
    }
  })

  it('the cart exits non-zero when it cannot listen, instead of logging "listening"', async () => {
    const cartPort = await freePort()
    const squatter = createServer((_req, res) => res.writeHead(404).end('not the cart'))
    squatter.listen(cartPort, '127.0.0.1')
    await once(squatter, 'listening')
    try {
      const cart = run([script('cart.ts')], {
        PATH: process.env.PATH ?? '',
        // no booth there: the verifier keeps trying in the background, the listen fails at once
        SHOP_BOOTH_URL: `http://127.0.0.1:${await freePort()}`,
        SHOP_CART_PORT: String(cartPort),
        CART_CLIENT_ID: 'cart-service',
        CART_CLIENT_SECRET: 'unused',
      })
      const [code] = await cart.exited
      const out = cart.output()
      assert.equal(code, 1, out)
      assert.match(out, /"service":"cart","level":"error","msg":"cannot listen"/)
      assert.doesNotMatch(out, /"msg":"listening"/)
    } finally {
      squatter.close()
    }
  })
})
