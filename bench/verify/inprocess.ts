/**
 * Verification in process, cold and warm, run as its own process: `node bench/verify/inprocess.ts
 * '<options JSON>'` prints the results as one JSON line on stdout.
 *
 * - cold: every operation verifies a token the verifier has not seen (the token pool is larger than
 *   every cache here: ours holds 10,000 by default, fast-jwt's 1,000; a peer that goes round the
 *   pool again still misses, since each cache has evicted the token by then).
 * - warm: the same token every time: what a service sees from a client that reuses its access
 *   token for many requests. Only the caching verifiers profit; the others do the full work.
 *
 * The pools are signed first, on every core (worker threads), and only then does the process pin
 * itself (all threads) to one core for the timed part.
 */
import { execFileSync } from 'node:child_process'
import type { KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { createVerifier as createFastVerifier } from 'fast-jwt'
import { jwtVerify } from 'jose'
import { createVerifier, verifyAccessToken, type Verifier } from '@tokenbooth/verify'
import { compare, type HarnessOptions, type Peer, type PeerResult } from '../crypto/harness.ts'
import { ALGS, ISSUER, makeKeys, rawVerify, type Alg, type Keys } from '../crypto/peers.ts'
import { FEED_CLIENT, fakeFeedFetch } from './fake-feed.ts'
import { mintInWorkers } from './tokens.ts'

export interface InProcessOptions extends HarnessOptions {
  algs?: readonly Alg[]
  /** Pin this process to this core once the pools are signed; undefined = do not pin. */
  core?: number
  /** Distinct tokens per algorithm for the cold runs. */
  pools?: Partial<Record<Alg, number>>
}

export interface VerifyGroup {
  alg: Alg
  mode: 'cold' | 'warm'
  /** Distinct tokens the cold peers went round. */
  pool: number
  results: PeerResult[]
}

export interface InProcessResults {
  groups: VerifyGroup[]
}

// Enough that no cache here can hold the pool, and about one pass of the fastest asymmetric peer;
// RSA-3072 signs at ~1 ms, so its pool is the smallest that still beats our 10,000-entry cache.
const DEFAULT_POOLS: Record<Alg, number> = {
  ES256: 40_000,
  EdDSA: 40_000,
  RS256: 12_500,
  HS256: 40_000,
}

// createVerifier's default cacheSize (packages/verify/src/verifier-options.ts)
const SDK_CACHE_SIZE = 10_000

// jsonwebtoken ships no types and this package installs no @types for it
interface JsonWebToken {
  verify(token: string, key: KeyObject, options: object): unknown
}
const jsonwebtoken = createRequire(import.meta.url)('jsonwebtoken') as JsonWebToken

const OPTIONS = { issuer: ISSUER, audience: ISSUER }

/** The floor: one `crypto.verify` (or HMAC), the payload parsed, `exp`/`iss`/`aud` compared. */
function floor(alg: Alg, key: KeyObject) {
  return (token: string) => {
    const dot = token.indexOf('.')
    const last = token.lastIndexOf('.')
    const ok = rawVerify(
      alg,
      key,
      Buffer.from(token.slice(0, last), 'latin1'),
      Buffer.from(token.slice(last + 1), 'base64url'),
    )
    const payload = JSON.parse(Buffer.from(token.slice(dot + 1, last), 'base64url').toString()) as {
      exp: number
      iss: string
      aud: string
    }
    if (!ok || payload.exp <= Date.now() / 1000 || payload.iss !== ISSUER || payload.aud !== ISSUER)
      throw new Error('raw verify failed')
    return payload
  }
}

function openVerifier(keys: Keys): Verifier {
  // static keys, and the revocation feed (served in process) with 3,000 revocations held
  return createVerifier({
    ...OPTIONS,
    jwks: keys.keySet,
    revocation: FEED_CLIENT,
    fetch: fakeFeedFetch(),
  })
}

/**
 * The peers; each takes its own token iterator from `source`: a new token every call (cold) or
 * always the same one (warm).
 */
function peers(alg: Alg, keys: Keys, verifier: Verifier, source: () => () => string): Peer[] {
  const raw = floor(alg, keys.verifyKey)
  const fastOptions = {
    key: keys.verifyPem,
    algorithms: [alg],
    allowedIss: ISSUER,
    allowedAud: ISSUER,
    checkTyp: 'at+jwt',
  }
  const fastNoCache = createFastVerifier({ ...fastOptions, cache: false })
  // `cache: true` is fast-jwt's default size, 1,000 tokens
  const fastCache = createFastVerifier({ ...fastOptions, cache: true })
  const joseOptions = { ...OPTIONS, algorithms: [alg], typ: 'at+jwt' }
  const each = (name: string, verify: (token: string) => unknown): Peer => {
    const next = source()
    return { name, run: () => verify(next()) }
  }
  const list: Peer[] = [
    each('node:crypto (raw)', raw),
    each('tokenbooth verifyAccessToken', (t) => verifyAccessToken(t, keys.keySet, OPTIONS)),
    each('tokenbooth createVerifier', (t) => verifier.verify(t)),
    each('jose jwtVerify', (t) => jwtVerify(t, keys.verifyCryptoKey, joseOptions)),
    each('fast-jwt', (t) => fastNoCache(t)),
    each('fast-jwt (cache)', (t) => fastCache(t)),
  ]
  if (alg !== 'EdDSA') {
    list.push(
      each('jsonwebtoken', (t) =>
        jsonwebtoken.verify(t, keys.verifyKey, { ...OPTIONS, algorithms: [alg] }),
      ),
    )
  }
  return list
}

/** Before timing: every peer accepts the token and returns its subject. */
async function check(list: readonly Peer[], token: string, alg: Alg): Promise<void> {
  const sub = (
    JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string }
  ).sub
  for (const peer of list) {
    const result = (await peer.run()) as { sub?: unknown; payload?: { sub?: unknown } }
    if ((result.payload?.sub ?? result.sub) !== sub) {
      throw new Error(`${alg}: "${peer.name}" did not return the token's claims`)
    }
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as InProcessOptions
  const algs = options.algs ?? ALGS
  const prepared = []
  for (const alg of algs) {
    const keys = await makeKeys(alg)
    const count = options.pools?.[alg] ?? DEFAULT_POOLS[alg]
    // a pool the verifier's cache could hold would turn the cold runs into warm ones
    if (count <= SDK_CACHE_SIZE) {
      throw new RangeError(
        `the ${alg} pool (${count}) must be larger than ${SDK_CACHE_SIZE} tokens`,
      )
    }
    process.stderr.write(`  signing ${count.toLocaleString('en-US')} ${alg} tokens …\n`)
    const pool = await mintInWorkers({ alg, kid: keys.kid, key: keys.signKey, count })
    prepared.push({ alg, keys, pool })
  }
  if (options.core !== undefined) {
    // -a: every thread of the process, libuv's pool and V8's helpers included
    execFileSync('taskset', ['-a', '-p', '-c', String(options.core), String(process.pid)], {
      stdio: 'ignore',
    })
  }

  const groups: VerifyGroup[] = []
  for (const { alg, keys, pool } of prepared) {
    for (const mode of ['cold', 'warm'] as const) {
      process.stderr.write(`  ${alg} verify, ${mode} …\n`)
      const verifier = openVerifier(keys)
      await verifier.ready()
      const token = pool[0]!
      await check(
        peers(alg, keys, verifier, () => () => token),
        token,
        alg,
      )
      const source =
        mode === 'warm'
          ? () => () => token
          : () => {
              // each peer goes round the pool on its own, so no cache sees a token twice in a pass
              let i = 1
              return () => pool[i++ % pool.length]!
            }
      const list = peers(alg, keys, verifier, source)
      groups.push({ alg, mode, pool: pool.length, results: await compare(list, options) })
      await verifier.close()
    }
  }
  const results: InProcessResults = { groups }
  process.stdout.write(`${JSON.stringify(results)}\n`)
}

await main()
