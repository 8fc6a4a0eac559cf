/**
 * Token minting. Access tokens are RFC 9068 JWTs signed with the active key (jws.ts);
 * refresh tokens are opaque random strings the store only ever sees hashed.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { signCompact } from './jws.ts'
import type { ActiveKey } from './keys.ts'

export interface AccessTokenInput {
  issuer: string
  audience: string
  subject: string
  clientId: string
  scope: readonly string[]
  sessionId: string | undefined
  ttl: number
  now: number
  /** `iat` in seconds when it must differ from `now` (a same-second user cut-off, sessions.ts). */
  issuedAt?: number
}

export interface IssuedAccessToken {
  token: string
  jti: string
  expiresIn: number
}

/**
 * Signs an access token: header `typ: at+jwt` and `kid`; claims iss, sub, aud, exp, iat, jti,
 * client_id, scope and (for user sessions) sid. Nothing secret goes into the claims: anyone who
 * holds the token can read them.
 */
export function issueAccessToken(key: ActiveKey, input: AccessTokenInput): IssuedAccessToken {
  const iat = input.issuedAt ?? Math.floor(input.now / 1000)
  const jti = randomUUID()
  const claims: Record<string, unknown> = {
    client_id: input.clientId,
    scope: input.scope.join(' '),
  }
  if (input.sessionId !== undefined) claims.sid = input.sessionId
  const payload = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    exp: iat + input.ttl,
    iat,
    jti,
    ...claims,
  }
  const token = signCompact(
    key.alg,
    key.key,
    { alg: key.alg, kid: key.kid, typ: 'at+jwt' },
    payload,
  )
  return { token, jti, expiresIn: input.ttl }
}

const REFRESH_TOKEN = /^tbr_[\w-]{43}$/

/** 256 random bits, prefixed so that secret scanners and humans can tell what leaked. */
export function newRefreshToken(): string {
  return `tbr_${randomBytes(32).toString('base64url')}`
}

/** The store key of a refresh token; `undefined` for anything that cannot be one. */
export function hashRefreshToken(token: string): string | undefined {
  if (!REFRESH_TOKEN.test(token)) return undefined
  return createHash('sha256').update(token).digest('base64url')
}

function successorPad(predecessor: string): Buffer {
  // HMAC-SHA256 keyed by a 256-bit random token is a PRF: a pad only its holder can compute.
  return createHmac('sha256', predecessor).update('tokenbooth refresh successor v1').digest()
}

/**
 * The successor's 32 random bytes, XORed with a pad derived from the predecessor. Each pad
 * seals exactly one stored successor (the store keeps one per predecessor), so this is a
 * one-time pad; integrity comes from checking the opened token against its stored hash.
 */
export function sealSuccessor(successor: string, predecessor: string): string {
  const pad = successorPad(predecessor)
  const bytes = Buffer.from(successor.slice(4), 'base64url')
  for (let i = 0; i < bytes.length; i++) bytes[i]! ^= pad[i]!
  return bytes.toString('base64url')
}

/** The successor a predecessor sealed, if it matches `successorHash`; `undefined` otherwise. */
export function openSuccessor(
  sealed: string,
  predecessor: string,
  successorHash: string,
): string | undefined {
  const pad = successorPad(predecessor)
  const bytes = Buffer.from(sealed, 'base64url')
  if (bytes.length !== 32) return undefined
  for (let i = 0; i < bytes.length; i++) bytes[i]! ^= pad[i]!
  const token = `tbr_${bytes.toString('base64url')}`
  return hashRefreshToken(token) === successorHash ? token : undefined
}
