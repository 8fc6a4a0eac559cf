/**
 * Token minting. Access tokens are RFC 9068 JWTs signed with the active key (jws.ts);
 * refresh tokens are opaque random strings the store only ever sees hashed.
 */
import { createHash, createHmac, randomFillSync, randomUUID } from 'node:crypto'
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
  /**
   * Epoch ms past which the token must not live: its session's absolute end
   * (`TOKENBOOTH_SESSION_MAX_AGE`). A stateless verifier cannot know the session is over, so
   * `exp` is cut to it (and `expires_in` with it); at least 1 s after `iat`.
   */
  notAfter?: number
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
  const exp =
    input.notAfter === undefined
      ? iat + input.ttl
      : Math.min(iat + input.ttl, Math.max(iat + 1, Math.floor(input.notAfter / 1000)))
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
    exp,
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
  return { token, jti, expiresIn: exp - iat }
}

/**
 * A refresh token is `tbr_`, its issue time in milliseconds as 11 hex digits, and 256 random bits
 * (43 base64url characters). The store keys it by that time followed by its SHA-256: every new
 * token's key sorts after the ones before, so an insert lands on the last page of the key's index
 * instead of a random one, and a batch of rotations writes a few pages, not one per rotation (the
 * way UUIDv7 keys beat random ones). The time says nothing its holder does not know.
 *
 * Tokens of the first format (`tbr_` and the 43 characters only), issued before, are still
 * accepted: their key is their hash alone, as it was stored.
 */
const REFRESH_TOKEN = /^tbr_(?<time>[\da-f]{11})?(?<random>[\w-]{43})$/

// Random bytes drawn 4 KiB at a time (one call instead of one per token, as randomUUID does);
// each byte is handed out once.
const pool = Buffer.alloc(4096)
let poolUsed = pool.length

function randomPart(): string {
  if (poolUsed + 32 > pool.length) {
    randomFillSync(pool)
    poolUsed = 0
  }
  const part = pool.toString('base64url', poolUsed, poolUsed + 32)
  pool.fill(0, poolUsed, poolUsed + 32)
  poolUsed += 32
  return part
}

function timePart(now: number): string {
  return Math.floor(now).toString(16).padStart(11, '0')
}

/** A refresh token issued at `now`; `tbr_` lets secret scanners and humans tell what leaked. */
export function newRefreshToken(now: number): string {
  return `tbr_${timePart(now)}${randomPart()}`
}

/** The store key of a refresh token; `undefined` for anything that cannot be one. */
export function hashRefreshToken(token: string): string | undefined {
  const match = REFRESH_TOKEN.exec(token)
  if (match === null) return undefined
  const hash = createHash('sha256').update(token).digest('base64url')
  return (match.groups!.time ?? '') + hash
}

function successorPad(predecessor: string): Buffer {
  // HMAC-SHA256 keyed by a 256-bit random token is a PRF: a pad only its holder can compute.
  return createHmac('sha256', predecessor).update('tokenbooth refresh successor v1').digest()
}

/**
 * The successor's 32 random bytes, XORed with a pad derived from the predecessor, after its
 * issue time (not secret: it is in the store key too). Each pad seals exactly one stored
 * successor (the store keeps one per predecessor), so this is a one-time pad; integrity comes
 * from checking the opened token against its stored hash.
 */
export function sealSuccessor(successor: string, predecessor: string): string {
  const { time = '', random } = REFRESH_TOKEN.exec(successor)!.groups!
  const pad = successorPad(predecessor)
  const bytes = Buffer.from(random!, 'base64url')
  for (let i = 0; i < bytes.length; i++) bytes[i]! ^= pad[i]!
  return time + bytes.toString('base64url')
}

/** The successor a predecessor sealed, if it matches `successorHash`; `undefined` otherwise. */
export function openSuccessor(
  sealed: string,
  predecessor: string,
  successorHash: string,
): string | undefined {
  const time = sealed.slice(0, sealed.length - 43)
  const pad = successorPad(predecessor)
  const bytes = Buffer.from(sealed.slice(time.length), 'base64url')
  if (bytes.length !== 32) return undefined
  for (let i = 0; i < bytes.length; i++) bytes[i]! ^= pad[i]!
  const token = `tbr_${time}${bytes.toString('base64url')}`
  return hashRefreshToken(token) === successorHash ? token : undefined
}
