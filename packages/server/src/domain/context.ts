import type { Config } from '../config.ts'
import type { Store } from '../store/store.ts'
import type { Events } from './events.ts'
import type { KeyManager } from './keys.ts'
import type { HorizonLease } from './revocation-horizon.ts'
import type { Throttle } from './throttle.ts'

/** What the grants and domain functions work with; built once by createTokenServer. */
export interface BoothContext {
  readonly config: Config
  readonly store: Store
  readonly keys: KeyManager
  readonly events: Events
  readonly throttle: Throttle
  /** Epoch milliseconds. */
  readonly clock: () => number
  /** Awaited before an access token is issued (revocation-horizon.ts). */
  readonly horizon: HorizonLease
}

/** How long past the last token it concerns a revocation is kept. */
export const REVOCATION_MARGIN_MS = 60_000

/**
 * Until when a revocation made at `now` matters, by this instance's access-token lifetime: after
 * it, every access token it concerns and this instance issued has expired. The store raises it
 * to cover tokens issued under a longer lifetime (revocation-horizon.ts).
 */
export function revocationHorizon(ctx: Pick<BoothContext, 'config'>, now: number): number {
  return now + ctx.config.accessTokenTtl * 1000 + REVOCATION_MARGIN_MS
}
