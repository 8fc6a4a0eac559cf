/**
 * Throttling of password guessing (issue 2, "Accounts, clients, abuse"): per account and client
 * address, 429 with Retry-After, never a lock-out of the owner from elsewhere, and not fooled by
 * X-Forwarded-For unless the proxy is trusted.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { assertError, sleep, uniqueName } from '../support/contract.ts'
import { postForm, postJson, type Reply } from '../support/http.ts'

const PASSWORD = 'the owner knows this one'
const WRONG = 'an attacker guesses this'
const FREE_FAILURES = 5

function attempt(
  base: string,
  username: string,
  password: string,
  forwardedFor?: string,
): Promise<Reply> {
  const headers: Record<string, string> =
    forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }
  return postForm(`${base}/token`, { grant_type: 'password', username, password }, headers)
}

async function signUp(base: string, prefix: string): Promise<string> {
  const username = uniqueName(prefix)
  const res = await postJson(`${base}/signup`, { username, password: PASSWORD })
  assert.equal(res.status, 201, res.text)
  return username
}

function assertThrottled(res: Reply, context: string): void {
  assertError(res, 429, res.body?.error ?? '?', context)
  const retryAfter = res.headers.get('retry-after')
  assert.match(
    retryAfter ?? '',
    /^\d+$/,
    `${context}: Retry-After is a number of seconds, got ${retryAfter}`,
  )
  assert.ok(Number(retryAfter) >= 1, `${context}: Retry-After ≥ 1`)
  assert.ok(!JSON.stringify(res.body).includes('access_token'))
}

/**
 * Fails `FREE_FAILURES` times, then asserts the next attempt — and, straight after it, the right
 * password — are 429. `address(i)` gives the X-Forwarded-For of attempt i (or none).
 */
async function guessUntilBlocked(
  base: string,
  username: string,
  address: (i: number) => string | undefined,
): Promise<number> {
  for (let i = 0; i < FREE_FAILURES; i++) {
    const res = await attempt(base, username, WRONG, address(i))
    assertError(res, 400, 'invalid_grant', `failure ${i + 1}`)
  }
  const blocked = await attempt(base, username, WRONG, address(FREE_FAILURES))
  assertThrottled(blocked, `attempt ${FREE_FAILURES + 1} after ${FREE_FAILURES} failures`)
  // The block holds even for the right password: the guesser cannot learn it was right.
  const right = await attempt(base, username, PASSWORD, address(FREE_FAILURES + 1))
  assertThrottled(right, 'the right password during the block')
  return FREE_FAILURES + 2
}

describe('throttling behind a trusted proxy (TOKENBOOTH_TRUST_PROXY=127.0.0.1)', () => {
  let booth: Booth

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_TRUST_PROXY: '127.0.0.1' } })
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  it('5 wrong passwords from one address → 429 with Retry-After, also for the right password', async () => {
    const username = await signUp(booth.url, 'guessed')
    await guessUntilBlocked(booth.url, username, () => '203.0.113.7')
    const again = await attempt(booth.url, username, WRONG, '203.0.113.7')
    assertThrottled(again, 'still blocked')
    // Soft: the block ends when Retry-After says it does, and the owner gets in from there too.
    await sleep(Number(again.headers.get('retry-after')) * 1000 + 250)
    const later = await attempt(booth.url, username, PASSWORD, '203.0.113.7')
    assert.equal(later.status, 200, `after Retry-After: ${later.text}`)
  })

  it('the owner logs in from another address while the attacker is blocked', async () => {
    const username = await signUp(booth.url, 'owner')
    await guessUntilBlocked(booth.url, username, () => '203.0.113.8')
    // Side by side: the attacker's address is still blocked while the owner gets in.
    const [attacker, owner] = await Promise.all([
      attempt(booth.url, username, PASSWORD, '203.0.113.8'),
      attempt(booth.url, username, PASSWORD, '198.51.100.20'),
    ])
    assertThrottled(attacker, 'still blocked')
    assert.equal(owner.status, 200, `the owner is not locked out: ${owner.text}`)
    assert.equal(typeof owner.body.access_token, 'string')
  })

  it('a blocked address can still log in to another account (no lock-out of other users)', async () => {
    const target = await signUp(booth.url, 'target')
    const neighbour = await signUp(booth.url, 'neighbour')
    await guessUntilBlocked(booth.url, target, () => '203.0.113.9')
    const [blocked, res] = await Promise.all([
      attempt(booth.url, target, PASSWORD, '203.0.113.9'),
      attempt(booth.url, neighbour, PASSWORD, '203.0.113.9'),
    ])
    assertThrottled(blocked, 'the target is still blocked')
    assert.equal(res.status, 200, res.text)
  })

  it('the account is throttled by its normalized name: case and NFKC variants share one counter', async () => {
    const username = await signUp(booth.url, 'variant')
    const spellings = [
      username.toUpperCase(),
      username,
      username.toUpperCase().normalize('NFKC'),
      toFullwidth(username),
    ]
    for (let i = 0; i < FREE_FAILURES; i++) {
      const res = await attempt(booth.url, spellings[i % spellings.length]!, WRONG, '203.0.113.10')
      assertError(res, 400, 'invalid_grant', `failure ${i + 1}`)
    }
    assertThrottled(
      await attempt(booth.url, toFullwidth(username), PASSWORD, '203.0.113.10'),
      'a fullwidth spelling',
    )
  })
})

describe('throttling with no trusted proxy: X-Forwarded-For is ignored', () => {
  let booth: Booth

  before(async () => {
    booth = await startBooth()
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  it('rotating X-Forwarded-For does not escape the block', async () => {
    const username = await signUp(booth.url, 'rotating')
    await guessUntilBlocked(booth.url, username, (i) => `192.0.2.${i + 1}`)
    for (const xff of ['198.51.100.1', '10.0.0.1, 127.0.0.1', '::1']) {
      assertThrottled(await attempt(booth.url, username, PASSWORD, xff), `X-Forwarded-For ${xff}`)
    }
    assertThrottled(await attempt(booth.url, username, PASSWORD), 'no X-Forwarded-For')
  })
})

function toFullwidth(name: string): string {
  // U+FF01..U+FF5E are NFKC-equivalent to U+0021..U+007E.
  return [...name]
    .map((c) => (c >= '!' && c <= '~' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c))
    .join('')
}
