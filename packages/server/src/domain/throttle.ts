/**
 * Throttling of password guessing (OWASP ASVS V2.2.1) and of sign-ups, in memory, per instance.
 *
 * Logins, by three counters:
 * - account + address: 5 free failures, then a block that doubles with every further failure
 *   (1 s, 2 s, 4 s … capped at 15 min). The key includes the address, so an attacker cannot lock
 *   the owner of an account out from elsewhere.
 * - address: 100 failures in 15 minutes, across all accounts, block the address for the rest of
 *   the window (spraying one password over many accounts).
 * - account, across all addresses: after 10 failures in 15 minutes the account is *slowed*: an
 *   address that has not logged in to it before gets one attempt, then a block that doubles with
 *   every further failure on the account (1 s, 2 s … 15 min). This is a soft limit on purpose (the
 *   issue: "unable to lock other users out"): the first attempt from any address still goes
 *   through, so the owner with the right password gets in from a new address; addresses the owner
 *   logged in from before keep the plain per-address rule; existing sessions never pass through
 *   here. An attacker with many addresses gets one guess per address per block instead of five.
 *
 * Parallel guesses cannot overtake the count (each waited for its own Argon2id check before the
 * first failure was counted): per account and address, only as many attempts are checked at once
 * as may still fail before a block (5, then 1); the rest wait for those to be decided and then
 * see the block, if any. Parallel logins with the right password just wait their turn. For the
 * address and the account, an attempt counts from the moment it starts; success un-counts it.
 *
 * Keys are bounded: the account is the validated, normalized username (at most 64 characters; a
 * name that can never exist creates no account entry), the address an IPv4 address or an IPv6
 * /64 (one subscriber's prefix: rotating addresses inside it gains nothing). The tables are
 * bounded too; when full, idle entries go first, then unblocked ones (least recently used), and
 * active blocks only when nothing else is left, those ending soonest first.
 *
 * The address is the socket peer unless TOKENBOOTH_TRUST_PROXY names the proxy (server.ts).
 */
import { isIPv6 } from 'node:net'
import { TooManyRequests } from '../errors.ts'

const FREE_FAILURES = 5
const MAX_BLOCK_MS = 15 * 60_000
const WINDOW_MS = 15 * 60_000
const ADDRESS_FAILURES = 100
const ACCOUNT_FREE_FAILURES = 10
// A successful login exempts its address from the account's slow mode for this long.
const KNOWN_MS = 30 * 86_400_000
// Sign-ups: each one costs a full Argon2id hash. A burst of 100 per address, then one per 6 s.
const SIGNUP_BURST = 100
const SIGNUP_REFILL_MS = 6_000
const MAX_ENTRIES = 100_000
// Attempts that may wait behind the ones in flight, per account and address; more are 429.
const MAX_WAITING = 64

interface Entry {
  failures: number
  /** Start of the counting window. */
  since: number
  /** Until when it blocks (pair, address) or slows the account (account). */
  until: number
  lastSeen: number
  /** Attempts of this account from this address whose password is being checked now. */
  inflight: number
  /** Attempts waiting for those to be decided. */
  waiters?: Array<() => void>
}

export interface LoginAttempt {
  /** The password was right: the attempt is released and this address's failures forgotten. */
  succeeded(): void
  /** A wrong password or an unknown user: the attempt stays counted; a block runs from `now`. */
  failed(now: number): void
  /** Not a guess (the store failed): the attempt is released without counting. */
  abandoned(): void
}

export interface Throttle {
  /**
   * Counts a login attempt before its password is checked, or throws TooManyRequests. While as
   * many attempts of this account and address are being checked as may still fail before a
   * block, it waits for one of them to be decided. `account` is the normalized username,
   * `undefined` for one that can never exist.
   */
  begin(account: string | undefined, address: string, clock: () => number): Promise<LoginAttempt>
  /** Counts a sign-up before its password is hashed, or throws TooManyRequests. */
  signUp(address: string, now: number): void
}

