/**
 * A revocation feed served in process, for the verifiers of the throughput and memory benchmarks:
 * a `fetch` for `createVerifier` that answers `GET /events/revocations` the way the booth does
 * (packages/server/src/http/revocation-feed.ts): `retry`, a backlog of revocations, `ready`, then
 * a heartbeat every 5 s. With it the verifier is live and holds thousands of revocations, so
 * every verify does its three revocation lookups for real (an empty list skips them), without a
 * booth process taking CPU beside the server. The revocation-latency benchmark uses the real booth.
 */
import { randomUUID } from 'node:crypto'

/** Revocations in the backlog, per kind (sid, jti, sub): a busy booth's 15 minutes of logouts. */
export const FEED_ENTRIES_PER_KIND = 1000

const HEARTBEAT_MS = 5000

function backlog(perKind: number, now: number): string {
  const frames = ['retry: 1000\n\n']
  let seq = 0
  for (const kind of ['sid', 'jti', 'sub'] as const) {
    for (let i = 0; i < perKind; i++) {
      const data = JSON.stringify({
        kind,
        value: randomUUID(),
        at: now - 60_000,
        expires_at: now + 2 * 60 * 60 * 1000,
      })
      frames.push(`id: ${++seq}\nevent: revocation\ndata: ${data}\n\n`)
    }
  }
  frames.push(`event: ready\ndata: {"seq":${seq}}\n\n`)
  return frames.join('')
}

/** A `fetch` that serves only the revocation feed; anything else is a 404. */
export function fakeFeedFetch(perKind = FEED_ENTRIES_PER_KIND) {
  return async (input: string, init?: RequestInit): Promise<Response> => {
    if (!input.endsWith('/events/revocations')) return new Response('not found', { status: 404 })
    const encoder = new TextEncoder()
    let timer: ReturnType<typeof setInterval> | undefined
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(backlog(perKind, Date.now())))
        timer = setInterval(() => {
          controller.enqueue(encoder.encode(`event: heartbeat\ndata: {"time":${Date.now()}}\n\n`))
        }, HEARTBEAT_MS)
        timer.unref()
        init?.signal?.addEventListener('abort', () => {
          clearInterval(timer)
          controller.error(init.signal!.reason)
        })
      },
      cancel() {
        clearInterval(timer)
      },
    })
    return new Response(body, {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8' },
    })
  }
}

/** Feed credentials for `createVerifier`; the fake feed does not check them. */
export const FEED_CLIENT = { clientId: 'bench-verifier', clientSecret: 'bench-secret' }
