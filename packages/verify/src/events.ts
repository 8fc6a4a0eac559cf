/**
 * What a verifier reports through its `onEvent` hook, for the operator's log and metrics. None of
 * them is needed for correctness; the hook is called synchronously and whatever it throws is
 * swallowed.
 *
 * | type | when |
 * |---|---|
 * | `jwks.refreshed` | a key set was loaded (`keys`: usable keys, `uri`: where from) |
 * | `jwks.failed` | discovery or the JWKS failed; the previous set, if any, stays in use |
 * | `feed.connected` | the revocation feed answered 200 and the stream is open |
 * | `feed.ready` | the feed's backlog is applied (`seq`: the booth's latest sequence number) |
 * | `feed.stale` | nothing arrived for `staleAfterMs` (`silentMs`); the verifier reconnects |
 * | `feed.error` | the feed failed (`status` for an HTTP answer, `error` otherwise) or sent an invalid entry |
 * | `feed.disconnected` | the booth ended the stream; the verifier reconnects |
 *
 * @example
 * ```ts
 * const verifier = createVerifier({
 *   issuer,
 *   audience,
 *   onEvent: (event) => log[event.type.endsWith('failed') || event.type === 'feed.error' ? 'warn' : 'info'](event),
 * })
 * ```
 */
export type VerifierEvent =
  | { type: 'jwks.refreshed'; keys: number; uri: string }
  | { type: 'jwks.failed'; error: unknown }
  | { type: 'feed.connected'; url: string }
  | { type: 'feed.ready'; seq: number; revocations: number }
  | { type: 'feed.stale'; silentMs: number }
  | { type: 'feed.error'; status?: number; error?: unknown; message: string }
  | { type: 'feed.disconnected' }

/**
 * What a verifier created without `onEvent` does with its events: the three an operator must
 * hear about become `process.emitWarning` calls (printed on stderr by default, and catchable with
 * `process.on('warning')`); the rest are dropped. The rule for a silent feed under
 * fail-open is "keep verifying; log and expose it": `status()` exposes it, this logs it.
 *
 * - `feed.stale` (code `TOKENBOOTH_FEED_STALE`): once per silence, when it is noticed;
 * - `feed.error` with status 401 or 403 (`TOKENBOOTH_FEED_REFUSED`): the client credentials are
 *   wrong, so no revocation will ever arrive;
 * - `jwks.failed` (`TOKENBOOTH_JWKS_FAILED`): at most once per JWKS cooldown.
 *
 * Connection errors while the booth is down are not repeated here: the stale warning says it.
 */
export function warnByDefault(event: VerifierEvent, policy: 'fail-open' | 'fail-closed'): void {
  // emitWarning is Node's; a runtime without it (a worker, a browser bundle) stays quiet
  const emitWarning = globalThis.process?.emitWarning
  if (typeof emitWarning !== 'function') return
  const warn = (message: string, code: string) =>
    emitWarning.call(globalThis.process, `tokenbooth verifier: ${message}`, { code })
  switch (event.type) {
    case 'feed.stale':
      warn(
        `the revocation feed has been silent for ${event.silentMs} ms; ` +
          (policy === 'fail-open'
            ? 'tokens are still accepted, revocations made meanwhile are not seen until it is back'
            : 'tokens are refused until it is back (fail-closed)'),
        'TOKENBOOTH_FEED_STALE',
      )
      return
    case 'feed.error':
      if (event.status === 401 || event.status === 403) {
        warn(`${event.message} (HTTP ${event.status})`, 'TOKENBOOTH_FEED_REFUSED')
      }
      return
    case 'jwks.failed':
      warn(
        `the key set could not be loaded (${errorMessage(event.error)}); the previous one, if any, stays in use`,
        'TOKENBOOTH_JWKS_FAILED',
      )
      return
    default:
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
