/** GET /healthz and GET /metrics. */
import type { FastifyInstance } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import type { Metrics } from '../domain/metrics.ts'
import { ServiceUnavailable } from '../errors.ts'

export function healthRoutes(app: FastifyInstance, ctx: BoothContext, metrics: Metrics): void {
  app.get('/healthz', async (_request, reply) => {
    try {
      // Ready means the store answers and the scheduled signing key can be opened.
      await ctx.store.findClient('')
    } catch (error) {
      throw new ServiceUnavailable({ description: 'the store is unreachable', cause: error })
    }
    // Not ready while this instance cannot open the key scheduled to sign (another instance
    // rotated under a secret this one lacks): it signs with an older key that verifiers may no
    // longer have; a load balancer should send its traffic elsewhere until it is fixed.
    const keys = ctx.keys.health()
    if (!keys.ok) throw new ServiceUnavailable({ description: keys.reason })
    return reply.header('cache-control', 'no-store').send({ status: 'ok' })
  })
  app.get('/metrics', async (_request, reply) =>
    reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(metrics.render()),
  )
}
