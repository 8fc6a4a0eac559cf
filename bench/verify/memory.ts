/**
 * Memory of one process after it has seen N distinct users, run as its own process with
 * `--expose-gc`: `node --expose-gc bench/verify/memory.ts '{"mode":"verifier","users":1000}'`
 * prints one JSON line.
 *
 * - `verifier`: `createVerifier` (static HS256 key, the revocation feed with its 3,000 entries)
 *   verifies one token for each of N users (a distinct `sub`, `sid`, `jti` each), as a service
 *   does and then forgets the claims. HS256 only so that a million tokens sign and verify in
 *   seconds; the cache holds the token strings and claims, which ES256 would make 43 characters
 *   longer each.
 * - `session`: an express-session MemoryStore holds one session for each of N users, as
 *   `POST /login` in bench/verify/server.ts creates it (`{ cookie, user: { sub, client_id,
 *   scope } }`, a 32-character session id, 15 minutes), written with the store's own `set`.
 *
 * RSS is read after two full garbage collections, once before the users (the baseline: Node,
 * the libraries, the verifier or store empty) and once after.
 */
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto'
import session from 'express-session'
import { createSecretKeySet, createVerifier } from '@tokenbooth/verify'
import { ISSUER } from '../crypto/peers.ts'
import { FEED_CLIENT, fakeFeedFetch } from './fake-feed.ts'
import { mintTokens } from './tokens.ts'

export interface MemoryPlan {
  mode: 'verifier' | 'session'
  users: number
}

export interface MemoryResult extends MemoryPlan {
  /** Bytes, after gc: before the users, and after. */
  baselineRss: number
  rss: number
  heapUsed: number
  /** Tokens in the verifier's cache, or sessions in the store, at the end. */
  held: number
  seconds: number
}

const gc = (globalThis as { gc?: (options?: object) => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

async function settledRss(): Promise<{ rss: number; heapUsed: number }> {
  // 'last-resort' is V8's full, compacting collection that also hands pooled pages back (a plain
  // gc() leaves up to ~100 MB of freed 256 KiB pages mapped after a burst of allocation); native
  // memory of collected objects is freed by callbacks on the event loop: collect, let them run,
  // and collect again
  for (let i = 0; i < 3; i++) {
    gc!({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heapUsed }
}

const BATCH = 10_000

// The verifier or store under test, reachable from the module until the end: a local that is no
// longer used could be collected by the very gc that precedes the reading
export const retained: unknown[] = []

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as MemoryPlan
  const started = performance.now()
  let baseline: number
  let held: number
  if (plan.mode === 'verifier') {
    const secret = randomBytes(32)
    const kid = 'bench-memory'
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: ISSUER,
      jwks: createSecretKeySet([{ kid, secret }]),
      revocation: FEED_CLIENT,
      fetch: fakeFeedFetch(),
    })
    await verifier.ready()
    retained.push(verifier)
    const key = createSecretKey(secret)
    // the first batch once, so that every code path has run before the baseline
    for (const token of mintTokens({ alg: 'HS256', kid, key, count: 1 }))
      await verifier.verify(token)
    baseline = (await settledRss()).rss
    for (let done = 0; done < plan.users; done += BATCH) {
      const count = Math.min(BATCH, plan.users - done)
      for (const token of mintTokens({ alg: 'HS256', kid, key, count }))
        await verifier.verify(token)
    }
    held = verifier.status().cacheSize
  } else {
    const store = new session.MemoryStore()
    retained.push(store)
    // express-session's own Cookie, as its middleware builds it (its types omit the constructor)
    const Cookie = session.Cookie as unknown as new (
      options: session.CookieOptions,
    ) => session.Cookie
    const cookie = () => new Cookie({ maxAge: 15 * 60 * 1000, httpOnly: true, sameSite: 'lax' })
    const put = (sid: string) =>
      store.set(sid, {
        cookie: cookie(),
        user: { sub: randomUUID(), client_id: 'tokenbooth', scope: 'profile' },
      } as session.SessionData)
    put('warm-up-session-id-0000000000000')
    store.destroy('warm-up-session-id-0000000000000')
    baseline = (await settledRss()).rss
    // a session id as express-session makes them: 24 random bytes, base64url (uid-safe)
    for (let i = 0; i < plan.users; i++) put(randomBytes(24).toString('base64url'))
    held = await new Promise<number>((resolve, reject) =>
      store.length((error, length) => (error ? reject(error) : resolve(length ?? 0))),
    )
  }
  const after = await settledRss()
  const result: MemoryResult = {
    ...plan,
    baselineRss: baseline,
    rss: after.rss,
    heapUsed: after.heapUsed,
    held,
    seconds: (performance.now() - started) / 1000,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}

await main()
