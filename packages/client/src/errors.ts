/**
 * The client's errors. Every error the SDK throws on purpose extends {@link ClientError} and
 * carries a stable `code` (listed in docs/errors.md); codes never change meaning.
 *
 * The SDK has no runtime dependencies, so this hierarchy does not extend `TokenboothError` from
 * `@tokenbooth/verify`; it mirrors its shape (`name` is the class name, `code` is stable).
 *
 * A developer's mistake (a bad option) is a `TypeError` that names the option, not a ClientError.
 *
 * @module
 */

/**
 * Options accepted by every client error constructor.
 *
 * @example
 * ```ts
 * throw new RefreshFailed({ cause: networkError })
 * ```
 */
export interface ClientErrorOptions {
  /** The underlying error (a network failure, a parse error). */
  cause?: unknown
}

/**
 * Base class of every error of `@tokenbooth/client`.
 *
 * It does NOT wrap errors thrown by your own `fetch` for API calls: {@link Client.fetch} rejects
 * with those as they are, exactly as `fetch` would.
 *
 * @example
 * ```ts
 * try {
 *   await client.fetch('https://api.example.com/cart')
 * } catch (err) {
 *   if (err instanceof ClientError) console.warn(err.code, err.message)
 *   else throw err
 * }
 * ```
 */
export class ClientError extends Error {
  // typed `string` so that the subclasses below may narrow it to their own literal
  readonly code: string = 'ERR_CLIENT'

