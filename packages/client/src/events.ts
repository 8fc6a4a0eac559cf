/**
 * The client's events and a minimal typed emitter (no EventTarget, so no DOM needed).
 *
 * @module
 */
import type { SessionExpired } from './errors.ts'

/**
 * Where a change came from: this client, or another tab (client) sharing its lock name.
 *
 * @example
 * ```ts
 * client.on('signed-out', ({ source }) => source === 'other-tab' && toast('Signed out in another tab'))
 * ```
 */
export type ChangeSource = 'this' | 'other-tab'

/**
 * Every event and its payload. `expiresAt` is milliseconds on the client's clock.
 *
 * @example
 * ```ts
 * client.on('refreshed', ({ expiresAt }) => console.log('fresh until', new Date(expiresAt)))
 * ```
 */
export interface ClientEvents {
  /** A login succeeded (here, or in another tab whose tokens this client can now read). */
  'signed-in': { scope: string; expiresAt: number; source: ChangeSource }
  /** New tokens replaced the old ones (here, or adopted from another tab's refresh). */
  refreshed: { scope: string; expiresAt: number; source: ChangeSource }
  /** The booth refused the refresh token: the user must log in again. Emitted once per session. */
  'session-expired': { error: SessionExpired | undefined; source: ChangeSource }
  /** `logout()` or `logoutAll()`, here or in another tab sharing the session. */
  'signed-out': { reason: 'logout' | 'logout-all'; source: ChangeSource }
}

/**
 * The name of a client event.
 *
 * @example
 * ```ts
 * const names: ClientEventName[] = ['signed-in', 'refreshed', 'session-expired', 'signed-out']
 * ```
 */
export type ClientEventName = keyof ClientEvents

/**
 * A listener for event `E`.
 *
 * @example
 * ```ts
 * const onExpired: ClientEventListener<'session-expired'> = ({ error }) => console.warn(error?.message)
 * client.on('session-expired', onExpired)
 * ```
 */
export type ClientEventListener<E extends ClientEventName> = (payload: ClientEvents[E]) => void

/**
 * An error with no caller to reject (a listener's exception, a failed cross-tab update) must
 * neither break the client's flow nor vanish, so it is rethrown on its own: `reportError` in
 * browsers, an uncaught exception elsewhere.
 */
export function rethrowLater(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError
  if (typeof report === 'function') report(error)
  else
    queueMicrotask(() => {
      throw error
    })
}

/**
 * A small synchronous emitter of {@link ClientEvents}.
 *
 * It does NOT swallow listener errors (see `rethrowLater`) and does NOT queue events for
 * listeners added later.
 *
 * @example
 * ```ts
 * const events = createEmitter()
 * const off = events.on('refreshed', ({ expiresAt }) => console.log('fresh until', expiresAt))
 * events.emit('refreshed', { scope: 'profile', expiresAt: Date.now() + 60_000, source: 'this' })
 * off()
 * ```
 */
export function createEmitter() {
  const listeners = new Map<ClientEventName, Set<(payload: never) => void>>()
  function off<E extends ClientEventName>(event: E, listener: ClientEventListener<E>): void {
    listeners.get(event)?.delete(listener as (payload: never) => void)
  }
  function on<E extends ClientEventName>(event: E, listener: ClientEventListener<E>): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(
        `the listener for "${String(event)}" must be a function, got ${typeof listener}`,
      )
    }
    let set = listeners.get(event)
    if (set === undefined) listeners.set(event, (set = new Set()))
    set.add(listener as (payload: never) => void)
    return () => off(event, listener)
  }
  function emit<E extends ClientEventName>(event: E, payload: ClientEvents[E]): void {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        ;(listener as ClientEventListener<E>)(payload)
      } catch (error) {
        rethrowLater(error)
      }
    }
  }
  return { on, off, emit, clear: () => listeners.clear() }
}

/** The emitter type `createEmitter` returns. */
export type Emitter = ReturnType<typeof createEmitter>
