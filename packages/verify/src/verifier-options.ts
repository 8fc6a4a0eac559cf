/**
 * The options of `createVerifier`, their defaults (each written once, here, with its reason) and
 * their validation. A bad option is a developer's mistake: a `TypeError` naming it.
 */
import type { FetchLike } from './discovery.ts'
import type { VerifierEvent } from './events.ts'
import { createKeySet } from './key-set.ts'
import type { KeySet, PublicJwk } from './key-set.ts'
import { assertIssuerAudience } from './verify-jwt.ts'

/**
 * How the verifier follows the booth's revocation feed. The verifier authenticates to the feed as
 * a registered client (`Authorization: Basic`).
 *
 * `policy` decides what happens when the feed has been silent longer than `staleAfterMs` (or has
 * not delivered its backlog yet):
 * - `'fail-open'` (default): keep verifying; revocations made meanwhile are not seen until the
 *   feed is back. Availability wins: the booth being down does not take the service down, which is
 *   the point of local verification. The window of exposure is the outage, bounded by the access
 *   token lifetime. `status().feed` and the `feed.stale` event make it visible.
 * - `'fail-closed'`: `verify` throws `VerifierUnavailable` (adapters answer 503) until the feed is
 *   live again. Revocation is never missed, at the price of an outage whenever the booth or the
 *   path to it is. For payments and other actions where a stolen token costs money.
 *
 * @example
 * ```ts
 * createVerifier({ issuer, audience, revocation: { clientId: 'cart', clientSecret, policy: 'fail-closed' } })
 * ```
 */
export interface RevocationOptions {
  clientId: string
  clientSecret: string
  /** Default `'fail-open'`. */
  policy?: 'fail-open' | 'fail-closed'
  /** Silence (no event, no heartbeat) after which the feed is stale, in ms. Default 15 000. */
  staleAfterMs?: number
}

/**
 * Options of `createVerifier`.
 *
 * @example
 * ```ts
 * const options: VerifierOptions = { issuer: 'https://booth.example', audience: 'https://cart.example' }
 * ```
 */
export interface VerifierOptions {
  /** The booth's issuer identifier, exactly as in the tokens' `iss` and its metadata. */
  issuer: string
  /** The token's `aud` must contain this (or one of these). */
  audience: string | readonly string[]
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike
  /** Current time in epoch ms. Default `Date.now`. */
  clock?: () => number
  /** A number in [0, 1) for reconnect jitter. Default `Math.random`. */
  random?: () => number
  /**
   * Seconds of clock skew allowed on `exp`, `nbf`, `iat`. Default 5. Keep it at 1 or more: a
   * token issued in the same second as its user's logout-everywhere is dated by the booth up to
   * 1 s ahead (so that the cut-off does not catch it), and 0 would refuse it for that second.
   */
  clockTolerance?: number
  /**
   * A fixed key set (from `createKeySet`/`createSecretKeySet`) or JWKS: no discovery and no key
   * fetching at all. Default: discover the booth's JWKS.
   */
  jwks?: KeySet | { readonly keys: readonly PublicJwk[] }
  /** Least time between two JWKS fetches caused by unknown kids, in ms. Default 30 000. */
  jwksCooldownMs?: number
  /** How long an unknown kid fails at once without a refetch, in ms. Default 60 000. */
  unknownKidTtlMs?: number
  /** Verified tokens kept for a map-lookup re-verification. Default 10 000; 0 disables. */
  cacheSize?: number
  /** Follow the booth's revocation feed. Default `false` (needs client credentials). */
  revocation?: false | RevocationOptions
  /** Name of a cookie holding the access token, read by `verifyRequest` when there is no Bearer header. */
  cookie?: string
  /**
   * Logging hook; see {@link VerifierEvent}. Default: a stale feed, refused feed credentials and a
   * failed JWKS load become `process.emitWarning` calls (see `warnByDefault`); nothing else is
   * reported.
   */
  onEvent?: (event: VerifierEvent) => void
}

/** The options with defaults applied and checked. */
export interface ResolvedOptions {
  issuer: string
  audience: string | readonly string[]
  fetch: FetchLike
  clock: () => number
  random: () => number
  clockTolerance: number
  staticKeys: KeySet | undefined
  jwksCooldownMs: number
  unknownKidTtlMs: number
  cacheSize: number
  revocation: Required<RevocationOptions> | undefined
  cookie: string | undefined
  onEvent: ((event: VerifierEvent) => void) | undefined
}

