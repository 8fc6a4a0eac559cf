/**
 * The client's session state: the in-memory copy of the tokens, the single-flight refresh, and
 * how the session ends. Storage is the source of truth shared with other tabs; memory is a cache
 * of it that BroadcastChannel messages keep current.
 *
 * Every change of session (login, logout, expiry, another tab's new session) bumps `epoch`, so
 * that work started for one session (a refresh in flight, a request that got a 401) can never
 * write into the next one.
 *
 * @module
 */
import { createCoordinator, type TabMessage } from './cross-tab.ts'
import { ClientClosed, RefreshFailed, SessionExpired } from './errors.ts'
import { rethrowLater, type ChangeSource, type Emitter } from './events.ts'
import { isFresh } from './expiry.ts'
import { isStoredTokens, type StoredTokens, type TokenStorage } from './storage.ts'
import { refreshGrant, type BoothEndpoint } from './token-endpoint.ts'

/**
 * Cookie mode has no token to compare, so a refresh by another tab this recent is trusted even
 * when a 401 asked for a new one: the 401 was almost certainly for the cookie it replaced.
 */
const RECENT_REFRESH_MS = 5_000

const SPENT_COPY = 'another tab continued this session from a copy of this tab’s storage'

/** Tokens as of one moment, with the session they belong to. */
export interface Snapshot {
  tokens: StoredTokens | undefined
  epoch: number
}

/** Options of {@link createSession}; `createClient` validates them first. */
export interface SessionOptions {
  endpoint: BoothEndpoint
  storage: TokenStorage
  marginMs: number
  crossTab: boolean
  lockName: string
  events: Emitter
}

function sameSession(a: StoredTokens, b: StoredTokens): boolean {
  // Cookies are shared by every tab of the browser, so cookie mode has one session per origin.
  return a.delivery === b.delivery && (a.delivery === 'cookie' || a.sessionId === b.sessionId)
}

/** True when `next` replaced `seen` (another tab, or a message, refreshed since). */
function changed(next: StoredTokens, seen: StoredTokens): boolean {
  return next.delivery === 'cookie'
    ? next.obtainedAt > seen.obtainedAt
    : next.accessToken !== seen.accessToken
}

/**
 * Creates the session state machine behind a client.
 *
 * It does NOT validate options and does NOT talk to resource servers (`client.ts` does both).
 *
 * @example
 * ```ts
 * const session = createSession({ endpoint, storage, marginMs: 60_000, crossTab, lockName, events })
 * const { tokens } = await session.fresh()
 * ```
 */
