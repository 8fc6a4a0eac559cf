/**
 * `@tokenbooth/verify/node`: protecting plain `node:http` handlers.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AccessTokenClaims } from '../claims.ts'
import { requireScope } from '../scope.ts'
import type { Verifier } from '../verifier.ts'
import { adapterOptions, describeAuthError } from './respond.ts'
import type { AdapterOptions } from './respond.ts'

/**
 * A request that passed {@link protect}: `auth` holds the verified (frozen) claims.
 *
 * @example
 * ```ts
 * const handler = (req: AuthenticatedRequest, res: ServerResponse) => res.end(req.auth.sub)
 * ```
 */
export interface AuthenticatedRequest extends IncomingMessage {
  auth: AccessTokenClaims
}

/**
 * Options of {@link protect}.
 *
 * @example
 * ```ts
 * protect(verifier, handler, { scope: 'cart:read', onError: (err) => log.error(err) })
 * ```
 */
export interface ProtectOptions extends AdapterOptions {
  /**
   * Called with any error that is not an authentication failure (a bug), after a 500 answer.
   * Default: none (the 500 is all there is).
   */
  onError?: (error: unknown) => void
}

/**
 * Verifies the request's token (`Authorization: Bearer`, or the verifier's cookie) and returns its
 * claims. The same as `verifier.verifyRequest(req.headers)`, named for symmetry with the other
 * adapters.
 *
 * It does NOT answer the request or check scopes: pair it with `describeAuthError` and
 * `requireScope`, or use {@link protect}.
 *
 * @example
 * ```ts
 * createServer(async (req, res) => {
 *   const claims = await authenticate(verifier, req)
 *   res.end(`hello ${claims.sub}`)
 * })
 * ```
 */
export function authenticate(verifier: Verifier, req: IncomingMessage): Promise<AccessTokenClaims> {
  return verifier.verifyRequest(req.headers)
}

/**
 * Wraps a `node:http` handler so that it only runs for a request with a valid token holding every
 * `scope`; the claims are on `req.auth` and passed as the third argument. Failures are answered
 * here, per RFC 6750: 401 (`WWW-Authenticate: Bearer …`), 403 `insufficient_scope`, or 503 when
 * the verifier is unavailable, each with a JSON `{"error","error_description"}` body. Throws
 * `TypeError` at setup for a bad `scope` or `realm`.
 *
 * It does NOT catch errors of `handler` itself.
 *
 * @example
 * ```ts
 * createServer(protect(verifier, (req, res) => res.end(req.auth.sub), { scope: 'cart:read' }))
 * ```
 */
export function protect(
  verifier: Verifier,
  handler: (req: AuthenticatedRequest, res: ServerResponse, claims: AccessTokenClaims) => unknown,
  options: ProtectOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const { scopes, realm } = adapterOptions(options)
  const { onError } = options
  return (req, res) => {
    verifier.verifyRequest(req.headers).then((claims) => {
      try {
        if (scopes.length !== 0) requireScope(claims, ...scopes)
      } catch (error) {
        return fail(error)
      }
      const authed = req as AuthenticatedRequest
      authed.auth = claims
      return handler(authed, res, claims)
    }, fail)

    function fail(error: unknown): void {
      const answer = describeAuthError(error, realm)
      if (answer !== undefined) {
        res.writeHead(answer.status, answer.headers).end(answer.body)
        return
      }
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}')
      }
      onError?.(error)
    }
  }
}
