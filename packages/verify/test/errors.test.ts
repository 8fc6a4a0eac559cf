import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
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
} from '../src/index.ts'

// These codes are public API: changing one is a breaking change.
const CODES = [
  [TokenMalformed, 'ERR_TOKEN_MALFORMED'],
  [TokenSignatureInvalid, 'ERR_TOKEN_SIGNATURE_INVALID'],
  [TokenExpired, 'ERR_TOKEN_EXPIRED'],
  [TokenNotYetValid, 'ERR_TOKEN_NOT_YET_VALID'],
  [TokenAlgorithmNotAllowed, 'ERR_TOKEN_ALG_NOT_ALLOWED'],
  [TokenHeaderUnsupported, 'ERR_TOKEN_HEADER_UNSUPPORTED'],
  [TokenTooLarge, 'ERR_TOKEN_TOO_LARGE'],
] as const

describe('error hierarchy', () => {
  test('base classes have their codes and names', () => {
    const base = new TokenboothError('x')
    assert.equal(base.code, 'ERR_TOKENBOOTH')
    assert.equal(base.name, 'TokenboothError')
    assert.ok(base instanceof Error)
    const invalid = new TokenInvalid('x')
    assert.equal(invalid.code, 'ERR_TOKEN_INVALID')
    assert.equal(invalid.name, 'TokenInvalid')
    assert.ok(invalid instanceof TokenboothError)
  })

  for (const [ErrorClass, code] of CODES) {
    test(`${ErrorClass.name} has code ${code} and is a TokenInvalid`, () => {
      const err = new ErrorClass('message')
      assert.equal(err.code, code)
      assert.equal(err.name, ErrorClass.name)
      assert.equal(err.message, 'message')
      assert.ok(err instanceof TokenInvalid)
      assert.ok(err instanceof TokenboothError)
      assert.ok(err instanceof Error)
      assert.match(String(err.stack), new RegExp(`^${ErrorClass.name}: message`))
    })
  }

  test('TokenClaimInvalid carries the claim name', () => {
    const err = new TokenClaimInvalid('aud')
    assert.equal(err.code, 'ERR_TOKEN_CLAIM_INVALID')
    assert.equal(err.name, 'TokenClaimInvalid')
    assert.equal(err.claim, 'aud')
    assert.match(err.message, /"aud"/)
    assert.ok(err instanceof TokenInvalid)
  })

  test('TokenKeyUnknown carries the kid', () => {
    const err = new TokenKeyUnknown('k-9')
    assert.equal(err.code, 'ERR_TOKEN_KEY_UNKNOWN')
    assert.equal(err.name, 'TokenKeyUnknown')
    assert.equal(err.kid, 'k-9')
    assert.ok(err instanceof TokenInvalid)
  })

  test('cause is kept', () => {
    const cause = new Error('root')
    assert.equal(new TokenSignatureInvalid('x', { cause }).cause, cause)
    assert.equal(new TokenClaimInvalid('iss', undefined, { cause }).cause, cause)
  })

  test('a subclass defined elsewhere (as the server does) is named after itself', () => {
    class InvalidGrant extends TokenboothError {
      override readonly code = 'ERR_INVALID_GRANT'
    }
    const err = new InvalidGrant('x')
    assert.equal(err.name, 'InvalidGrant')
    assert.equal(err.code, 'ERR_INVALID_GRANT')
    assert.ok(!(err instanceof TokenInvalid))
  })
})
