/**
 * The store port: the only door to the database. Methods are named for their use, and each
 * security-relevant change is one call running in one transaction. `sqlite/` and `postgres/`
 * implement it; one conformance suite (test/store/conformance.ts) holds both to it.
 *
 * Times are epoch milliseconds. Refresh tokens appear here only as hashes.
 */

/**
 * The database refused a value it was given: on PostgreSQL, a NUL byte or invalid UTF-8 in text
 * (SQLSTATE 22021) or text it cannot read as the column's type (22P02). The fault is the input's,
 * not the database's, and the HTTP layer answers it 400 `invalid_request`. It does not say which
 * value it was; the database's own error is the `cause`, for the log.
 *
 * @example
 * ```ts
 * await store.findClient('shop\u0000').catch((e) => e instanceof StoreInputRejected) // true
 * ```
 */
export class StoreInputRejected extends Error {
  override readonly name = 'StoreInputRejected'
  constructor(cause: unknown) {
    super('the database refused a value it was given', { cause })
  }
}

export interface UserRecord {
  id: string
  username: string
  passwordHash: string
  createdAt: number
}

export interface ClientRecord {
  id: string
  name: string
  /** `undefined` for a public client. */
  secretHash: string | undefined
  scope: string
  createdAt: number
}

export interface SessionRecord {
  id: string
  userId: string
  clientId: string
  /** The scope granted at login; a refresh may narrow an access token, never this. */
  scope: string
  createdAt: number
  lastUsedAt: number
  /** Absolute end of the session. */
  expiresAt: number
  revokedAt: number | undefined
  userAgent: string | undefined
}

export interface NewRefreshToken {
  hash: string
  /** Idle expiry of this token. */
  expiresAt: number
}

export interface NextRefreshToken extends NewRefreshToken {
  /** The successor, encrypted under a key only the presented token derives (for the grace retry). */
  sealedForPredecessor: string
}

export interface RotationRequest {
  presentedHash: string
  next: NextRefreshToken
  /** The client presenting the token: a refresh token only works for the client it was issued to. */
  clientId: string
  /** When the caller also proved a session (the old access token's `sid`), it must match. */
  sessionId: string | undefined
  now: number
  graceMs: number
  /** Passed to the revocation logged on reuse. */
  revocationExpiresAt: number
}

export type RotationOutcome =
  | { status: 'rotated'; session: SessionRecord }
  /** The previous token again, within the grace window: the caller gets the same successor. */
  | { status: 'retried'; session: SessionRecord; sealedSuccessor: string; successorHash: string }
  /** An older token, or a retry after the window: the whole session was revoked in the same transaction. */
  | { status: 'reused'; session: SessionRecord }
  /** Another client's token, or not the session the old access token names: nothing changed. */
  | { status: 'expired' | 'revoked' | 'unknown' | 'mismatch' }

/** A refresh token as stored, live or not, with its session. */
export interface RefreshTokenRecord {
  session: SessionRecord
  /** Idle expiry (never after the session's). */
  expiresAt: number
  /** When it was exchanged for its successor; `undefined` while it is the current one. */
  consumedAt: number | undefined
}

/**
 * Whether a stored refresh token is live: the current one of its family (not yet exchanged),
 * before its idle expiry, in a session neither revoked nor past its absolute end. The one
 * statement of the rule, for `findSessionByRefreshToken` and for introspection's `active`
 * (RFC 7662 §2.2). It does not check which client the token was issued to.
 *
 * @example
 * ```ts
 * const found = await store.findRefreshToken(hash)
 * if (found !== undefined && isLiveRefreshToken(found, now)) console.log(found.session.id)
 * ```
 */
export function isLiveRefreshToken(token: RefreshTokenRecord, now: number): boolean {
  return (
    token.consumedAt === undefined &&
    token.expiresAt > now &&
    token.session.revokedAt === undefined &&
    token.session.expiresAt > now
  )
}

