/**
 * The verifier's key set and how it stays current: discovery, the JWKS, `Cache-Control`, one
 * flight at a time, a cooldown between fetches and a negative cache of unknown kids.
 *
 * The rules, so that a kid storm (a client sending thousands of random kids) cannot become a
 * request storm at the booth:
 * - every fetch is single-flight: concurrent callers await the same promise;
 * - an unknown kid triggers a refetch only if no fetch of any kind started in the last
 *   `cooldownMs`; otherwise it fails at once and is remembered for `unknownKidTtlMs`;
 * - a kid remembered as unknown fails at once, with no fetch, until it is forgotten;
 * - a stale set (past its `max-age`) is refreshed in the background and keeps serving meanwhile;
 * - a failed fetch keeps the old set (the booth being down must not take verification down) and
 *   the next background attempt waits a cooldown.
 */
import { createKeySet } from './key-set.ts'
import type { KeySet, PublicJwk } from './key-set.ts'
import { IssuerMismatch, discoverJwksUri, fetchJson } from './discovery.ts'
import type { FetchLike } from './discovery.ts'
import type { VerifierEvent } from './events.ts'

export interface KeyStoreOptions {
  issuer: string
  fetch: FetchLike
  clock: () => number
  cooldownMs: number
  unknownKidTtlMs: number
  /** A fixed key set: no discovery and no fetching ever. */
  staticKeys: KeySet | undefined
  emit: (event: VerifierEvent) => void
  /**
   * Called when a new set drops a kid the old one had, or puts another key or algorithm under it
   * (the verified-token cache must go).
   */
  onKeysRemoved: () => void
}

export interface KeyStore {
  /** The current set, or undefined before the first successful load. */
  readonly keys: KeySet | undefined
  /** Epoch ms at which the set goes stale; the verifier calls `refresh` once it has passed. */
  readonly staleAt: number
  /** Starts a background refresh unless one is running; never throws. */
  refresh(): void
  /**
   * With no set loaded yet: resolves true once one is. Joins a load in flight, or starts one if the
   * last began at least a second ago; otherwise resolves false at once (no request storm while
   * the booth is down at startup).
   */
  whenLoaded(): Promise<boolean>
  /**
   * The issuer just answered another request (the revocation feed connected): with no set loaded
   * yet, the next attempt of the first load starts now rather than at the end of its back-off.
   */
  issuerReachable(): void
  /** After a `TokenKeyUnknown`: resolves true if a (possibly shared) refetch now knows `kid`. */
  refetchFor(kid: string): Promise<boolean>
  /** Resolves once a set is loaded; rejects on a misconfiguration (issuer mismatch) or close. */
  ready(): Promise<void>
  /** The last fetch error, kept for `VerifierUnavailable`'s cause. */
  readonly lastError: unknown
  /** Stops retrying, aborts a fetch in flight and rejects `ready()` waiters with `error`. */
  close(error: Error): Promise<void>
}

// Without Cache-Control, refresh every 5 minutes: new keys are published well ahead of use
const DEFAULT_MAX_AGE_MS = 5 * 60_000
// Never trust a max-age beyond a day: a key removed in an incident must disappear within a day
const MAX_MAX_AGE_MS = 24 * 60 * 60_000
// Remember at most this many unknown kids; a storm of random kids only evicts older entries
const MAX_UNKNOWN_KIDS = 1024
// First retry of the initial load after 250 ms, doubling up to the cooldown
const FIRST_RETRY_MS = 250
// With no keys at all, a request may start a load if none began in the last second
const NO_KEYS_RETRY_MS = 1_000

const FALSE = Promise.resolve(false)
const TRUE = Promise.resolve(true)

// A key is withdrawn when its kid is gone, and also when the kid now names other key material or
// another algorithm (an issuer re-keying in place after an incident): tokens that the old key
// signed must not stay valid through the cache
function withdrawn(previous: KeySet, next: KeySet, kid: string): boolean {
  const before = previous.get(kid)!
  const after = next.get(kid)
  return after === undefined || after.alg !== before.alg || !after.key.equals(before.key)
}

