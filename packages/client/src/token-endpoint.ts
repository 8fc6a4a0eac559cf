/**
 * The booth's token endpoint (RFC 6749 §4.3 password grant, §6 refresh), in both delivery modes.
 * Turns every answer into either {@link StoredTokens} or one of the client's typed errors.
 *
 * @module
 */
import { LoginFailed, RefreshFailed, SessionExpired, type BoothRefusal } from './errors.ts'
import { computeExpiry } from './expiry.ts'
import type { StoredTokens } from './storage.ts'

/** The custom header the booth requires on cookie-authenticated state changes (CSRF defence). */
export const CSRF_HEADER = 'x-tokenbooth-csrf'

/**
 * Milliseconds before a refresh is abandoned unless `boothTimeout` says otherwise: under the
 * booth's default grace window (TOKENBOOTH_REFRESH_GRACE, 5 s). A refresh that timed out may
 * still have rotated at the booth, and its one retry (session.ts) must present the spent token
 * within the grace window to get the same successor rather than be taken for reuse.
 */
export const DEFAULT_REFRESH_TIMEOUT_MS = 4_000

/** How to reach the booth. Built once by `createClient`. */
export interface BoothEndpoint {
  /** The issuer URL without a trailing slash. */
  issuer: string
  fetch: (input: Request) => Promise<Response>
  mode: 'bearer' | 'cookie'
  clientId: string | undefined
  /** Milliseconds before a call to the booth is abandoned (it may hold the cross-tab lock). */
  timeoutMs: number
  /** The same for a refresh: shorter by default, see {@link DEFAULT_REFRESH_TIMEOUT_MS}. */
  refreshTimeoutMs: number
  clock: () => number
}

/**
 * A POST to the booth with the mode's headers and credentials. Cookie mode sends the CSRF header
 * and `credentials: 'include'` so that the browser attaches (and accepts) the booth's cookies.
 *
 * @example
 * ```ts
 * const res = await fetch(boothRequest(endpoint, '/logout'))
 * ```
 */
export function boothRequest(
  endpoint: BoothEndpoint,
  path: string,
  form?: Record<string, string>,
  timeoutMs = endpoint.timeoutMs,
): Request {
  const headers = new Headers({ accept: 'application/json' })
  if (form !== undefined) headers.set('content-type', 'application/x-www-form-urlencoded')
  if (endpoint.mode === 'cookie') headers.set(CSRF_HEADER, '1')
  const timeout =
    typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(timeoutMs) : undefined
  return new Request(`${endpoint.issuer}${path}`, {
    method: 'POST',
    headers,
    body: form === undefined ? null : new URLSearchParams(form).toString(),
    credentials: endpoint.mode === 'cookie' ? 'include' : 'same-origin',
    ...(timeout === undefined ? {} : { signal: timeout }),
  })
}

/**
 * Reads an RFC 6749 §5.2 error body (`{error, error_description}`) and `Retry-After`. A body that
 * is not such JSON leaves `error` undefined; the status still says what happened.
 *
 * @example
 * ```ts
 * if (!res.ok) throw new LoginFailed(await readRefusal(res))
 * ```
 */
export async function readRefusal(
  res: Response,
): Promise<BoothRefusal & { retryAfter: number | undefined }> {
  let body: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(await res.text())
    if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>
  } catch {
    // not JSON (a proxy's HTML error page): the status alone describes it
  }
  const retry = res.headers.get('retry-after')
  const retryAfter = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry.trim()) : undefined
  return {
    status: res.status,
    error: typeof body.error === 'string' ? body.error : undefined,
    errorDescription:
      typeof body.error_description === 'string' ? body.error_description : undefined,
    retryAfter,
  }
}

