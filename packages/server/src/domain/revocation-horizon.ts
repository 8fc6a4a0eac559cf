/**
 * How long the revocation log keeps an entry, across a change of the access-token lifetime.
 *
 * An entry must outlive every token it may match. `revocationHorizon` (context.ts) counts from
 * the lifetime this instance is configured with, which says nothing of tokens issued under a
 * longer one: before an operator lowered `TOKENBOOTH_ACCESS_TOKEN_TTL` and restarted, or by
 * another instance not yet restarted. So before it issues an access token, an instance makes
 * sure the store keeps every revocation logged from then on until that token has expired (plus
 * the usual margin): `Store.extendRevocationHorizon`, which the revoking transactions read. It
 * extends the horizon a minute ahead at a time, so this costs one write a minute per instance,
 * and an entry outlives the tokens it may match by at most that minute more than before.
 *
 * Tokens issued before this was deployed are not covered: lower the lifetime only after a
 * release with it has been running for the old lifetime.
 */
import type { Store } from '../store/store.ts'
import { REVOCATION_MARGIN_MS } from './context.ts'

/** Covers what an instance issues; built once per booth (server.ts). */
export interface HorizonLease {
  /**
   * Resolves once the store keeps revocations past the expiry of an access token issued at
   * `now` under this instance's lifetime; `undefined` when it already does (no await needed).
   * Rejects when the store cannot be written: the token must not be issued then.
   */
  cover(now: number): Promise<void> | undefined
}

// How far ahead one extension reaches: the write rate (one a minute), and how much longer than
// needed an entry may be kept.
const LEASE_MS = 60_000
// `iat` may be the next whole second after `now` (issuedAt in sessions.ts): `exp` 1 s later too.
const IAT_AHEAD_MS = 1000

/**
 * The lease of an instance that issues tokens living `accessTokenTtl` seconds.
 *
 * @example
 * ```ts
 * const lease = createHorizonLease(store, config.accessTokenTtl)
 * const now = clock()
 * await lease.cover(now) // then sign a token with iat ≤ now + 1 s
 * ```
 */
export function createHorizonLease(store: Store, accessTokenTtl: number): HorizonLease {
  const ttlMs = accessTokenTtl * 1000
  // Tokens expiring up to here are covered by what the store has acknowledged.
  let covered = 0
  // One extension at a time; every caller that needs one waits on it.
  let pending: Promise<void> | undefined

  async function extend(now: number): Promise<void> {
    const until = now + ttlMs + LEASE_MS
    await store.extendRevocationHorizon(until + REVOCATION_MARGIN_MS)
    if (until > covered) covered = until
  }

  function cover(now: number): Promise<void> | undefined {
    if (covered >= now + ttlMs + IAT_AHEAD_MS) return undefined
    pending ??= extend(now).finally(() => {
      pending = undefined
    })
    // Again once it is done: the extension under way may have started for an earlier `now`.
    return pending.then(() => cover(now))
  }

  return { cover }
}