// Skew between two NTP-synchronised hosts is far below this; more would extend stolen tokens' life
const DEFAULT_CLOCK_TOLERANCE = 5
// jose's default: a rotated key is picked up within half a minute, a kid storm costs 2 requests a minute
const DEFAULT_JWKS_COOLDOWN_MS = 30_000
// Twice the cooldown, so a repeated bogus kid fails without work across a whole refetch window
const DEFAULT_UNKNOWN_KID_TTL_MS = 60_000
// ~10 MB at most (a token ~800 B plus its claims): every active user of a busy service, bounded
const DEFAULT_CACHE_SIZE = 10_000
// Three missed heartbeats of a booth that sends one every ≤5 s
const DEFAULT_STALE_AFTER_MS = 15_000

/** Applies defaults and validates; throws `TypeError` naming the first bad option. */
export function resolveOptions(options: VerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('"options" must be an object')
  const { issuer, audience, jwks, revocation = false, cookie, onEvent } = options
  assertIssuerAudience(issuer, audience)
  const fetchFn = options.fetch ?? globalThis.fetch
  if (typeof fetchFn !== 'function')
    throw new TypeError('"fetch" must be a function (no global fetch here)')
  const clock = fn(options.clock ?? Date.now, 'clock')
  const random = fn(options.random ?? Math.random, 'random')
  if (onEvent !== undefined) fn(onEvent, 'onEvent')
  const clockTolerance = number(options.clockTolerance, DEFAULT_CLOCK_TOLERANCE, 'clockTolerance')
  const jwksCooldownMs = number(options.jwksCooldownMs, DEFAULT_JWKS_COOLDOWN_MS, 'jwksCooldownMs')
  const unknownKidTtlMs = number(
    options.unknownKidTtlMs,
    DEFAULT_UNKNOWN_KID_TTL_MS,
    'unknownKidTtlMs',
  )
  const cacheSize = number(options.cacheSize, DEFAULT_CACHE_SIZE, 'cacheSize')
  if (!Number.isSafeInteger(cacheSize))
    throw new TypeError(`"cacheSize" must be an integer, got ${cacheSize}`)
  if (
    cookie !== undefined &&
    (typeof cookie !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie))
  ) {
    // RFC 6265 §4.1.1: a cookie-name is an RFC 7230 token
    throw new TypeError(
      `"cookie" must be a cookie name (an RFC 7230 token), got ${JSON.stringify(cookie)}`,
    )
  }

  let staticKeys: KeySet | undefined
  if (jwks !== undefined) {
    if (typeof jwks === 'object' && jwks !== null && typeof (jwks as KeySet).get === 'function') {
      staticKeys = jwks as KeySet
    } else {
      staticKeys = createKeySet(jwks as { keys: PublicJwk[] })
    }
  }

  let resolvedRevocation: Required<RevocationOptions> | undefined
  if (revocation !== false) {
    if (typeof revocation !== 'object' || revocation === null) {
      throw new TypeError(
        '"revocation" must be false or { clientId, clientSecret, policy?, staleAfterMs? }',
      )
    }
    const { clientId, clientSecret, policy = 'fail-open' } = revocation
    if (typeof clientId !== 'string' || clientId === '')
      throw new TypeError('"revocation.clientId" must be a non-empty string')
    if (typeof clientSecret !== 'string' || clientSecret === '') {
      throw new TypeError('"revocation.clientSecret" must be a non-empty string')
    }
    if (policy !== 'fail-open' && policy !== 'fail-closed') {
      throw new TypeError(
        `"revocation.policy" must be 'fail-open' or 'fail-closed', got ${JSON.stringify(policy)}`,
      )
    }
    const staleAfterMs = number(
      revocation.staleAfterMs,
      DEFAULT_STALE_AFTER_MS,
      'revocation.staleAfterMs',
    )
    if (staleAfterMs === 0) throw new TypeError('"revocation.staleAfterMs" must be greater than 0')
    resolvedRevocation = { clientId, clientSecret, policy, staleAfterMs }
  }

  if (staticKeys === undefined || resolvedRevocation !== undefined) {
    // discovery and the feed are URLs under the issuer
    let url: URL | undefined
    try {
      url = new URL(issuer)
    } catch {
      url = undefined
    }
    if (
      url === undefined ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw new TypeError(
        `"issuer" must be an http(s) URL without query or fragment to discover keys or follow revocations, got ${JSON.stringify(issuer)}`,
      )
    }
  }

  return {
    issuer,
    audience: typeof audience === 'string' ? audience : Object.freeze([...audience]),
    fetch: fetchFn,
    clock,
    random,
    clockTolerance,
    staticKeys,
    jwksCooldownMs,
    unknownKidTtlMs,
    cacheSize,
    revocation: resolvedRevocation,
    cookie,
    onEvent,
  }
}

function fn<T>(value: T, name: string): T {
  if (typeof value !== 'function')
    throw new TypeError(`"${name}" must be a function, got ${typeof value}`)
  return value
}

function number(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) {
    throw new TypeError(`"${name}" must be a finite number ≥ 0, got ${String(value)}`)
  }
  return value
}
