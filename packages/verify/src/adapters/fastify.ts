/**
 * `@tokenbooth/verify/fastify`: a Fastify `preHandler` hook. Fastify is an optional peer
 * dependency and is only referenced for its types; nothing here imports it (or fastify-plugin) at
 * run time.
 *
 * @module
 */
import type {
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  preHandlerHookHandler,
} from 'fastify'
import type { AccessTokenClaims } from '../claims.ts'
import type { Verifier } from '../verifier.ts'
import { adapterOptions, authorize, describeAuthError } from './respond.ts'
import type { AdapterOptions } from './respond.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access-token claims, set by `requireAuth`. */
    auth?: AccessTokenClaims | null
  }
}

/**
 * A Fastify `preHandler` hook that lets a request through only with a valid token holding every
 * `scope`, and puts its claims on `request.auth`. Failures are answered here, per RFC 6750: 401
 * (`WWW-Authenticate: Bearer …`), 400 `invalid_request` for malformed credentials, 403
 * `insufficient_scope`, or 503 when the verifier is
 * unavailable, each with a JSON `{"error","error_description"}` body; any other error goes to
 * Fastify's error handler. Use it per route or with `addHook` for a whole encapsulation context.
 * Throws `TypeError` at setup for a bad `scope` or `realm`.
 *
 * It reads the headers the client sent (`request.raw.rawHeaders`), where a second
 * `Authorization` header shows (a 400), not `request.headers`, which keeps only the first.
 *
 * Declaring the property once, `app.decorateRequest('auth', null)`, keeps request objects of one
 * shape (Fastify's advice for speed); the hook works without it.
 *
 * @example
 * ```ts
 * app.decorateRequest('auth', null)
 * app.get('/pay', { preHandler: requireAuth(verifier, { scope: 'payment:pay' }) }, async (request) => ({
 *   payer: request.auth!.sub,
 * }))
 * ```
 */
export function requireAuth(
  verifier: Verifier,
  options: AdapterOptions = {},
): preHandlerHookHandler {
  const { scopes, realm } = adapterOptions(options)
  // once per requireAuth(), not per request: a request that passes allocates no callback
  const pass = (
    claims: AccessTokenClaims,
    request: FastifyRequest,
    _reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) => {
    request.auth = claims
    done()
  }
  const fail = (
    error: unknown,
    _request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void => {
    const answer = describeAuthError(error, realm)
    if (answer === undefined) return done(error as Error)
    void reply.code(answer.status).headers(answer.headers).send(answer.body)
  }
  // callback style: no extra promise per request, and no done() after answering (Fastify's rule);
  // a token the verifier answers for at once calls done() synchronously (verifyRequestNow)
  return function tokenboothAuth(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    // what the client sent: a second Authorization header shows
    authorize(verifier, request.raw.rawHeaders, scopes, pass, fail, request, reply, done)
  }
}
