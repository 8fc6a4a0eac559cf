/**
 * Coordination between tabs (or any clients of one realm that share a lock name): a Web Lock
 * serialises refreshes, and a BroadcastChannel tells the others what happened so they update
 * their in-memory copy instead of refreshing again. Both are feature-detected; neither is needed
 * for a single client, whose refreshes are already single-flight.
 *
 * Messages carry no token: in bearer mode the receivers read the shared storage (the source of
 * truth), and in cookie mode the browser already shares the cookies, so only the expiry travels.
 *
 * @module
 */

/** The part of the Web Locks API (`navigator.locks`) the client uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>
}

/** What one tab tells the others. */
export type TabMessage =
  | {
      type: 'signed-in' | 'refreshed'
      delivery: 'bearer' | 'cookie'
      sessionId: string | undefined
      scope: string
      obtainedAt: number
      expiresAt: number
    }
  | { type: 'signed-out'; sessionId: string | undefined; reason: 'logout' | 'logout-all' }
  | { type: 'session-expired'; sessionId: string | undefined }

/**
 * The Web Locks manager of this runtime (`navigator.locks` in browsers, workers and Node ≥ 22),
 * or `undefined`.
 *
 * @example
 * ```ts
 * const crossTab = options.crossTab ?? findLocks() !== undefined
 * ```
 */
export function findLocks(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: { request?: unknown } } }).navigator
  const locks = nav?.locks
  if (locks === undefined || typeof locks.request !== 'function') return undefined
  return locks as LockManagerLike
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isOptionalString = (v: unknown) => v === undefined || typeof v === 'string'

/** Any script of the origin can post on the channel: accept only well-formed messages. */
function parseMessage(data: unknown): TabMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (!isOptionalString(m.sessionId)) return undefined
  switch (m.type) {
    case 'signed-in':
    case 'refreshed':
      if (m.delivery !== 'bearer' && m.delivery !== 'cookie') return undefined
      if (typeof m.scope !== 'string' || !isNumber(m.obtainedAt) || !isNumber(m.expiresAt))
        return undefined
      return m as TabMessage
    case 'signed-out':
      return m.reason === 'logout' || m.reason === 'logout-all' ? (m as TabMessage) : undefined
    case 'session-expired':
      return m as TabMessage
    default:
      return undefined
  }
}

/** The probe a tab posts to itself; other tabs drop it like any message they do not know. */
const CATCH_UP = 'tokenbooth:catch-up'
// A channel that never echoes (it cannot, short of a broken runtime) must not hold a refresh
const CATCH_UP_TIMEOUT_MS = 250

/** Options of {@link createCoordinator}. */
export interface CoordinatorOptions {
  /** Use the lock and the channel; when false, every method is a local no-op. */
  enabled: boolean
  /** Name of the Web Lock and of the BroadcastChannel. */
  name: string
  onMessage: (message: TabMessage) => void
}

/**
 * Runs callbacks under the named Web Lock and exchanges {@link TabMessage}s with other tabs.
 *
 * It does NOT deliver a tab's own messages back to it, and does NOT keep Node's event loop alive
 * (the channel is `unref`ed where that exists).
 *
 * @example
 * ```ts
 * const tabs = createCoordinator({ enabled: true, name: 'tokenbooth:https://auth.example.com', onMessage })
 * const tokens = await tabs.withLock(() => refreshOnce())
 * tabs.post({ type: 'session-expired', sessionId })
 * ```
 */
export function createCoordinator(options: CoordinatorOptions) {
  const locks = options.enabled ? findLocks() : undefined
  if (options.enabled && locks === undefined) {
    throw new TypeError(
      '"crossTab" needs navigator.locks (the Web Locks API), which this runtime lacks',
    )
  }
  let channel: BroadcastChannel | undefined
  const probes = new Map<string, () => void>()
  let probeCount = 0
  if (options.enabled && typeof BroadcastChannel === 'function') {
    channel = new BroadcastChannel(options.name)
    ;(channel as { unref?: () => void }).unref?.()
    channel.onmessage = (event: MessageEvent) => {
      const data = event.data as { type?: unknown; id?: unknown } | null
      if (data?.type === CATCH_UP) return void probes.get(data.id as string)?.()
      const message = parseMessage(event.data)
      if (message !== undefined) options.onMessage(message)
    }
  }
  return {
    /** True when a lock serialises refreshes across tabs. */
    shared: locks !== undefined,
    withLock<T>(callback: () => Promise<T>): Promise<T> {
      return locks === undefined ? callback() : locks.request(options.name, callback)
    },
    post(message: TabMessage): void {
      channel?.postMessage(message)
    },
    /**
     * Resolves once the messages other tabs posted before this call have been handled here: a
     * round trip of a probe through the channel, behind them. A tab granted the lock right after
     * another one refreshed can otherwise run before that tab's `refreshed` message arrives.
     */
    catchUp(): Promise<void> {
      if (channel === undefined) return Promise.resolve()
      const id = `${Date.now()}-${++probeCount}`
      return new Promise<void>((resolve) => {
        const sender = new BroadcastChannel(options.name)
        const done = () => {
          clearTimeout(timer)
          probes.delete(id)
          sender.close()
          resolve()
        }
        const timer = setTimeout(done, CATCH_UP_TIMEOUT_MS)
        probes.set(id, done)
        sender.postMessage({ type: CATCH_UP, id })
      })
    },
    close(): void {
      channel?.close()
      channel = undefined
      for (const done of [...probes.values()]) done()
    },
  }
}

/** The coordinator type `createCoordinator` returns. */
export type Coordinator = ReturnType<typeof createCoordinator>
