/**
 * Follows the booth's revocation feed, `GET ${issuer}/events/revocations`, a Server-Sent Events
 * stream, and applies it to a {@link RevocationList}.
 *
 * The protocol, as the booth speaks it: `retry: 1000`; the backlog of revocations still relevant
 * as `event: revocation`, `id: <seq>`, `data: {"kind","value","at","expires_at"}`; then
 * `event: ready` (`data: {"seq":N}`); then live revocations and `event: heartbeat` every few
 * seconds. Entries may repeat and arrive slightly out of order: applying them is idempotent, and
 * the highest id seen is sent back as `Last-Event-ID` on reconnect so that nothing is missed.
 *
 * Liveness: the feed is `live` once a `ready` arrived and as long as something (any event,
 * heartbeats included) arrived in the last `staleAfterMs`. Past that it is `stale`: the verifier
 * emits `feed.stale`, drops the connection (a silent TCP connection is usually a dead one) and
 * reconnects; it is `live` again at the next `ready`. Reconnects back off with jitter from the
 * server's `retry:` up to ~5 s; a 401/403 (bad client credentials) retries every 30 s.
 */
import type { FetchLike } from './discovery.ts'
import type { VerifierEvent } from './events.ts'
import { parseRevocation } from './revocations.ts'
import type { RevocationList } from './revocations.ts'
import { createSseParser } from './sse.ts'
import type { SseEvent } from './sse.ts'

export type FeedState = 'connecting' | 'live' | 'stale'

export interface FeedOptions {
  url: string
  clientId: string
  clientSecret: string
  fetch: FetchLike
  clock: () => number
  random: () => number
  staleAfterMs: number
  revocations: RevocationList
  emit: (event: VerifierEvent) => void
  /** Called each time a connection is accepted (200, an event stream): the booth is up. */
  onConnected?: () => void
}

export interface RevocationFeed {
  /** True if the feed is live at `now`; the first call past the bound marks it stale. */
  isLive(now: number): boolean
  state(now: number): FeedState
  /** The highest event id applied, sent as `Last-Event-ID`. */
  readonly lastEventId: number | undefined
  /** True once a first backlog has been applied (a first `ready` arrived), and from then on. */
  readonly backlogApplied: boolean
  /** Resolves at the first `ready`; rejects on 401/403 or close. */
  ready(): Promise<void>
  /** Disconnects for good; resolves when the connection loop has ended. */
  close(error: Error): Promise<void>
}

// The booth sends retry: 1000; this is only used until it does
const DEFAULT_RETRY_MS = 1_000
// Reconnect attempts back off up to ~5 s, so a restarted booth sees its verifiers back quickly;
// a `retry:` from the booth is held within these bounds
const MAX_BACKOFF_MS = 5_000
const MIN_RETRY_MS = 250
// Bad credentials will not fix themselves soon: retry slowly, and say so every time
const UNAUTHORIZED_RETRY_MS = 30_000
// Expired revocations are swept at most this often (each sweep walks every entry)
const PRUNE_INTERVAL_MS = 10_000

