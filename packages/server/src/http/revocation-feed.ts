/**
 * GET /events/revocations: the revocation feed as Server-Sent Events, for verifiers.
 *
 * Subscribers authenticate as registered confidential clients (HTTP Basic). On connect they get
 * every revocation still relevant (or, with `Last-Event-ID`, those after it), then `ready`, then
 * live entries and a `heartbeat` every few seconds, so a verifier can tell a silent feed from a
 * dead one. Entries may repeat; applying one is idempotent.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import type { RevocationFeed } from '../domain/revocation-feed.ts'
import { InvalidClient } from '../errors.ts'
import type { RevocationRecord } from '../store/store.ts'
import { resolveClient } from './client-auth.ts'

// A subscriber this far behind is cut off; it reconnects and resumes from its last id.
const MAX_BUFFERED = 1024 * 1024

function frame(entry: RevocationRecord): string {
  const data = JSON.stringify({
    kind: entry.kind,
    value: entry.value,
    at: entry.at,
    expires_at: entry.expiresAt,
  })
  return `id: ${entry.seq}\nevent: revocation\ndata: ${data}\n\n`
}

export function revocationFeedRoutes(
  app: FastifyInstance,
  ctx: BoothContext,
  feed: RevocationFeed,
  heartbeatMs: number,
): { close(): void } {
  const streams = new Set<ServerResponse>()

  app.get('/events/revocations', async (request, reply) => {
    const { confidential } = await resolveClient(ctx, request, Object.create(null))
    if (!confidential)
      throw new InvalidClient({ description: 'the revocation feed needs client authentication' })
    const header = request.headers['last-event-id']
    const lastSeq = typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : 0

    reply.hijack()
    const res = reply.raw
    streams.add(res)
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    res.write('retry: 1000\n\n')

    let live = false
    const pending: RevocationRecord[] = []
    const send = (entry: RevocationRecord) => {
      if (res.writableLength > MAX_BUFFERED) res.destroy()
      else res.write(frame(entry))
    }
    const unsubscribe = feed.subscribe((entry) => (live ? send(entry) : pending.push(entry)))
    const heartbeat = setInterval(() => {
      res.write(`event: heartbeat\ndata: {"seq":${feed.latestSeq()},"time":${ctx.clock()}}\n\n`)
    }, heartbeatMs)
    res.on('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      streams.delete(res)
    })

    try {
      let max = lastSeq
      for (const entry of await feed.backlog(lastSeq)) {
        send(entry)
        if (entry.seq > max) max = entry.seq
      }
      res.write(`event: ready\ndata: {"seq":${Math.max(max, feed.latestSeq())}}\n\n`)
      live = true
      for (const entry of pending.splice(0)) send(entry)
    } catch (error) {
      request.log.warn({ err: error }, 'revocation feed backlog failed')
      res.destroy()
    }
  })

  return {
    close() {
      for (const res of streams) res.end()
    },
  }
}
