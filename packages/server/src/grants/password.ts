/** grant_type=password (RFC 6749 §4.3): the articles' login with id and password. */
import { accountName, authenticate } from '../domain/accounts.ts'
import type { BoothContext } from '../domain/context.ts'
import { grantScope, parseScope } from '../domain/scopes.ts'
import { startSession, type TokenResponse } from '../domain/sessions.ts'
import type { LoginAttempt } from '../domain/throttle.ts'
import { InvalidGrant } from '../errors.ts'
import { optional, required, type Params } from '../http/params.ts'
import type { ClientRecord } from '../store/store.ts'

export interface RequestFacts {
  address: string
  userAgent: string | undefined
}

export async function passwordGrant(
  ctx: BoothContext,
  params: Params,
  client: ClientRecord,
  facts: RequestFacts,
): Promise<TokenResponse> {
  const username = required(params, 'username')
  const password = required(params, 'password')
  // RFC 6749 §3.1: `scope=` (no value) is treated as if it were omitted: the default scope.
  const scope = grantScope(
    parseScope(optional(params, 'scope')),
    ctx.config.scopes,
    ctx.config.defaultScope,
  )
  // Bounded: a name that can never exist is no account (and logs as its first 64 characters).
  const account = accountName(username)
  const shown = account ?? username.slice(0, 64)
  let attempt: LoginAttempt
  try {
    // Counted before the hash runs: parallel guesses see each other (throttle.ts).
    attempt = await ctx.throttle.begin(account, facts.address, ctx.clock)
  } catch (error) {
    ctx.events.emit('login.throttled', { username: shown, address: facts.address })
    throw error
  }
  let user
  try {
    user = await authenticate(ctx.store, username, password)
  } catch (error) {
    if (!(error instanceof InvalidGrant)) {
      attempt.abandoned()
      throw error
    }
    attempt.failed(ctx.clock())
    ctx.events.emit('login.failed', {
      username: shown,
      address: facts.address,
      detail: error.detail,
    })
    throw error
  }
  attempt.succeeded()
  const tokens = await startSession(ctx, user, client, scope, facts.userAgent)
  ctx.events.emit('login.succeeded', {
    sub: user.id,
    client_id: client.id,
    address: facts.address,
  })
  return tokens
}
