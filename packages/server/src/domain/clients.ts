/**
 * OAuth clients. Confidential clients (client_credentials, introspection, revocation feed) get a
 * 256-bit random secret shown once; the store keeps its SHA-256. A slow password hash buys
 * nothing for a secret with that much entropy and would cap client_credentials throughput.
 * Public clients (first-party apps using the password grant) have no secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { InvalidClient } from '../errors.ts'
import type { ClientRecord, Store } from '../store/store.ts'

/** The public client every booth has: first-party apps that send no client_id use it. */
export const DEFAULT_PUBLIC_CLIENT: ClientRecord = Object.freeze({
  id: 'tokenbooth',
  name: 'tokenbooth',
  secretHash: undefined,
  scope: '',
  createdAt: 0,
})

// A client's id is its name: ASCII letters, digits, _ . and -, at most 64 (registerClient).
const CLIENT_ID = /^[\w.-]{1,64}$/

/**
 * True when `value` could name a client, by the rule `registerClient` applies to names. Every id
 * a request presents is checked with it before it reaches the store: a NUL byte, which
 * PostgreSQL refuses in text (SQLSTATE 22021), or a megabyte of junk never becomes a query.
 * It does NOT say that the client exists.
 *
 * @example isClientId('shop-api') // true
 * @example isClientId('shop\0') // false
 */
export function isClientId(value: string): boolean {
  return CLIENT_ID.test(value)
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}

export interface NewClient {
  client: ClientRecord
  /** Shown once, never stored. */
  secret: string | undefined
}

export async function registerClient(
  store: Store,
  name: string,
  scope: string,
  now: number,
  kind: 'confidential' | 'public' = 'confidential',
): Promise<NewClient> {
  if (!isClientId(name)) {
    throw new TypeError(
      `the client name must be 1 to 64 letters, digits, _ . or -, got ${JSON.stringify(name)}`,
    )
  }
  const secret = kind === 'confidential' ? randomBytes(32).toString('base64url') : undefined
  const client: ClientRecord = {
    id: name,
    name,
    secretHash: secret === undefined ? undefined : hashSecret(secret),
    scope,
    createdAt: now,
  }
  if (name === DEFAULT_PUBLIC_CLIENT.id || (await store.createClient(client)) === 'taken') {
    throw new TypeError(`a client named ${JSON.stringify(name)} exists already`)
  }
  return { client, secret }
}

/**
 * A confidential client whose secret matches, or InvalidClient: the same answer for a wrong
 * secret, an unknown client and an id no client could have (which is never looked up).
 */
export async function authenticateClient(
  store: Store,
  id: string,
  secret: string,
): Promise<ClientRecord> {
  const client = isClientId(id) ? await store.findClient(id) : undefined
  const expected = Buffer.from(client?.secretHash ?? hashSecret(''), 'base64url')
  const given = Buffer.from(hashSecret(secret), 'base64url')
  if (!timingSafeEqual(expected, given) || client?.secretHash === undefined) {
    throw new InvalidClient({
      description: 'client authentication failed',
      detail: `client ${JSON.stringify(id.slice(0, 64))}`,
    })
  }
  return client
}

/** A public client named by `client_id`, or the default one when none is named. */
export async function findPublicClient(
  store: Store,
  id: string | undefined,
): Promise<ClientRecord> {
  if (id === undefined || id === DEFAULT_PUBLIC_CLIENT.id) return DEFAULT_PUBLIC_CLIENT
  // RFC 6749 §5.2: an id no client could have is an unknown client, answered without a query.
  const client = isClientId(id) ? await store.findClient(id) : undefined
  if (client === undefined) {
    throw new InvalidClient({
      description: 'unknown client',
      detail: `client ${JSON.stringify(id.slice(0, 64))}`,
    })
  }
  if (client.secretHash !== undefined) {
    // RFC 6749 §2.3: a confidential client must authenticate; naming it is not enough.
    throw new InvalidClient({
      description: 'this client must authenticate',
      detail: `client ${id}`,
    })
  }
  return client
}
