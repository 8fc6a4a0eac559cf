import type { Config } from '../config.ts'
import type { Store } from '../store/store.ts'
import type { Events } from './events.ts'
import type { KeyManager } from './keys.ts'
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
}

/** Until when a revocation matters: after it, every access token it concerns has expired. */
export function revocationHorizon(ctx: Pick<BoothContext, 'config'>, now: number): number {
  return now + ctx.config.accessTokenTtl * 1000 + 60_000
}
