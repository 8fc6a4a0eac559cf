/**
 * The booth's pages in a real browser: Debian's Chromium driven by playwright-core, against the
 * real `tokenbooth` binary. Screenshots go to test-artifacts/browser/.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { startBooth, type Booth } from '../support/booth.ts'
import { postForm, postJson } from '../support/http.ts'

const ARTIFACTS = new URL('../../test-artifacts/browser/', import.meta.url).pathname
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const TTL = 20

async function counter(booth: Booth, event: string): Promise<number> {
  const text = await (await fetch(`${booth.url}/metrics`)).text()
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`tokenbooth_events_total{event="${event}"}`))
  return line === undefined ? 0 : Number(line.split(' ')[1])
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

const rows = (page: Page) => page.locator('#sessions tr')

describe('pages in Chromium', () => {
  let booth: Booth
  let browser: Browser
  let laptop: BrowserContext
  let phone: BrowserContext

  before(async () => {
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
    laptop = await browser.newContext({
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36',
    })
    phone = await browser.newContext({
      userAgent: 'Mozilla/5.0 (Linux; Android 15) Chrome/156.0 Mobile Safari/537.36',
    })
  })

  after(async () => {
    await browser?.close()
    await booth?.stop()
  })

  it('signs up, explains the password rules, and shows errors clearly', async () => {
    const page = await laptop.newPage()
    await page.goto(`${booth.url}/login`)
    assert.match(await page.locator('#password-rules').innerText(), /at least 8 characters/i)
    await page.fill('#signup-username', 'mina')
    await page.fill('#signup-password', 'password1')
    await page.click('#signup button[type=submit]')
    await page
      .locator('#signup-error')
      .filter({ hasText: /too common/ })
      .waitFor()
    await shot(page, '01-signup-common-password')
    await page.fill('#signup-password', 'a long bus ride home')
    await page.click('#signup button[type=submit]')
    await page.waitForURL(`${booth.url}/account`)
    await rows(page).first().waitFor()
    assert.equal(await rows(page).count(), 1)
    assert.match(await rows(page).first().innerText(), /Chrome on Linux.*this device/s)
    await shot(page, '02-account-after-signup')
    await page.close()
  })

  it('a wrong password is refused with a clear message', async () => {
    const page = await phone.newPage()
    await page.goto(`${booth.url}/login`)
    await page.fill('#signin-username', 'mina')
    await page.fill('#signin-password', 'not the password')
    await page.click('#signin button[type=submit]')
    await page.locator('#signin-error').filter({ hasText: 'Wrong username or password.' }).waitFor()
    await page.close()
  })

  it('two tabs outlive the access token with one refresh between them', async () => {
    const first = await laptop.newPage()
    await first.goto(`${booth.url}/login`)
    await first.fill('#signin-username', 'mina')
    await first.fill('#signin-password', 'a long bus ride home')
    await first.click('#signin button[type=submit]')
    await first.waitForURL(`${booth.url}/account`)
    const loggedInAt = Date.now()
    const second = await laptop.newPage()
    await second.goto(`${booth.url}/account`)
    await rows(second).first().waitFor()
    const rotatedBefore = await counter(booth, 'refresh_token.rotated')
    const retriedBefore = await counter(booth, 'refresh_token.retried')
    const updated = (page: Page) => page.locator('#updated').innerText()

    // The first refresh comes when the token nears expiry (half its lifetime left, for a 20 s
    // token); both tabs poll every 3 s. Within 3.5 s of it, both tabs have loaded the list with
    // the new token, and the booth has seen one refresh, not two.
    await until(
      async () => (await counter(booth, 'refresh_token.rotated')) > rotatedBefore,
      TTL * 1000,
      'the first refresh',
    )
    const [firstBefore, secondBefore] = [await updated(first), await updated(second)]
    await until(
      async () =>
        (await updated(first)) !== firstBefore && (await updated(second)) !== secondBefore,
      8000,
      'both tabs to poll again',
    )
    assert.equal(
      (await counter(booth, 'refresh_token.rotated')) - rotatedBefore,
      1,
      'exactly one refresh for both tabs',
    )

    // Past the first token's expiry both tabs still work, and no tab ever raced another with
    // the same refresh token (a retried rotation would show it).
    await until(
      async () => Date.now() > loggedInAt + TTL * 1000 + 3500,
      (TTL + 5) * 1000,
      'the first token to expire',
    )
    assert.equal(await first.locator('#signed-out').isVisible(), false)
    assert.equal(await second.locator('#signed-out').isVisible(), false)
    assert.equal(
      (await counter(booth, 'refresh_token.retried')) - retriedBefore,
      0,
      'no second tab raced the first',
    )
    assert.equal(await counter(booth, 'refresh_token.reused'), 0)
    await shot(first, '03-tab-one-after-expiry')
    await shot(second, '04-tab-two-after-expiry')
    await second.close()
    await first.close()
  })

  it('revokes the other device, then logs out everywhere', async () => {
    const other = await phone.newPage()
    await other.goto(`${booth.url}/login`)
    await other.fill('#signin-username', 'mina')
    await other.fill('#signin-password', 'a long bus ride home')
    await other.click('#signin button[type=submit]')
    await other.waitForURL(`${booth.url}/account`)
    await rows(other).first().waitFor()

    const mine = await laptop.newPage()
    await mine.goto(`${booth.url}/account`)
    await until(async () => (await rows(mine).count()) >= 3, 8000, 'three sessions listed')
    await shot(mine, '05-sessions-of-two-devices')
    const androidRow = rows(mine).filter({ hasText: 'Chrome on Android' })
    await androidRow.getByRole('button', { name: /Revoke/ }).click()
    await other.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 })
    await shot(other, '06-other-device-signed-out')
    assert.equal(await rows(mine).filter({ hasText: 'Chrome on Android' }).count(), 0)

    await mine.click('#logout-all')
    await mine.locator('#signed-out').waitFor({ state: 'visible' })
    await shot(mine, '07-logged-out-everywhere')
    const again = await laptop.newPage()
    await again.goto(`${booth.url}/account`)
    await again.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 })
  })

  it('the debugger verifies a real token and flags a tampered one, sending the token nowhere', async () => {
    await postJson(`${booth.url}/signup`, { username: 'jun', password: 'another long passphrase' })
    const { body } = await postForm(`${booth.url}/token`, {
      grant_type: 'password',
      username: 'jun',
      password: 'another long passphrase',
    })
    const token = body.access_token as string
    const page = await laptop.newPage()
    const requests: string[] = []
    page.on('request', (r) => requests.push(r.url() + (r.postData() ?? '')))
    await page.goto(`${booth.url}/debugger`)
    await page.fill('#token', token)
    await page.locator('#verdict[data-state=valid]').waitFor()
    assert.match(await page.locator('#claims').innerText(), /expires in \d+ min/)
    assert.match(await page.locator('#claims').innerText(), /Issuer/)
    await shot(page, '08-debugger-valid')

    const [h, p, s] = token.split('.') as [string, string, string]
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    const forged = Buffer.from(JSON.stringify({ ...payload, scope: 'admin' })).toString('base64url')
    await page.fill('#token', `${h}.${forged}.${s}`)
    await page.locator('#verdict[data-state=invalid]').waitFor()
    assert.match(await page.locator('#verdict').innerText(), /does NOT verify/)
    await shot(page, '09-debugger-tampered')
    assert.ok(
      requests.every((r) => !r.includes(s)),
      'the token never left the page',
    )
  })

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
