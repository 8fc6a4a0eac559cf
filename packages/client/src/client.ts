/**
 * `createClient`: the public face of the SDK. Validates options, then wires the booth endpoint,
 * the session state and the authorized fetch together.
 *
 * @module
 */
import { authorizedFetch } from './authorized-fetch.ts'
import { findLocks } from './cross-tab.ts'
import { ClientClosed, LogoutFailed, SessionExpired } from './errors.ts'
// for {@link} in the docs below
import type { LoginFailed, RefreshFailed } from './errors.ts'
import { createEmitter, type ClientEventListener, type ClientEventName } from './events.ts'
import { createSession } from './session.ts'
import { isPerInstanceStorage, memoryStorage, type TokenStorage } from './storage.ts'
import {
  DEFAULT_REFRESH_TIMEOUT_MS,
  boothRequest,
  passwordGrant,
  readRefusal,
  type BoothEndpoint,
} from './token-endpoint.ts'

/**
 * Options of {@link createClient}. Only `issuer` is required.
 *
 * @example
 * ```ts
 * const options: ClientOptions = {
 *   issuer: 'https://auth.example.com',
 *   refreshMargin: 30,
 *   storage: webStorage(localStorage), // opt-in; read the XSS note of webStorage
 * }
 * ```
 */
export interface ClientOptions {
  /** The booth's URL (its `iss`), such as `https://auth.example.com`. */
  issuer: string
  /** The `fetch` to use for the booth and for your requests; default `globalThis.fetch`. */
  fetch?: (request: Request) => Promise<Response>
  /** Where tokens live; default {@link memoryStorage}. */
  storage?: TokenStorage
  /** Milliseconds since the epoch, now; default `Date.now`. Tests pass a controllable clock. */
  clock?: () => number
  /**
   * Seconds before expiry at which to refresh ahead; default 60. Capped at half the token's
   * lifetime, so a 10 s token is refreshed after 5 s, not on every call.
   */
  refreshMargin?: number
  /** `'bearer'` (default): tokens in JSON, `Authorization` header. `'cookie'`: HttpOnly cookies. */
  mode?: 'bearer' | 'cookie'
  /** Sent as `client_id` to the token endpoint when given (a public client registered at the booth). */
  clientId?: string
  /**
   * Coordinate refreshes with other tabs (clients sharing `lockName`) through Web Locks and
   * BroadcastChannel. Default: true where `navigator.locks` exists and there is a session to
   * share — cookie mode in a browser page or worker (the browser shares the cookies) or a storage
   * other tabs can read. With the default memory storage in bearer mode each client is its own
   * session, and a lock shared by every client of the process (Node ≥ 22 has `navigator.locks`)
   * would only serialise unrelated users' refreshes. Outside a browser, cookie-mode clients each
   * keep cookies in their own `fetch`: clients sharing `lockName` would sign each other in and
   * out, so pass `crossTab: true` only for clients that share one cookie jar.
   */
  crossTab?: boolean
  /** Name of the Web Lock and BroadcastChannel; default `tokenbooth:` + issuer. */
  lockName?: string
  /**
   * Milliseconds before a call to the booth is abandoned; default 30 000, and 4 000 for
   * refreshes. A refresh that got no answer (network error, timeout) is retried once at once,
   * since the booth may have rotated anyway; that retry must reach the booth within its grace
   * window (TOKENBOOTH_REFRESH_GRACE, default 5 s) or it counts as reuse and the booth revokes
   * the session. If you set this, keep it below the booth's grace window.
   */
  boothTimeout?: number
}

/**
 * Options of `client.login`.
 *
 * @example
 * ```ts
 * await client.login('kim', password, { scope: 'profile orders:read' })
 * ```
 */
export interface LoginOptions {
  /** Space-separated scopes to ask for; default: the booth's default scope. */
  scope?: string
}

function fail(name: string, rule: string, value: unknown): never {
  throw new TypeError(
    `"${name}" must be ${rule}, got ${typeof value === 'string' ? JSON.stringify(value) : typeof value}`,
  )
}

/**
 * True in a browser page or worker, whose tabs share the browser's cookies. Elsewhere (Node, Bun)
 * each cookie-mode client brings its own cookie jar in its `fetch`, so clients that share a lock
 * name are not one session, and must not sign each other in and out.
 */
function isBrowserRealm(): boolean {
  const g = globalThis as { window?: unknown; WorkerGlobalScope?: unknown }
  return typeof g.window === 'object' || typeof g.WorkerGlobalScope === 'function'
}

function checkIssuer(issuer: unknown): string {
  if (typeof issuer !== 'string') return fail('issuer', 'an absolute http(s) URL', issuer)
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return fail('issuer', 'an absolute http(s) URL', issuer)
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash) {
    fail('issuer', 'an http(s) URL with no query or fragment', issuer)
  }
  return issuer.replace(/\/+$/, '')
}

