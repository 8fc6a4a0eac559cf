/** The tables as Kysely sees them. Times are epoch milliseconds (bigint columns). */
import type { Generated } from 'kysely'

export interface UsersTable {
  id: string
  username: string
  password_hash: string
  created_at: number
}

export interface ClientsTable {
  id: string
  name: string
  secret_hash: string | null
  scope: string
  created_at: number
}

export interface SessionsTable {
  id: string
  user_id: string
  client_id: string
  scope: string
  created_at: number
  last_used_at: number
  expires_at: number
  revoked_at: number | null
  user_agent: string | null
}

export interface RefreshTokensTable {
  hash: string
  session_id: string
  created_at: number
  expires_at: number
  consumed_at: number | null
  successor_hash: string | null
  successor_sealed: string | null
}

export interface SigningKeysTable {
  kid: string
  alg: string
  public_jwk: string
  private_sealed: string
  created_at: number
  activates_at: number
}

export interface RevocationsTable {
  seq: Generated<number>
  kind: string
  value: string
  at: number
  expires_at: number
}

/** One row (id 1): the least `expires_at` of a revocation logged now. */
export interface RevocationHorizonTable {
  id: number
  kept_until: number
}

export interface Schema {
  users: UsersTable
  clients: ClientsTable
  sessions: SessionsTable
  refresh_tokens: RefreshTokensTable
  signing_keys: SigningKeysTable
  revocations: RevocationsTable
  revocation_horizon: RevocationHorizonTable
}