export function createSession(options: SessionOptions) {
  const { endpoint, storage, marginMs, events } = options
  const clock = endpoint.clock
  let tokens: StoredTokens | undefined
  let epoch = 0
  let loaded = false
  let loading: Promise<void> | undefined
  /** How the last session that expired ended, so that its late callers get the same error. */
  let expired: { epoch: number; error: SessionExpired } | undefined
  let inflight: { epoch: number; promise: Promise<StoredTokens | undefined> } | undefined
  let closed = false

  const tabs = createCoordinator({
    enabled: options.crossTab,
    name: options.lockName,
    // A failure in a message handler has no caller to reject: surface it, never drop it.
    onMessage: (message) => void onMessage(message).catch(rethrowLater),
  })

  async function readStorage(): Promise<StoredTokens | undefined> {
    const stored = await storage.get()
    // A record of the other delivery mode (the app switched modes) is not this client's session.
    return isStoredTokens(stored) && stored.delivery === endpoint.mode ? stored : undefined
  }

  /**
   * Makes `next` the in-memory tokens, with the event that describes the change. `newSession`
   * says so when the record cannot: two cookie-mode records look alike whoever logged in.
   */
  function adopt(
    next: StoredTokens,
    source: ChangeSource,
    quiet = false,
    newSession = false,
  ): void {
    const before = tokens
    tokens = next
    loaded = true
    const payload = { scope: next.scope, expiresAt: next.expiresAt, source }
    if (before === undefined || newSession || !sameSession(before, next)) {
      epoch++
      if (!quiet) events.emit('signed-in', payload)
    } else if (changed(next, before)) {
      events.emit('refreshed', payload)
    }
  }

  /** Ends the in-memory session; clears storage when it still holds that session. */
  async function end(
    how: { expired: SessionExpired } | { reason: 'logout' | 'logout-all' },
    source: ChangeSource,
  ) {
    const ended = tokens
    if (ended === undefined) {
      // Cookie mode: a tab that holds no tokens (reloaded, memory storage) can still end the
      // browser's session at the booth, and the tabs that hold it must hear that it is over.
      if ('reason' in how && source === 'this' && endpoint.mode === 'cookie')
        tabs.post({ type: 'signed-out', sessionId: undefined, reason: how.reason })
      return
    }
    tokens = undefined
    if ('expired' in how) expired = { epoch, error: how.expired }
    epoch++
    try {
      const stored = await readStorage()
      if (stored !== undefined && sameSession(stored, ended)) await storage.clear()
    } finally {
      // The session is over in memory whatever storage did; a storage error still propagates.
      if ('expired' in how) {
        events.emit('session-expired', { error: how.expired, source })
        if (source === 'this') tabs.post({ type: 'session-expired', sessionId: ended.sessionId })
      } else {
        events.emit('signed-out', { reason: how.reason, source })
        if (source === 'this')
          tabs.post({ type: 'signed-out', sessionId: ended.sessionId, reason: how.reason })
      }
    }
  }

  /** The current tokens; when signed out, looks in storage (first call, or another tab signed in). */
  async function current(): Promise<Snapshot> {
    if (closed) throw new ClientClosed()
    if (tokens === undefined) {
      loading ??= readStorage()
        .then((stored) => {
          // The very first read of storage is the starting state, not a sign-in.
          if (stored !== undefined && tokens === undefined) adopt(stored, 'other-tab', !loaded)
          loaded = true
        })
        .finally(() => (loading = undefined))
      await loading
    }
    return { tokens, epoch }
  }

  /** Inside the lock: use what another tab stored if it will do, else refresh at the booth. */
  async function refreshLocked(seen: StoredTokens, seenEpoch: number, force: boolean) {
    // Cookie mode learns of another tab's refresh only by its message, which may still be on its
    // way when the lock comes to this tab: let it arrive before judging what memory holds.
    if (endpoint.mode === 'cookie') await tabs.catchUp()
    if (epoch !== seenEpoch) return afterEpochChange(seenEpoch)
    const stored = await readStorage()
    if (epoch !== seenEpoch) return afterEpochChange(seenEpoch)
    // Cookie mode: memory may be newer than a per-tab storage, or its only record, since messages
    // update memory only; the cookies themselves are the browser's, and the booth judges them.
    const basis =
      tokens?.delivery === 'cookie' &&
      (stored === undefined ||
        (sameSession(stored, tokens) && tokens.obtainedAt > stored.obtainedAt))
        ? tokens
        : stored
    if (basis === undefined) {
      // Another tab sharing this storage ended the session (its message has not arrived yet).
      await end(
        { expired: new SessionExpired({ errorDescription: 'the session ended in another tab' }) },
        'other-tab',
      )
      return afterEpochChange(seenEpoch)
    }
    const now = clock()
    const otherTabRefreshed =
      sameSession(basis, seen) &&
      changed(basis, seen) &&
      (isFresh(basis, now, marginMs) ||
        (basis.delivery === 'cookie' && now - basis.obtainedAt < RECENT_REFRESH_MS))
    if (!sameSession(basis, seen)) {
      // Another tab's new session (its message is still on its way): it is not the caller's, so
      // the caller gets nothing to send, and that session is refreshed when its own callers ask.
      adopt(basis, 'other-tab')
      return afterEpochChange(seenEpoch)
    }
    if (otherTabRefreshed || (!force && isFresh(basis, now, marginMs))) {
      adopt(basis, 'other-tab')
      if (isFresh(basis, now, marginMs) || otherTabRefreshed) return basis
    }
    const startEpoch = epoch
    let next: StoredTokens
    try {
      next = await refreshGrant(endpoint, basis).catch((error: unknown) => {
        // No answer (network error, timeout): the booth may have rotated all the same, leaving
        // this client with a spent refresh token. Presented again within the booth's grace
        // window (TOKENBOOTH_REFRESH_GRACE) it gets the same successor; presented after it, it
        // counts as reuse and the booth revokes the session. So retry once, at once, still
        // under the lock; the refresh timeout (token-endpoint.ts) is shorter than the default
        // grace so that this retry lands inside it even after a timeout.
        if (error instanceof RefreshFailed && error.status === undefined && epoch === startEpoch)
          return refreshGrant(endpoint, basis)
        throw error
      })
    } catch (error) {
      if (error instanceof SessionExpired && epoch === startEpoch)
        await end({ expired: error }, 'this')
      throw error
    }
    // A logout or login while the request was in flight: its result belongs to no one.
    if (epoch !== startEpoch) return afterEpochChange(startEpoch)
    tokens = next
    await storage.set(next)
    events.emit('refreshed', { scope: next.scope, expiresAt: next.expiresAt, source: 'this' })
    tabs.post({ type: 'refreshed', ...pick(next) })
    return next
  }

  /**
   * A caller's session is gone: rethrow how it expired, or resolve to no tokens. Never the
   * current tokens: they belong to the next session (another user, perhaps), and a request
   * sent for the first one must not go out with them.
   */
  function afterEpochChange(seenEpoch: number): undefined {
    if (expired?.epoch === seenEpoch) throw expired.error
    return undefined
  }

  /**
   * One refresh for every concurrent caller (and, under the lock, for every tab). `force` is for
   * a 401: the booth rejected `seen` although it looked fresh.
   */
  function refresh(
    seen: StoredTokens,
    seenEpoch: number,
    force: boolean,
  ): Promise<StoredTokens | undefined> {
    if (closed) return Promise.reject(new ClientClosed())
    if (epoch !== seenEpoch) {
      try {
        return Promise.resolve(afterEpochChange(seenEpoch))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    if (inflight?.epoch === seenEpoch) return inflight.promise
    const flight = {
      epoch: seenEpoch,
      promise: tabs
        .withLock(() => refreshLocked(seen, seenEpoch, force))
        .finally(() => {
          if (inflight === flight) inflight = undefined
        }),
    }
    inflight = flight
    return flight.promise
  }

  async function onMessage(message: TabMessage): Promise<void> {
    if (closed) return
    if (message.type === 'signed-in' || message.type === 'refreshed') {
      if (message.delivery !== endpoint.mode) return
      if (message.delivery === 'cookie') {
        // The browser shares the cookies: the new expiry is this tab's too. A login in another
        // tab replaced the cookies with a new session (another user, perhaps), which the record
        // cannot tell from a refresh: the message type says it.
        const next: StoredTokens = pick(message)
        if (message.type === 'signed-in') adopt(next, 'other-tab', false, true)
        else if (tokens === undefined || next.obtainedAt > tokens.obtainedAt)
          adopt(next, 'other-tab')
        return
      }
      // Bearer: the tokens are in the shared storage, never on the channel.
      const stored = await readStorage()
      if (stored === undefined || stored.sessionId !== message.sessionId) return
      // Only a storage that is each tab's own: a shared one may still show the old record here
      if (
        message.type === 'refreshed' &&
        storage.perTab === true &&
        stored.obtainedAt < message.obtainedAt
      ) {
        // Another tab refreshed this very session, yet this storage never saw it: it is a copy
        // (sessionStorage of a duplicated or window.open'ed tab). The other tab now holds the
        // only live refresh token; presenting this one would be reuse, and the booth would
        // revoke the session for both tabs. This tab's copy is spent: end it here only.
        await tabs.withLock(async () => {
          const copy = await readStorage()
          if (copy === undefined || copy.sessionId !== message.sessionId) return
          if (copy.obtainedAt >= message.obtainedAt) return
          // 'other-tab': nothing is posted, since the session lives on in the tab that refreshed.
          const error = new SessionExpired({ errorDescription: SPENT_COPY })
          if (tokens?.sessionId === message.sessionId) await end({ expired: error }, 'other-tab')
          else await storage.clear() // not loaded here yet: the copy must not be loaded later
        })
        return
      }
      // Shared storage is the truth: a newer token of this session, or another tab's new session.
      if (
        tokens === undefined ||
        !sameSession(stored, tokens) ||
        stored.obtainedAt >= tokens.obtainedAt
      ) {
        adopt(stored, 'other-tab')
      }
      return
    }
    const sessionId = message.sessionId
    const mine = (t: StoredTokens | undefined) =>
      t !== undefined && (t.delivery === 'cookie' || t.sessionId === sessionId)
    if (!mine(tokens)) return
    const how =
      message.type === 'signed-out'
        ? { reason: message.reason }
        : { expired: new SessionExpired({ errorDescription: 'the session ended in another tab' }) }
    // Under the lock, so that clearing storage cannot race another tab's login.
    await tabs.withLock(async () => {
      if (mine(tokens)) await end(how, 'other-tab')
    })
  }

  return {
    current,
    /** The tokens, refreshed first when they expire within the margin. */
    async fresh(): Promise<Snapshot> {
      const snapshot = await current()
      const t = snapshot.tokens
      if (t === undefined || isFresh(t, clock(), marginMs)) return snapshot
      const next = await refresh(t, snapshot.epoch, false)
      // A logout or login while the refresh was in flight: the caller's session is over, and the
      // next one's tokens are not for it (refresh resolves to none then; this catches the rest).
      return { tokens: epoch === snapshot.epoch ? next : undefined, epoch }
    },
    refresh,
    /** Replaces the session with a new login's tokens (under the lock: no refresh may interleave). */
    async signIn(next: StoredTokens): Promise<void> {
      if (closed) throw new ClientClosed()
      await tabs.withLock(async () => {
        tokens = next
        epoch++
        loaded = true
        await storage.set(next)
      })
      events.emit('signed-in', { scope: next.scope, expiresAt: next.expiresAt, source: 'this' })
      tabs.post({ type: 'signed-in', ...pick(next) })
    },
    /** Ends the session locally after a logout, if it is still the one the logout was for. */
    async signOut(reason: 'logout' | 'logout-all', forEpoch: number): Promise<void> {
      await tabs.withLock(async () => {
        if (epoch === forEpoch) await end({ reason }, 'this')
      })
    },
    close(): void {
      closed = true
      tabs.close()
    },
  }
}

/** What a tab message says about tokens: everything except the tokens themselves. */
function pick(
  t: Pick<StoredTokens, 'delivery' | 'sessionId' | 'scope' | 'obtainedAt' | 'expiresAt'>,
) {
  return {
    delivery: t.delivery,
    sessionId: t.sessionId,
    scope: t.scope,
    obtainedAt: t.obtainedAt,
    expiresAt: t.expiresAt,
  }
}

/** The session type `createSession` returns. */
export type Session = ReturnType<typeof createSession>