/**
 * Creates a client of one booth. Call `login` once; then use `client.fetch` like `fetch` and the
 * tokens take care of themselves: refreshed ahead of expiry (clock skew corrected), one refresh
 * for any number of concurrent calls and tabs, one refresh-and-retry on a 401 `invalid_token`.
 *
 * It does NOT verify tokens (resource servers do, with `@tokenbooth/verify`), and `client.fetch`
 * attaches the access token to every URL it is given: use it only for your own APIs.
 *
 * @example
 * ```ts
 * import { createClient, SessionExpired } from '@tokenbooth/client'
 *
 * const client = createClient({ issuer: 'https://auth.example.com' })
 * await client.login('kim', 'correct horse battery')
 * client.on('session-expired', () => showLogin())
 *
 * const res = await client.fetch('https://api.example.com/orders')
 * ```
 */
export function createClient(options: ClientOptions) {
  if (typeof options !== 'object' || options === null) fail('options', 'an object', options)
  const issuer = checkIssuer(options.issuer)
  const mode = options.mode ?? 'bearer'
  if (mode !== 'bearer' && mode !== 'cookie') fail('mode', "'bearer' or 'cookie'", mode)
  const userFetch = options.fetch
  if (userFetch !== undefined && typeof userFetch !== 'function')
    fail('fetch', 'a function', userFetch)
  // Called unbound: browsers throw "Illegal invocation" when fetch gets another `this`.
  const fetchImpl = userFetch ?? ((request: Request) => globalThis.fetch(request))
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') fail('clock', 'a function returning milliseconds', clock)
  const margin = options.refreshMargin ?? 60
  if (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0) {
    fail('refreshMargin', 'a number of seconds ≥ 0', margin)
  }
  const storage = options.storage ?? memoryStorage()
  if (
    typeof storage?.get !== 'function' ||
    typeof storage.set !== 'function' ||
    typeof storage.clear !== 'function'
  ) {
    fail('storage', 'a TokenStorage (get, set, clear)', storage)
  }
  const clientId = options.clientId
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) {
    fail('clientId', 'a non-empty string', clientId)
  }
  const crossTab =
    options.crossTab ??
    (findLocks() !== undefined &&
      (mode === 'cookie' ? isBrowserRealm() : !isPerInstanceStorage(storage)))
  if (typeof crossTab !== 'boolean') fail('crossTab', 'a boolean', crossTab)
  const lockName = options.lockName ?? `tokenbooth:${issuer}`
  if (typeof lockName !== 'string' || lockName === '')
    fail('lockName', 'a non-empty string', lockName)
  const timeoutMs = options.boothTimeout ?? 30_000
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
    fail('boothTimeout', 'a positive number of milliseconds', timeoutMs)
  const refreshTimeoutMs = options.boothTimeout ?? DEFAULT_REFRESH_TIMEOUT_MS

  const endpoint: BoothEndpoint = {
    issuer,
    fetch: fetchImpl,
    mode,
    clientId,
    timeoutMs,
    refreshTimeoutMs,
    clock,
  }
  const events = createEmitter()
  const session = createSession({
    endpoint,
    storage,
    marginMs: margin * 1000,
    crossTab,
    lockName,
    events,
  })
  let closed = false

  async function endAtBooth(
    path: '/logout' | '/logout/all',
    reason: 'logout' | 'logout-all',
  ): Promise<void> {
    if (closed) throw new ClientClosed()
    const { tokens, epoch } = await session.current()
    // Bearer with no token has nothing to end. Cookie mode always asks: the booth's cookies may
    // outlive this page's memory (a reload with memory storage).
    if (tokens === undefined && mode === 'bearer') return
    let failure: LogoutFailed | undefined
    try {
      const res = await authorizedFetch(session, fetchImpl, mode, boothRequest(endpoint, path))
      // 401: the booth no longer knows these credentials, so there is no session left to end.
      if (!res.ok && res.status !== 401) failure = new LogoutFailed(await readRefusal(res))
      else await res.body?.cancel()
    } catch (error) {
      if (error instanceof ClientClosed) throw error
      // The refresh before the call found the session over: nothing left to end at the booth.
      if (!(error instanceof SessionExpired)) failure = new LogoutFailed({ cause: error })
    }
    // Cookie mode: the credentials are the booth's HttpOnly cookies, which only the booth can
    // clear. Unconfirmed, they still work, so the session stays and the user can try again:
    // "signed out" here would be false, and a retry that forgot the session could not refresh
    // it (its 401 would pass for "nothing left to end" while the other sessions live on).
    if (failure !== undefined && mode === 'cookie') throw failure
    // Bearer: the tokens live only here, so dropping them signs this client out whatever the
    // booth said; the user asked to leave.
    await session.signOut(reason, epoch)
    if (failure !== undefined) throw failure
  }

  return {
    /**
     * Logs in with the password grant and stores the tokens (replacing any current session,
     * which stays alive at the booth: call `logout()` first to end it). Emits `'signed-in'`.
     * Rejects with {@link LoginFailed} (carrying the booth's `error`, `error_description` and,
     * on a 429, `retryAfter`). It does NOT check password rules: the booth does.
     *
     * @example
     * ```ts
     * await client.login('kim', 'correct horse battery')
     * ```
     */
    async login(
      username: string,
      password: string,
      loginOptions: LoginOptions = {},
    ): Promise<void> {
      if (closed) throw new ClientClosed()
      if (typeof username !== 'string' || username === '')
        fail('username', 'a non-empty string', username)
      if (typeof password !== 'string' || password === '')
        fail('password', 'a non-empty string', password)
      const scope = loginOptions.scope
      if (scope !== undefined && typeof scope !== 'string')
        fail('scope', 'a space-separated string', scope)
      await session.signIn(await passwordGrant(endpoint, username, password, scope))
    },
    /**
     * Ends this session at the booth (`POST /logout`) and here. Emits `'signed-out'`. Rejects
     * with {@link LogoutFailed} when the booth did not confirm: in bearer mode signed out here
     * anyway; in cookie mode still signed in (the booth's cookies still work), so call it again.
     *
     * @example
     * ```ts
     * await client.logout()
     * ```
     */
    logout: (): Promise<void> => endAtBooth('/logout', 'logout'),
    /**
     * Ends every session of the user at the booth (`POST /logout/all`) and this one here; the
     * user's other clients find out at their next refresh (`session-expired`). Rejects with
     * {@link LogoutFailed} as `logout()` does.
     *
     * @example
     * ```ts
     * await client.logoutAll() // "sign out everywhere"
     * ```
     */
    logoutAll: (): Promise<void> => endAtBooth('/logout/all', 'logout-all'),
    /**
     * `fetch` with the session's credentials: `Authorization: Bearer` (bearer mode) or
     * `credentials: 'include'` plus the CSRF header (cookie mode). Refreshes first when the token
     * expires within the margin; on a 401 whose `WWW-Authenticate` says `invalid_token`, refreshes
     * once and retries once, and returns the retry's response whatever it is. The retry stays in
     * the session of the first send: after a logout or another login meanwhile, the 401 is
     * returned, and a request whose refresh outlived its session goes out without credentials.
     * Signed out, the request goes out without credentials. Any `Authorization` header of yours
     * is replaced.
     * Rejects with {@link SessionExpired} or {@link RefreshFailed} when a needed refresh fails,
     * and with whatever your `fetch` throws otherwise.
     *
     * A request body is kept (the Request is cloned before the first send) so that the retry can
     * send it again: a streamed upload is buffered once. The token goes to whatever URL you pass.
     *
     * @example
     * ```ts
     * const res = await client.fetch('https://api.example.com/orders', {
     *   method: 'POST',
     *   headers: { 'content-type': 'application/json' },
     *   body: JSON.stringify({ item: 'bus token' }),
     * })
     * ```
     */
    fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      if (closed) return Promise.reject(new ClientClosed())
      return authorizedFetch(session, fetchImpl, mode, input, init)
    },
    /**
     * The access token, refreshed first when it expires within the margin; `undefined` when
     * signed out. In cookie mode always `undefined` (scripts cannot read HttpOnly cookies), but
     * the cookie is still refreshed when due.
     *
     * @example
     * ```ts
     * const token = await client.getAccessToken()
     * if (token) socket.send(JSON.stringify({ type: 'auth', token }))
     * ```
     */
    async getAccessToken(): Promise<string | undefined> {
      return (await session.fresh()).tokens?.accessToken
    },
    /**
     * True while the client holds a session (it may still turn out expired at the next refresh).
     * In cookie mode it knows only what its storage remembers: use `webStorage` so that a reload
     * does not forget (it holds no secret in cookie mode).
     *
     * @example
     * ```ts
     * if (!(await client.isSignedIn())) router.push('/login')
     * ```
     */
    async isSignedIn(): Promise<boolean> {
      return (await session.current()).tokens !== undefined
    },
    /**
     * Listens to an event; returns a function that stops listening. A listener that throws does
     * not disturb the client; its error is rethrown on its own (`reportError`).
     *
     * @example
     * ```ts
     * const stop = client.on('session-expired', () => router.push('/login'))
     * ```
     */
    on<E extends ClientEventName>(event: E, listener: ClientEventListener<E>): () => void {
      return events.on(event, listener)
    },
    /**
     * Stops a listener added with `on`.
     *
     * @example
     * ```ts
     * client.off('refreshed', onRefreshed)
     * ```
     */
    off<E extends ClientEventName>(event: E, listener: ClientEventListener<E>): void {
      events.off(event, listener)
    },
    /**
     * Closes the cross-tab channel and drops every listener. The session stays in storage (and at
     * the booth); later calls reject with {@link ClientClosed}.
     *
     * @example
     * ```ts
     * window.addEventListener('pagehide', () => client.close())
     * ```
     */
    close(): void {
      closed = true
      session.close()
      events.clear()
    },
  }
}

/**
 * A client created by {@link createClient}.
 *
 * @example
 * ```ts
 * export const client: Client = createClient({ issuer: 'https://auth.example.com' })
 * ```
 */
export type Client = ReturnType<typeof createClient>
