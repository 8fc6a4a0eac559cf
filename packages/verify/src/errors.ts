/**
 * The one error hierarchy of tokenbooth. Every error the project throws on purpose extends
 * {@link TokenboothError} and carries a stable `code`; the codes are public API and never change
 * meaning. The server package extends this hierarchy rather than starting its own.
 *
 * Messages are for operators and never repeat attacker-controlled token content (RFC 6750 §3: the
 * client is told only `invalid_token`).
 *
 * @module
 */

/** Options accepted by every tokenbooth error constructor. */
export interface TokenboothErrorOptions {
  /** The underlying error, kept for the operator's log. */
  cause?: unknown
}

/**
 * Base class of every tokenbooth error. `name` is the concrete class name and `code` is a stable,
 * machine-readable identifier.
 *
 * It does NOT decide what the client sees: mapping to an HTTP status or OAuth error is the job of
 * the HTTP layer.
 *
 * @example
 * ```ts
 * try {
 *   verifyAccessToken(token, keys, options)
 * } catch (err) {
 *   if (err instanceof TokenboothError) log.warn({ code: err.code }, err.message)
 *   else throw err
 * }
 * ```
 */
export class TokenboothError extends Error {
  readonly code: string = 'ERR_TOKENBOOTH'

  constructor(message?: string, options?: TokenboothErrorOptions) {
    super(message, options)
    // new.target keeps subclasses (including the server's) correctly named without boilerplate
    this.name = new.target.name
  }
}

/**
 * Common parent of every reason a presented token is rejected. Callers that only need the RFC 6750
 * answer test `instanceof TokenInvalid` and respond `401` with `error="invalid_token"`.
 *
 * It does NOT cover programmer mistakes (bad options, bad key material): those are `TypeError`s.
 *
 * @example
 * ```ts
 * try {
 *   claims = verifyAccessToken(token, keys, options)
 * } catch (err) {
 *   if (!(err instanceof TokenInvalid)) throw err
 *   return new Response(null, {
 *     status: 401,
 *     headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
 *   })
 * }
 * ```
 */
export class TokenInvalid extends TokenboothError {
  // typed `string` so that the subclasses below may narrow it to their own literal
  override readonly code: string = 'ERR_TOKEN_INVALID'
}

/**
 * The token is not a well-formed JWS Compact Serialization: wrong number of parts, characters
 * outside the unpadded base64url alphabet, non-canonical base64url, invalid UTF-8, a header or
 * payload that is not a JSON object, or a missing/oversized `kid`.
 *
 * It does NOT say anything about the signature, which was not checked.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken('a.b', keys, options), TokenMalformed)
 * ```
 */
export class TokenMalformed extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_MALFORMED'
}

/**
 * The signature does not verify under the key named by `kid` (including a signature of the wrong
 * length or an empty one).
 *
 * It does NOT distinguish a tampered token from one signed by another key.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken(tampered, keys, options), TokenSignatureInvalid)
 * ```
 */
export class TokenSignatureInvalid extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_SIGNATURE_INVALID'
}

/**
 * The token's `exp` (plus the clock tolerance) is in the past.
 *
 * It is NOT thrown when `ignoreExpiration` is set, and is only thrown after the signature verified.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken(old, keys, options), TokenExpired)
 * ```
 */
export class TokenExpired extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_EXPIRED'
}

/**
 * The token's `nbf` minus the clock tolerance is in the future, or its `iat` plus the tolerance is
 * in the future (both point to clock skew between issuer and verifier).
 *
 * It does NOT mean the token will become valid later: it may still be rejected for other reasons.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken(early, keys, options), TokenNotYetValid)
 * ```
 */
export class TokenNotYetValid extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_NOT_YET_VALID'
}

/**
 * A claim is missing, has the wrong type, or has the wrong value (`iss`, `aud`, `sub`, ...). The
 * offending claim name is in `claim`; its value is NOT included, because it came from the token.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken(token, keys, { ...options, issuer: 'https://other' }), {
 *   name: 'TokenClaimInvalid',
 *   claim: 'iss',
 * })
 * ```
 */
export class TokenClaimInvalid extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_CLAIM_INVALID'
  /** The name of the claim that failed validation. */
  readonly claim: string

  constructor(claim: string, message?: string, options?: TokenboothErrorOptions) {
    super(message ?? `invalid "${claim}" claim`, options)
    this.claim = claim
  }
}

/**
 * The header `alg` is not one we support, or differs from the algorithm pinned to the key named by
 * `kid` (RFC 8725 §3.1). `none` in any casing always lands here.
 *
 * It does NOT mean the signature was checked: it never is in this case.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken(algNoneToken, keys, options), TokenAlgorithmNotAllowed)
 * ```
 */
export class TokenAlgorithmNotAllowed extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_ALG_NOT_ALLOWED'
}

/**
 * No key in the key set has the token's `kid`. A caller holding a remote JWKS may refresh it (at
 * most once per cooldown) and retry. `kid` is at most 256 characters; it was only used as a map key.
 *
 * It does NOT mean the token is forged: the issuer may have rotated keys.
 *
 * @example
 * ```ts
 * try {
 *   return verifyAccessToken(token, keys, options)
 * } catch (err) {
 *   if (err instanceof TokenKeyUnknown) keys = await refreshJwksOnce()
 *   else throw err
 * }
 * ```
 */
