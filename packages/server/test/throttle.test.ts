/** The throttle in process, with a frozen clock (test/contract/throttle.test.ts runs it over HTTP). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { addressGroup, createThrottle } from '../src/domain/throttle.ts'
import { TooManyRequests } from '../src/errors.ts'

const T0 = 1_800_000_000_000

describe('addressGroup', () => {
  it('groups IPv6 by /64 in every spelling, and keeps IPv4 (mapped or not) whole', () => {
    const cases: Array<[string, string]> = [
      ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
      ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
      ['2001:DB8:1:2::', '2001:db8:1:2::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['::ffff:192.0.2.7', '192.0.2.7'],
      ['192.0.2.7', '192.0.2.7'],
      ['2001:db8::192.0.2.7', '2001:db8:0:0::/64'],
    ]
    for (const [address, group] of cases) assert.equal(addressGroup(address), group, address)
    assert.notEqual(addressGroup('2001:db8:1:2::1'), addressGroup('2001:db8:1:3::1'))
    assert.equal(addressGroup('x'.repeat(1000)).length, 64, 'anything else is bounded')
  })
})

describe('login throttle', () => {
  it('a full table drops idle and unblocked entries, never an active block before them', async () => {
    let now = T0
    const clock = () => now
    const throttle = createThrottle()
    for (let i = 0; i < 5; i++) (await throttle.begin('victim', '203.0.113.1', clock)).failed(now)
    await assert.rejects(throttle.begin('victim', '203.0.113.1', clock), TooManyRequests)
    now += 500
    // A flood of distinct accounts and addresses: three entries each, well past the table's size.
    for (let i = 0; i < 45_000; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
      ;(await throttle.begin(`user${i}`, address, clock)).failed(now)
    }
    await assert.rejects(
      throttle.begin('victim', '203.0.113.1', clock),
      TooManyRequests,
      'the block outlived the flood (it used to be dropped with the oldest half)',
    )
  })

  it('a right password is not counted (not even toward the address limit of 100)', async () => {
    const now = T0
    const clock = () => now
    const throttle = createThrottle()
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 4; i++) (await throttle.begin('kim', '198.51.100.9', clock)).failed(now)
      ;(await throttle.begin('kim', '198.51.100.9', clock)).succeeded()
    }
    // 80 failures and 20 successes from one address: had the successes counted, this 101st
    // attempt would meet the address block; and every success reset the account's pair.
    ;(await throttle.begin('kim', '198.51.100.9', clock)).succeeded()
  })

  it('an attempt abandoned for a store error is not counted', async () => {
    const now = T0
    const clock = () => now
    const throttle = createThrottle()
    for (let i = 0; i < 20; i++) (await throttle.begin('lee', '198.51.100.10', clock)).abandoned()
    for (let i = 0; i < 5; i++) (await throttle.begin('lee', '198.51.100.10', clock)).failed(now)
    await assert.rejects(throttle.begin('lee', '198.51.100.10', clock), TooManyRequests)
  })

  it('attempts beyond the free ones wait for those in flight, then meet the block', async () => {
    const now = T0
    const clock = () => now
    const throttle = createThrottle()
    const first = await Promise.all(
      Array.from({ length: 5 }, () => throttle.begin('park', '198.51.100.11', clock)),
    )
    let sixth: 'waiting' | 'refused' | 'admitted' = 'waiting'
    const pending = throttle.begin('park', '198.51.100.11', clock).then(
      () => (sixth = 'admitted'),
      (error: unknown) => {
        assert.ok(error instanceof TooManyRequests)
        sixth = 'refused'
      },
    )
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(sixth, 'waiting', 'not admitted while five are being checked')
    for (const attempt of first) attempt.failed(now)
    await pending
    assert.equal(sixth, 'refused')
  })
})

describe('sign-up throttle', () => {
  it('a burst of 100 per address, then one per 6 s, with Retry-After', () => {
    let now = T0
    const throttle = createThrottle()
    for (let i = 0; i < 100; i++) throttle.signUp('198.51.100.20', now)
    assert.throws(
      () => throttle.signUp('198.51.100.20', now),
      (error: unknown) => error instanceof TooManyRequests && error.retryAfter === 6,
    )
    throttle.signUp('198.51.100.21', now) // another address has its own bucket
    now += 6_000
    throttle.signUp('198.51.100.20', now)
    assert.throws(() => throttle.signUp('198.51.100.20', now), TooManyRequests)
    // An IPv6 subscriber cannot reset it by moving inside its /64.
    for (let i = 0; i < 100; i++) throttle.signUp(`2001:db8:5::${i.toString(16)}`, now)
    assert.throws(() => throttle.signUp('2001:db8:5::ffff', now), TooManyRequests)
  })
})