/** Turns a 200 body into StoredTokens, or a sentence saying why it is not a token response. */
function toStoredTokens(
  body: unknown,
  endpoint: BoothEndpoint,
  sentAt: number,
  previous: StoredTokens | undefined,
): StoredTokens | string {
  if (typeof body !== 'object' || body === null) return 'the token response is not a JSON object'
  const b = body as Record<string, unknown>
  const scope = typeof b.scope === 'string' ? b.scope : (previous?.scope ?? '')
  if (endpoint.mode === 'cookie') {
    if (b.token_delivery !== 'cookie' || 'access_token' in b || 'refresh_token' in b) {
      // Never keep tokens in script-readable memory when the app asked for HttpOnly cookies.
      return 'the booth did not deliver the tokens as cookies (does it support token_delivery=cookie?)'
    }
    const { expiresAt } = computeExpiry(undefined, b.expires_in, sentAt)
    return { delivery: 'cookie', scope, obtainedAt: sentAt, expiresAt }
  }
  if (typeof b.access_token !== 'string' || b.access_token === '')
    return 'the token response has no access_token'
  if (typeof b.token_type !== 'string' || b.token_type.toLowerCase() !== 'bearer') {
    return `the token type is ${JSON.stringify(b.token_type)}, not Bearer`
  }
  // RFC 6749 §6: the booth may keep the refresh token unchanged by not sending a new one.
  const refreshToken =
    typeof b.refresh_token === 'string' ? b.refresh_token : previous?.refreshToken
  const { expiresAt, sessionId } = computeExpiry(b.access_token, b.expires_in, sentAt)
  return {
    delivery: 'bearer',
    accessToken: b.access_token,
    refreshToken,
    scope,
    obtainedAt: sentAt,
    expiresAt,
    sessionId,
  }
}

async function readJson(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text())
  } catch {
    return undefined
  }
}

function parseJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

function withClient(endpoint: BoothEndpoint, form: Record<string, string>): Record<string, string> {
  return endpoint.clientId === undefined ? form : { ...form, client_id: endpoint.clientId }
}

/**
 * grant_type=password. Resolves to the new tokens; rejects with {@link LoginFailed} on any
 * refusal, network failure or malformed answer.
 *
 * It does NOT store anything: the caller does, once it knows the login still matters.
 *
 * @example
 * ```ts
 * const tokens = await passwordGrant(endpoint, 'kim', 'correct horse battery', 'profile')
 * ```
 */
export async function passwordGrant(
  endpoint: BoothEndpoint,
  username: string,
  password: string,
  scope: string | undefined,
): Promise<StoredTokens> {
  const form: Record<string, string> = { grant_type: 'password', username, password }
  if (scope !== undefined) form.scope = scope
  if (endpoint.mode === 'cookie') form.token_delivery = 'cookie'
  const sentAt = endpoint.clock()
  let res: Response
  try {
    res = await endpoint.fetch(boothRequest(endpoint, '/token', withClient(endpoint, form)))
  } catch (cause) {
    throw new LoginFailed({ cause })
  }
  if (!res.ok) throw new LoginFailed(await readRefusal(res))
  const tokens = toStoredTokens(await readJson(res), endpoint, sentAt, undefined)
  if (typeof tokens === 'string')
    throw new LoginFailed({ status: res.status, errorDescription: tokens })
  return tokens
}

/**
 * grant_type=refresh_token with the stored refresh token (bearer) or the booth's cookie (cookie
 * mode). Rejects with {@link SessionExpired} when the booth answers `invalid_grant` (the session
 * is over) and with {@link RefreshFailed} for everything else (no answer, 5xx, 429, garbage);
 * `status` is undefined when no answer arrived (network error, timeout, a body cut off).
 *
 * It does NOT touch storage or coordinate with other callers: that is `session.ts`.
 *
 * @example
 * ```ts
 * const next = await refreshGrant(endpoint, current)
 * ```
 */
export async function refreshGrant(
  endpoint: BoothEndpoint,
  current: StoredTokens,
): Promise<StoredTokens> {
  const form: Record<string, string> = { grant_type: 'refresh_token' }
  if (endpoint.mode === 'cookie') form.token_delivery = 'cookie'
  else if (current.refreshToken !== undefined) form.refresh_token = current.refreshToken
  else throw new SessionExpired({ errorDescription: 'the booth issued no refresh token' })
  const sentAt = endpoint.clock()
  let res: Response
  let body: string | undefined
  try {
    const request = boothRequest(
      endpoint,
      '/token',
      withClient(endpoint, form),
      endpoint.refreshTimeoutMs,
    )
    res = await endpoint.fetch(request)
    // Read here, under the same timeout: a 200 whose body never arrives is an answer lost too,
    // and the caller retries only a refresh that got no answer (status undefined).
    if (res.ok) body = await res.text()
  } catch (cause) {
    throw new RefreshFailed({ cause })
  }
  if (!res.ok) {
    const refusal = await readRefusal(res)
    // RFC 6749 §5.2: invalid_grant = the refresh token is expired, revoked or reused.
    if (refusal.error === 'invalid_grant') throw new SessionExpired(refusal)
    throw new RefreshFailed(refusal)
  }
  const tokens = toStoredTokens(parseJson(body), endpoint, sentAt, current)
  if (typeof tokens === 'string')
    throw new RefreshFailed({ status: res.status, errorDescription: tokens })
  return tokens
}
