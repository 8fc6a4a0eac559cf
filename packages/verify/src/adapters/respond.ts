/**
 * The one mapping from verification errors to HTTP answers, shared by every adapter so that
 * node:http, Express, Fastify and Hono answer byte for byte alike.
 *
 * @module
 */
import type { AccessTokenClaims } from '../claims.ts'
import type { RequestHeaders } from '../credentials.ts'
import {
  InsufficientScope,
  RequestMalformed,
  TokenExpired,
  TokenInvalid,
  TokenMissing,
  TokenRevoked,
  VerifierUnavailable,
} from '../errors.ts'
import { hasScope } from '../scope.ts'
import type { Verifier } from '../verifier.ts'

/**
 * An HTTP answer for an authentication failure: status, headers (lower-case names) and a JSON
 * body `{"error","error_description"}`.
 *
 * @example
 * ```ts
 * const answer = describeAuthError(err, 'shop')
 * if (answer) res.writeHead(answer.status, answer.headers).end(answer.body)
 * ```
 */
export interface AuthErrorResponse {
  status: 400 | 401 | 403 | 503
  headers: Record<string, string>
  body: string
}

/**
 * Options shared by every adapter. Validated once, when the middleware is created.
 *
 * @example
 * ```ts
 * app.post('/checkout', requireAuth(verifier, { scope: ['cart:write', 'payment:pay'], realm: 'shop' }), checkout)
 * ```
 */
export interface AdapterOptions {
  /**
   * Scopes the route requires (all of them): an array, or one space-separated string. Missing
   * scopes answer 403 `insufficient_scope`.
   */
  scope?: string | readonly string[]
  /** The `realm` of the `WWW-Authenticate` challenge. Default `'tokenbooth'`. */
  realm?: string
}

// The realm names the protection space; tokenbooth is the default so a client can tell who asks
const DEFAULT_REALM = 'tokenbooth'
// A stale feed usually recovers within a reconnect or two (≤ ~5 s each)
const RETRY_AFTER_SECONDS = '5'
// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by single spaces
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
const SCOPE_TOKENS = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/

/**
 * Maps an error thrown by `verify`, `verifyRequest` or `requireScope` to its HTTP answer
 * (RFC 6750 §3), or returns undefined for anything else (a bug: let the framework answer 500):
 *
 * - `TokenMissing` → 401, `WWW-Authenticate: Bearer realm="…"` with no error attribute (§3.1: the
 *   client may not know authentication is needed); body `invalid_request`, as the booth answers;
 * - `RequestMalformed` → 400, `error="invalid_request"` (§3.1: `Bearer` with no token, two
 *   `Authorization` headers, an access cookie without the CSRF header);
 * - any other `TokenInvalid` (revoked included) → 401, `error="invalid_token"`;
 * - `InsufficientScope` → 403, `error="insufficient_scope"`, `scope="…"`;
 * - `VerifierUnavailable` → 503 `temporarily_unavailable` with `Retry-After`, and no challenge:
 *   the token may well be good, the verifier cannot tell right now.
 *
 * Descriptions are fixed strings: nothing from the token or the error message reaches the client.
 * It does NOT log: the adapters leave that to the application (the error is in hand).
 *
 * @example
 * ```ts
 * try {
 *   requireScope(await verifier.verifyRequest(req.headers), 'cart:read')
 * } catch (err) {
 *   const answer = describeAuthError(err)
 *   if (answer === undefined) throw err
 *   return new Response(answer.body, { status: answer.status, headers: answer.headers })
 * }
 * ```
 */
export function describeAuthError(
  error: unknown,
  realm = DEFAULT_REALM,
): AuthErrorResponse | undefined {
  const challenge = `Bearer realm="${realm}"`
  if (error instanceof TokenMissing) {
    return answer(401, challenge, 'invalid_request', 'an access token is required')
  }
  if (error instanceof RequestMalformed) {
    const description = 'the request presents its credentials in a malformed way'
    const header = `${challenge}, error="invalid_request", error_description="${description}"`
    return answer(400, header, 'invalid_request', description)
  }
  if (error instanceof TokenInvalid) {
    const description =
      error instanceof TokenExpired
        ? 'the access token expired'
        : error instanceof TokenRevoked
          ? 'the access token was revoked'
          : 'the access token is invalid'
    return answer(
      401,
      `${challenge}, error="invalid_token", error_description="${description}"`,
      'invalid_token',
      description,
    )
  }
  if (error instanceof InsufficientScope) {
    const description = 'the access token lacks a required scope'
    // the scope attribute is only written when it is made of scope tokens (no quotes to escape)
    const scope = SCOPE_TOKENS.test(error.scope) ? `, scope="${error.scope}"` : ''
    const header = `${challenge}, error="insufficient_scope", error_description="${description}"${scope}`
    return answer(403, header, 'insufficient_scope', description)
  }
  if (error instanceof VerifierUnavailable) {
    const response = answer(
      503,
      undefined,
      'temporarily_unavailable',
      'token verification is temporarily unavailable',
    )
    response.headers['retry-after'] = RETRY_AFTER_SECONDS
    return response
  }
  return undefined
}

