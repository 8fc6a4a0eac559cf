/**
 * "The core has no DOM dependency" (issue 4), enforced: the built client runs in a `node:vm`
 * realm that has only the JavaScript built-ins and the Web APIs listed in no-dom-realm.ts, and
 * logs in, calls an API, refreshes ahead of expiry and logs out against the real booth.
 *
 * Why a realm and not a tsconfig without `lib: dom`: the types of fetch, Request and Headers live
 * in lib.dom.d.ts, so a DOM-free compile would need hand-written copies of them; and types do not
 * catch `globalThis.window` or a dependency that touches `document` when it runs. The realm does.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { boothEvents, PASSWORD, signUp, startFixture, type BoothFixture } from './helpers.ts'

const run = promisify(execFile)
const REALM = new URL('./no-dom-realm.ts', import.meta.url).pathname

describe('the client without a DOM', () => {
  let fx: BoothFixture
  before(async () => {
    fx = await startFixture()
  })
  after(() => fx.stop())

  it('logs in, calls an API, refreshes and logs out in a realm with no window, document or navigator', async () => {
    const username = await signUp(fx.booth, 'nodom')
    const rotated = await boothEvents(fx.booth, 'refresh_token.rotated')
    const { stdout } = await run(
      process.execPath,
      ['--experimental-vm-modules', '--no-warnings', REALM, fx.booth.url, username, PASSWORD],
      { timeout: 60_000 },
    )
    const seen = JSON.parse(stdout)
    assert.deepEqual(seen.absent, [], 'none of the DOM or Node globals exist in the realm')
    assert.match(seen.crossTabRefused, /navigator\.locks/, 'no Web Locks there: crossTab refused')
    assert.equal(seen.userinfo.status, 200)
    assert.equal(seen.userinfo.body.username, username, 'the Bearer token reached the booth')
    assert.deepEqual(seen.afterRefresh, { status: 200, refreshed: 1 })
    assert.equal(seen.tokenChanged, true)
    assert.equal(
      (await boothEvents(fx.booth, 'refresh_token.rotated')) - rotated,
      1,
      'one refresh, counted at the booth',
    )
    assert.equal(seen.signedInAfterLogout, false)
    assert.equal(seen.oldTokenAfterLogout, 401, 'the logout ended the session at the booth')
  })
})
