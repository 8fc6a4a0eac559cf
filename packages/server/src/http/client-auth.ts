/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
 * `client_secret_basic`, `client_secret_post`, or `none` for public clients (client_id only).
 */
import type { FastifyRequest } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import { authenticateClient, findPublicClient } from '../domain/clients.ts'
import { InvalidClient, InvalidRequest } from '../errors.ts'
import type { ClientRecord } from '../store/store.ts'
import type { Params } from './params.ts'

export interface AuthenticatedClient {
  client: ClientRecord
  /** True when the client proved a secret; false for a public client. */
  confidential: boolean
}

function basicCredentials(header: string): [string, string] {
  const encoded = header.slice(6).trim()
  const decoded = Buffer.from(encoded, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0 || !/^[A-Za-z0-9+/]+=*$/.test(encoded)) {
    throw new InvalidClient({ description: 'malformed Basic credentials' })
  }
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return [
      decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    ]
  } catch {
    throw new InvalidClient({ description: 'malformed Basic credentials' })
  }
}

async function confidentialClient(
  ctx: BoothContext,
  id: string,
  secret: string,
): Promise<ClientRecord> {
  try {
    return await authenticateClient(ctx.store, id, secret)
  } catch (error) {
    if (error instanceof InvalidClient)
      ctx.events.emit('client.authentication_failed', { client_id: id.slice(0, 64) })
    throw error
  }
}

export async function resolveClient(
  ctx: BoothContext,
  request: FastifyRequest,
  params: Params,
): Promise<AuthenticatedClient> {
  const header = request.headers.authorization
  const basic = header !== undefined && /^basic /i.test(header)
  const postSecret = params.client_secret
  if (basic && postSecret !== undefined) {
    throw new InvalidRequest({ description: 'use one client authentication method, not two' })
  }
  if (basic) {
    const [id, secret] = basicCredentials(header)
    if (params.client_id !== undefined && params.client_id !== id) {
      throw new InvalidRequest({ description: 'client_id differs from the authenticated client' })
    }
    return { client: await confidentialClient(ctx, id, secret), confidential: true }
  }
  if (postSecret !== undefined) {
    const id = params.client_id
    if (id === undefined) throw new InvalidClient({ description: 'client_id is missing' })
    return { client: await confidentialClient(ctx, id, postSecret), confidential: true }
  }
  return { client: await findPublicClient(ctx.store, params.client_id), confidential: false }
}
