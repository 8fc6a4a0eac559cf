/**
 * The client in a real browser, for what only a browser does: tabs of one context share cookies,
 * Web Locks and BroadcastChannel, and a tab opened with `window.open` starts with a copy of its
 * opener's sessionStorage. Debian's Chromium driven by playwright-core; the pages load the
 * client's built `dist/` from the real booth (`/assets/client/`), as the booth's own pages do.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { PASSWORD, boothEvents, signUp, startFixture, until, type BoothFixture } from './helpers.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let fx: BoothFixture
let browser: Browser
before(async () => {
  fx = await startFixture()
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
})
after(async () => {
  await browser?.close()
  await fx.stop()
})

let lockNames = 0
/**
 * Creates `window.client` on a page of the booth's origin, recording its events in
 * `window.events`. `options` is the source of an object literal (it may use the module `m`).
 */
async function openClient(page: Page, options: string): Promise<void> {
  if (!page.url().startsWith(fx.booth.url)) await page.goto(`${fx.booth.url}/login`)
  await page.evaluate(`(async () => {
    const m = await import('/assets/client/index.js')
    window.client = m.createClient({ issuer: location.origin, ...${options} })
    window.events = []
    for (const e of ['signed-in', 'refreshed', 'session-expired', 'signed-out'])
      window.client.on(e, (p) => window.events.push(e + '(' + p.source + ')'))
  })()`)
}

const events = (page: Page) => page.evaluate('window.events') as Promise<string[]>
const signedIn = (page: Page) => page.evaluate('window.client.isSignedIn()') as Promise<boolean>

async function withContext(body: (context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext()
  try {
    await body(context)
  } finally {
    await context.close()
  }
}

describe('in Chromium', () => {
  it('a tab opened with window.open (sessionStorage copied) ends its spent copy when its opener refreshes', async () => {
    // Review finding: both tabs held one refresh-token chain; the opened tab ignored the opener's
    // 'refreshed' and later refreshed with the spent token, and the booth revoked the session.
    await withContext(async (context) => {
      const options = `{ storage: m.webStorage(sessionStorage), lockName: 'copy-${++lockNames}' }`
      const a = await context.newPage()
      await openClient(a, options)
      const username = await signUp(fx.booth)
      await a.evaluate(
        `window.client.login(${JSON.stringify(username)}, ${JSON.stringify(PASSWORD)})`,
      )
      const [b] = await Promise.all([
        context.waitForEvent('page'),
        a.evaluate('void window.open(location.href)'),
      ])
      await b.waitForLoadState()
      await openClient(b, options)
      const read = (page: Page) => page.evaluate(`sessionStorage.getItem('tokenbooth.tokens')`)
      assert.equal(await signedIn(b), true, 'the copy of sessionStorage signs tab B in')
      assert.equal(await read(b), await read(a), 'one record, one refresh token, in two tabs')
      const reused = await boothEvents(fx.booth, 'refresh_token.reused')

      // A resource server's 401 invalid_token makes tab A refresh now, not in five seconds.
      await a.route('**/api/stale', (route) =>
        route.fulfill({
          status: 401,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        }),
      )
      assert.equal(await a.evaluate(`window.client.fetch('/api/stale').then((r) => r.status)`), 401)
      await until(async () => !(await signedIn(b)), 'tab B gives up its spent copy', 500)
      assert.deepEqual(await events(b), ['session-expired(other-tab)'])
      assert.equal(await read(b), null)

      assert.equal(await signedIn(a), true, 'the session lives on in tab A')
      assert.equal(await a.evaluate(`window.client.fetch('/userinfo').then((r) => r.status)`), 200)
      assert.equal((await boothEvents(fx.booth, 'refresh_token.reused')) - reused, 0)
    })
  })

  it('cookie mode: a login as another user in another tab reaches this tab as signed-in', async () => {
    // Review finding: it arrived as 'refreshed', with no change of session.
    await withContext(async (context) => {
      const options = `{ mode: 'cookie', lockName: 'cookie-${++lockNames}' }`
      const a = await context.newPage()
      const b = await context.newPage()
      await openClient(a, options)
      await openClient(b, options)
      const alice = await signUp(fx.booth)
      const bob = await signUp(fx.booth)
      await a.evaluate(`window.client.login(${JSON.stringify(alice)}, ${JSON.stringify(PASSWORD)})`)
      await until(() => signedIn(b), 'tab B hears of the login', 500)
      await a.evaluate('window.events.length = 0')
      await b.evaluate(`window.client.login(${JSON.stringify(bob)}, ${JSON.stringify(PASSWORD)})`)
      await until(async () => (await events(a)).length > 0, 'tab A hears of the login', 500)
      assert.deepEqual(await events(a), ['signed-in(other-tab)'])
      const who = `window.client.fetch('/userinfo').then((r) => r.json()).then((j) => j.username)`
      assert.equal(await a.evaluate(who), bob)
    })
  })
})
