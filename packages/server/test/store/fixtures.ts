/**
 * What the conformance cases share: the backend handle, fixed times and record builders. Every
 * time is fixed (no clock, no sleeping), so each case states exactly which instant it runs at.
 */
import assert from 'node:assert/strict'
import type {
  ClientRecord,
  NextRefreshToken,
  RotationRequest,
  SessionRecord,
  Store,
  UserRecord,
} from '../../src/store/store.ts'

/** One backend, freshly opened for one case. */
export interface OpenedStore {
  /** A store on an empty, unmigrated database. */
  store: Store
  /** A second store on the same database through its own connections (another instance). */
  peer?: Store
  /** Opens the same database again, as a restarted instance would (after `store.close()`). */
  reopen(): Promise<Store>
  /** Closes whatever is still open; the database is not used again. */
  cleanup(): Promise<void>
}

export type OpenStore = () => Promise<OpenedStore>

/** A store whose `close()` may be called more than once (cases close stores themselves). */
export function closeOnce(store: Store): Store {
  let closing: Promise<void> | undefined
  return { ...store, close: () => (closing ??= store.close()) }
}

/** Opens a backend, migrates it, runs `fn`, and always cleans up. */
export async function withStore(
  open: OpenStore,
  fn: (opened: OpenedStore) => Promise<void>,
  { migrate = true } = {},
): Promise<void> {
  const opened = await open()
  try {
    if (migrate) await opened.store.migrate()
    await fn(opened)
  } finally {
    await opened.cleanup()
  }
}

export const NOW = 1_800_000_000_000
export const SECOND = 1_000
export const HOUR = 3_600_000
export const DAY = 24 * HOUR
export const GRACE = 5 * SECOND
export const CLIENT = 'app'
export const OTHER_CLIENT = 'other-app'

export function userRecord(id: string, username = id): UserRecord {
  return { id, username, passwordHash: `argon2id:${id}`, createdAt: NOW }
}

/** A confidential client, or a public one with `{ secretHash: undefined }`. */
export function clientRecord(
  id: string,
  { secretHash }: { secretHash: string | undefined } = { secretHash: `secret:${id}` },
): ClientRecord {
  return { id, name: `Client ${id}`, secretHash, scope: 'openid profile', createdAt: NOW }
}

export function sessionRecord(
  id: string,
  userId: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    id,
    userId,
    clientId: CLIENT,
    scope: 'openid profile',
    createdAt: NOW,
    lastUsedAt: NOW,
    expiresAt: NOW + 30 * DAY,
    revokedAt: undefined,
    userAgent: 'conformance/1.0',
    ...overrides,
  }
}

/** What the caller stores for a successor: here a readable stand-in for the sealed token. */
export function sealed(hash: string): string {
  return `sealed(${hash})`
}

export function nextToken(hash: string, expiresAt = NOW + 14 * DAY): NextRefreshToken {
  return { hash, expiresAt, sealedForPredecessor: sealed(hash) }
}

/** Presents `presentedHash` for client `CLIENT` one second after NOW, with the default grace. */
export function rotation(
  presentedHash: string,
  nextHash: string,
  overrides: Partial<RotationRequest> = {},
): RotationRequest {
  return {
    presentedHash,
    next: nextToken(nextHash),
    clientId: CLIENT,
    sessionId: undefined,
    now: NOW + SECOND,
    graceMs: GRACE,
    revocationExpiresAt: NOW + DAY,
    ...overrides,
  }
}

/** Users alice and bob, the confidential client `CLIENT` and `OTHER_CLIENT`. */
export async function seedAccounts(store: Store): Promise<void> {
  for (const id of ['alice', 'bob']) assert.equal(await store.createUser(userRecord(id)), 'created')
  for (const id of [CLIENT, OTHER_CLIENT]) {
    assert.equal(await store.createClient(clientRecord(id)), 'created')
  }
}

/** Starts session `id` of `userId` with its first refresh token `tokenHash`. */
export async function startSession(
  store: Store,
  id: string,
  userId: string,
  tokenHash: string,
  {
    tokenExpiresAt = NOW + 14 * DAY,
    ...overrides
  }: Partial<SessionRecord> & {
    tokenExpiresAt?: number
  } = {},
): Promise<SessionRecord> {
  const session = sessionRecord(id, userId, overrides)
  await store.startSession(session, { hash: tokenHash, expiresAt: tokenExpiresAt })
  return session
}

/** The hashes among `hashes` that still name a live refresh token at `now`. */
export async function liveTokens(store: Store, hashes: string[], now: number): Promise<string[]> {
  const live: string[] = []
  for (const hash of hashes) {
    if ((await store.findSessionByRefreshToken(hash, now)) !== undefined) live.push(hash)
  }
  return live
}

/**
 * Opens every pooled connection before a concurrent burst (ten reads per store at once), so the
 * burst overlaps in the database instead of queueing behind connection setup.
 */
export async function warmUp(stores: Store[]): Promise<void> {
  await Promise.all(
    stores.flatMap((store) => Array.from({ length: 10 }, () => store.findSession('x'))),
  )
}
