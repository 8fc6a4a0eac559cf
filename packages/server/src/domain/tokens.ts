/**
 * Token minting. Access tokens are RFC 9068 JWTs signed with the active key (via jose);
 * refresh tokens are opaque random strings the store only ever sees hashed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { ActiveKey } from './keys.ts'
import { open, seal, tokenBoundKey } from './keyring.ts'

export interface AccessTokenInput {
  issuer: string
  audience: string
  subject: string
  clientId: string
  scope: readonly string[]
  sessionId: string | undefined
  ttl: number
  now: number
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
export async function issueAccessToken(key: ActiveKey, input: AccessTokenInput): Promise<IssuedAccessToken> {
  const iat = Math.floor(input.now / 1000)
  const jti = randomUUID()
  const claims: Record<string, unknown> = { client_id: input.clientId, scope: input.scope.join(' ') }
  if (input.sessionId !== undefined) claims.sid = input.sessionId
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(input.issuer)
    .setSubject(input.subject)
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + input.ttl)
    .setJti(jti)
    .sign(key.key)
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

export function sealSuccessor(successor: string, predecessor: string): string {
  return seal(tokenBoundKey(predecessor), 'rt', Buffer.from(successor), 'refresh successor')
}

export function openSuccessor(sealed: string, predecessor: string): string | undefined {
  return open(tokenBoundKey(predecessor), sealed, 'refresh successor')?.toString()
}
