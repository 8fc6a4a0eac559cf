/**
 * `/healthz` of the services. A service listens at once, booth or no booth, and says here whether
 * it can do its job: `starting` (503) until its verifier has keys and the revocation backlog,
 * then `ok`, or `degraded` while the feed is stale. Degraded still serves (fail-open): the booth
 * being down must not take the shop down; revocations made meanwhile arrive when it is back.
 */
import type { Verifier, VerifierStatus } from '@tokenbooth/verify'

export interface Health {
  code: 200 | 503
  body: { status: 'starting' | 'ok' | 'degraded'; verifier: VerifierStatus }
}

export function health(verifier: Verifier): Health {
  const status = verifier.status()
  if (status.keys === 0 || status.feed === 'connecting')
    return { code: 503, body: { status: 'starting', verifier: status } }
  return {
    code: 200,
    body: { status: status.feed === 'stale' ? 'degraded' : 'ok', verifier: status },
  }
}
