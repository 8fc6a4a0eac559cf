/**
 * `@tokenbooth/verify/node`: protecting plain `node:http` handlers.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AccessTokenClaims } from '../claims.ts'
import type { Verifier } from '../verifier.ts'
import { adapterOptions, authorize, describeAuthError } from './respond.ts'
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
   * Called with any error that is not an authentication failure — a bug in the verifier's
   * surroundings, or an error thrown (or a promise rejected) by the handler — after a 500 answer
   * if nothing was sent yet. Default: none (the 500 is all there is).
   */
  onError?: (error: unknown) => void
}

/**
 * Verifies the request's token (`Authorization: Bearer`, or the verifier's cookie) and returns its
 * claims. The same as `verifier.verifyRequest(req.rawHeaders)`, named for symmetry with the other
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
  return verifier.verifyRequest(req.rawHeaders)
}

/**
 * Wraps a `node:http` handler so that it only runs for a request with a valid token holding every
 * `scope`; the claims are on `req.auth` and passed as the third argument. Failures are answered
 * here, per RFC 6750: 401 (`WWW-Authenticate: Bearer …`), 400 `invalid_request` for malformed
 * credentials, 403 `insufficient_scope`, or 503 when the verifier is unavailable, each with a
 * JSON `{"error","error_description"}` body. Throws `TypeError` at setup for a bad `scope` or
 * `realm`.
 *
 * A token the verifier can answer for at once (nearly all) runs the handler synchronously, with no
 * promise in between (`verifyRequestNow`). If the handler throws or its promise rejects, the
 * request is answered 500 `server_error` (unless the handler already sent headers: then the connection is
 * dropped, so a half-sent answer does not look complete) and the error goes to `onError`: a broken handler never becomes an
 * unhandled rejection that takes the process down.
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

  // Once per protect(), not per request: a request that passes allocates no callback
  function pass(claims: AccessTokenClaims, req: IncomingMessage, res: ServerResponse): void {
    const authed = req as AuthenticatedRequest
    authed.auth = claims
    let outcome: unknown
    try {
      outcome = handler(authed, res, claims)
    } catch (error) {
      return serverError(res, error)
    }
    // a thenable from an async handler: its rejection is ours to report, not the process's
    if (typeof (outcome as PromiseLike<unknown> | undefined)?.then === 'function') {
      ;(outcome as PromiseLike<unknown>).then(undefined, (error: unknown) =>
        serverError(res, error),
      )
    }
  }

  function fail(error: unknown, _req: IncomingMessage, res: ServerResponse): void {
    const answer = describeAuthError(error, realm)
    if (answer !== undefined) {
      res.writeHead(answer.status, answer.headers).end(answer.body)
      return
    }
    serverError(res, error)
  }

  function serverError(res: ServerResponse, error: unknown): void {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}')
    } else if (!res.writableEnded) {
      // a half-sent answer must not look complete: drop the connection instead of ending it
      res.destroy()
    }
    onError?.(error)
  }

  return (req, res) => {
    // rawHeaders, not headers: the raw list shows a second Authorization header (credentials.ts)
    authorize(verifier, req.rawHeaders, scopes, pass, fail, req, res, undefined)
  }
}
