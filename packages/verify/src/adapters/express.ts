/**
 * `@tokenbooth/verify/express`: Express middleware. Express is an optional peer dependency and is
 * only referenced for its types; nothing here imports it at run time.
 *
 * @module
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { AccessTokenClaims } from '../claims.ts'
import type { Verifier } from '../verifier.ts'
import { adapterOptions, authorize, describeAuthError } from './respond.ts'
import type { AdapterOptions } from './respond.ts'

declare global {
  // Express's own augmentation point for properties that middleware adds to the request
  namespace Express {
    interface Request {
      /** The verified access-token claims, set by `requireAuth`. */
      auth?: AccessTokenClaims
    }
  }
}

/**
 * Express middleware that lets a request through only with a valid token holding every `scope`,
 * and puts its claims on `req.auth`. Failures are answered here, per RFC 6750: 401
 * (`WWW-Authenticate: Bearer …`), 400 `invalid_request` for malformed credentials, 403
 * `insufficient_scope`, or 503 when the verifier is unavailable, each with a JSON
 * `{"error","error_description"}` body; any other error goes to `next(error)`. Throws `TypeError`
 * at setup for a bad `scope` or `realm`.
 *
 * A token the verifier can answer for at once (nearly all) passes to `next()` synchronously, with
 * no promise in between (`verifyRequestNow`).
 *
 * It reads the headers the client sent (`req.rawHeaders`), not `req.headers`, where Node keeps
 * only the first of two `Authorization` headers: two are a 400. It does NOT read tokens from the
 * query string or body (RFC 6750 §2.2–2.3), nor a token another middleware wrote into
 * `req.headers`.
 *
 * @example
 * ```ts
 * app.get('/cart', requireAuth(verifier, { scope: 'cart:read' }), (req, res) => {
 *   res.json({ owner: req.auth!.sub })
 * })
 * ```
 */
export function requireAuth(verifier: Verifier, options: AdapterOptions = {}): RequestHandler {
  const { scopes, realm } = adapterOptions(options)
  // once per requireAuth(), not per request: a request that passes allocates no callback
  const pass = (claims: AccessTokenClaims, req: Request, _res: Response, next: NextFunction) => {
    req.auth = claims
    next()
  }
  const fail = (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const answer = describeAuthError(error, realm)
    if (answer === undefined) return next(error)
    // node:http's own API: Express's res.status().set().send() would compute an ETag for nothing
    res.writeHead(answer.status, answer.headers).end(answer.body)
  }
  return (req: Request, res: Response, next: NextFunction): void => {
    // what the client sent: a second Authorization header shows (credentials.ts)
    authorize(verifier, req.rawHeaders, scopes, pass, fail, req, res, next)
  }
}