function answer(
  status: 400 | 401 | 403 | 503,
  challenge: string | undefined,
  error: string,
  description: string,
): AuthErrorResponse {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  }
  if (challenge !== undefined) headers['www-authenticate'] = challenge
  return { status, headers, body: JSON.stringify({ error, error_description: description }) }
}

/** Validates adapter options once, at setup; returns the scopes as a list and the realm. */
export function adapterOptions(options: AdapterOptions = {}): { scopes: string[]; realm: string } {
  const { scope, realm = DEFAULT_REALM } = options
  // RFC 7230 quoted-string: no DQUOTE, backslash or control characters, so no escaping is needed
  if (typeof realm !== 'string' || realm === '' || !/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/.test(realm)) {
    throw new TypeError(
      `"realm" must be printable ASCII without quotes or backslashes, got ${JSON.stringify(realm)}`,
    )
  }
  const scopes =
    scope === undefined
      ? []
      : typeof scope === 'string'
        ? scope.split(' ').filter((s) => s !== '')
        : [...scope]
  for (const s of scopes) {
    // RFC 6749 §3.3 scope-token, which also makes it safe inside the challenge's quoted string
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) {
      throw new TypeError(`"scope" entries must be RFC 6749 scope tokens, got ${JSON.stringify(s)}`)
    }
  }
  return { scopes, realm }
}

// An adapter's two outcomes, made once per adapter: the request's context travels as a, b and c
type Pass<A, B, C> = (claims: AccessTokenClaims, a: A, b: B, c: C) => void
type Fail<A, B, C> = (error: unknown, a: A, b: B, c: C) => void

/**
 * The step every callback-style adapter takes: verifies the request's credentials, requires
 * `scopes`, then calls `pass(claims, a, b, c)` or `fail(error, a, b, c)` (exactly one of them,
 * once). When the verifier can answer at once (`verifyRequestNow`: keys loaded, kid known) that
 * happens before this returns, with no promise in between and nothing allocated for the request:
 * the request's context travels as `a`, `b` and `c`, so `pass` and `fail` are made once per
 * adapter, not per request. Otherwise it happens once the keys have loaded. `pass` runs outside
 * any try: what it throws is the framework's to handle, not an authentication failure.
 *
 * @example
 * ```ts
 * authorize(verifier, req.rawHeaders, ['cart:read'], pass, fail, req, res, next)
 * ```
 */
export function authorize<A, B, C>(
  verifier: Verifier,
  headers: RequestHeaders,
  scopes: readonly string[],
  pass: Pass<A, B, C>,
  fail: Fail<A, B, C>,
  a: A,
  b: B,
  c: C,
): void {
  let claims: AccessTokenClaims | Promise<AccessTokenClaims>
  try {
    claims = verifier.verifyRequestNow(headers)
  } catch (error) {
    return fail(error, a, b, c)
  }
  if (claims instanceof Promise) {
    claims.then(
      (verified) => settle(verified, scopes, pass, fail, a, b, c),
      (error: unknown) => fail(error, a, b, c),
    )
  } else settle(claims, scopes, pass, fail, a, b, c)
}

// The scopes, then pass (outside any try); a missing scope goes to fail. Each scope was checked
// once by adapterOptions, so this skips requireScope's per-call checks and its argument spread.
function settle<A, B, C>(
  claims: AccessTokenClaims,
  scopes: readonly string[],
  pass: Pass<A, B, C>,
  fail: Fail<A, B, C>,
  a: A,
  b: B,
  c: C,
): void {
  const granted = claims.scope ?? ''
  for (const scope of scopes) {
    if (!hasScope(granted, scope)) return fail(new InsufficientScope(scopes.join(' ')), a, b, c)
  }
  pass(claims, a, b, c)
}
