/** GET /healthz and GET /metrics. */
import type { FastifyInstance } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import type { Metrics } from '../domain/metrics.ts'
import { ServiceUnavailable } from '../errors.ts'

export function healthRoutes(app: FastifyInstance, ctx: BoothContext, metrics: Metrics): void {
  app.get('/healthz', async (_request, reply) => {
    try {
      // Ready means the store answers; keys were loaded before the server started listening.
      await ctx.store.findClient('')
    } catch (error) {
      throw new ServiceUnavailable({ description: 'the store is unreachable', cause: error })
    }
    return reply.header('cache-control', 'no-store').send({ status: 'ok' })
  })
  app.get('/metrics', async (_request, reply) =>
    reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(metrics.render()),
  )
}
