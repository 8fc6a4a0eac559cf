/**
 * The revocation feed's source: one poller per booth instance reads the shared revocation log
 * and fans new entries out to every subscriber of this instance. Polling the log (rather than
 * LISTEN/NOTIFY) works the same on SQLite and PostgreSQL and survives reconnects with nothing
 * to re-arm; a local revocation pokes the poller so it is published at once.
 *
 * Entries commit in seq order, so what a reader sees is always a prefix of the log and a resume
 * from `Last-Event-ID` misses nothing: SQLite has one writer at a time (`BEGIN IMMEDIATE`), and on
 * PostgreSQL every revoking transaction of the booth holds one advisory lock from before its
 * insert until its commit (`lockRevocationLog` in store/sql-store.ts). Without that lock a seq is
 * taken at insert and transactions commit in any order; a verifier that had seen a higher seq
 * and resumed after it would never be sent a lower one committed meanwhile.
 *
 * On PostgreSQL the poller still allows for a late commit, as defence in depth against a writer
 * that does not take the lock: an instance of an earlier version during a rolling upgrade, a row
 * inserted by hand. It rereads a window behind the newest entry and de-duplicates by seq; an
 * entry "settles" `settleMs` after it committed, and the watermark (below which nothing new can
 * appear) moves over settled entries only. A resume from `Last-Event-ID` reads from the
 * watermark when it is lower, so a late commit is not lost within the window (past it, only the
 * lock helps); subscribers may see an entry twice, and applying one is idempotent. With every
 * writer taking the lock the window costs a resume at most `settleMs` of entries sent again.
 *
 * When an entry committed is known only roughly: at the latest when this poller first read it,
 * by this instance's clock. A lower seq was taken before that entry's insert, so (a revoking
 * transaction takes less than `settleMs` from its insert to its commit) it has committed, or never
 * will, `settleMs` after that first sight. This bound needs no other clock: an entry's `at` was
 * read from the clock of whichever instance wrote it, before its transaction waited for locks or
 * ran again after a serialisation failure, so `at + settleMs` bounds nothing once that clock lags
 * or that transaction was slow, and settling by it let the watermark jump over a lower seq
 * committing a moment later (lost live and on every resume).
 *
 * Only the first poll of a booth (at start, under verifiers about to resume) has no first sight
 * to go by; there, an entry whose `at` is at least twice `settleMs` old by this instance's clock
 * is taken as settled, so that a restart does not resend the whole log to every verifier. That
 * bound assumes the clocks agree, and writes run, to within `settleMs`, as token expiry checks
 * already do; it is relied on once, for entries that committed before the booth started.
 *
 * A `Last-Event-ID` above every seq the log holds (a database restored from a backup, a bogus
 * value) is no position in this log: such a resume gets the full snapshot (`resumeAfter`).
 */
import type { RevocationRecord, Store } from '../store/store.ts'

export interface RevocationFeed {
  /** Live entries from now on. Returns the unsubscribe function. */
  subscribe(listener: (entry: RevocationRecord) => void): () => void
  /**
   * Entries still relevant after `lastSeq` (0 = everything still relevant), reaching back to
   * the settled watermark so that late commits are not missed on resume, one page at a time.
   */
  backlog(lastSeq: number): AsyncIterable<RevocationRecord[]>
  /**
   * Where a resume from `Last-Event-ID: lastSeq` starts: `lastSeq`, or 0 (the full snapshot)
   * when it is above every seq in the log. It does not check that `lastSeq` came from this log.
   */
  resumeAfter(lastSeq: number): Promise<number>
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
  /** How long after its commit an entry can still be preceded by a late one. */
  settleMs?: number
}

const PAGE = 1000
// Ten times the time a revoking transaction takes at the worst (lock waits included)
const POSTGRES_SETTLE_MS = 10_000

/**
 * Starts the poller of one booth instance.
 *
 * @example
 * ```ts
 * const feed = createRevocationFeed({ store, clock: Date.now })
 * const stop = feed.subscribe((entry) => console.log(entry.kind, entry.value))
 * ```
 */
export function createRevocationFeed({
  store,
  clock,
  pollMs = 250,
  settleMs = store.kind === 'sqlite' ? 0 : POSTGRES_SETTLE_MS,
}: FeedOptions): RevocationFeed {
  const listeners = new Set<(entry: RevocationRecord) => void>()
  // seq → the latest moment it can have committed (by this clock); only seqs above the watermark
  const seen = new Map<number, number>()
  let watermark = 0
  let latest = 0
  let polling: Promise<void> | undefined
  let again = false
  let startup = true

  async function pollOnce(): Promise<void> {
    const now = clock()
    const first = startup
    startup = false
    // Below `latest`, only late commits can be new, and they can only fill holes: when every
    // seq in (watermark, latest] is seen there is nothing to reread.
    let after = seen.size >= latest - watermark ? latest : watermark
    for (;;) {
      const rows = await store.listRevocations(after, now, PAGE)
      // Read after the query: what it returned had committed by then.
      const sight = clock()
      for (const row of rows) {
        if (row.seq <= watermark || seen.has(row.seq)) continue
        // See the module comment: first sight, or (at start only) an `at` far in the past.
        const old = first && sight - row.at >= 2 * settleMs
        seen.set(row.seq, old ? sight - settleMs : sight)
        if (row.seq > latest) latest = row.seq
        for (const listener of listeners) listener(row)
      }
      if (rows.length < PAGE) break
      after = rows.at(-1)!.seq
    }
    let settled = watermark
    const end = clock()
    for (const [seq, committedBy] of seen) {
      if (end - committedBy >= settleMs && seq > settled) settled = seq
    }
    if (settled > watermark) {
      watermark = settled
      for (const seq of seen.keys()) if (seq <= watermark) seen.delete(seq)
    }
  }

  function poll(): Promise<void> {
    if (polling !== undefined) {
      again = true
      return polling
    }
    polling = pollOnce()
      .catch(() => {
        // The store is down: keep the subscribers connected; the next tick tries again.
      })
      .finally(() => {
        polling = undefined
        if (again) {
          again = false
          void poll()
        }
      })
    return polling
  }

  // Learn the log once at start, so that the first subscriber is not sent all of it twice, and
  // so that a booth restarted under resuming verifiers knows its watermark before it answers them.
  const started = poll()
  const timer = setInterval(() => {
    if (listeners.size > 0) void poll()
  }, pollMs)
  timer.unref()

  return {
    subscribe(listener) {
      if (listeners.size === 0) void poll()
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async *backlog(lastSeq) {
      await started
      let after = Math.max(0, Math.min(lastSeq, watermark))
      for (;;) {
        const rows = await store.listRevocations(after, clock(), PAGE)
        if (rows.length > 0) yield rows
        if (rows.length < PAGE) return
        after = rows.at(-1)!.seq
      }
    },
    async resumeAfter(lastSeq) {
      if (lastSeq === 0) return 0
      // The log itself, not this poller's `latest`: another instance (or a poll not yet run
      // here) may have seen further, and a database restored under a running booth is lower.
      // Past the log's top the id names no entry of it, and resuming after it would skip the
      // snapshot and every entry the log gets up to there.
      return lastSeq > (await store.latestRevocationSeq()) ? 0 : lastSeq
    },
    latestSeq: () => latest,
    poke: () => {
      if (listeners.size > 0) void poll()
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
