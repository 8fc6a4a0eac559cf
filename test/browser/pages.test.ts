/**
 * The booth's pages in a real browser (issue 4): Debian's Chromium driven by playwright-core,
 * against the real `tokenbooth` binary. Screenshots go to test-artifacts/browser/ (and, when a test fails,
 * one of every open page as FAILED-<test>-<n>.png).
 *
 * Playwright's own tools stand in for what a browser user would do or suffer: `route` makes the
 * network fail (or a proxy answer), `clock` stops a page's timers. Nothing of ours is replaced.
 */
import assert from 'node:assert/strict'
import {
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Page,
  type Request,
} from 'playwright-core'
import { startBooth, type Booth } from '../support/booth.ts'
import { bearer, call, postForm, postJson } from '../support/http.ts'

const ARTIFACTS = new URL('../../test-artifacts/browser/', import.meta.url).pathname
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** The shortest access-token lifetime the booth allows: the client refreshes after 5 s. */
const TTL = 10
const PASSWORD = 'a long bus ride home'
const LINUX = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36'
const ANDROID = 'Mozilla/5.0 (Linux; Android 15) Chrome/156.0 Mobile Safari/537.36'
const UNREACHABLE = 'The booth could not be reached. Check your connection and try again.'

let booth: Booth
let browser: Browser

async function counter(event: string): Promise<number> {
  const text = await (await fetch(`${booth.url}/metrics`)).text()
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`tokenbooth_events_total{event="${event}"} `))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/** Refresh-token grants the booth answered: rotations, grace-window retries and reuses. */
async function refreshCounts() {
  const [rotated, retried, reused] = await Promise.all(
    ['rotated', 'retried', 'reused'].map((e) => counter(`refresh_token.${e}`)),
  )
  return { rotated: rotated!, retried: retried!, reused: reused! }
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
}

/**
 * `it`, plus a screenshot of every open page when the test fails; every context is closed after.
 * A screenshot that cannot be taken (a crashed page) is reported, and the test's error still
 * wins.
 */
function browserTest(name: string, body: () => Promise<void>) {
  it(name, async (t) => {
    try {
      await body()
    } catch (error) {
      const slug = name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .slice(0, 60)
        .replace(/^-|-$/g, '')
      const pages = browser.contexts().flatMap((c) => c.pages())
      for (const [i, page] of pages.entries()) {
        const path = `${ARTIFACTS}FAILED-${slug}-${i + 1}.png`
        await page
          .screenshot({ path, fullPage: true, timeout: 5000 })
          .catch((e: Error) => t.diagnostic(`no screenshot of ${page.url()}: ${e.message}`))
      }
      throw error
    } finally {
      for (const context of browser.contexts()) await context.close()
    }
  })
}

const rows = (page: Page) => page.locator('#sessions tr')
/** A <section aria-labelledby> is a landmark region named by its heading. */
const region = (page: Page, name: string) => page.getByRole('region', { name })
const attr = (page: Page, selector: string, name: string) =>
  page.locator(selector).getAttribute(name)

let users = 0
async function newUser(prefix: string): Promise<string> {
  const username = `${prefix}${++users}`
  const res = await postJson(`${booth.url}/signup`, { username, password: PASSWORD })
  assert.equal(res.status, 201, res.text)
  return username
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.goto(`${booth.url}/login`)
  const form = region(page, 'Sign in')
  await form.getByLabel('Username').fill(username)
  await form.getByLabel('Password').fill(PASSWORD)
  await form.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${booth.url}/account`)
  await rows(page).first().waitFor()
}

/** The error box and the fields it describes, as assistive technology sees them. */
async function errorTies(page: Page, ...ids: string[]) {
  const out: Record<string, { invalid: string | null; describedBy: string | null }> = {}
  for (const id of ids) {
    out[id] = {
      invalid: await attr(page, `#${id}`, 'aria-invalid'),
      describedBy: await attr(page, `#${id}`, 'aria-describedby'),
    }
  }
  return out
}

/** A round trip to the page: request events the page caused before it have reached us. */
const settle = (page: Page) => page.evaluate(() => true)

const focused = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '')

