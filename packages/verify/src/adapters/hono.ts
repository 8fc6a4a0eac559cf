/**
 * `@tokenbooth/verify/hono`: Hono middleware. Hono is an optional peer dependency and is only
 * referenced for its types; nothing here imports it at run time. Answers are plain Fetch
 * `Response`s, so the middleware also runs wherever Hono does, given a `fetch`-capable verifier.
 *
 * @module
 */
import type { MiddlewareHandler } from 'hono'
import type { AccessTokenClaims } from '../claims.ts'
import { requireScope } from '../scope.ts'
import type { Verifier } from '../verifier.ts'
import { adapterOptions, describeAuthError } from './respond.ts'
import type { AdapterOptions } from './respond.ts'

/**
 * The context variables {@link requireAuth} sets: `c.get('auth')`.
 *
 * @example
 * ```ts
 * const app = new Hono<{ Variables: AuthVariables }>()
 * ```
 */
export interface AuthVariables {
  auth: AccessTokenClaims
}

/**
 * Hono middleware that lets a request through only with a valid token holding every `scope`, and
 * sets its claims as `c.set('auth', claims)`. Failures are answered here, per RFC 6750: 401
 * (`WWW-Authenticate: Bearer …`), 400 `invalid_request` for malformed credentials, 403
 * `insufficient_scope`, or 503 when the verifier is
 * unavailable, each with a JSON `{"error","error_description"}` body; any other error is thrown to
 * Hono's `onError`. Throws `TypeError` at setup for a bad `scope` or `realm`.
 *
 * It does NOT read tokens from the query string or body (RFC 6750 §2.2–2.3).
 *
 * @example
 * ```ts
 * const app = new Hono<{ Variables: AuthVariables }>()
 * app.post('/pay', requireAuth(verifier, { scope: 'payment:pay' }), (c) => c.json({ payer: c.get('auth').sub }))
 * ```
 */
export function requireAuth(
  verifier: Verifier,
  options: AdapterOptions = {},
): MiddlewareHandler<{ Variables: AuthVariables }> {
  const { scopes, realm } = adapterOptions(options)
  return async (c, next) => {
    let claims: AccessTokenClaims
    try {
      // awaited only when the verifier must wait for keys: one microtask less per request
      const result = verifier.verifyRequestNow(c.req.raw.headers)
      claims = result instanceof Promise ? await result : result
      if (scopes.length !== 0) requireScope(claims, ...scopes)
    } catch (error) {
      const answer = describeAuthError(error, realm)
      if (answer === undefined) throw error
      return new Response(answer.body, { status: answer.status, headers: answer.headers })
    }
    c.set('auth', claims)
    await next()
    return undefined
  }
}