/** Creates a {@link RevocationFeed} and connects at once. */
export function createRevocationFeed(options: FeedOptions): RevocationFeed {
  const { url, fetch: fetchFn, clock, random, staleAfterMs, revocations, emit } = options
  const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2)
  // RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding
  const authorization = `Basic ${btoa(`${form(options.clientId)}:${form(options.clientSecret)}`)}`

  let lastEventId: number | undefined
  let lastMessageAt = clock() // the last event of any type (heartbeats included)
  // before `ready`, heartbeats prove nothing: progress is the start of the attempt or an entry
  let lastProgressAt = lastMessageAt
  let caughtUp = false
  let everReady = false
  let retryMs = DEFAULT_RETRY_MS
  let attempt = 0
  let controller: AbortController | undefined
  let closed: Error | undefined
  let misconfigured: Error | undefined
  let sleepTimer: ReturnType<typeof setTimeout> | undefined
  let wake: (() => void) | undefined
  let lastPruneAt = clock()
  const waiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>()

  function settle(error?: Error): void {
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve()
      else waiter.reject(error)
    }
    waiters.clear()
  }

  function markStale(now: number): void {
    caughtUp = false
    emit({ type: 'feed.stale', silentMs: now - lastMessageAt })
    controller?.abort()
  }

  function isLive(now: number): boolean {
    if (!caughtUp) return false
    if (now - lastMessageAt <= staleAfterMs) return true
    markStale(now)
    return false
  }

  function onEvent(event: SseEvent): void {
    const now = clock()
    lastMessageAt = now
    switch (event.type) {
      case 'revocation': {
        const entry = parseRevocation(event.data)
        if (entry === undefined) {
          emit({ type: 'feed.error', message: 'invalid revocation entry ignored' })
          return
        }
        revocations.apply(entry, now)
        lastProgressAt = now
        const id = Number(event.id)
        if (
          event.id !== '' &&
          Number.isSafeInteger(id) &&
          (lastEventId === undefined || id > lastEventId)
        ) {
          lastEventId = id
        }
        return
      }
      case 'ready': {
        let seq: number | undefined
        try {
          const value = (JSON.parse(event.data) as { seq?: unknown }).seq
          if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) seq = value
        } catch {
          // no position given: the highest id received stays the resume point
        }
        // The booth's position in its log once the snapshot is sent, where the next resume must
        // start. It can be lower than the ids held: a database restored from a backup, answered
        // with the full snapshot. Keeping the higher id would skip every entry the log gets until
        // it reaches that id again
        if (seq !== undefined && (seq > 0 || lastEventId !== undefined)) lastEventId = seq
        caughtUp = true
        everReady = true
        attempt = 0
        misconfigured = undefined
        emit({ type: 'feed.ready', seq: seq ?? 0, revocations: revocations.size })
        settle()
        return
      }
      default:
      // heartbeat (its arrival is all that matters) and anything newer than this verifier
    }
  }

  async function connectOnce(signal: AbortSignal): Promise<'unauthorized' | 'ended'> {
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization,
      'cache-control': 'no-store',
    }
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId)
    const res = await fetchFn(url, { headers, signal })
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel()
      emit({
        type: 'feed.error',
        status: res.status,
        message: 'the booth refused the feed credentials',
      })
      return 'unauthorized'
    }
    const type = res.headers.get('content-type') ?? ''
    if (res.status !== 200 || !type.startsWith('text/event-stream') || res.body === null) {
      await res.body?.cancel()
      emit({
        type: 'feed.error',
        status: res.status,
        message: `the feed answered ${res.status} ${type}`,
      })
      return 'ended'
    }
    emit({ type: 'feed.connected', url })
    options.onConnected?.()
    const parser = createSseParser({
      event: onEvent,
      // bounded both ways: `retry: 0` must not make a reconnect loop, nor an hour-long value
      // leave a fail-open verifier without revocations for that hour
      retry: (ms) => {
        retryMs = Math.min(Math.max(ms, MIN_RETRY_MS), MAX_BACKOFF_MS)
      },
    })
    const decoder = new TextDecoder()
    const reader = res.body.getReader()
    let ended = false
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) {
          ended = true
          break
        }
        parser.push(decoder.decode(value, { stream: true }))
      }
    } finally {
      parser.end()
      // a stream given up (a line or event too long, an abort) is cancelled, which closes its
      // connection: releasing the lock alone left one socket open per reconnect
      if (!ended) await reader.cancel().catch(() => {})
      reader.releaseLock()
    }
    emit({ type: 'feed.disconnected' })
    return 'ended'
  }

  async function run(): Promise<void> {
    while (closed === undefined) {
      const attemptController = new AbortController()
      controller = attemptController
      lastProgressAt = clock()
      let outcome: 'unauthorized' | 'ended' = 'ended'
      try {
        outcome = await connectOnce(attemptController.signal)
      } catch (error) {
        // an abort is ours (close, or the stale watchdog, which already reported it)
        if (closed === undefined && !attemptController.signal.aborted) {
          emit({ type: 'feed.error', error, message: 'the feed connection failed' })
        }
      }
      if (closed !== undefined) return
      if (outcome === 'unauthorized') {
        misconfigured = new Error(
          `the booth refused the revocation feed credentials for ${options.clientId}`,
        )
        settle(misconfigured)
        await sleep(UNAUTHORIZED_RETRY_MS)
        continue
      }
      attempt++
      const base = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 16))
      // "equal jitter": at least half the delay, so reconnects neither synchronize nor hammer
      await sleep(base / 2 + (random() * base) / 2)
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      wake = resolve
      sleepTimer = setTimeout(resolve, ms)
      sleepTimer.unref?.()
    })
  }

  // Watches for silence with the real timer but judges it by the verifier's clock
  const watchdog = setInterval(
    () => {
      const now = clock()
      if (caughtUp) isLive(now)
      // not live yet: an attempt without progress for that long (a hung connect, a backlog that
      // stopped, a stream that never sends `ready`) is dropped and retried
      else if (now - lastProgressAt > staleAfterMs) controller?.abort()
      if (now - lastPruneAt >= PRUNE_INTERVAL_MS) {
        lastPruneAt = now
        revocations.prune(now)
      }
    },
    Math.max(10, Math.min(1_000, staleAfterMs / 4)),
  )
  watchdog.unref?.()
  const running = run().catch((error: unknown) => {
    // unreachable by design (run catches per attempt); reported rather than left unhandled
    emit({ type: 'feed.error', error, message: 'the feed follower stopped' })
  })

  return {
    isLive,
    state(now) {
      if (isLive(now)) return 'live'
      return everReady ? 'stale' : 'connecting'
    },
    get lastEventId() {
      return lastEventId
    },
    get backlogApplied() {
      return everReady
    },
    ready() {
      if (everReady) return Promise.resolve()
      if (closed !== undefined) return Promise.reject(closed)
      if (misconfigured !== undefined) return Promise.reject(misconfigured)
      return new Promise<void>((resolve, reject) => waiters.add({ resolve, reject }))
    },
    async close(error) {
      closed = error
      clearInterval(watchdog)
      if (sleepTimer !== undefined) clearTimeout(sleepTimer)
      wake?.()
      controller?.abort()
      settle(error)
      await running
    },
  }
}
