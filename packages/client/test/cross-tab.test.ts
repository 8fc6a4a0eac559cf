/**
 * Tabs: client instances sharing one storage (webStorage over a localStorage stand-in), the
 * runtime's Web Locks (`navigator.locks`, present in Node ≥ 22) and BroadcastChannel (global in
 * Node), as the tabs of one browser do.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SessionExpired, createClient, webStorage } from '../src/index.ts'
import {
  PASSWORD,
  boothEvents,
  mapStorage,
  recordEvents,
  until,
  shiftedClock,
  signUp,
  startFixture,
  type BoothFixture,
} from './helpers.ts'

const hasLocks = typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function'

let fx: BoothFixture
before(async () => {
  fx = await startFixture()
})
after(() => fx.stop())

let tabsOpened = 0
/** Two "tabs" of one origin: one storage, one lock name, one clock. */
function openTabs(crossTab = true) {
  const local = mapStorage()
  const clock = shiftedClock()
  const lockName = `tabs-${process.pid}-${++tabsOpened}`
  const open = () =>
    createClient({
      issuer: fx.issuer,
      storage: webStorage(local),
      clock: clock.now,
      refreshMargin: 3,
      crossTab,
      lockName,
    })
  return { a: open(), b: open(), local, clock }
}

describe('cross-tab', { skip: !hasLocks && 'this runtime has no navigator.locks' }, () => {
  it('concurrent refreshes from two tabs produce one refresh at the booth', async () => {
    const { a, b, clock, local } = openTabs()
    const bEvents = recordEvents(b)
    await a.login(await signUp(fx.booth), PASSWORD)
    assert.equal(await b.isSignedIn(), true, 'the second tab reads the shared storage')
    const before = fx.front.refreshRequests
    const rotated = await boothEvents(fx.booth, 'refresh_token.rotated')

    clock.advance(8_000) // both tabs hold a token that is now due
    const calls = Array.from({ length: 50 }, (_, i) =>
      (i % 2 === 0 ? a : b).fetch(`${fx.issuer}/userinfo`),
    )
    const responses = await Promise.all(calls)

    assert.ok(
      responses.every((r) => r.status === 200),
      responses.map((r) => r.status).join(' '),
    )
    assert.equal(fx.front.refreshRequests - before, 1, 'refresh requests that reached the booth')
    assert.equal((await boothEvents(fx.booth, 'refresh_token.rotated')) - rotated, 1)
    assert.equal(await boothEvents(fx.booth, 'refresh_token.retried'), 0)
    assert.equal(await boothEvents(fx.booth, 'refresh_token.reused'), 0)
    assert.equal(await a.getAccessToken(), await b.getAccessToken())
    assert.equal(
      JSON.parse(local.map.get('tokenbooth.tokens')!).accessToken,
      await a.getAccessToken(),
    )
    await sleep(20) // let the broadcast land
    assert.equal(bEvents.count('refreshed'), 1, 'the other tab adopted the new token once')
    assert.equal(bEvents.seen.find((e) => e.event === 'refreshed')!.payload.source, 'other-tab')
    a.close()
    b.close()
  })

  it('a tab that learns of a refresh by broadcast does not refresh when its own token falls due', async () => {
    const { a, b, clock } = openTabs()
    await a.login(await signUp(fx.booth), PASSWORD)
    await b.getAccessToken()
    const before = fx.front.refreshRequests
    clock.advance(8_000)
    await a.fetch(`${fx.issuer}/userinfo`) // only tab A is active
    await sleep(20)
    assert.equal((await b.fetch(`${fx.issuer}/userinfo`)).status, 200)
    assert.equal(fx.front.refreshRequests - before, 1)
    a.close()
    b.close()
  })

  it('logout in one tab signs the other out; login in one tab signs the other in', async () => {
    const { a, b } = openTabs()
    const bEvents = recordEvents(b)
    await a.login(await signUp(fx.booth), PASSWORD)
    await sleep(20)
    assert.equal(bEvents.count('signed-in'), 1)
    assert.equal(await b.isSignedIn(), true)
    await a.logout()
    await sleep(20)
    assert.equal(await b.isSignedIn(), false)
    assert.deepEqual(bEvents.seen.at(-1), {
      event: 'signed-out',
      payload: { reason: 'logout', source: 'other-tab' },
    })
    a.close()
    b.close()
  })

  it('session expiry found in one tab ends the session in the other', async () => {
    const { a, b, clock } = openTabs()
    const bEvents = recordEvents(b)
    const username = await signUp(fx.booth)
    await a.login(username, PASSWORD)
    await b.getAccessToken()
    const killer = createClient({ issuer: fx.issuer, crossTab: false })
    await killer.login(username, PASSWORD)
    await killer.logoutAll()
    clock.advance(8_000)
    await assert.rejects(a.getAccessToken(), SessionExpired)
    await sleep(20)
    assert.equal(bEvents.count('session-expired'), 1)
    assert.equal(await b.isSignedIn(), false)
    a.close()
    b.close()
    killer.close()
  })

  it('for contrast: without the lock, two tabs send two refreshes (the booth’s grace window saves them)', async () => {
    const { a, b, clock } = openTabs(false)
    await a.login(await signUp(fx.booth), PASSWORD)
    await b.getAccessToken()
    const before = fx.front.refreshRequests
    const retried = await boothEvents(fx.booth, 'refresh_token.retried')
    clock.advance(8_000)
    const responses = await Promise.all([
      a.fetch(`${fx.issuer}/userinfo`),
      b.fetch(`${fx.issuer}/userinfo`),
    ])
    assert.ok(responses.every((r) => r.status === 200))
    assert.equal(fx.front.refreshRequests - before, 2)
    // the second presented the same refresh token and got the same successor, within the grace window
    assert.equal((await boothEvents(fx.booth, 'refresh_token.retried')) - retried, 1)
    a.close()
    b.close()
  })

  it('a tab whose storage is a copy (duplicated tab, sessionStorage) ends its spent copy when the other refreshes', async () => {
    // Review finding: both tabs held the same refresh-token chain; tab B ignored A's 'refreshed'
    // (its own storage had not changed) and later refreshed with the spent token, and the booth
    // revoked the session in both. Two storages that start as copies, as the browser copies
    // sessionStorage into a tab opened with window.open or "Duplicate tab".
    const clock = shiftedClock()
    const lockName = `tabs-${process.pid}-${++tabsOpened}`
    const open = (storage: ReturnType<typeof mapStorage>) =>
      createClient({
        issuer: fx.issuer,
        // each tab its own copy, as sessionStorage is (detected for the real one)
        storage: webStorage(storage, { perTab: true }),
        clock: clock.now,
        refreshMargin: 3,
        lockName,
      })
    const storageA = mapStorage()
    const a = open(storageA)
    await a.login(await signUp(fx.booth), PASSWORD)
    const storageB = mapStorage()
    for (const [key, value] of storageA.map) storageB.map.set(key, value)
    const b = open(storageB)
    const bEvents = recordEvents(b)
    assert.equal(await b.isSignedIn(), true, 'the copy looks signed in')
    const reused = await boothEvents(fx.booth, 'refresh_token.reused')

    clock.advance(8_000)
    assert.equal((await a.fetch(`${fx.issuer}/userinfo`)).status, 200) // A refreshes
    await until(async () => !(await b.isSignedIn()), 'tab B gives up its spent copy')
    assert.deepEqual(
      bEvents.seen.map((e) => `${e.event}(${e.payload.source})`),
      ['session-expired(other-tab)'],
    )
    assert.equal(storageB.map.size, 0, 'the spent copy is gone from its storage')
    assert.equal((await b.fetch(`${fx.issuer}/userinfo`)).status, 401, 'no token to send')
    assert.equal(await a.isSignedIn(), true, 'the session lives on in tab A')
    clock.advance(8_000)
    assert.equal((await a.fetch(`${fx.issuer}/userinfo`)).status, 200)
    assert.equal((await boothEvents(fx.booth, 'refresh_token.reused')) - reused, 0)
    a.close()
    b.close()
  })
})
