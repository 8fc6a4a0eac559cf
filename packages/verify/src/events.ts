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
