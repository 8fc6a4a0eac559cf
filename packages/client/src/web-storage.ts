/**
 * Opt-in persistent storage on the Web Storage API (`localStorage`, `sessionStorage`).
 *
 * @module
 */
import { isStoredTokens, type StoredTokens, type TokenStorage } from './storage.ts'

/**
 * The part of the Web Storage API that {@link webStorage} uses.
 *
 * @example
 * ```ts
 * const store: WebStorageLike = sessionStorage // per tab, survives reloads
 * ```
 */
export interface WebStorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/**
 * Options of {@link webStorage}.
 *
 * @example
 * ```ts
 * webStorage(localStorage, { key: 'tokenbooth:https://auth.example.com' })
 * ```
 */
export interface WebStorageOptions {
  /** The item's key; default `'tokenbooth.tokens'`. Use one key per issuer. */
  key?: string
  /**
   * Whether every tab has a copy of its own (see "`sessionStorage` and copied tabs" below).
   * Default: true for the page's `sessionStorage`, false for anything else.
   */
  perTab?: boolean
}

/**
 * Keeps tokens in a Web Storage object, so that they survive reloads and, with `localStorage`,
 * are shared by every tab of the origin (the tabs then hold one session and refresh it once).
 *
 * **The XSS risk.** In bearer mode this writes the access token *and the long-lived refresh
 * token* where any script running on your origin can read them: one injected script (a
 * compromised dependency, a missing escape) can copy the refresh token to an attacker, who can
 * then mint access tokens from anywhere until the session is revoked or expires (14 days idle,
 * 30 days at most by default). Memory storage limits the theft to what the script can do while
 * the page is open. Use this only when you accept that risk, with a strict Content-Security-Policy;
 * prefer cookie mode for browser apps, where the tokens live in HttpOnly cookies and this storage
 * holds only their expiry (no secret).
 *
 * A value under the key that is not a token record (another app's, an older format) is removed
 * and treated as signed out.
 *
 * **`sessionStorage` and copied tabs.** A tab opened with `window.open` (or the browser's
 * "Duplicate tab") starts with a copy of its opener's sessionStorage: two tabs, one refresh token.
 * Only one of them can go on with it (the booth rotates refresh tokens and takes a second use for
 * theft), so when one tab refreshes, the other drops its copy and emits `'session-expired'`; that
 * tab must log in again (`perTab`, on by default for `sessionStorage`). With `localStorage` the
 * tabs share one record and this cannot happen.
 *
 * It does NOT encrypt anything, and it does NOT listen to `storage` events: the client learns of
 * other tabs' changes through BroadcastChannel and by reading storage before each refresh.
 *
 * @example
 * ```ts
 * const client = createClient({
 *   issuer: 'https://auth.example.com',
 *   storage: webStorage(localStorage), // see the XSS note above
 * })
 * ```
 */
export function webStorage(store: WebStorageLike, options: WebStorageOptions = {}): TokenStorage {
  if (typeof store?.getItem !== 'function' || typeof store.setItem !== 'function') {
    throw new TypeError(`webStorage() needs a Storage such as localStorage, got ${typeof store}`)
  }
  const key = options.key ?? 'tokenbooth.tokens'
  if (typeof key !== 'string' || key === '') {
    throw new TypeError(`"key" must be a non-empty string, got ${JSON.stringify(key)}`)
  }
  const perTab = options.perTab ?? isSessionStorage(store)
  return {
    perTab,
    async get(): Promise<StoredTokens | undefined> {
      const raw = store.getItem(key)
      if (raw === null) return undefined
      let value: unknown
      try {
        value = JSON.parse(raw)
      } catch {
        value = undefined
      }
      if (isStoredTokens(value)) return value
      // Not ours or not readable: documented above as "removed and treated as signed out".
      store.removeItem(key)
      return undefined
    },
    async set(tokens) {
      store.setItem(key, JSON.stringify(tokens))
    },
    async clear() {
      store.removeItem(key)
    },
  }
}

// sessionStorage can throw on access (a sandboxed frame, storage disabled): then it is not this one
function isSessionStorage(store: WebStorageLike): boolean {
  try {
    return typeof sessionStorage !== 'undefined' && store === sessionStorage
  } catch {
    return false
  }
}