/**
 * The unit an address is throttled by: an IPv4 address (also when IPv4-mapped), or the /64
 * prefix of an IPv6 address. Anything else is cut to 64 characters.
 *
 * @example addressGroup('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 * @example addressGroup('::ffff:192.0.2.7') // '192.0.2.7'
 */
export function addressGroup(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (mapped !== null) return mapped[1]!
  const bare = address.split('%')[0]!
  if (!isIPv6(bare)) return address.slice(0, 64)
  const [head = '', tail = ''] = bare.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  // An embedded IPv4 tail (::1.2.3.4) sits in the low 64 bits, which are dropped anyway.
  const groups = bare.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left
  const prefix = groups.slice(0, 4).map((g) => (g.includes('.') ? '0' : g.replace(/^0+(?=.)/, '')))
  return `${prefix.join(':').toLowerCase()}::/64`
}

function blockMs(failures: number, free: number): number {
  return failures < free ? 0 : Math.min(MAX_BLOCK_MS, 1000 * 2 ** (failures - free))
}

export function createThrottle(): Throttle {
  const entries = new Map<string, Entry>()
  // account\0address → time of the last successful login from there
  const known = new Map<string, number>()

  function prune(now: number) {
    const target = MAX_ENTRIES * 0.9
    // Oldest first (the map is kept in order of last use): idle entries, then unblocked ones.
    // Entries with attempts in flight are never dropped: they would lose those attempts' count.
    for (const [key, e] of entries) {
      if (e.until <= now && e.inflight === 0 && now - e.lastSeen > WINDOW_MS) entries.delete(key)
    }
    for (const [key, e] of entries) {
      if (entries.size < target) return
      if (e.until <= now && e.inflight === 0) entries.delete(key)
    }
    if (entries.size < target) return
    // Nothing but active blocks (a flood from very many addresses): those ending soonest go.
    const soonest = [...entries]
      .filter(([, e]) => e.inflight === 0)
      .sort(([, a], [, b]) => a.until - b.until)
    for (const [key] of soonest.slice(0, entries.size - target)) entries.delete(key)
  }

  function entry(key: string, now: number): Entry {
    let e = entries.get(key)
    if (e === undefined) {
      if (entries.size >= MAX_ENTRIES) prune(now)
      e = { failures: 0, since: now, until: 0, lastSeen: now, inflight: 0 }
    } else entries.delete(key) // re-inserted below: the map stays in order of last use
    e.lastSeen = now
    entries.set(key, e)
    return e
  }

  function windowed(e: Entry, now: number): Entry {
    if (now - e.since > WINDOW_MS && e.until <= now) {
      e.failures = 0
      e.since = now
    }
    return e
  }

  /** Un-counts a reserved attempt; a limit it alone had reached no longer holds. */
  function release(e: Entry | undefined, limit: number) {
    if (e === undefined || e.failures === 0) return
    e.failures--
    if (e.failures < limit) e.until = 0
  }

  function wait(key: string, now: number): number {
    const e = entries.get(key)
    return e !== undefined && e.until > now ? e.until - now : 0
  }

  function refuse(ms: number, detail: string): never {
    throw new TooManyRequests(Math.max(1, Math.ceil(ms / 1000)), { detail })
  }

  function wake(pair: Entry) {
    const waiting = pair.waiters
    pair.waiters = undefined
    for (const resume of waiting ?? []) resume()
  }

  function slowedFor(account: string, group: string, now: number): boolean {
    const acct = entries.get(`a\0${account}`)
    const knownAt = known.get(`${account}\0${group}`)
    return (
      acct !== undefined && acct.until > now && (knownAt === undefined || now - knownAt >= KNOWN_MS)
    )
  }

  return {
    async begin(account, address, clock) {
      const group = addressGroup(address)
      const ipKey = `i\0${group}`
      const pairKey = account === undefined ? undefined : `p\0${account}\0${group}`
      const shown = `${account ?? '(invalid name)'} from ${group}`
      let now = clock()
      let slowed = false
      for (;;) {
        const blocked = Math.max(wait(ipKey, now), pairKey ? wait(pairKey, now) : 0)
        if (blocked > 0) refuse(blocked, `throttled ${shown}`)
        if (account === undefined || pairKey === undefined) break
        slowed = slowedFor(account, group, now)
        const pair = entries.get(pairKey)
        // As many attempts in flight as may still fail before a block (at least one): the
        // rest wait for them to be decided, so parallel guesses cannot overtake the count.
        const free = slowed ? 1 : FREE_FAILURES
        if (pair === undefined || pair.inflight < Math.max(1, free - pair.failures)) break
        if ((pair.waiters?.length ?? 0) >= MAX_WAITING) refuse(1000, `throttled ${shown}`)
        await new Promise<void>((resume) => (pair.waiters ??= []).push(resume))
        now = clock()
      }

      // Counted now, for the address and the account, and released if the password was right.
      const ip = windowed(entry(ipKey, now), now)
      ip.failures++
      if (ip.failures >= ADDRESS_FAILURES) ip.until = ip.since + WINDOW_MS
      let pair: Entry | undefined
      let acct: Entry | undefined
      if (account !== undefined && pairKey !== undefined) {
        acct = windowed(entry(`a\0${account}`, now), now)
        acct.failures++
        if (acct.failures >= ACCOUNT_FREE_FAILURES) acct.until = acct.since + WINDOW_MS
        pair = entry(pairKey, now)
        pair.inflight++
      }

      let settled = false
      function settle(): boolean {
        if (settled) return false
        settled = true
        if (pair !== undefined) pair.inflight--
        return true
      }
      return {
        succeeded() {
          if (!settle()) return
          release(ip, ADDRESS_FAILURES)
          release(acct, ACCOUNT_FREE_FAILURES)
          if (pair === undefined || account === undefined) return
          if (entries.get(pairKey!) === pair) entries.delete(pairKey!)
          const knownKey = `${account}\0${group}`
          known.delete(knownKey)
          if (known.size >= MAX_ENTRIES) known.delete(known.keys().next().value!)
          known.set(knownKey, clock())
          wake(pair)
        },
        failed(at) {
          if (!settle() || pair === undefined || acct === undefined) return
          pair.failures++
          // Blocks count from the failure, as the client sees it.
          const delay = Math.max(
            blockMs(pair.failures, FREE_FAILURES),
            slowed ? blockMs(acct.failures, ACCOUNT_FREE_FAILURES) : 0,
          )
          if (delay > 0) pair.until = Math.max(pair.until, at + delay)
          wake(pair)
        },
        abandoned() {
          if (!settle()) return
          release(ip, ADDRESS_FAILURES)
          release(acct, ACCOUNT_FREE_FAILURES)
          if (pair !== undefined) wake(pair)
        },
      }
    },

    signUp(address, now) {
      const group = addressGroup(address)
      // A token bucket: `failures` holds the tokens spent, `since` the last refill.
      const bucket = entry(`s\0${group}`, now)
      const refilled = Math.floor((now - bucket.since) / SIGNUP_REFILL_MS)
      if (refilled > 0) {
        bucket.failures = Math.max(0, bucket.failures - refilled)
        bucket.since += refilled * SIGNUP_REFILL_MS
      }
      if (bucket.failures >= SIGNUP_BURST) {
        refuse(bucket.since + SIGNUP_REFILL_MS - now, `sign-ups throttled from ${group}`)
      }
      if (bucket.failures === 0) bucket.since = now
      bucket.failures++
      // Held (not evicted before idle entries) until the bucket has refilled completely.
      bucket.until = bucket.since + bucket.failures * SIGNUP_REFILL_MS
    },
  }
}