export interface SigningKeyRecord {
  kid: string
  alg: string
  publicJwk: string
  privateSealed: string
  createdAt: number
  /** When the key starts signing; it is published before that. */
  activatesAt: number
}

export type RevocationKind = 'sid' | 'sub' | 'jti'

export interface RevocationRecord {
  seq: number
  kind: RevocationKind
  value: string
  at: number
  /** After this, no token it concerns can still be valid: the entry may be forgotten. */
  expiresAt: number
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** Applies pending migrations; safe to run from several instances at once. */
  migrate(): Promise<void>
  close(): Promise<void>

  createUser(user: UserRecord): Promise<'created' | 'taken'>
  findUserByUsername(username: string): Promise<UserRecord | undefined>
  findUserById(id: string): Promise<UserRecord | undefined>

  createClient(client: ClientRecord): Promise<'created' | 'taken'>
  findClient(id: string): Promise<ClientRecord | undefined>

  /** Creates a session and its first refresh token together. */
  startSession(session: SessionRecord, token: NewRefreshToken): Promise<void>
  /**
   * The refresh-token compare-and-swap: consumes `presentedHash` and stores `next`, or answers
   * why not. Reuse of a consumed token outside `graceMs` (or of any older generation) revokes the
   * session and logs the revocation, in the same transaction.
   */
  rotateRefreshToken(request: RotationRequest): Promise<RotationOutcome>
  /** The session a live refresh token (isLiveRefreshToken) belongs to, without consuming it. */
  findSessionByRefreshToken(hash: string, now: number): Promise<SessionRecord | undefined>
  /** Any stored refresh token, consumed or expired ones too (revocation ends its family). */
  findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined>
  findSession(id: string): Promise<SessionRecord | undefined>
  /** Sessions of a user that are neither revoked nor expired, newest first. */
  listActiveSessions(userId: string, now: number): Promise<SessionRecord[]>
  /** Revokes one session (of `userId` when given) and logs it; false if none was live. */
  revokeSession(
    id: string,
    userId: string | undefined,
    now: number,
    revocationExpiresAt: number,
  ): Promise<boolean>
  /** Revokes every session of a user and logs a user cut-off at `now`; returns how many. */
  revokeAllSessions(userId: string, now: number, revocationExpiresAt: number): Promise<number>
  /** Logs the revocation of one access token by its jti. */
  revokeAccessToken(jti: string, now: number, expiresAt: number): Promise<void>
  isAccessTokenRevoked(jti: string): Promise<boolean>
  /** The `at` of the latest user cut-off (revokeAllSessions) still logged for `userId`. */
  latestUserCutoff(userId: string): Promise<number | undefined>

  /**
   * Keeps every revocation logged from now on until at least `until`: the revoking methods raise
   * a lower `revocationExpiresAt` (`expiresAt`) to it. It only ever moves later. The booth
   * extends it before it issues access tokens that live until then, so that an entry outlives
   * every token it may match, whatever lifetime the instance that logs it is configured with.
   */
  extendRevocationHorizon(until: number): Promise<void>
  /** Revocations after `seq` that still matter at `now`, oldest first. */
  listRevocations(afterSeq: number, now: number, limit: number): Promise<RevocationRecord[]>
  /**
   * The highest seq in the revocation log, expired entries included until purgeExpired drops
   * them; 0 when it is empty.
   */
  latestRevocationSeq(): Promise<number>
  /** Forgets revocations, refresh tokens and sessions that no longer matter. */
  purgeExpired(now: number): Promise<void>

  listSigningKeys(): Promise<SigningKeyRecord[]>
  /**
   * Inserts `key` unless another key already activates at or after `key.activatesAt - slack`;
   * serialised so that two instances rotating at once create one key.
   */
  insertSigningKey(key: SigningKeyRecord, unlessActivatingAfter: number): Promise<boolean>
}
