import { RequestMalformed, TokenMissing } from './errors.ts'

/**
 * Request headers as the frameworks hand them over: a Fetch `Headers` (Hono, Workers, Deno),
 * Node's `IncomingHttpHeaders` (node:http, Express, Fastify), whose names are lower-case, or
 * Node's `rawHeaders` (names and values alternating, as received).
 *
 * `rawHeaders` is what the Node adapters pass: `req.headers` silently keeps only the first of
 * several `Authorization` headers, where the raw list lets a duplicate be refused (RFC 6750
 * §3.1). (It is not faster in a measurable way: node:http builds `req.headers` during the request
 * anyway; see BENCHMARKS.md, "HTTP, repeat token".)
 *
 * @example
 * ```ts
 * await verifier.verifyRequest(req.rawHeaders)       // node:http, Express, Fastify (request.raw)
 * await verifier.verifyRequest(req.headers)          // the same, through Node's header object
 * await verifier.verifyRequest(c.req.raw.headers)    // Hono
 * ```
 */
export type RequestHeaders =
  Headers | Readonly<Record<string, string | string[] | undefined>> | readonly string[]

/**
 * The header a cookie-mode request must carry (the booth's own rule, `@tokenbooth/client` sends
 * it on every cookie-mode request). A cross-site form cannot set a custom header, and a
 * cross-site `fetch` that sets one needs a CORS preflight the service does not grant: a cookie
 * that arrives without it may have been sent by another site (OWASP CSRF cheat sheet, custom
 * request headers), so it is not taken as a credential.
 *
 * @example
 * ```ts
 * fetch('/api/cart', { method: 'POST', credentials: 'include', headers: { [CSRF_HEADER]: '1' } })
 * ```
 */
export const CSRF_HEADER = 'x-tokenbooth-csrf'

/**
 * Takes the access token from `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is
 * case-insensitive, RFC 9110 §11.1) or, when `cookieName` is given and there is no Bearer
 * header, from that cookie, which counts only with the {@link CSRF_HEADER} header beside it.
 * Throws `TokenMissing` when there is neither (an `Authorization` header with another scheme
 * counts as none), and `RequestMalformed` (RFC 6750 §3.1 `invalid_request`) for `Bearer` with no
 * token, more than one `Authorization` header, or the cookie without the CSRF header.
 *
 * It does NOT look at the query string or a form body (RFC 6750 §2.2, §2.3: both leak tokens into
 * logs), nor validate the token beyond taking it out: the verifier does that.
 */
export function extractToken(headers: RequestHeaders, cookieName: string | undefined): string {
  const authorization = header(headers, 'authorization')
  if (authorization !== undefined) {
    const token = bearerToken(authorization)
    if (token !== undefined) return token
    // "Basic …, Bearer …": two Authorization headers that a Fetch Headers object joined (Hono), or
    // one header carrying both; either way ambiguous, as the raw header list shows it to Node
    if (JOINED_BEARER.test(authorization)) {
      throw new RequestMalformed('more than one Authorization header')
    }
  }
  if (cookieName !== undefined) {
    const cookie = header(headers, 'cookie')
    if (cookie !== undefined) {
      const token = cookieValue(cookie, cookieName)
      if (token !== undefined && token !== '') {
        if (header(headers, CSRF_HEADER) === undefined) {
          throw new RequestMalformed(`a cookie credential needs the ${CSRF_HEADER} header`)
        }
        return token
      }
    }
  }
  throw new TokenMissing('no access token in the request')
}

function header(headers: RequestHeaders, name: string): string | undefined {
  if (Array.isArray(headers)) return rawHeader(headers as readonly string[], name)
  // duck-typed rather than `instanceof`, so that a Headers of another realm or polyfill works too
  // (a header literally named "get" is a string, never a function)
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined
  }
  const record = headers as Readonly<Record<string, string | string[] | undefined>>
  let value = record[name]
  if (value === undefined) {
    // a hand-built record may not be lower-cased as Node's is; only paid when the header is absent
    for (const key in record) {
      if (key.length === name.length && key.toLowerCase() === name) {
        value = record[key]
        break
      }
    }
  }
  if (typeof value === 'string' || value === undefined) return value
  if (value.length === 1) return value[0]
  if (value.length === 0) return undefined
  // Node joins repeated Cookie headers itself; several Authorization headers are ambiguous
  if (name === 'cookie') return value.join('; ')
  throw new RequestMalformed(`more than one ${name} header`)
}

// Node's rawHeaders: [name, value, name, value, …], names as sent. Repeats as for the record form:
// Cookie headers joined, anything else repeated is ambiguous
function rawHeader(raw: readonly string[], name: string): string | undefined {
  let value: string | undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!sameName(raw[i]!, name)) continue
    if (value === undefined) value = raw[i + 1]!
    else if (name === 'cookie') value = `${value}; ${raw[i + 1]!}`
    else throw new RequestMalformed(`more than one ${name} header`)
  }
  return value
}

// ASCII case-insensitive, without allocating: `lower` is lower-case letters and '-', and OR-ing
// 0x20 maps 'A'–'Z' onto 'a'–'z' and leaves '-' as it is
function sameName(candidate: string, lower: string): boolean {
  if (candidate.length !== lower.length) return false
  for (let i = 0; i < lower.length; i++) {
    if ((candidate.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

// "Bearer" compared case-insensitively without allocating: OR-ing 0x20 lower-cases ASCII letters
const BEARER = 'bearer'
// A Bearer credential after a comma, in a header whose first credential is another scheme; an
// auth-param named "bearer" would be followed by "=", not by a space
const JOINED_BEARER = /,[ \t]*bearer(?:[ \t]|$)/i

/** The token of a Bearer credential, or undefined if the scheme is not Bearer. */
function bearerToken(value: string): string | undefined {
  if (value.length < 6) return undefined
  for (let i = 0; i < 6; i++) {
    if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return undefined
  }
  if (value.length === 6) throw new RequestMalformed('"Bearer" without a token')
  if (value.charCodeAt(6) !== 32) return undefined // "Bearerx…" is another scheme
  let start = 7
  while (value.charCodeAt(start) === 32) start++
  let end = value.length
  while (end > start && value.charCodeAt(end - 1) === 32) end--
  if (start === end) throw new RequestMalformed('"Bearer" without a token')
  // no b64token (RFC 6750 §2.1) has a comma: this is two Authorization headers that a Fetch
  // Headers object joined with ", " (or one malformed header), either way ambiguous
  const comma = value.indexOf(',', start)
  if (comma !== -1 && comma < end) throw new RequestMalformed('more than one Authorization header')
  return value.slice(start, end)
}

/** The value of cookie `name` in a Cookie header (RFC 6265 §4.2.1), unquoted, not decoded. */
function cookieValue(header: string, name: string): string | undefined {
  let start = 0
  while (start < header.length) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    while (header.charCodeAt(start) === 32 || header.charCodeAt(start) === 9) start++
    const eq = header.indexOf('=', start)
    if (eq !== -1 && eq < end && header.slice(start, eq).trimEnd() === name) {
      let value = header.slice(eq + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
        value = value.slice(1, -1)
      return value
    }
    start = end + 1
  }
  return undefined
}