  constructor(message?: string, options?: ClientErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * What the booth said when it refused a request (RFC 6749 §5.2 error response).
 *
 * @example
 * ```ts
 * new LoginFailed({ status: 400, error: 'invalid_grant', errorDescription: 'invalid credentials' })
 * ```
 */
export interface BoothRefusal extends ClientErrorOptions {
  /** HTTP status, `undefined` when no response arrived (network failure, timeout). */
  status?: number | undefined
  /** The OAuth `error` value, such as `invalid_grant` or `too_many_requests`. */
  error?: string | undefined
  /** The booth's one human-readable line. */
  errorDescription?: string | undefined
}

function describe(what: string, refusal: BoothRefusal): string {
  if (refusal.status === undefined) return `${what}: the booth did not answer`
  const detail = refusal.errorDescription ?? refusal.error ?? `HTTP ${refusal.status}`
  return `${what}: ${detail}`
}

/**
 * `login()` was refused (wrong credentials are `error: 'invalid_grant'`, throttling is
 * `error: 'too_many_requests'` with `retryAfter`), or the booth could not be reached (`status`
 * undefined, `cause` set).
 *
 * It does NOT tell a wrong password from an unknown user: the booth answers both the same way
 * (RFC 6749 §5.2), and so does this error.
 *
 * @example
 * ```ts
 * try {
 *   await client.login(username, password)
 * } catch (err) {
 *   if (!(err instanceof LoginFailed)) throw err
 *   if (err.retryAfter !== undefined) show(`Too many attempts; try again in ${err.retryAfter} s`)
 *   else if (err.error === 'invalid_grant') show('Wrong username or password')
 *   else show(`Could not sign in: ${err.message}`)
 * }
 * ```
 */
export class LoginFailed extends ClientError {
  override readonly code = 'ERR_LOGIN_FAILED'
  readonly status: number | undefined
  readonly error: string | undefined
  readonly errorDescription: string | undefined
  /** Seconds to wait before trying again, from `Retry-After` on a 429. */
  readonly retryAfter: number | undefined

  constructor(
    refusal: BoothRefusal & { retryAfter?: number | undefined } = {},
    options?: ClientErrorOptions,
  ) {
    super(describe('login failed', refusal), { cause: refusal.cause ?? options?.cause })
    this.status = refusal.status
    this.error = refusal.error
    this.errorDescription = refusal.errorDescription
    this.retryAfter = refusal.retryAfter
  }
}

/**
 * The session is over: the booth refused the refresh token (`invalid_grant`: it expired, was
 * revoked by a logout elsewhere, or was reused), or another tab found it over. The client has
 * already cleared its tokens and emitted `'session-expired'`; the user must log in again.
 *
 * It does NOT mean the booth is down: that is {@link RefreshFailed}.
 *
 * @example
 * ```ts
 * try {
 *   await client.fetch('/api/orders')
 * } catch (err) {
 *   if (err instanceof SessionExpired) return router.push('/login')
 *   throw err
 * }
 * ```
 */
export class SessionExpired extends ClientError {
  override readonly code = 'ERR_SESSION_EXPIRED'
  readonly status: number | undefined
  readonly error: string | undefined
  readonly errorDescription: string | undefined

  constructor(refusal: BoothRefusal = {}, options?: ClientErrorOptions) {
    super(describe('the session has expired', refusal), { cause: refusal.cause ?? options?.cause })
    this.status = refusal.status
    this.error = refusal.error
    this.errorDescription = refusal.errorDescription
  }
}

/**
 * A refresh could not be completed for a reason other than a dead session: the booth did not
 * answer, timed out, answered 5xx or 429, or answered something that is not a token response.
 * The client keeps its tokens; the next call tries to refresh again.
 *
 * A refresh that got no answer (`status` undefined) was already sent twice: the booth may have
 * rotated the refresh token without the answer arriving, and a prompt second try gets the same
 * successor within the booth's grace window. If both answers were lost and the booth did rotate,
 * the next refresh comes too late for that window: the booth takes it for reuse and it fails
 * with {@link SessionExpired}.
 *
 * It does NOT retry further: callers decide whether to try again.
 *
 * @example
 * ```ts
 * try {
 *   await client.fetch('/api/orders')
 * } catch (err) {
 *   if (err instanceof RefreshFailed) return showOfflineBanner(err.message)
 *   throw err
 * }
 * ```
 */
export class RefreshFailed extends ClientError {
  override readonly code = 'ERR_REFRESH_FAILED'
  readonly status: number | undefined
  readonly error: string | undefined
  readonly errorDescription: string | undefined

  constructor(refusal: BoothRefusal = {}, options?: ClientErrorOptions) {
    super(describe('refreshing the access token failed', refusal), {
      cause: refusal.cause ?? options?.cause,
    })
    this.status = refusal.status
    this.error = refusal.error
    this.errorDescription = refusal.errorDescription
  }
}

/**
 * `logout()` or `logoutAll()` could not confirm that the booth ended the session(s): no answer,
 * or a refusal other than a 401. The booth may still hold the session(s), so tell the user.
 *
 * - Bearer mode: the client has signed out locally anyway (tokens dropped, `'signed-out'`
 *   emitted), since the tokens lived only in it.
 * - Cookie mode: the client stays signed in, because the booth's HttpOnly cookies still work and
 *   only the booth can clear them; call `logout()` / `logoutAll()` again to retry.
 *
 * It is NOT thrown when the session was already over (a 401 `invalid_token` or an
 * `invalid_grant` while refreshing): then the logout has nothing left to do and succeeds.
 *
 * @example
 * ```ts
 * try {
 *   await client.logoutAll()
 * } catch (err) {
 *   if (err instanceof LogoutFailed) notify('Other devices may still be signed in; try again')
 *   else throw err
 * }
 * ```
 */
export class LogoutFailed extends ClientError {
  override readonly code = 'ERR_LOGOUT_FAILED'
  readonly status: number | undefined
  readonly error: string | undefined
  readonly errorDescription: string | undefined

  constructor(refusal: BoothRefusal = {}, options?: ClientErrorOptions) {
    super(describe('the booth did not confirm the logout', refusal), {
      cause: refusal.cause ?? options?.cause,
    })
    this.status = refusal.status
    this.error = refusal.error
    this.errorDescription = refusal.errorDescription
  }
}

/**
 * The client was used after `close()`.
 *
 * It does NOT affect other client instances or tabs, which keep working.
 *
 * @example
 * ```ts
 * client.close()
 * await assert.rejects(client.getAccessToken(), ClientClosed)
 * ```
 */
export class ClientClosed extends ClientError {
  override readonly code = 'ERR_CLIENT_CLOSED'

  constructor(message = 'the client is closed', options?: ClientErrorOptions) {
    super(message, options)
  }
}
