/**
 * A subscriber of a booth's revocation feed (`GET /events/revocations`), spoken as a verifier
 * would: Server-Sent Events over real HTTP, parsed by hand so that the tests see every frame.
 */
import assert from 'node:assert/strict'
import { TokenRevoked } from '@tokenbooth/verify'

export interface FeedEvent {
  id?: string
  event: string
  data: any
}

export interface FeedSubscriber {
  /** Every event with data, in arrival order. */
  events: FeedEvent[]
  /** The response (its status and headers), once the booth answered. */
  opened: Promise<Response>
  /** Resolves when the booth ended the stream (or it was aborted). */
  ended: Promise<void>
  close(): void
  waitFor(predicate: (e: FeedEvent) => boolean, ms?: number): Promise<FeedEvent>
  /** The `revocation` events received so far. */
  revocations(): FeedEvent[]
}

/** Subscribes with `headers` (client authentication, `Last-Event-ID`) and collects events. */
export function subscribe(url: string, headers: Record<string, string>): FeedSubscriber {
  const events: FeedEvent[] = []
  const controller = new AbortController()
  let isEnded = false
  let end: () => void = () => {}
  const ended = new Promise<void>((resolve) => (end = resolve)).then(() => {
    isEnded = true
  })
  const opened = fetch(url, { headers, signal: controller.signal }).then(async (res) => {
    if (res.status !== 200) {
      end()
      return res
    }
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          let stop: number
          while ((stop = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, stop)
            buffer = buffer.slice(stop + 2)
            const event: FeedEvent = { event: 'message', data: undefined }
            for (const line of block.split('\n')) {
              const [field, ...rest] = line.split(': ')
              if (field === 'id') event.id = rest.join(': ')
              if (field === 'event') event.event = rest.join(': ')
              if (field === 'data') event.data = JSON.parse(rest.join(': '))
            }
            if (event.data !== undefined) events.push(event)
          }
        }
      } catch {
        // aborted, or cut off by the booth
      } finally {
        end()
      }
    })()
    return res
  })
  opened.catch(() => end())
  return {
    events,
    opened,
    ended,
    close: () => controller.abort(),
    revocations: () => events.filter((e) => e.event === 'revocation'),
    async waitFor(predicate, ms = 5000) {
      const deadline = Date.now() + ms
      for (;;) {
        const found = events.find(predicate)
        if (found) return found
        if (isEnded || Date.now() > deadline)
          assert.fail(
            `no such event ${isEnded ? 'before the stream ended' : `within ${ms} ms`}; got ${events.length} events, the last: ${JSON.stringify(events.slice(-5))}`,
          )
        await new Promise((r) => setTimeout(r, 10))
      }
    },
  }
}

const claim = (token: string, name: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())[name] as string

export const sidOf = (token: string) => claim(token, 'sid')
export const subOf = (token: string) => claim(token, 'sub')
export const jtiOf = (token: string) => claim(token, 'jti')

/** The highest event id among `events`. */
export function maxId(events: readonly FeedEvent[]): number {
  return Math.max(0, ...events.filter((e) => e.id !== undefined).map((e) => Number(e.id)))
}

/**
 * Resolves once `verifier` rejects `token` as revoked (the feed delivered its revocation); fails
 * on any other error, or when the token is still accepted after 5 s.
 */
export async function untilRevoked(
  verifier: { verify(token: string): Promise<unknown> },
  token: string,
): Promise<void> {
  const deadline = Date.now() + 5_000
  for (;;) {
    try {
      await verifier.verify(token)
    } catch (error) {
      assert.ok(error instanceof TokenRevoked, `expected TokenRevoked, got ${String(error)}`)
      return
    }
    assert.ok(Date.now() < deadline, 'the old token is still accepted after 5 s')
    await new Promise((r) => setTimeout(r, 20))
  }
}
