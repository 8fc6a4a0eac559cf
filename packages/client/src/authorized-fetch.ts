/**
 * `fetch` with the session's credentials: refresh ahead of expiry, and on a 401 `invalid_token`
 * refresh once and retry once (RFC 6750 §3.1) — never more, so a resource server that rejects
 * every token cannot make the client loop.
 *
 * @module
 */
import type { Session } from './session.ts'
import type { StoredTokens } from './storage.ts'
import { CSRF_HEADER } from './token-endpoint.ts'

/**
 * True when a response is an RFC 6750 challenge saying the token itself is bad (expired, revoked,
 * malformed), which a new token can fix. `insufficient_scope` and a bare challenge (no token
 * sent) are not.
 *
 * It does NOT see the header on a cross-origin response unless the server lists
 * `WWW-Authenticate` in `Access-Control-Expose-Headers`.
 *
 * @example
 * ```ts
 * if (res.status === 401 && isInvalidTokenChallenge(res)) await refreshAndRetry()
 * ```
 */
export function isInvalidTokenChallenge(res: Response): boolean {
  const challenge = res.headers.get('www-authenticate')
  return challenge !== null && /(?:^|[\s,])error\s*=\s*"?invalid_token"?/i.test(challenge)
}

/** Applies the mode's credentials to a request that has not been sent. */
function authorize(
  request: Request,
  mode: 'bearer' | 'cookie',
  tokens: StoredTokens | undefined,
): Request {
  if (mode === 'cookie') return request
  if (tokens?.accessToken === undefined) return request
  const headers = new Headers(request.headers)
  headers.set('authorization', `Bearer ${tokens.accessToken}`)
  return new Request(request, { headers })
}

/**
 * Prepares `input`/`init` once: a Request (so a body can be replayed by cloning it), with cookie
 * mode's `credentials: 'include'` and CSRF header.
 */
function prepare(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  mode: 'bearer' | 'cookie',
): Request {
  const request = new Request(input, init)
  if (mode === 'bearer') return request
  const headers = new Headers(request.headers)
  if (!headers.has(CSRF_HEADER)) headers.set(CSRF_HEADER, '1')
  return new Request(request, { headers, credentials: 'include' })
}

/**
 * Sends a request with the session's credentials. See `Client.fetch` for the contract.
 *
 * It does NOT catch what `fetchImpl` throws (network errors reach the caller as they are).
 *
 * @example
 * ```ts
 * const res = await authorizedFetch(session, globalThis.fetch, 'bearer', 'https://api.example.com/me')
 * ```
 */
export async function authorizedFetch(
  session: Session,
  fetchImpl: (request: Request) => Promise<Response>,
  mode: 'bearer' | 'cookie',
  input: RequestInfo | URL,
  init?: RequestInit,
): Promise<Response> {
  const request = prepare(input, init, mode)
  const { tokens, epoch } = await session.fresh()
  if (tokens === undefined) return fetchImpl(request)
  // Cloned before the first send: a body stream can be read only once.
  const replay = request.clone()
  const res = await fetchImpl(authorize(request, mode, tokens))
  if (res.status !== 401 || !isInvalidTokenChallenge(res)) return res
  let next: StoredTokens | undefined
  try {
    next = await session.refresh(tokens, epoch, true)
  } catch (error) {
    await res.body?.cancel()
    throw error
  }
  // The session of the first send is over (a logout, or a login since, here or in another tab):
  // the session refresh resolves to no tokens then, and this 401 is the honest answer. Replayed
  // with the next session's tokens, the request would act as another user.
  if (next === undefined) return res
  await res.body?.cancel()
  return fetchImpl(authorize(replay, mode, next))
}
