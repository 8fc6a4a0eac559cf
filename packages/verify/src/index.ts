/**
 * `@tokenbooth/verify`: stateless verification of tokenbooth access tokens (RFC 9068 JWT access
 * tokens, following RFC 8725) with node:crypto. `createVerifier` is the SDK (discovery, key
 * refresh, a verified-token cache, the revocation feed); `verifyAccessToken` is the synchronous
 * core under it. Adapters are subpath exports: `/node`, `/express`, `/fastify`, `/hono`.
 *
 * @example
 * ```ts
 * import { createVerifier, requireScope } from '@tokenbooth/verify'
 *
 * const verifier = createVerifier({ issuer: 'https://booth.example', audience: 'https://cart.example' })
 * const claims = await verifier.verifyRequest(req.headers)
 * requireScope(claims, 'cart:read')
 * ```
 *
 * @example
 * ```ts
 * import { createKeySet, verifyAccessToken, TokenInvalid } from '@tokenbooth/verify'
 *
 * const keys = createKeySet(jwks)
 * try {
 *   const claims = verifyAccessToken(bearer, keys, { issuer, audience })
 * } catch (err) {
 *   if (err instanceof TokenInvalid) return unauthorized('invalid_token')
 *   throw err
 * }
 * ```
 *
 * @module
 */
export {
  InsufficientScope,
  RequestMalformed,
  TokenAlgorithmNotAllowed,
  TokenClaimInvalid,
  TokenExpired,
  TokenHeaderUnsupported,
  TokenInvalid,
  TokenKeyUnknown,
  TokenMalformed,
  TokenMissing,
  TokenNotYetValid,
  TokenRevoked,
  TokenSignatureInvalid,
  TokenTooLarge,
  TokenboothError,
  VerifierUnavailable,
} from './errors.ts'
export type { RevocationKind, TokenboothErrorOptions } from './errors.ts'
export { createKeySet, createSecretKeySet } from './key-set.ts'
export type {
  KeySet,
  KeySetOptions,
  PublicJwk,
  VerificationAlgorithm,
  VerificationKey,
} from './key-set.ts'
export { decodeProtectedHeader } from './compact.ts'
export type { DecodeOptions, ProtectedHeader } from './compact.ts'
export { resolveVerifyOptions, verifyAccessToken } from './verify-jwt.ts'
export type { ResolvedVerifyOptions, VerifyOptions } from './verify-jwt.ts'
export { CSRF_HEADER } from './credentials.ts'
export type { AccessTokenClaims } from './claims.ts'
export { createVerifier } from './verifier.ts'
export type { Verifier, VerifierStatus } from './verifier.ts'
export type { RevocationOptions, VerifierOptions } from './verifier-options.ts'
export type { VerifierEvent } from './events.ts'
export type { FetchLike } from './discovery.ts'
export type { RequestHeaders } from './credentials.ts'
export { requireScope } from './scope.ts'
export { describeAuthError } from './adapters/respond.ts'
export type { AdapterOptions, AuthErrorResponse } from './adapters/respond.ts'
