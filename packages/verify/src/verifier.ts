/**
 * `createVerifier`: the SDK a resource server uses. It puts together the synchronous core
 * (`verifyAccessToken`), a self-refreshing key store, a cache of verified tokens and the
 * revocation feed, so that verifying a token seen before is a map lookup plus the revocation
 * checks, and a new token costs one signature check, with no call to the booth either way.
 *
 * @module
 */
import type { AccessTokenClaims } from './claims.ts'
import { extractToken } from './credentials.ts'
import type { RequestHeaders } from './credentials.ts'
import { TokenExpired, TokenKeyUnknown, TokenMalformed, VerifierUnavailable } from './errors.ts'
import { warnByDefault } from './events.ts'
import type { VerifierEvent } from './events.ts'
import { createKeyStore } from './key-store.ts'
import { createRevocationFeed } from './revocation-feed.ts'
import type { FeedState } from './revocation-feed.ts'
import { createRevocationList } from './revocations.ts'
import { createTokenCache } from './token-cache.ts'
import { resolveOptions } from './verifier-options.ts'
import type { VerifierOptions } from './verifier-options.ts'
import { resolveVerifyOptions, verifyWithOptions } from './verify-jwt.ts'

/**
 * A snapshot of a verifier's state, for health checks and metrics.
 *
 * @example
 * ```ts
 * app.get('/healthz', (_req, res) => res.json(verifier.status()))
 * ```
 */
export interface VerifierStatus {
  /** Usable keys in the current set (0 before the first load). */
  keys: number
  /** `off` without revocation; `connecting` until the first backlog; then `live` or `stale`. */
  feed: 'off' | FeedState
  /** The highest revocation event id applied (the `Last-Event-ID` of the next reconnect). */
  lastEventId?: number
  /** Revocation entries held (those not yet past their `expires_at`). */
  revocations: number
  /** Verified tokens cached. */
  cacheSize: number
}

/**
 * A token verifier bound to one issuer and audience. See {@link createVerifier}.
 *
 * @example
 * ```ts
 * const claims = await verifier.verifyRequest(req.headers)
 * ```
 */
export interface Verifier {
  /** Verifies a token: claims, or a rejected promise with a `TokenboothError`. */
  verify(token: string): Promise<AccessTokenClaims>
  /** Takes the token from `Authorization: Bearer` (or the configured cookie) and verifies it. */
  verifyRequest(headers: RequestHeaders): Promise<AccessTokenClaims>
  /**
   * `verifyRequest` without a promise when none is needed, for the adapters' hot path: the claims
   * themselves when the answer needs no I/O (the keys are loaded and the `kid` is known: nearly
   * every request), a promise only while it must wait for keys. A failure known at once is
   * thrown; one found after waiting rejects the promise. Same checks, same errors.
   *
   * @example
   * ```ts
   * const result = verifier.verifyRequestNow(req.headers) // may throw
   * const claims = result instanceof Promise ? await result : result
   * ```
   */
  verifyRequestNow(headers: RequestHeaders): AccessTokenClaims | Promise<AccessTokenClaims>
  /** Resolves when keys are loaded and, with revocation, the feed's backlog is applied. */
  ready(): Promise<void>
  status(): VerifierStatus
  /** Stops the feed and all background work; later calls to `verify` reject. */
  close(): Promise<void>
}

// Thrown inside verifySync when no key set is loaded yet, or when the revocation feed's first
// backlog has not arrived; they never leave this module
const NO_KEYS = Symbol('no keys')
const NO_BACKLOG = Symbol('no backlog')

