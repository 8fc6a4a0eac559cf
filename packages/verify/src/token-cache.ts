import type { AccessTokenClaims } from './claims.ts'

/**
 * A bounded cache of verified tokens: full token string → its frozen claims, and the version of
 * the revocation list they were last checked against.
 *
 * It is an approximate LRU built from two generations of `Map` (the scheme of quick-lru and
 * hashlru): new entries go into `current`; when `current` holds half the budget it becomes
 * `previous` and the old `previous` is dropped whole. A hit in `current` costs one lookup and moves
 * nothing; a hit in `previous` moves the entry into `current`, so a token in use survives. A strict
 * LRU would delete and re-insert on every hit, which is the hot path.
 *
 * It does NOT check `exp` or revocation: the verifier checks `exp` on every hit, and the
 * revocation list whenever its version differs from the entry's `checked`.
 */
export interface TokenCache {
  get(token: string): CacheEntry | undefined
  /** Stores the claims (unless the cache is disabled) and returns their entry either way. */
  set(token: string, claims: AccessTokenClaims, checked: number): CacheEntry
  delete(token: string): void
  clear(): void
  readonly size: number
}

// The map key is the token's last 16 characters (the end of its signature: ~90 random bits), not
// the whole token. A token taken from a request header is a fresh string whose hash V8 has not
// computed; hashing ~400 characters costs ~0.5 µs, five times the rest of a cache hit. Equality of
// the whole token is still required for a hit, so a key collision is only a miss; and only
// verified tokens are ever stored, so nobody can evict an entry without a valid token.
const KEY_CHARS = 16

/** What the cache holds for one token. */
export interface CacheEntry {
  readonly token: string
  readonly claims: AccessTokenClaims
  /** The revocation list's `version` when `claims` last passed its check; the verifier's to set. */
  checked: number
}

/** Creates a {@link TokenCache} holding at most `maxEntries` tokens (0 disables caching). */
export function createTokenCache(maxEntries: number): TokenCache {
  // each generation holds at most ⌈max/2⌉; both together at most max (see store)
  const generation = Math.ceil(maxEntries / 2)
  let current = new Map<string, CacheEntry>()
  let previous = new Map<string, CacheEntry>()

  function store(key: string, entry: CacheEntry): void {
    if (generation === 0) return
    current.set(key, entry)
    // rotate as soon as current is full: previous ≤ g, current ≤ g - 1, so the total ≤ 2g - 1 ≤ max
    if (current.size >= generation) {
      previous = current
      current = new Map()
    }
  }

  return {
    get(token) {
      const key = token.slice(-KEY_CHARS)
      const hit = current.get(key)
      if (hit !== undefined) return hit.token === token ? hit : undefined
      const old = previous.get(key)
      if (old === undefined || old.token !== token) return undefined
      previous.delete(key)
      store(key, old)
      return old
    },
    set(token, claims, checked) {
      const entry: CacheEntry = { token, claims, checked }
      const key = token.slice(-KEY_CHARS)
      previous.delete(key) // one entry per key across both generations
      store(key, entry)
      return entry
    },
    delete(token) {
      const key = token.slice(-KEY_CHARS)
      if (current.get(key)?.token === token) current.delete(key)
      if (previous.get(key)?.token === token) previous.delete(key)
    },
    clear() {
      current.clear()
      previous.clear()
    },
    get size() {
      return current.size + previous.size
    },
  }
}
