/**
 * Where the client keeps its tokens: the {@link TokenStorage} interface and the default,
 * {@link memoryStorage}. Persistent browser storage is opt-in (`web-storage.ts`).
 *
 * @module
 */

/**
 * What the client stores after a login or a refresh. Treat it as opaque; it is documented so
 * that a custom {@link TokenStorage} knows what it holds (secrets, in bearer mode). All times
 * are milliseconds on the client's own clock (the `clock` option), already corrected for the
 * skew between that clock and the booth's, so every tab of one browser can compare them.
 *
 * In cookie mode there is no token here at all: the booth keeps both in HttpOnly cookies that
 * scripts cannot read, and this record holds only their expiry.
 *
 * @example
 * ```ts
 * const tokens: StoredTokens | undefined = await storage.get()
 * if (tokens) console.log('signed in until', new Date(tokens.expiresAt))
 * ```
 */
export interface StoredTokens {
  /** How the booth delivered the tokens: in the JSON body (`bearer`) or as cookies (`cookie`). */
  delivery: 'bearer' | 'cookie'
  /** Bearer mode only. */
  accessToken?: string | undefined
  /** Bearer mode only. */
  refreshToken?: string | undefined
  /** The scope the booth granted, space-separated. */
  scope: string
  /** When the tokens were obtained (the login or the last refresh): `lastRefreshAt`. */
  obtainedAt: number
  /** When the access token expires. */
  expiresAt: number
  /** The booth's session id (the token's `sid` claim) when readable: tells tabs apart. */
  sessionId?: string | undefined
}

/**
 * Asynchronous key-value home for one {@link StoredTokens} record. Implement it to keep tokens
 * somewhere else, such as the platform keychain of a mobile app. `get` must return what the last
 * `set` stored (or `undefined` after `clear`); the client validates the shape it gets back.
 *
 * The client reads storage again inside the cross-tab lock before each refresh, so a storage
 * that several tabs share must show each tab's writes to the others at once.
 *
 * It does NOT need to encrypt: choose a place whose access control fits your threat model.
 *
 * @example
 * ```ts
 * // React Native with expo-secure-store (Keychain on iOS, Keystore-backed on Android).
 * import * as SecureStore from 'expo-secure-store'
 * import { createClient, type TokenStorage } from '@tokenbooth/client'
 *
 * const KEY = 'tokenbooth.tokens'
 * const secureStorage: TokenStorage = {
 *   async get() {
 *     const raw = await SecureStore.getItemAsync(KEY)
 *     return raw === null ? undefined : JSON.parse(raw)
 *   },
 *   async set(tokens) {
 *     await SecureStore.setItemAsync(KEY, JSON.stringify(tokens))
 *   },
 *   async clear() {
 *     await SecureStore.deleteItemAsync(KEY)
 *   },
 * }
 * const client = createClient({ issuer: 'https://auth.example.com', storage: secureStorage })
 * ```
 */
export interface TokenStorage {
  get(): Promise<StoredTokens | undefined>
  set(tokens: StoredTokens): Promise<void>
  clear(): Promise<void>
  /**
   * True when each tab has its own copy (sessionStorage): a refresh of this very session that
   * another tab announces, and this storage never saw, then means this copy is spent. Leave it
   * unset for storage the tabs share (localStorage shows another tab's write a moment after its
   * message may arrive) and for a storage of one tab alone.
   */
  readonly perTab?: boolean
}

/**
 * Keeps tokens in this JavaScript realm's memory only: the default. Nothing survives a reload,
 * and nothing is shared between tabs, so in bearer mode every tab is its own session (share a
 * session between tabs with `webStorage(localStorage)` or cookie mode).
 *
 * It does NOT protect tokens from script injected into the same page (XSS can call the client
 * itself); it only keeps them out of storage that outlives the page.
 *
 * @example
 * ```ts
 * const client = createClient({ issuer: 'https://auth.example.com', storage: memoryStorage() })
 * ```
 */
export function memoryStorage(): TokenStorage {
  let value: StoredTokens | undefined
  const storage: TokenStorage = {
    async get() {
      return value
    },
    async set(tokens) {
      value = { ...tokens }
    },
    async clear() {
      value = undefined
    },
  }
  PER_INSTANCE.add(storage)
  return storage
}

/** Storages that no other client can see: nothing to coordinate across tabs in bearer mode. */
const PER_INSTANCE = new WeakSet<TokenStorage>()

/**
 * True for a {@link memoryStorage}: a storage only its own client sees.
 *
 * @example
 * ```ts
 * isPerInstanceStorage(memoryStorage()) // true
 * isPerInstanceStorage(webStorage(localStorage)) // false
 * ```
 */
export function isPerInstanceStorage(storage: TokenStorage): boolean {
  return PER_INSTANCE.has(storage)
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isOptionalString = (v: unknown) => v === undefined || typeof v === 'string'

/**
 * True when `value` has the shape of {@link StoredTokens}. Used on everything read back from a
 * storage, which may hold a value written by another version or by someone else.
 *
 * It does NOT check that the tokens are still valid at the booth.
 *
 * @example
 * ```ts
 * const parsed: unknown = JSON.parse(raw)
 * if (isStoredTokens(parsed)) use(parsed)
 * ```
 */
export function isStoredTokens(value: unknown): value is StoredTokens {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  if (v.delivery !== 'bearer' && v.delivery !== 'cookie') return false
  if (typeof v.scope !== 'string' || !isNumber(v.obtainedAt) || !isNumber(v.expiresAt)) return false
  if (!isOptionalString(v.accessToken) || !isOptionalString(v.refreshToken)) return false
  if (!isOptionalString(v.sessionId)) return false
  return v.delivery === 'cookie' || typeof v.accessToken === 'string'
}