export class TokenKeyUnknown extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_KEY_UNKNOWN'
  /** The `kid` from the token header (untrusted; at most 256 characters). */
  readonly kid: string

  constructor(kid: string, message?: string, options?: TokenboothErrorOptions) {
    super(message ?? 'no verification key matches the token "kid"', options)
    this.kid = kid
  }
}

/**
 * The header uses a parameter we refuse to honour: an embedded or remote key (`jwk`, `jku`, `x5u`,
 * `x5c`, `x5t`, `x5t#S256`), `crit` (RFC 7515 §4.1.11: we understand no extensions), `b64`, `zip`,
 * `enc`, or a `typ` other than the expected one (RFC 9068 §4). Nothing named in such a header is
 * ever fetched or used.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken(tokenWithJku, keys, options), TokenHeaderUnsupported)
 * ```
 */
export class TokenHeaderUnsupported extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_HEADER_UNSUPPORTED'
}

/**
 * The token is longer than `maxTokenLength` characters; nothing else was looked at.
 *
 * @example
 * ```ts
 * assert.throws(() => verifyAccessToken('a'.repeat(100_000), keys, options), TokenTooLarge)
 * ```
 */
export class TokenTooLarge extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_TOO_LARGE'
}

/**
 * What a revocation named: a session (`sid`), a user's cut-off (`sub`) or one token (`jti`).
 *
 * @example
 * ```ts
 * if (err instanceof TokenRevoked) metrics.increment(`revoked_by_${err.by satisfies RevocationKind}`)
 * ```
 */
export type RevocationKind = 'sid' | 'sub' | 'jti'

/**
 * The token verified, but the booth's revocation feed says it must no longer be accepted: its
 * session was revoked (`sid`), its user was cut off at or after its `iat` (`sub`), or the token
 * itself was revoked (`jti`). `by` says which. Adapters answer it like any `TokenInvalid`: 401
 * `invalid_token`.
 *
 * It does NOT mean the verifier saw every revocation: a verifier whose feed is stale under the
 * `fail-open` policy may still accept a revoked token (see `VerifierUnavailable`).
 *
 * @example
 * ```ts
 * await assert.rejects(verifier.verify(loggedOutToken), { name: 'TokenRevoked', by: 'sid' })
 * ```
 */
export class TokenRevoked extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_REVOKED'
  /** The kind of revocation that matched. */
  readonly by: RevocationKind

  constructor(by: RevocationKind, options?: TokenboothErrorOptions) {
    super(`the token was revoked (by ${by})`, options)
    this.by = by
  }
}

/**
 * The request carried no access token at all: no `Authorization: Bearer` header and, when a
 * cookie name is configured, no such cookie. A `TokenInvalid` so that `instanceof TokenInvalid`
 * still means "401", but adapters answer it with a bare challenge, `WWW-Authenticate: Bearer
 * realm="…"` and no `error` attribute (RFC 6750 §3.1: the client may not know it must
 * authenticate). An `Authorization` header of another scheme (`Basic …`) counts as no token.
 *
 * @example
 * ```ts
 * await assert.rejects(verifier.verifyRequest(new Headers()), TokenMissing)
 * ```
 */
export class TokenMissing extends TokenInvalid {
  override readonly code = 'ERR_TOKEN_MISSING'
}

/**
 * The request is malformed in how it presents its credentials (RFC 6750 §3.1 `invalid_request`):
 * `Authorization: Bearer` with no token, more than one `Authorization` header, or an access
 * cookie without the `X-Tokenbooth-CSRF` header that cookie-mode requests must carry. Not a
 * `TokenInvalid`: no token was judged. Adapters answer 400 with `error="invalid_request"`.
 *
 * @example
 * ```ts
 * await assert.rejects(verifier.verifyRequest({ authorization: 'Bearer' }), RequestMalformed)
 * ```
 */
export class RequestMalformed extends TokenboothError {
  override readonly code = 'ERR_REQUEST_MALFORMED'
}

/**
 * The token lacks a scope the route requires. `scope` holds the space-separated scopes the route
 * needs, for the RFC 6750 §3 `scope` attribute of the 403 challenge. Not a `TokenInvalid`: the
 * token is fine, it is only not enough here.
 *
 * (The booth's own HTTP error of the same name uses `ERR_INSUFFICIENT_SCOPE`; this one keeps its
 * code distinct so every code names one class.)
 *
 * @example
 * ```ts
 * assert.throws(() => requireScope(claims, 'payment:pay'), { name: 'InsufficientScope', scope: 'payment:pay' })
 * ```
 */
export class InsufficientScope extends TokenboothError {
  override readonly code = 'ERR_SCOPE_INSUFFICIENT'
  /** The scopes the route requires, space-separated. */
  readonly scope: string

  constructor(scope: string, options?: TokenboothErrorOptions) {
    super(`the token lacks a required scope (needs "${scope}")`, options)
    this.scope = scope
  }
}

/**
 * The verifier cannot decide right now, so it refuses rather than guess: no key set could be
 * loaded yet, the revocation feed is stale under the `fail-closed` policy, the verifier is closed,
 * or (from `ready()`) it is misconfigured (issuer mismatch in discovery, feed credentials
 * refused). Not a `TokenInvalid`: the token may be perfectly good. Adapters answer 503.
 *
 * @example
 * ```ts
 * try {
 *   claims = await verifier.verify(token)
 * } catch (err) {
 *   if (err instanceof VerifierUnavailable) return reply(503)
 *   throw err
 * }
 * ```
 */
export class VerifierUnavailable extends TokenboothError {
  override readonly code = 'ERR_VERIFIER_UNAVAILABLE'
}
