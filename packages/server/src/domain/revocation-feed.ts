/**
 * The revocation feed's source: one poller per booth instance reads the shared revocation log
 * and fans new entries out to every subscriber of this instance. Polling the log (rather than
 * LISTEN/NOTIFY) works the same on SQLite and PostgreSQL and survives reconnects with nothing
 * to re-arm; a local revocation pokes the poller so it is published at once.
 *
 * Sequence numbers are allocated at insert, but transactions commit in any order, so a lower
 * seq can appear after a higher one. The poller therefore rereads a window (`settleMs`) behind
 * the newest entry and de-duplicates by seq; only entries older than the window are "settled"
 * and move the watermark. Subscribers may see an entry twice; applying one is idempotent.
 */
import type { RevocationRecord, Store } from '../store/store.ts'

export interface RevocationFeed {
  /** Live entries from now on. Returns the unsubscribe function. */
  subscribe(listener: (entry: RevocationRecord) => void): () => void
  /**
   * Entries still relevant after `lastSeq` (0 = everything still relevant), reaching back to
   * the settled watermark so that late commits are not missed on resume.
   */
  backlog(lastSeq: number): Promise<RevocationRecord[]>
  /** The highest seq published so far. */
  latestSeq(): number
  /** Poll now (after a local revocation). */
  poke(): void
  readonly subscribers: number
  close(): void
}

export interface FeedOptions {
  store: Store
  clock: () => number
  pollMs?: number
  settleMs?: number
}

const PAGE = 1000

export function createRevocationFeed({
  store,
  clock,
  pollMs = 250,
  settleMs = 10_000,
}: FeedOptions): RevocationFeed {
  const listeners = new Set<(entry: RevocationRecord) => void>()
  const seen = new Map<number, number>() // seq → when first seen
  let watermark = 0
  let latest = 0
  let polling: Promise<void> | undefined
  let again = false

  async function pollOnce(): Promise<void> {
    const now = clock()
    for (;;) {
      const rows = await store.listRevocations(watermark, now, PAGE)
      for (const row of rows) {
        if (seen.has(row.seq)) continue
        seen.set(row.seq, now)
        if (row.seq > latest) latest = row.seq
        for (const listener of listeners) listener(row)
      }
      if (rows.length < PAGE) break
      watermark = Math.max(watermark, rows.at(-1)!.seq - 1)
      if (seen.size > 10 * PAGE) break
    }
    for (const [seq, at] of seen) {
      if (now - at > settleMs) {
        seen.delete(seq)
        if (seq > watermark) watermark = seq
      }
    }
  }

  function poll(): void {
    if (polling !== undefined) {
      again = true
      return
    }
    polling = pollOnce()
      .catch(() => {
        // The store is down: keep the subscribers connected; the next tick tries again.
      })
      .finally(() => {
        polling = undefined
        if (again) {
          again = false
          poll()
        }
      })
  }

  // Learn the log once at start, so that the first subscriber is not sent all of it twice.
  poll()
  const timer = setInterval(() => {
    if (listeners.size > 0) poll()
  }, pollMs)
  timer.unref()

  return {
    subscribe(listener) {
      if (listeners.size === 0) poll()
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async backlog(lastSeq) {
      const out: RevocationRecord[] = []
      let after = Math.max(0, Math.min(lastSeq, watermark))
      for (;;) {
        const rows = await store.listRevocations(after, clock(), PAGE)
        out.push(...rows)
        if (rows.length < PAGE) return out
        after = rows.at(-1)!.seq
      }
    },
    latestSeq: () => latest,
    poke: () => {
      if (listeners.size > 0) poll()
    },
    get subscribers() {
      return listeners.size
    },
    close() {
      clearInterval(timer)
      listeners.clear()
    },
  }
}
