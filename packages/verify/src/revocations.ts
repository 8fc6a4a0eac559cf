import type { AccessTokenClaims } from './claims.ts'
import { TokenRevoked } from './errors.ts'
import type { RevocationKind } from './errors.ts'

/**
 * One entry of the booth's revocation feed, as validated by {@link parseRevocation}.
 *
 * - `sid`: every token of that session is revoked.
 * - `sub`: every token of that user issued at or before `at` (epoch ms) is revoked.
 * - `jti`: that one token is revoked.
 *
 * `expires_at` (epoch ms) is when no token the entry could match is still unexpired; after it the
 * entry is dropped, which bounds memory by the revocations still relevant.
 */
export interface RevocationEntry {
  kind: RevocationKind
  value: string
  at: number
  expires_at: number
}

/**
 * The revocations a verifier knows, as three maps so that a check is at most three lookups and no
 * allocation. Applying an entry is idempotent and order-insensitive (the feed may repeat entries
 * and deliver them slightly out of order).
 */
export interface RevocationList {
  /** Adds an entry; returns false if it had expired (grace included) at `now` and was ignored. */
  apply(entry: RevocationEntry, now: number): boolean
  /** Throws `TokenRevoked` if any entry matches the claims. */
  check(claims: AccessTokenClaims): void
  /**
   * Goes up with every entry applied, so that claims which passed `check` at one version pass
   * again at any later moment of the same version: nothing else can revoke them (`iat`, `sid`,
   * `jti` and `sub` never change, and pruning only removes entries).
   */
  readonly version: number
  /** Drops the entries whose `expires_at`, grace included, is at or before `now`. */
  prune(now: number): void
  readonly size: number
}

interface Cutoff {
  at: number
  expiresAt: number
}

/**
 * Creates an empty {@link RevocationList}. An entry is kept `graceMs` past its `expires_at`: the
 * verifier's clock tolerance, since it accepts a token up to `exp` plus that tolerance, and an entry
 * dropped before then would make a revoked token valid again (the booth's `expires_at` is 60 s past
 * the last `exp` the entry can match, which a tolerance above 60 s would otherwise outlast).
 */
export function createRevocationList(graceMs = 0): RevocationList {
  const sids = new Map<string, number>() // sid → expires_at + grace
  const jtis = new Map<string, number>() // jti → expires_at + grace
  const subs = new Map<string, Cutoff>() // sub → latest cut-off
  let version = 0

  return {
    apply(entry, now) {
      const { kind, value, at } = entry
      const expiresAt = entry.expires_at + graceMs
      if (expiresAt <= now) return false
      version++
      if (kind === 'sub') {
        const cutoff = subs.get(value)
        if (cutoff === undefined) subs.set(value, { at, expiresAt })
        else {
          // a later cut-off covers every token an earlier one did; keep the widest of both
          if (at > cutoff.at) cutoff.at = at
          if (expiresAt > cutoff.expiresAt) cutoff.expiresAt = expiresAt
        }
        return true
      }
      const map = kind === 'sid' ? sids : jtis
      const known = map.get(value)
      if (known === undefined || expiresAt > known) map.set(value, expiresAt)
      return true
    },

    check(claims) {
      const { sid } = claims
      if (sids.size !== 0 && sid !== undefined && sids.has(sid)) throw new TokenRevoked('sid')
      if (jtis.size !== 0 && jtis.has(claims.jti)) throw new TokenRevoked('jti')
      if (subs.size !== 0) {
        const cutoff = subs.get(claims.sub)
        // `iat` has whole seconds and `at` milliseconds: a token issued in the same second as the
        // cut-off but after it (iat 12:00:00 for 12:00:00.900, cut-off at 12:00:00.500) would be
        // rejected too. Failing safe is the only choice: from `iat` alone the two cannot be told
        // apart. So the booth dates such a token the next second (iat 12:00:01: within any clock
        // tolerance of at least 1 s), and it passes here.
        if (cutoff !== undefined && claims.iat * 1000 <= cutoff.at) throw new TokenRevoked('sub')
      }
    },

    prune(now) {
      for (const [key, expiresAt] of sids) if (expiresAt <= now) sids.delete(key)
      for (const [key, expiresAt] of jtis) if (expiresAt <= now) jtis.delete(key)
      for (const [key, cutoff] of subs) if (cutoff.expiresAt <= now) subs.delete(key)
    },

    get version() {
      return version
    },

    get size() {
      return sids.size + jtis.size + subs.size
    },
  }
}

// An entry's value is an identifier from the booth; 1 KiB is far beyond any sid, sub or jti
const MAX_VALUE_LENGTH = 1024

/**
 * Validates the JSON `data` of a feed `revocation` event. Returns undefined for anything that is
 * not exactly `{"kind":"sid"|"sub"|"jti","value":string,"at":number,"expires_at":number}`.
 */
export function parseRevocation(data: string): RevocationEntry | undefined {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const entry = value as Record<string, unknown>
  const { kind, value: id, at, expires_at: expiresAt } = entry
  if (kind !== 'sid' && kind !== 'sub' && kind !== 'jti') return undefined
  if (typeof id !== 'string' || id === '' || id.length > MAX_VALUE_LENGTH) return undefined
  if (typeof at !== 'number' || !Number.isFinite(at)) return undefined
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined
  return { kind, value: id, at, expires_at: expiresAt }
}
