/** grant_type=password (RFC 6749 §4.3): the articles' login with id and password. */
import { authenticate } from '../domain/accounts.ts'
import type { BoothContext } from '../domain/context.ts'
import { grantScope, parseScope } from '../domain/scopes.ts'
import { startSession, type TokenResponse } from '../domain/sessions.ts'
import { InvalidGrant } from '../errors.ts'
import { required, type Params } from '../http/params.ts'
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
  const scope = grantScope(parseScope(params.scope), ctx.config.scopes, ctx.config.defaultScope)
  const now = ctx.clock()
  const account = username.normalize('NFKC').toLowerCase()
  try {
    ctx.throttle.check(account, facts.address, now)
  } catch (error) {
    ctx.events.emit('login.throttled', { username: account, address: facts.address })
    throw error
  }
  try {
    const user = await authenticate(ctx.store, username, password)
    ctx.throttle.succeeded(account, facts.address)
    const tokens = await startSession(ctx, user, client, scope, facts.userAgent)
    ctx.events.emit('login.succeeded', {
      sub: user.id,
      client_id: client.id,
      address: facts.address,
    })
    return tokens
  } catch (error) {
    if (error instanceof InvalidGrant) {
      ctx.throttle.failed(account, facts.address, now)
      ctx.events.emit('login.failed', {
        username: account,
        address: facts.address,
        detail: error.detail,
      })
    }
    throw error
  }
}
