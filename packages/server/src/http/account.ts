/** The signed-in user's endpoints: signup, userinfo, logout, sessions. */
import type { FastifyInstance } from 'fastify'
import { signUp } from '../domain/accounts.ts'
import type { BoothContext } from '../domain/context.ts'
import { endAllSessions, endSession } from '../domain/sessions.ts'
import { NotFound } from '../errors.ts'
import { authenticateUser } from './bearer.ts'
import { clearTokenCookies } from './cookies.ts'
import { readParams, required } from './params.ts'

export function accountRoutes(app: FastifyInstance, ctx: BoothContext): void {
  app.post('/signup', async (request, reply) => {
    const params = readParams(request.body)
    // Each sign-up costs a full Argon2id hash: limited per address before the hash runs.
    const user = await signUp(
      ctx.store,
      required(params, 'username'),
      required(params, 'password'),
      ctx.clock(),
      () => ctx.throttle.signUp(request.ip, ctx.clock()),
    )
    ctx.events.emit('user.signed_up', { sub: user.id })
    return reply.code(201).send({ id: user.id, username: user.username })
  })

  app.get('/userinfo', async (request) => {
    const { claims } = await authenticateUser(ctx, request, 'profile')
    const user = await ctx.store.findUserById(claims.sub)
    if (user === undefined) throw new NotFound({ description: 'no such user' })
    return { sub: user.id, username: user.username }
  })

  app.post('/logout', async (request, reply) => {
    const { session } = await authenticateUser(ctx, request)
    await endSession(ctx, session.id, session.userId, 'logout')
    clearTokenCookies(reply, ctx.config)
    return { revoked: 1 }
  })

  app.post('/logout/all', async (request, reply) => {
    const { session } = await authenticateUser(ctx, request)
    const revoked = await endAllSessions(ctx, session.userId, 'logout_all')
    clearTokenCookies(reply, ctx.config)
    return { revoked }
  })

  app.get('/sessions', async (request, reply) => {
    const { session: current } = await authenticateUser(ctx, request)
    const sessions = await ctx.store.listActiveSessions(current.userId, ctx.clock())
    reply.header('cache-control', 'no-store')
    return {
      sessions: sessions.map((s) => ({
        id: s.id,
        created_at: new Date(s.createdAt).toISOString(),
        last_used_at: new Date(s.lastUsedAt).toISOString(),
        expires_at: new Date(s.expiresAt).toISOString(),
        user_agent: s.userAgent ?? null,
        client_id: s.clientId,
        current: s.id === current.id,
      })),
    }
  })

  app.delete<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const { session } = await authenticateUser(ctx, request)
    // Another user's session and no session at all get the same answer.
    if (!(await endSession(ctx, request.params.id, session.userId, 'revoked_by_user'))) {
      throw new NotFound({ description: 'no such session' })
    }
    return reply.code(204).send()
  })
}
