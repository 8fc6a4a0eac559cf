/**
 * `@tokenbooth/verify`: stateless, synchronous verification of tokenbooth access tokens
 * (RFC 9068 JWT access tokens, following RFC 8725) with node:crypto.
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
  TokenAlgorithmNotAllowed,
  TokenClaimInvalid,
  TokenExpired,
  TokenHeaderUnsupported,
  TokenInvalid,
  TokenKeyUnknown,
  TokenMalformed,
  TokenNotYetValid,
  TokenSignatureInvalid,
  TokenTooLarge,
  TokenboothError,
} from './errors.ts'
export type { TokenboothErrorOptions } from './errors.ts'
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
export { verifyAccessToken } from './verify-jwt.ts'
export type { VerifyOptions } from './verify-jwt.ts'
export type { AccessTokenClaims } from './claims.ts'
