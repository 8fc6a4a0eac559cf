/**
 * The two documents a verifier fetches from the booth: the authorization server metadata
 * (RFC 8414) and the JWKS it names (RFC 7517), each with a timeout and a size limit. Failures are
 * plain `Error`s for the operator's log; the key store decides what they mean.
 */
import { Buffer } from 'node:buffer'

/**
 * The `fetch` a verifier uses; an option so that tests and other runtimes can supply theirs. It
 * must support `AbortSignal` and streaming response bodies (the revocation feed reads one).
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ issuer, audience, fetch: (url, init) => fetch(url, { ...init, dispatcher }) })
 * ```
 */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

// Generous for one small JSON document on a healthy network, short enough to retry soon
const REQUEST_TIMEOUT_MS = 5_000
// A JWKS with a few RSA keys is ~2 KiB; 256 KiB bounds what a broken or hostile peer can make us hold
const MAX_DOCUMENT_BYTES = 256 * 1024

/** A JSON document and its freshness lifetime from `Cache-Control` (ms; undefined if none). */
export interface FetchedDocument {
  body: unknown
  maxAgeMs: number | undefined
}

/** GETs `url` and parses JSON; throws `Error` on a non-200 status, a huge body or bad JSON. */
export async function fetchJson(fetchFn: FetchLike, url: string): Promise<FetchedDocument> {
  const res = await fetchFn(url, {
    headers: { accept: 'application/json, application/jwk-set+json' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  })
  if (res.status !== 200) {
    await res.body?.cancel()
    throw new Error(`GET ${url} answered ${res.status}`)
  }
  const declared = Number(res.headers.get('content-length') ?? 0)
  if (declared > MAX_DOCUMENT_BYTES) {
    await res.body?.cancel()
    throw new Error(`GET ${url} is larger than ${MAX_DOCUMENT_BYTES} bytes`)
  }
  const text = await readLimited(res, url)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (cause) {
    throw new Error(`GET ${url} is not JSON`, { cause })
  }
  return { body, maxAgeMs: freshness(res.headers) }
}

// The body as UTF-8 text, read chunk by chunk and given up (the connection cancelled) as soon as
// it passes MAX_DOCUMENT_BYTES: a body without Content-Length (chunked) is not buffered whole first
async function readLimited(res: Response, url: string): Promise<string> {
  if (res.body === null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > MAX_DOCUMENT_BYTES) {
        await reader.cancel().catch(() => {})
        throw new Error(`GET ${url} is larger than ${MAX_DOCUMENT_BYTES} bytes`)
      }
      chunks.push(value)
    }
  } finally {
    reader.releaseLock()
  }
  // decoded as Response.text() does: UTF-8, a BOM dropped
  return new TextDecoder().decode(Buffer.concat(chunks, size))
}

/**
 * The freshness lifetime a response allows (RFC 9111 §4.2.1): `max-age` minus `Age`, or 0 for
 * `no-cache`/`no-store`; undefined when the response says nothing. `s-maxage` is for shared caches
 * and ignored.
 */
export function freshness(headers: Headers): number | undefined {
  const cacheControl = headers.get('cache-control')
  if (cacheControl === null) return undefined
  let maxAge: number | undefined
  for (const directive of cacheControl.toLowerCase().split(',')) {
    const [name = '', value] = directive.trim().split('=')
    if (name === 'no-cache' || name === 'no-store') return 0
    if (name === 'max-age' && value !== undefined && /^"?\d+"?$/.test(value)) {
      maxAge = Number(value.replaceAll('"', ''))
    }
  }
  if (maxAge === undefined) return undefined
  const age = Number(headers.get('age') ?? 0)
  return Math.max(0, maxAge - (Number.isFinite(age) && age > 0 ? age : 0)) * 1000
}

/**
 * Fetches `${issuer}/.well-known/oauth-authorization-server` and returns its `jwks_uri`.
 *
 * The metadata's `issuer` must equal ours exactly (RFC 8414 §3.3), or the document is someone
 * else's; then it throws {@link IssuerMismatch}. `jwks_uri` must be an absolute http(s) URL, and
 * https when the issuer is. The path is the booth's (`${issuer}/.well-known/…`, as OpenID Connect
 * Discovery places it), which equals RFC 8414 §3's for an issuer without a path.
 *
 * It does NOT cache the document: the key store calls it once, and again only after failures.
 */
export async function discoverJwksUri(fetchFn: FetchLike, issuer: string): Promise<string> {
  const url = `${issuer.endsWith('/') ? issuer.slice(0, -1) : issuer}/.well-known/oauth-authorization-server`
  const { body } = await fetchJson(fetchFn, url)
  if (typeof body !== 'object' || body === null) throw new Error(`${url} is not a JSON object`)
  const metadata = body as Record<string, unknown>
  if (metadata.issuer !== issuer) {
    throw new IssuerMismatch(
      `${url} names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}`,
    )
  }
  const jwksUri = metadata.jwks_uri
  let parsed: URL | undefined
  try {
    parsed = typeof jwksUri === 'string' ? new URL(jwksUri) : undefined
  } catch {
    parsed = undefined
  }
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new Error(`${url} has no usable "jwks_uri"`)
  }
  if (issuer.startsWith('https:') && parsed.protocol !== 'https:') {
    throw new Error(`${url} names an http "jwks_uri" for an https issuer`)
  }
  return parsed.href
}

/** Discovery found a document for another issuer: a configuration error, not a network one. */
export class IssuerMismatch extends Error {
  override readonly name = 'IssuerMismatch'
}
