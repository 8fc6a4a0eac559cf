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

describe('throttling: parallel guesses, address groups, the account across addresses, bounds', () => {
  let booth: Booth
  const ACCOUNT_FREE_FAILURES = 10

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_TRUST_PROXY: '127.0.0.1' } })
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  function tally(replies: Reply[]): Record<number, number> {
    const counts: Record<number, number> = {}
    for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1
    return counts
  }

  it('30 wrong passwords in parallel: at most 5 reach the password check, the rest are 429', async () => {
    // Counted when they start, not after the hash: all 30 are in flight before the first fails.
    const username = await signUp(booth.url, 'parallel')
    const replies = await Promise.all(
      Array.from({ length: 30 }, () => attempt(booth.url, username, WRONG, '203.0.113.40')),
    )
    const counts = tally(replies)
    assert.ok((counts[400] ?? 0) <= FREE_FAILURES, `statuses: ${JSON.stringify(counts)}`)
    assert.equal((counts[400] ?? 0) + (counts[429] ?? 0), 30, JSON.stringify(counts))
    for (const r of replies) {
      if (r.status === 400) assertError(r, 400, 'invalid_grant', 'a guess that was checked')
      else assertThrottled(r, 'a parallel guess')
    }
    assertThrottled(
      await attempt(booth.url, username, PASSWORD, '203.0.113.40'),
      'the right password after the parallel burst',
    )
  })

  it('twelve parallel logins with the right password from one address all get in (they wait their turn)', async () => {
    const username = await signUp(booth.url, 'paralleluser')
    const replies = await Promise.all(
      Array.from({ length: 12 }, () => attempt(booth.url, username, PASSWORD, '198.51.100.42')),
    )
    assert.deepEqual(tally(replies), { 200: 12 })
  })

  it('the right password in parallel with wrong ones from elsewhere still gets in', async () => {
    const username = await signUp(booth.url, 'parallelok')
    const [owner] = await Promise.all([
      attempt(booth.url, username, PASSWORD, '198.51.100.41'),
      ...Array.from({ length: 10 }, () => attempt(booth.url, username, WRONG, '203.0.113.41')),
    ])
    assert.equal(owner!.status, 200, owner!.text)
  })

  it('IPv6 addresses are throttled by their /64: rotating inside it does not escape the block', async () => {
    const username = await signUp(booth.url, 'ipv6')
    await guessUntilBlocked(booth.url, username, (i) => `2001:db8:aa:1::${(i + 1).toString(16)}`)
    for (const address of ['2001:db8:aa:1:ffff:ffff:ffff:ffff', '2001:0db8:00aa:0001::beef']) {
      assertThrottled(await attempt(booth.url, username, PASSWORD, address), address)
    }
    const neighbour = await attempt(booth.url, username, PASSWORD, '2001:db8:aa:2::1')
    assert.equal(neighbour.status, 200, `another /64 is another address: ${neighbour.text}`)
  })

  it('an account guessed at from many addresses is slowed for new addresses, never closed to its owner', async () => {
    const username = await signUp(booth.url, 'spread')
    // The owner logged in from home before the attack.
    assert.equal((await attempt(booth.url, username, PASSWORD, '192.0.2.200')).status, 200)
    // Two guesses from each of five addresses: no address reaches its own limit of five.
    for (let i = 0; i < ACCOUNT_FREE_FAILURES; i++) {
      const res = await attempt(booth.url, username, WRONG, `203.0.113.${100 + (i % 5)}`)
      assertError(res, 400, 'invalid_grant', `spread guess ${i + 1}`)
    }
    // A fresh address now gets one guess, not five.
    const first = await attempt(booth.url, username, WRONG, '203.0.113.150')
    assertError(first, 400, 'invalid_grant', 'the first guess from a new address')
    assertThrottled(
      await attempt(booth.url, username, WRONG, '203.0.113.150'),
      'the second guess from that address',
    )
    // The owner, from an address never seen before, with the right password: in at once.
    const travelling = await attempt(booth.url, username, PASSWORD, '198.51.100.150')
    assert.equal(travelling.status, 200, `the owner from a new address: ${travelling.text}`)
    // From home, where the owner logged in before, a typo or two is the ordinary rule.
    for (let i = 0; i < 2; i++) {
      assertError(
        await attempt(booth.url, username, WRONG, '192.0.2.200'),
        400,
        'invalid_grant',
        `typo ${i + 1} at home`,
      )
    }
    const home = await attempt(booth.url, username, PASSWORD, '192.0.2.200')
    assert.equal(home.status, 200, `the owner at home: ${home.text}`)
  })

  it('a name that can never exist makes no account entry, and its log lines are cut short', async () => {
    const huge = 'x'.repeat(60_000)
    for (let i = 0; i < FREE_FAILURES + 2; i++) {
      // Only the address counts it (100 per 15 minutes): no entry keyed by 60 kB is kept.
      const res = await attempt(booth.url, huge, WRONG, '203.0.113.60')
      assertError(res, 400, 'invalid_grant', `huge name ${i + 1}`)
    }
    const lines = booth
      .output()
      .split('\n')
      .filter((line) => line.includes('"login.failed"'))
    assert.ok(lines.length >= FREE_FAILURES + 2)
    for (const line of lines) assert.ok(line.length < 1_000, `a ${line.length}-character log line`)
  })

  it('POST /signup is limited per address (each costs an Argon2id hash): 429 with Retry-After', async () => {
    const flood = '198.18.0.1'
    const statuses: number[] = []
    let last: Reply | undefined
    // Eight at a time until refused (the burst is 100), and never more than 140 in all.
    for (let round = 0; round < 140 / 8 && last === undefined; round++) {
      const replies = await Promise.all(
        Array.from({ length: 8 }, () =>
          postJson(
            `${booth.url}/signup`,
            { username: uniqueName('flood'), password: PASSWORD },
            { 'x-forwarded-for': flood },
          ),
        ),
      )
      for (const r of replies) statuses.push(r.status)
      last = replies.find((r) => r.status === 429)
    }
    assert.ok(last, `never throttled: ${statuses.length} sign-ups`)
    assertThrottled(last, 'a sign-up flood')
    const created = statuses.filter((s) => s === 201).length
    // The burst of 100 (plus one per 6 s that passed) was admitted; the flood was cut off after.
    assert.ok(created >= 100, `${created} created before the limit`)
    assert.deepEqual(
      statuses.filter((s) => s !== 201 && s !== 429),
      [],
      'nothing but 201 and 429',
    )
    const other = await postJson(
      `${booth.url}/signup`,
      { username: uniqueName('elsewhere'), password: PASSWORD },
      { 'x-forwarded-for': '198.18.0.2' },
    )
    assert.equal(other.status, 201, `another address signs up: ${other.text}`)
    // A refused policy check costs no hash, and still gets its own clear answer.
    const short = await postJson(
      `${booth.url}/signup`,
      { username: uniqueName('short'), password: 'short' },
      { 'x-forwarded-for': flood },
    )
    assertError(short, 400, 'invalid_password', 'a short password from the throttled address')
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
