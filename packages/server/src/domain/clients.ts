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
  if (!/^[\w.-]{1,64}$/.test(name)) {
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

/** A confidential client whose secret matches, or InvalidClient (same answer for every failure). */
export async function authenticateClient(
  store: Store,
  id: string,
  secret: string,
): Promise<ClientRecord> {
  const client = await store.findClient(id)
  const expected = Buffer.from(client?.secretHash ?? hashSecret(''), 'base64url')
  const given = Buffer.from(hashSecret(secret), 'base64url')
  if (!timingSafeEqual(expected, given) || client?.secretHash === undefined) {
    throw new InvalidClient({ description: 'client authentication failed', detail: `client ${id}` })
  }
  return client
}

/** A public client named by `client_id`, or the default one when none is named. */
export async function findPublicClient(
  store: Store,
  id: string | undefined,
): Promise<ClientRecord> {
  if (id === undefined || id === DEFAULT_PUBLIC_CLIENT.id) return DEFAULT_PUBLIC_CLIENT
  const client = await store.findClient(id)
  if (client === undefined) {
    throw new InvalidClient({ description: 'unknown client', detail: `client ${id}` })
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