/** Creates a {@link KeyStore}; with remote keys, starts loading them at once. */
export function createKeyStore(options: KeyStoreOptions): KeyStore {
  const { issuer, fetch: fetchFn, clock, cooldownMs, unknownKidTtlMs, emit } = options
  let keys = options.staticKeys
  let staleAt = keys === undefined ? 0 : Infinity
  let jwksUri: string | undefined
  let inflight: Promise<boolean> | undefined
  let lastFetchAt = -Infinity
  let lastError: unknown
  let misconfigured: Error | undefined
  let closed: Error | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  const unknownKids = new Map<string, number>() // kid → remembered until (epoch ms)
  const waiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>()
  const shutdown = new AbortController()
  // every request is aborted by close(); fetchJson adds its own timeout
  const fetchWithShutdown: FetchLike = (input, init) =>
    fetchFn(input, {
      ...init,
      signal: init?.signal ? AbortSignal.any([init.signal, shutdown.signal]) : shutdown.signal,
    })

  async function load(): Promise<boolean> {
    try {
      jwksUri ??= await discoverJwksUri(fetchWithShutdown, issuer)
      const { body, maxAgeMs } = await fetchJson(fetchWithShutdown, jwksUri)
      const next = createKeySet(body as { keys: PublicJwk[] })
      if (closed !== undefined) return false
      const previous = keys
      keys = next
      const ttl = Math.min(Math.max(maxAgeMs ?? DEFAULT_MAX_AGE_MS, cooldownMs), MAX_MAX_AGE_MS)
      staleAt = clock() + ttl
      misconfigured = undefined
      if (previous !== undefined && previous.kids.some((kid) => withdrawn(previous, next, kid))) {
        options.onKeysRemoved()
      }
      emit({ type: 'jwks.refreshed', keys: next.size, uri: jwksUri })
      for (const waiter of waiters) waiter.resolve()
      waiters.clear()
      return true
    } catch (error) {
      lastError = error
      if (closed !== undefined) return false
      // a failed fetch keeps the old set; the next background attempt waits a cooldown
      if (keys !== undefined) staleAt = clock() + cooldownMs
      emit({ type: 'jwks.failed', error })
      if (error instanceof IssuerMismatch) {
        misconfigured = error
        for (const waiter of waiters) waiter.reject(error)
        waiters.clear()
      }
      return false
    }
  }

  function fetchOnce(): Promise<boolean> {
    if (inflight !== undefined) return inflight
    lastFetchAt = clock()
    const flight = load()
    inflight = flight
    // cleared from a callback, never inside load(): a synchronous failure must not leave it stuck
    void flight.then(() => {
      if (inflight === flight) inflight = undefined
    })
    return flight
  }

  // The first load retries on its own until it succeeds, so that the keys are there before the
  // first request whether or not anyone awaits ready()
  async function loadInitially(delay: number): Promise<void> {
    retryTimer = undefined
    if (closed !== undefined || keys !== undefined) return
    if (await fetchOnce()) return
    if (closed !== undefined || keys !== undefined) return
    retryTimer = setTimeout(() => void loadInitially(Math.min(delay * 2, cooldownMs)), delay)
    retryTimer.unref?.()
  }
  if (keys === undefined) void loadInitially(FIRST_RETRY_MS)

  function remember(kid: string, now: number): void {
    if (unknownKids.size >= MAX_UNKNOWN_KIDS) {
      const oldest = unknownKids.keys().next()
      if (!oldest.done) unknownKids.delete(oldest.value)
    }
    unknownKids.set(kid, now + unknownKidTtlMs)
  }

  return {
    get keys() {
      return keys
    },
    get staleAt() {
      return staleAt
    },
    get lastError() {
      return lastError
    },
    refresh() {
      if (options.staticKeys !== undefined || closed !== undefined) return
      // no second call per request while this one runs; load() sets the real time when it ends
      staleAt = clock() + cooldownMs
      void fetchOnce()
    },
    issuerReachable() {
      // no timer: the set is loaded, a load is in flight, or the store is closed
      if (retryTimer === undefined) return
      clearTimeout(retryTimer)
      void loadInitially(FIRST_RETRY_MS)
    },
    whenLoaded() {
      if (keys !== undefined) return TRUE
      if (closed !== undefined) return FALSE
      if (inflight === undefined && clock() - lastFetchAt < NO_KEYS_RETRY_MS) return FALSE
      return fetchOnce()
    },
    refetchFor(kid) {
      if (options.staticKeys !== undefined || closed !== undefined) return FALSE
      const now = clock()
      const until = unknownKids.get(kid)
      if (until !== undefined) {
        if (now < until) return FALSE
        unknownKids.delete(kid)
      }
      if (inflight === undefined && now - lastFetchAt < cooldownMs) {
        remember(kid, now)
        return FALSE
      }
      return fetchOnce().then(() => {
        if (keys?.get(kid) !== undefined) return true
        remember(kid, clock())
        return false
      })
    },
    ready() {
      if (keys !== undefined) return Promise.resolve()
      if (closed !== undefined) return Promise.reject(closed)
      if (misconfigured !== undefined) return Promise.reject(misconfigured)
      return new Promise<void>((resolve, reject) => waiters.add({ resolve, reject }))
    },
    async close(error) {
      closed = error
      if (retryTimer !== undefined) clearTimeout(retryTimer)
      retryTimer = undefined
      for (const waiter of waiters) waiter.reject(error)
      waiters.clear()
      shutdown.abort(error)
      await inflight
    },
  }
}