describe('pages in Chromium', () => {
  before(async () => {
    // This run's screenshots only: none left over from an earlier run can pass for today's.
    rmSync(ARTIFACTS, { recursive: true, force: true })
    mkdirSync(ARTIFACTS, { recursive: true })
    booth = await startBooth({ env: { TOKENBOOTH_ACCESS_TOKEN_TTL: String(TTL) } })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  })

  after(async () => {
    await browser?.close()
    await booth?.stop()
  })

  browserTest(
    'signs up with every field found by its label; refusals are announced and tied to their field',
    async () => {
      const page = await (await browser.newContext({ userAgent: LINUX })).newPage()
      await page.goto(`${booth.url}/login`)
      const signin = region(page, 'Sign in')
      const signup = region(page, 'Create an account')
      for (const form of [signin, signup]) {
        for (const label of ['Username', 'Password'])
          assert.equal(await form.getByLabel(label).count(), 1)
      }
      const username = signup.getByLabel('Username')
      const password = signup.getByLabel('Password')
      assert.match(await page.locator('#password-rules').innerText(), /at least 8 characters/i)
      assert.equal(await attr(page, '#signup-password', 'aria-describedby'), 'password-rules')
      // The rules list ASCII "-", which is what the booth accepts; U+2212 "−" is refused.
      assert.match(await page.locator('#username-rules').innerText(), /\. _ @ \+ - \(/)

      await username.fill('mi\u2212na')
      await password.fill(PASSWORD)
      await signup.getByRole('button', { name: 'Create account and sign in' }).click()
      const alert = signup.getByRole('alert')
      await alert.filter({ hasText: /^The username must be 3 to 64 letters/ }).waitFor()
      assert.deepEqual(await errorTies(page, 'signup-username', 'signup-password'), {
        'signup-username': { invalid: 'true', describedBy: 'username-rules signup-error' },
        'signup-password': { invalid: null, describedBy: 'password-rules' },
      })
      assert.equal(await focused(page), 'signup-username')

      await username.fill('mina')
      await password.fill('password1')
      await signup.getByRole('button', { name: 'Create account and sign in' }).click()
      await alert.filter({ hasText: 'This password is too common; choose another.' }).waitFor()
      assert.deepEqual(await errorTies(page, 'signup-username', 'signup-password'), {
        'signup-username': { invalid: null, describedBy: 'username-rules' },
        'signup-password': { invalid: 'true', describedBy: 'password-rules signup-error' },
      })
      assert.equal(await focused(page), 'signup-password')
      // What a screen reader gets: the alert's text, and the password box marked invalid.
      const tree = await signup.ariaSnapshot()
      assert.match(tree, /- alert: This password is too common; choose another\./)
      assert.match(tree, /- textbox "Password" \[invalid\]/)
      assert.doesNotMatch(tree, /- textbox "Username" \[invalid\]/)
      await shot(page, '01-signup-common-password')

      await password.fill(PASSWORD)
      await signup.getByRole('button', { name: 'Create account and sign in' }).click()
      await page.waitForURL(`${booth.url}/account`)
      await rows(page).first().waitFor()
      assert.equal(await rows(page).count(), 1)
      assert.match(await rows(page).first().innerText(), /Chrome on Linux.*this device/s)
      await shot(page, '02-account-after-signup')

      const again = await page.context().newPage()
      await again.goto(`${booth.url}/login`)
      await region(again, 'Create an account').getByLabel('Username').fill('MINA')
      await region(again, 'Create an account').getByLabel('Password').fill('another long phrase')
      await region(again, 'Create an account')
        .getByRole('button', { name: /Create account/ })
        .click()
      await region(again, 'Create an account')
        .getByRole('alert')
        .filter({ hasText: 'This username is taken.' })
        .waitFor()
      assert.equal(await attr(again, '#signup-username', 'aria-invalid'), 'true')
    },
  )

  browserTest(
    'signs in with the keyboard alone; a wrong password is announced and marks both fields',
    async () => {
      const username = await newUser('keys')
      const page = await (await browser.newContext({ userAgent: ANDROID })).newPage()
      await page.goto(`${booth.url}/login`)
      const presses: string[] = []
      while ((await focused(page)) !== 'signin-username') {
        await page.keyboard.press('Tab')
        presses.push(await page.evaluate(() => document.activeElement?.textContent ?? ''))
        assert.ok(presses.length < 10, `Tab never reached the username field: ${presses}`)
      }
      assert.deepEqual(presses.slice(0, 3), ['tokenbooth', 'Account', 'Token debugger'])
      assert.equal(presses.length, 4, 'the header links, then the sign-in form')

      await page.keyboard.press('Enter')
      const alert = region(page, 'Sign in').getByRole('alert')
      await alert.filter({ hasText: 'Enter your username.' }).waitFor()
      assert.equal(await attr(page, '#signin-username', 'aria-invalid'), 'true')
      assert.equal(await attr(page, '#signin-username', 'aria-describedby'), 'signin-error')
      assert.equal(await focused(page), 'signin-username')

      await page.keyboard.type(username)
      await page.keyboard.press('Tab')
      assert.equal(await focused(page), 'signin-password')
      await page.keyboard.type('not the password')
      await page.keyboard.press('Enter')
      await alert.filter({ hasText: 'Wrong username or password.' }).waitFor()
      // The booth does not say which one was wrong (RFC 6749 §5.2), so both are marked.
      assert.deepEqual(await errorTies(page, 'signin-username', 'signin-password'), {
        'signin-username': { invalid: 'true', describedBy: 'signin-error' },
        'signin-password': { invalid: 'true', describedBy: 'signin-error' },
      })
      assert.equal(
        await focused(page),
        'signin-password',
        'focus back on the password, to retype it',
      )
      await shot(page, '03-signin-wrong-password')

      await page.keyboard.press('ControlOrMeta+A')
      await page.keyboard.type(PASSWORD)
      await page.keyboard.press('Enter')
      await page.waitForURL(`${booth.url}/account`)
      await rows(page).first().waitFor()
    },
  )

  browserTest(
    'shows an unreachable booth and a proxy error instead of failing silently',
    async () => {
      const username = await newUser('offline')
      const page = await (await browser.newContext({ userAgent: LINUX })).newPage()
      await page.goto(`${booth.url}/login`)
      const signin = region(page, 'Sign in')
      const signup = region(page, 'Create an account')

      await page.route(`${booth.url}/token`, (route) => route.abort('connectionrefused'))
      await signin.getByLabel('Username').fill(username)
      await signin.getByLabel('Password').fill(PASSWORD)
      await signin.getByRole('button', { name: 'Sign in' }).click()
      await signin.getByRole('alert').filter({ hasText: UNREACHABLE }).waitFor()
      assert.equal(
        await attr(page, '#signin-password', 'aria-invalid'),
        null,
        'no field is at fault',
      )

      await page.route(`${booth.url}/signup`, (route) => route.abort('connectionrefused'))
      await signup.getByLabel('Username').fill('nobody')
      await signup.getByLabel('Password').fill(PASSWORD)
      await signup.getByRole('button', { name: /Create account/ }).click()
      await signup.getByRole('alert').filter({ hasText: UNREACHABLE }).waitFor()
      await shot(page, '04-booth-unreachable')

      // A proxy in front of the booth answers 503 with an RFC 6749 error body: its own words show.
      await page.unroute(`${booth.url}/token`)
      await page.route(`${booth.url}/token`, (route) =>
        route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({
            error: 'temporarily_unavailable',
            error_description: 'the booth is restarting',
          }),
        }),
      )
      await signin.getByRole('button', { name: 'Sign in' }).click()
      await signin.getByRole('alert').filter({ hasText: 'The booth is restarting.' }).waitFor()
      assert.equal(await signin.getByRole('button', { name: 'Sign in' }).isEnabled(), true)
    },
  )

  /**
   * Two tabs of one browser, both past the refresh point and past the access token's expiry,
   * load at the same moment. The pages' timers are stopped first (their 3 s polls would otherwise
   * refresh one tab at a time, and the test would prove nothing), and each refresh request is
   * held at the network until the other tab is provably inside its own refresh: waiting on the
   * Web Lock, or with its own refresh request sent. So the refreshes overlap for certain.
   */
  async function twoTabsPastExpiry(coordinated: boolean) {
    const username = await newUser(coordinated ? 'tabs' : 'nolocks')
    const context = await browser.newContext({ userAgent: LINUX })
    await context.clock.install()
    if (!coordinated) {
      // A browser without Web Locks: the client then runs without cross-tab coordination.
      await context.addInitScript(() => {
        delete (Navigator.prototype as { locks?: unknown }).locks
      })
    }
    const tabs = [await context.newPage(), await context.newPage()] as const
    await signIn(tabs[0], username)
    await tabs[1].goto(`${booth.url}/account`)
    await rows(tabs[1]).first().waitFor()
    assert.equal(await tabs[1].evaluate(() => 'locks' in navigator), coordinated)

    await context.clock.pauseAt(Date.now() + 1000)
    // Real time passes until the browser drops the access cookie (its Max-Age is the lifetime).
    await until(
      async () => !(await context.cookies()).some((c) => c.name === 'tb_at'),
      (TTL + 10) * 1000,
      'the access token to expire',
    )
    await context.clock.setSystemTime(Date.now())
    const updatedBefore = await Promise.all(tabs.map((p) => p.locator('#updated').innerText()))
    const before = await refreshCounts()

    let requests = 0
    let release = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    await context.route(`${booth.url}/token`, async (route) => {
      if (!(route.request().postData() ?? '').includes('grant_type=refresh_token'))
        return route.continue()
      requests++
      await gate
      await route.continue()
    })
    const loads = Promise.all(
      tabs.map((p) => p.evaluate((src) => import(src).then((m) => m.load()), '/assets/account.js')),
    )
    let openedBy = ''
    await until(
      async () => {
        if (requests >= 2) openedBy = 'a second refresh request'
        else if (requests === 1 && coordinated) {
          const waiting = await tabs[1].evaluate(
            async () => (await navigator.locks.query()).pending?.length ?? 0,
          )
          if (waiting > 0) openedBy = 'the other tab waiting on the lock'
        }
        return openedBy !== ''
      },
      15_000,
      'both tabs to be inside their refresh',
    )
    release()
    await loads
    await context.unroute(`${booth.url}/token`)
    const after = await refreshCounts()

    for (const [i, page] of tabs.entries()) {
      const tab = `tab ${i + 1}`
      assert.notEqual(
        await page.locator('#updated').innerText(),
        updatedBefore[i],
        `${tab} reloaded`,
      )
      assert.equal(await page.locator('#account-error').innerText(), '', `${tab} shows no error`)
      assert.equal(await page.locator('#signed-in').isVisible(), true, `${tab} is signed in`)
      assert.ok((await rows(page).count()) >= 1)
    }
    return {
      tabs,
      requests,
      openedBy,
      rotated: after.rotated - before.rotated,
      refreshes:
        after.rotated +
        after.retried +
        after.reused -
        before.rotated -
        before.retried -
        before.reused,
    }
  }

  browserTest(
    'two tabs load at once after the access token expired: one refresh between them, both keep working',
    async () => {
      const outcome = await twoTabsPastExpiry(true)
      assert.equal(outcome.openedBy, 'the other tab waiting on the lock')
      assert.equal(outcome.requests, 1, 'one refresh request left the browser')
      assert.equal(outcome.refreshes, 1, 'the booth answered one refresh')
      assert.equal(outcome.rotated, 1)
      await shot(outcome.tabs[0], '05-tab-one-after-expiry')
      await shot(outcome.tabs[1], '06-tab-two-after-expiry')
    },
  )

  browserTest('control: without Web Locks the same two tabs send two refreshes', async () => {
    const outcome = await twoTabsPastExpiry(false)
    assert.equal(outcome.openedBy, 'a second refresh request')
    assert.equal(outcome.requests, 2)
    // The second one carries the refresh cookie the first one rotated: the booth's grace window
    // answers it (a retry), which is what kept users signed in; it is still a second refresh.
    assert.equal(outcome.refreshes, 2, 'the booth answered two refreshes')
  })

  browserTest(
    'revokes the other device, then logs out everywhere; failures are shown, and the booth ends every session',
    async () => {
      const username = await newUser('devices')
      const other = await (await browser.newContext({ userAgent: ANDROID })).newPage()
      await signIn(other, username)
      const mine = await (await browser.newContext({ userAgent: LINUX })).newPage()
      await signIn(mine, username)
      // A third session in bearer mode, outside any browser.
      const api = await postForm(`${booth.url}/token`, {
        grant_type: 'password',
        username,
        password: PASSWORD,
      })
      assert.equal(api.status, 200)
      const apiAlive = async () =>
        (await call(`${booth.url}/userinfo`, { headers: bearer(api.body.access_token) })).status

      await until(async () => (await rows(mine).count()) === 3, 8000, 'three sessions listed')
      await shot(mine, '07-sessions-of-three-devices')
      const androidRow = rows(mine).filter({ hasText: 'Chrome on Android' })
      const revoke = androidRow.getByRole('button', { name: /Revoke/ })

      await mine.route(`${booth.url}/sessions/*`, (route) =>
        route.request().method() === 'DELETE' ? route.abort('connectionrefused') : route.continue(),
      )
      await revoke.click()
      await mine
        .getByRole('alert')
        .filter({ hasText: `Not revoked. ${UNREACHABLE}` })
        .waitFor()
      assert.equal(await androidRow.count(), 1)
      await mine.unroute(`${booth.url}/sessions/*`)

      await revoke.click()
      await other.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 })
      await shot(other, '08-other-device-signed-out')
      assert.equal(await androidRow.count(), 0)
      assert.equal(await mine.locator('#account-error').innerText(), '')

      await mine.route(`${booth.url}/logout/all`, (route) => route.abort('connectionrefused'))
      await mine.getByRole('button', { name: 'Log out everywhere' }).click()
      await mine
        .getByRole('alert')
        .filter({ hasText: `You are not logged out everywhere. ${UNREACHABLE}` })
        .waitFor()
      assert.equal(await mine.locator('#signed-out').isVisible(), false)
      assert.equal(await apiAlive(), 200, 'nothing ended at the booth')
      await shot(mine, '09-logout-everywhere-failed')
      await mine.unroute(`${booth.url}/logout/all`)

      await mine.getByRole('button', { name: 'Log out everywhere' }).click()
      await mine.locator('#signed-out').waitFor({ state: 'visible' })
      await shot(mine, '10-logged-out-everywhere')
      // At the booth: the bearer session is over, its access token and its refresh token both.
      assert.equal(await apiAlive(), 401)
      const refresh = await postForm(`${booth.url}/token`, {
        grant_type: 'refresh_token',
        refresh_token: api.body.refresh_token,
      })
      assert.equal(refresh.status, 400)
      assert.equal(refresh.body.error, 'invalid_grant')
      const again = await mine.context().newPage()
      await again.goto(`${booth.url}/account`)
      await again.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 })
    },
  )

  browserTest(
    'the debugger verifies a real token and flags a tampered one; its only request is a cookie-less JWKS fetch',
    async () => {
      const username = await newUser('debug')
      const page = await (await browser.newContext({ userAgent: LINUX })).newPage()
      // Signed in: the booth's cookies are in this browser, and none may go out with the JWKS.
      await signIn(page, username)
      const { body } = await postForm(`${booth.url}/token`, {
        grant_type: 'password',
        username,
        password: PASSWORD,
      })
      const token = body.access_token as string
      await page.goto(`${booth.url}/debugger`)
      const sent: Request[] = []
      page.on('request', (r) => sent.push(r))

      const box = page.getByLabel('Token', { exact: true })
      await box.fill(token)
      await page.locator('#verdict[data-state=valid]').waitFor()
      assert.match(
        await page.locator('#verdict').innerText(),
        /Signature verified with the booth's key/,
      )
      assert.match(await page.locator('#claims').innerText(), /expires in \d+ min \d+ s/)
      assert.match(await page.locator('#claims').innerText(), /Issuer/)
      await shot(page, '11-debugger-valid')

      const [h, p, s] = token.split('.') as [string, string, string]
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
      const forged = Buffer.from(JSON.stringify({ ...payload, scope: 'admin' })).toString(
        'base64url',
      )
      await box.fill(`${h}.${forged}.${s}`)
      await page.locator('#verdict[data-state=invalid]').waitFor()
      assert.match(await page.locator('#verdict').innerText(), /does NOT verify/)
      await shot(page, '12-debugger-tampered')
      // Keystrokes: each one checks the signature again, with the keys fetched once.
      for (let i = 0; i < 4; i++) await box.press('Backspace')
      await box.pressSequentially('AAAA')
      await page.locator('#verdict[data-state=invalid]').waitFor()
      await settle(page)
      assert.equal(sent.length, 1, 'one JWKS fetch for the whole page')

      // An unknown kid may be a key the booth added since: one more fetch, then no more.
      const header = JSON.parse(Buffer.from(h, 'base64url').toString())
      const unknown = Buffer.from(JSON.stringify({ ...header, kid: 'retired-key' })).toString(
        'base64url',
      )
      await box.fill(`${unknown}.${p}.${s}`)
      await page.locator('#verdict').filter({ hasText: 'no key with kid "retired-key"' }).waitFor()
      for (let i = 0; i < 3; i++) await box.press('Backspace')
      await page.locator('#verdict').filter({ hasText: 'no key with kid "retired-key"' }).waitFor()
      await settle(page)
      assert.equal(sent.length, 2)

      for (const request of sent) {
        assert.equal(request.method(), 'GET')
        assert.equal(request.url(), `${booth.url}/.well-known/jwks.json`)
        const headers = await request.allHeaders()
        assert.equal(headers.cookie, undefined, 'no cookie goes with the JWKS request')
        assert.equal(headers.authorization, undefined)
        assert.equal(request.postData(), null)
      }
    },
  )

  browserTest(
    'the debugger refuses an HS256 token "signed" with a public key, and never leaves a stale verdict',
    async () => {
      const username = await newUser('confuse')
      const { body } = await postForm(`${booth.url}/token`, {
        grant_type: 'password',
        username,
        password: PASSWORD,
      })
      const [h, p] = (body.access_token as string).split('.') as [string, string, string]
      const header = JSON.parse(Buffer.from(h, 'base64url').toString())
      const jwks = (await (await fetch(`${booth.url}/.well-known/jwks.json`)).json()) as {
        keys: Array<Record<string, unknown>>
      }
      const boothJwk = jwks.keys.find((k) => k.kid === header.kid)!
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
      const claims = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: 'admin' }
      // the forgery: HMAC keyed with the booth's public key as the victim would paste it
      const forge = (secret: string, kid: unknown) => {
        const input = `${b64({ alg: 'HS256', typ: 'at+jwt', ...(kid ? { kid } : {}) })}.${b64(claims)}`
        return {
          token: `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`,
          secret,
        }
      }
      const page = await (await browser.newContext({ userAgent: LINUX })).newPage()
      await page.goto(`${booth.url}/debugger`)
      const verdict = page.locator('#verdict')
      const token = page.getByLabel('Token', { exact: true })
      const key = page.getByLabel('Key (optional)')
      const cases = [
        // the public key pasted as JWK text or PEM, with or without the booth's kid
        forge(JSON.stringify(boothJwk), header.kid),
        forge(JSON.stringify(boothJwk), undefined),
        forge(
          createPublicKey({ key: boothJwk as JsonWebKey, format: 'jwk' })
            .export({ type: 'spki', format: 'pem' })
            .toString(),
          undefined,
        ),
      ]
      for (const forged of cases) {
        await key.fill(forged.secret)
        await token.fill(forged.token)
        await page.locator('#verdict[data-state=invalid]').waitFor()
        assert.match(await verdict.innerText(), /algorithm.confusion/i)
      }
      // a plain secret under the booth's kid: the kid pins ES256, so HS256 is refused as well
      const underKid = forge('just some shared secret', header.kid)
      await key.fill(underKid.secret)
      await token.fill(underKid.token)
      await verdict.filter({ hasText: `"${header.kid}" is the booth's` }).waitFor()
      assert.equal(await verdict.getAttribute('data-state'), 'invalid')

      // a verified token, then one whose header or payload is JSON null: no "valid" may remain
      await key.fill('')
      await token.fill(body.access_token as string)
      await page.locator('#verdict[data-state=valid]').waitFor()
      const [, , s] = (body.access_token as string).split('.')
      for (const broken of [`${b64(null)}.${p}.${s}`, `${h}.${b64(null)}.${s}`]) {
        await token.fill(broken)
        await page.locator('#verdict[data-state=invalid]').waitFor()
        assert.match(await verdict.innerText(), /not a JWT/)
      }
    },
  )

  browserTest(
    'the debugger checks pasted keys offline and shows iat and nbf as dates, exp as a live countdown',
    async () => {
      const context = await browser.newContext({ userAgent: LINUX })
      const start = Date.parse('2031-03-04T05:06:07Z')
      await context.clock.install({ time: start })
      const page = await context.newPage()
      await page.goto(`${booth.url}/debugger`)
      const now = start + 60_000
      await context.clock.pauseAt(now)
      const sent: Request[] = []
      page.on('request', (r) => sent.push(r))
      const seconds = Math.floor(now / 1000)
      const claims = {
        iss: 'https://elsewhere.example',
        sub: 'u1',
        iat: seconds - 30,
        nbf: seconds - 20,
        exp: seconds + 600,
      }
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
      const secret = 'a secret shared by two services'
      const hsInput = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`
      const hs = `${hsInput}.${createHmac('sha256', secret).update(hsInput).digest('base64url')}`
      const verdict = page.locator('#verdict')
      const token = page.getByLabel('Token', { exact: true })
      const key = page.getByLabel('Key (optional)')

      await token.fill(hs)
      await verdict.filter({ hasText: 'paste it as the key' }).waitFor()
      await key.fill(secret)
      await verdict.filter({ hasText: 'Signature verified with the pasted secret' }).waitFor()
      await key.fill('another secret')
      await page.locator('#verdict[data-state=invalid]').waitFor()
      await key.fill(secret)
      await page.locator('#verdict[data-state=valid]').waitFor()

      const claim = (name: string) =>
        page
          .locator('#claims dt', { hasText: new RegExp(`^${name}$`) })
          .locator('xpath=following-sibling::dd[1]')
      for (const name of ['iat', 'nbf'] as const) {
        const date = await page.evaluate((s) => new Date(s * 1000).toLocaleString(), claims[name])
        assert.ok((await claim(name).innerText()).startsWith(`${date} (${claims[name]})`), name)
      }
      const countdown = page.locator('#exp-countdown')
      assert.equal(await countdown.innerText(), 'expires in 10 min 0 s')
      await context.clock.runFor(5000)
      assert.equal(await countdown.innerText(), 'expires in 9 min 55 s')
      await shot(page, '13-debugger-pasted-secret')

      const es = (privateKey: KeyObject) => {
        const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(claims)}`
        const signature = sign('sha256', Buffer.from(input), {
          key: privateKey,
          dsaEncoding: 'ieee-p1363',
        })
        return `${input}.${signature.toString('base64url')}`
      }
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      await key.fill(JSON.stringify(pair.publicKey.export({ format: 'jwk' })))
      await token.fill(es(pair.privateKey))
      await verdict.filter({ hasText: 'Signature verified with the pasted key' }).waitFor()
      await key.fill(pair.publicKey.export({ type: 'spki', format: 'pem' }) as string)
      await verdict.filter({ hasText: 'Signature verified with the pasted key' }).waitFor()
      await key.fill(stranger.publicKey.export({ type: 'spki', format: 'pem' }) as string)
      await verdict.filter({ hasText: 'does NOT verify' }).waitFor()
      await shot(page, '14-debugger-pasted-pem-wrong-key')
      assert.deepEqual(
        sent.map((r) => r.url()),
        [],
        'with a pasted key nothing at all is fetched',
      )
    },
  )

  it('serves the pages with a strict Content-Security-Policy and no inline code', async () => {
    for (const path of ['/login', '/account', '/debugger']) {
      const res = await fetch(`${booth.url}${path}`)
      const csp = res.headers.get('content-security-policy') ?? ''
      assert.match(csp, /default-src 'none'/)
      assert.match(csp, /script-src 'self'(;|$)/)
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/)
      const html = await res.text()
      assert.doesNotMatch(html, /<script>|<style|\sstyle="|\son[a-z]+="/)
      assert.doesNotMatch(html, /https?:\/\//, `${path} loads nothing from elsewhere`)
    }
  })
})
