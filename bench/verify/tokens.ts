/**
 * Distinct access tokens in bulk, for the cold cases (each token seen once): the booth's header
 * (`alg`, `kid`, `typ: at+jwt`) and RFC 9068 claims, with a fresh `sub`, `sid` and `jti` per
 * token, signed with node:crypto alone (the bench's `rawSign`). Bulk signing can be split over
 * worker threads (`mintInWorkers`): 200,000 ES256 tokens or 12,500 RSA-3072 ones take seconds
 * per core.
 */
import { randomUUID, type KeyObject } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { ISSUER, rawSign, type Alg } from '../crypto/peers.ts'

export interface MintOptions {
  alg: Alg
  kid: string
  /** The private key (or the HMAC secret key) to sign with. */
  key: KeyObject
  count: number
  issuer?: string
  audience?: string
  /** Lifetime in seconds; the booth's default is 15 minutes. */
  ttlSeconds?: number
}

/** Signs `count` distinct tokens in this thread. */
export function mintTokens(options: MintOptions): string[] {
  const { alg, kid, key, count, issuer = ISSUER, audience = issuer } = options
  const header = Buffer.from(JSON.stringify({ alg, kid, typ: 'at+jwt' })).toString('base64url')
  const iat = Math.floor(Date.now() / 1000)
  const exp = iat + (options.ttlSeconds ?? 15 * 60)
  const tokens = new Array<string>(count)
  for (let i = 0; i < count; i++) {
    const claims = {
      iss: issuer,
      sub: randomUUID(),
      aud: audience,
      exp,
      iat,
      jti: randomUUID(),
      client_id: 'tokenbooth',
      scope: 'profile',
      sid: randomUUID(),
    }
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    const signature = rawSign(alg, key, Buffer.from(input, 'latin1')).toString('base64url')
    // one flat string, as a token read from a request header would be (not a cons string)
    tokens[i] = Buffer.from(`${input}.${signature}`, 'latin1').toString('latin1')
  }
  return tokens
}

const WORKER = new URL('./sign-worker.ts', import.meta.url)

/** Signs `count` distinct tokens over up to `threads` worker threads (default: every core). */
export async function mintInWorkers(
  options: MintOptions,
  threads = availableParallelism(),
): Promise<string[]> {
  const share = Math.ceil(options.count / threads)
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, i) => {
      const count = Math.min(share, options.count - i * share)
      if (count <= 0) return Promise.resolve([] as string[])
      return new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(WORKER)
        worker.once('message', (joined: string) => {
          resolve(joined === '' ? [] : joined.split('\n'))
          void worker.terminate()
        })
        worker.once('error', reject)
        // KeyObjects are cloneable into a worker (the key stays in native memory)
        worker.postMessage({ ...options, count })
      })
    }),
  )
  return parts.flat()
}
