/**
 * Throttling of password guessing (OWASP ASVS V2.2.1), in memory, per instance.
 *
 * - Per account *and* client address: 5 free failures, then a block that doubles with every
 *   further failure (1 s, 2 s, 4 s … capped at 15 min). The key includes the address, so an
 *   attacker cannot lock the owner of an account out from elsewhere.
 * - Per client address: 100 failures in 15 minutes, across all accounts, block the address for
 *   the rest of the window (spraying one password over many accounts).
 *
 * The address is the socket peer unless TOKENBOOTH_TRUST_PROXY names the proxy (http/app.ts).
 */
import { TooManyRequests } from '../errors.ts'

const FREE_FAILURES = 5
const MAX_BLOCK_MS = 15 * 60_000
const ADDRESS_WINDOW_MS = 15 * 60_000
const ADDRESS_FAILURES = 100
const MAX_ENTRIES = 100_000

interface Entry {
  failures: number
  /** First failure of the window (address) or time the block ends (account+address). */
  since: number
  blockedUntil: number
}

export interface Throttle {
  /** Throws TooManyRequests while either key is blocked. */
  check(account: string, address: string, now: number): void
  failed(account: string, address: string, now: number): void
  succeeded(account: string, address: string): void
}

export function createThrottle(): Throttle {
  const entries = new Map<string, Entry>()

  function entry(key: string, now: number): Entry {
    let e = entries.get(key)
    if (e === undefined) {
      if (entries.size >= MAX_ENTRIES) prune(now)
      e = { failures: 0, since: now, blockedUntil: 0 }
      entries.set(key, e)
    }
    return e
  }

  function prune(now: number) {
    for (const [key, e] of entries) {
      if (e.blockedUntil <= now && now - e.since > ADDRESS_WINDOW_MS) entries.delete(key)
    }
    // Still full (a flood of distinct keys): drop the oldest half rather than grow without bound.
    if (entries.size >= MAX_ENTRIES) {
      let drop = entries.size / 2
      for (const key of entries.keys()) {
        if (drop-- <= 0) break
        entries.delete(key)
      }
    }
  }

  function blocked(key: string, now: number): number {
    const e = entries.get(key)
    return e !== undefined && e.blockedUntil > now ? e.blockedUntil - now : 0
  }

  return {
    check(account, address, now) {
      const wait = Math.max(
        blocked(`a\0${account}\0${address}`, now),
        blocked(`i\0${address}`, now),
      )
      if (wait > 0)
        throw new TooManyRequests(Math.ceil(wait / 1000), {
          detail: `throttled ${account} from ${address}`,
        })
    },
    failed(account, address, now) {
      const pair = entry(`a\0${account}\0${address}`, now)
      pair.failures++
      pair.since = now
      if (pair.failures >= FREE_FAILURES) {
        pair.blockedUntil =
          now + Math.min(MAX_BLOCK_MS, 1000 * 2 ** (pair.failures - FREE_FAILURES))
      }
      const ip = entry(`i\0${address}`, now)
      if (now - ip.since > ADDRESS_WINDOW_MS) {
        ip.failures = 0
        ip.since = now
      }
      ip.failures++
      if (ip.failures >= ADDRESS_FAILURES) ip.blockedUntil = ip.since + ADDRESS_WINDOW_MS
    },
    succeeded(account, address) {
      entries.delete(`a\0${account}\0${address}`)
    },
  }
}