/**
 * Creates a verifier for tokens of `issuer` meant for `audience`, and starts at once: discovery,
 * the JWKS and (with `revocation`) the feed load in the background; `ready()` says when they have.
 *
 * `verify` checks, in this order: the verified-token cache (a hit re-checks only `exp`) or else the
 * full RFC 8725 / RFC 9068 verification by `verifyAccessToken` with the current keys (an unknown
 * `kid` may refetch the JWKS, at most once per cooldown for all callers together); then, with
 * `fail-closed`, that the feed is live; then the revocations, on every call, cached or not. It
 * rejects with a `TokenInvalid` subclass (`TokenRevoked` for revocations) or `VerifierUnavailable`
 * (no keys could be loaded, the feed is stale under `fail-closed`, or the verifier is closed).
 * Cached claims are frozen and shared between calls: treat them as read-only.
 *
 * It does NOT check scopes (see `requireScope`), `jti` replay, or sender constraints (`cnf`); it
 * does NOT introspect tokens at the booth; without `revocation`, a revoked token stays valid
 * until it expires. Throws `TypeError` for bad options.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({
 *   issuer: 'https://booth.example',
 *   audience: 'https://cart.example',
 *   revocation: { clientId: 'cart', clientSecret: process.env.CART_SECRET! },
 * })
 * await verifier.ready()
 * const claims = await verifier.verifyRequest(req.headers)
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const config = resolveOptions(options)
  const { clock, onEvent, revocation } = config
  const policy = revocation === undefined ? 'fail-open' : revocation.policy
  const emit = (event: VerifierEvent): void => {
    try {
      if (onEvent === undefined) warnByDefault(event, policy)
      else onEvent(event)
    } catch {
      // a broken logger must not break verification
    }
  }
  const base = config.issuer.endsWith('/') ? config.issuer.slice(0, -1) : config.issuer
  const cache = createTokenCache(config.cacheSize)
  const toleranceMs = config.clockTolerance * 1000
  // kept for the tolerance past expiry, as long as the tokens they match are still accepted
  const revocations = createRevocationList(toleranceMs)
  const keyStore = createKeyStore({
    issuer: config.issuer,
    fetch: config.fetch,
    clock,
    cooldownMs: config.jwksCooldownMs,
    unknownKidTtlMs: config.unknownKidTtlMs,
    staticKeys: config.staticKeys,
    emit,
    // a key withdrawn from the JWKS or replaced under its kid (after an incident) must stop its
    // cached tokens too
    onKeysRemoved: () => cache.clear(),
  })
  const feed =
    revocation === undefined
      ? undefined
      : createRevocationFeed({
          url: `${base}/events/revocations`,
          clientId: revocation.clientId,
          clientSecret: revocation.clientSecret,
          fetch: config.fetch,
          clock,
          random: config.random,
          staleAfterMs: revocation.staleAfterMs,
          revocations,
          emit,
          // a service started while the booth was down gets its keys as soon as the booth is back
          onConnected: () => keyStore.issuerReachable(),
        })
  // the feed whose liveness gates every verify, under fail-closed only
  const gate = revocation?.policy === 'fail-closed' ? feed : undefined
  // A verifier that has never had the feed's backlog knows no revocation at all, so until the
  // first `ready` verify waits for it, for at most staleAfterMs from the start; past that, each
  // policy treats the feed as any silent one (fail-open: verify; fail-closed: refuse)
  const backlogDeadline = revocation === undefined ? 0 : clock() + revocation.staleAfterMs
  let backlogWait: Promise<void> | undefined
  let backlogWaitOver = false
  const verifyOptions = resolveVerifyOptions({
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockTolerance,
    now: clock,
  })
  let closed: VerifierUnavailable | undefined

  // Everything that needs no I/O; the hot path. Throws NO_KEYS or TokenKeyUnknown for the slow path.
  function verifySync(token: string): AccessTokenClaims {
    if (closed !== undefined) throw closed
    if (typeof token !== 'string') throw new TokenMalformed('token must be a string')
    const now = clock()
    // first, so that once past it (applied, or the wait over) no later step can come back here
    if (!backlogWaitOver && feed !== undefined && !feed.backlogApplied && now < backlogDeadline) {
      throw NO_BACKLOG
    }
    if (now >= keyStore.staleAt) keyStore.refresh()
    let entry = cache.get(token)
    if (entry === undefined) {
      const keys = keyStore.keys
      if (keys === undefined) throw NO_KEYS
      // -1: never checked, whatever the list's version
      entry = cache.set(token, freezeClaims(verifyWithOptions(token, keys, verifyOptions)), -1)
    } else if (now > entry.claims.exp * 1000 + toleranceMs) {
      // the same bound as verifyAccessToken: accepted up to and including exp + tolerance
      cache.delete(token)
      throw new TokenExpired('token has expired')
    }
    if (gate !== undefined && !gate.isLive(now)) {
      throw new VerifierUnavailable('the revocation feed is not live and the policy is fail-closed')
    }
    // a token seen again since no revocation arrived needs no lookups: nothing can revoke it
    const version = revocations.version
    if (entry.checked !== version) {
      revocations.check(entry.claims)
      entry.checked = version
    }
    return entry.claims
  }

  // One wait shared by every early caller: the first backlog, the deadline, or the feed failing
  // for good (credentials refused, closed), whichever comes first
  function waitForBacklog(follower: NonNullable<typeof feed>): Promise<void> {
    backlogWait ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), Math.max(0, backlogDeadline - clock()))
      timer.unref?.()
      const done = () => {
        clearTimeout(timer)
        backlogWaitOver = true
        resolve()
      }
      follower.ready().then(done, done)
    })
    return backlogWait
  }

  async function verifyAfterBacklog(token: string): Promise<AccessTokenClaims> {
    await waitForBacklog(feed!)
    return verifyNow(token)
  }

  async function verifyAfterKeyLoad(token: string): Promise<AccessTokenClaims> {
    await keyStore.whenLoaded()
    if (keyStore.keys === undefined && closed === undefined) {
      throw new VerifierUnavailable('no key set: the issuer has not been reached yet', {
        cause: keyStore.lastError,
      })
    }
    return verifySync(token)
  }

  async function verifyAfterRefetch(
    token: string,
    unknown: TokenKeyUnknown,
  ): Promise<AccessTokenClaims> {
    if (await keyStore.refetchFor(unknown.kid)) return verifySync(token)
    throw unknown
  }

  // The claims at once, or a promise when keys must be loaded or refetched first, or the first
  // revocation backlog awaited; throws otherwise
  function verifyNow(token: string): AccessTokenClaims | Promise<AccessTokenClaims> {
    try {
      return verifySync(token)
    } catch (error) {
      if (error === NO_KEYS) return verifyAfterKeyLoad(token)
      if (error === NO_BACKLOG) return verifyAfterBacklog(token)
      if (error instanceof TokenKeyUnknown) return verifyAfterRefetch(token, error)
      throw error
    }
  }

  function verify(token: string): Promise<AccessTokenClaims> {
    try {
      return Promise.resolve(verifyNow(token))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  const verifyRequestNow = (headers: RequestHeaders) =>
    verifyNow(extractToken(headers, config.cookie))

  return {
    verify,
    verifyRequestNow,
    verifyRequest(headers) {
      try {
        return Promise.resolve(verifyRequestNow(headers))
      } catch (error) {
        return Promise.reject(error)
      }
    },
    async ready() {
      try {
        await Promise.all([keyStore.ready(), feed?.ready()])
      } catch (cause) {
        if (cause instanceof VerifierUnavailable) throw cause
        throw new VerifierUnavailable(`the verifier cannot start: ${(cause as Error).message}`, {
          cause,
        })
      }
    },
    status() {
      const now = clock()
      revocations.prune(now)
      const status: VerifierStatus = {
        keys: keyStore.keys?.size ?? 0,
        feed: feed === undefined ? 'off' : feed.state(now),
        revocations: revocations.size,
        cacheSize: cache.size,
      }
      if (feed?.lastEventId !== undefined) status.lastEventId = feed.lastEventId
      return status
    },
    async close() {
      if (closed !== undefined) return
      closed = new VerifierUnavailable('the verifier is closed')
      cache.clear()
      await Promise.all([keyStore.close(closed), feed?.close(closed)])
    },
  }
}

// Cached claims are shared by every request bearing the token: one handler must not be able to
// change what the next one sees (say, append a scope). Nested objects other than `aud` are the
// issuer's extensions and are left as they are.
function freezeClaims(claims: AccessTokenClaims): AccessTokenClaims {
  if (Array.isArray(claims.aud)) Object.freeze(claims.aud)
  return Object.freeze(claims)
}
