/**
 * Revocation latency: how long after `POST /logout` answers does a verifier reject the session's
 * token? A real booth (`tokenbooth serve`, pinned to core 0) and, in this process, `createVerifier`
 * following its feed (`GET /events/revocations`, as a client registered with `clients add`).
 *
 * Each trial: log in (password grant), verify the access token (accepted, and now cached), `POST
 * /logout` with it, then from the moment the logout's response arrives, verify again on every
 * turn of the event loop (`setImmediate`, well under 1 ms apart) until it is rejected with
 * `TokenRevoked`. When the feed's event was applied before the logout's response was read, the first
 * check already rejects (counted in `beforeResponse`).
 */
import { performance } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { createVerifier, TokenRevoked } from '@tokenbooth/verify'
import { runCli, startBooth } from '../lib/booth.ts'
import { pinPrefix, type MachineFacts } from '../lib/machine.ts'

export interface RevocationOptions {
  facts: MachineFacts
  trials: number
}

export interface RevocationResult {
  trials: number
  /** Milliseconds from the logout's response to the first rejection, one per trial. */
  latenciesMs: number[]
  p50: number
  p99: number
  max: number
  /** Trials in which the token was already rejected when the logout's response arrived. */
  beforeResponse: number
  /** Milliseconds from sending the logout to the first rejection, median. */
  fromRequestP50: number
}

// Beyond this a trial has failed: the feed target is one second
const GIVE_UP_MS = 5000

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export async function runRevocationLatency(options: RevocationOptions): Promise<RevocationResult> {
  const booth = await startBooth({ pin: pinPrefix(0, options.facts) })
  try {
    const client = JSON.parse(
      await runCli(booth, ['clients', 'add', 'bench-verifier', '--json']),
    ) as {
      client_id: string
      client_secret: string
    }
    const verifier = createVerifier({
      issuer: booth.url,
      audience: booth.url,
      revocation: { clientId: client.client_id, clientSecret: client.client_secret },
    })
    try {
      await verifier.ready()
      const username = 'bench-revocation'
      const password = 'bench-passphrase-revocation-correct-horse'
      const signup = await fetch(`${booth.url}/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
      if (signup.status !== 201) throw new Error(`signup answered ${signup.status}`)
      const login = new URLSearchParams({ grant_type: 'password', username, password }).toString()

      const latencies: number[] = []
      const fromRequest: number[] = []
      let beforeResponse = 0
      for (let trial = 0; trial < options.trials; trial++) {
        const res = await fetch(`${booth.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: login,
        })
        const { access_token: token } = (await res.json()) as { access_token?: string }
        if (res.status !== 200 || token === undefined)
          throw new Error(`login answered ${res.status}`)
        await verifier.verify(token) // accepted, and cached: the rejection must beat the cache

        const sent = performance.now()
        const logout = await fetch(`${booth.url}/logout`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        })
        const answered = performance.now()
        if (logout.status !== 200) throw new Error(`logout answered ${logout.status}`)
        let first = true
        for (;;) {
          try {
            await verifier.verify(token)
          } catch (error) {
            if (!(error instanceof TokenRevoked)) throw error
            const now = performance.now()
            if (first) beforeResponse++
            latencies.push(now - answered)
            fromRequest.push(now - sent)
            break
          }
          first = false
          if (performance.now() - answered > GIVE_UP_MS) {
            throw new Error(`trial ${trial}: still accepted ${GIVE_UP_MS} ms after the logout`)
          }
          await nextTurn()
        }
        await logout.arrayBuffer()
      }
      const sorted = [...latencies].sort((a, b) => a - b)
      const sortedFromRequest = [...fromRequest].sort((a, b) => a - b)
      return {
        trials: options.trials,
        latenciesMs: latencies,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1]!,
        beforeResponse,
        fromRequestP50: percentile(sortedFromRequest, 50),
      }
    } finally {
      await verifier.close()
    }
  } catch (error) {
    process.stderr.write(booth.output())
    throw error
  } finally {
    await booth.stop()
  }
}
