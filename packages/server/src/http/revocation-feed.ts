/**
 * GET /events/revocations: the revocation feed as Server-Sent Events, for verifiers.
 *
 * Subscribers authenticate as registered confidential clients (HTTP Basic). On connect they get
 * every revocation still relevant (or, with `Last-Event-ID`, those after it), then `ready`, then
 * live entries and a `heartbeat` every few seconds, so a verifier can tell a silent feed from a
 * dead one. Entries may repeat; applying one is idempotent.
 *
 * The snapshot can be far larger than any socket buffer (every revocation of the last access-token
 * lifetime): it is written one page at a time, each after the subscriber has read the previous
 * one. Only a subscriber that is live and stops reading is cut off, once it is `MAX_BUFFERED`
 * behind; it reconnects and resumes from its last id.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { BoothContext } from '../domain/context.ts'
import type { RevocationFeed } from '../domain/revocation-feed.ts'
import { InvalidClient } from '../errors.ts'
import type { RevocationRecord } from '../store/store.ts'
import { resolveClient } from './client-auth.ts'

// A live subscriber this far behind has stopped reading: cut off, it resumes from its last id.
const MAX_BUFFERED = 1024 * 1024
// Live entries held while a subscriber still reads its snapshot (~200 B each); past this, cut off.
const MAX_PENDING = 100_000

function frame(entry: RevocationRecord): string {
  const data = JSON.stringify({
    kind: entry.kind,
    value: entry.value,
    at: entry.at,
    expires_at: entry.expiresAt,
  })
  return `id: ${entry.seq}\nevent: revocation\ndata: ${data}\n\n`
}

/** Resolves once `res` has flushed what it buffered, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** Writes `entries` as one chunk, and waits for the subscriber to read it if it is buffered. */
async function writeCatchingUp(res: ServerResponse, entries: readonly RevocationRecord[]) {
  if (entries.length === 0) return
  let text = ''
  for (const entry of entries) text += frame(entry)
  if (!res.write(text)) await drained(res)
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

    // Until `ready`, live entries wait here: the subscriber reads them after its snapshot. The
    // poller publishes only entries it had not seen, so they are above `known` (but for a late
    // commit on PostgreSQL, which may then arrive twice): those the snapshot had are not resent.
    const known = feed.latestSeq()
    let pending: RevocationRecord[] | undefined = []
    const unsubscribe = feed.subscribe((entry) => {
      if (pending === undefined) {
        if (res.writableLength > MAX_BUFFERED) res.destroy()
        else res.write(frame(entry))
      } else if (pending.length < MAX_PENDING) pending.push(entry)
      else res.destroy()
    })
    const heartbeat = setInterval(() => {
      if (pending !== undefined) return // catching up: the snapshot itself is the progress
      if (res.writableLength > MAX_BUFFERED) res.destroy()
      else
        res.write(`event: heartbeat\ndata: {"seq":${feed.latestSeq()},"time":${ctx.clock()}}\n\n`)
    }, heartbeatMs)
    res.on('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      streams.delete(res)
    })

    try {
      // A Last-Event-ID past the log's top (a restored database, a bogus value) is a fresh
      // connect: the full snapshot, and `ready` says the booth's seq, not the client's number.
      const after = await feed.resumeAfter(lastSeq)
      let max = after
      const sentAbove = new Set<number>()
      for await (const page of feed.backlog(after)) {
        if (res.destroyed) return
        for (const entry of page) {
          if (entry.seq > max) max = entry.seq
          if (entry.seq > known) sentAbove.add(entry.seq)
        }
        await writeCatchingUp(res, page)
      }
      // What arrived meanwhile belongs to the catch-up too: `ready` says it is all applied.
      while (pending.length > 0 && !res.destroyed) {
        await writeCatchingUp(
          res,
          pending.splice(0).filter((entry) => !sentAbove.has(entry.seq)),
        )
      }
      if (res.destroyed) return
      pending = undefined
      res.write(`event: ready\ndata: {"seq":${Math.max(max, feed.latestSeq())}}\n\n`)
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
