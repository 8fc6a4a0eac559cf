/**
 * The booth's configuration: read from the environment once, validated, frozen, and passed down.
 * Nothing else in the server reads `process.env`.
 *
 * This file doubles as the configuration reference: every variable, its default and the reason
 * for the default are written here once (docs/configuration.md is the same table in prose).
 */
import { isIP } from 'node:net'
import { isAbsolute, resolve } from 'node:path'

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256' | 'HS256'
const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'EdDSA', 'RS256', 'HS256']

export interface Config {
  readonly port: number
  readonly host: string
  readonly issuer: string
  /** `aud` of every access token; resource servers check it. */
  readonly audience: string
  readonly dataDir: string
  /** `undefined` means the embedded SQLite store in `dataDir`. */
  readonly databaseUrl: string | undefined
  /** Key-encryption secrets: the first one encrypts, all of them decrypt. Empty = generate. */
  readonly secrets: readonly string[]
  readonly signingAlg: SigningAlg
  /** Only for HS256: the shared MAC key (≥ 32 bytes). */
  readonly hmacSecret: Uint8Array | undefined
  /** Seconds. */
  readonly accessTokenTtl: number
  /** Seconds a refresh token stays usable without being used (idle lifetime). */
  readonly refreshTokenTtl: number
  /** Seconds a session lives at most, however often it is refreshed (absolute lifetime). */
  readonly sessionMaxAge: number
  /** Seconds during which the previous refresh token of a chain may be presented again. */
  readonly refreshGrace: number
  /** Seconds between automatic signing-key rotations. */
  readonly keyRotation: number
  /** Seconds a JWKS response may be cached (`Cache-Control: max-age`). */
  readonly jwksMaxAge: number
  /** Milliseconds between heartbeats on the revocation feed. */
  readonly feedHeartbeatMs: number
  /** Milliseconds within which a whole request (headers and body) must arrive. */
  readonly requestTimeoutMs: number
  readonly corsOrigins: readonly string[]
  /** Domain attribute of the cookie-mode cookies; unset = host-only (the safest). */
  readonly cookieDomain: string | undefined
  /** `false`, or the proxy addresses whose X-Forwarded-For is believed. */
  readonly trustProxy: boolean | readonly string[]
  /** Every scope the booth knows (`scopes_supported`). */
  readonly scopes: readonly string[]
  /** Scopes a password login gets when it asks for none. */
  readonly defaultScope: readonly string[]
  /** SQLite `synchronous`: FULL (default) never loses an acknowledged write. */
  readonly sqliteSynchronous: 'FULL' | 'NORMAL'
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

type Env = Readonly<Record<string, string | undefined>>

function fail(name: string, rule: string, value: string): never {
  throw new TypeError(`${name} must be ${rule}, got ${JSON.stringify(value)}`)
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) fail(name, `an integer from ${min} to ${max}`, raw)
  const value = Number(raw)
  if (value < min || value > max) fail(name, `an integer from ${min} to ${max}`, raw)
  return value
}

function list(raw: string | undefined): string[] {
  return (raw ?? '').split(/[\s,]+/).filter(Boolean)
}

function origin(name: string, raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail(name, 'a list of origins such as https://app.example.com', raw)
  }
  if (raw === '*' || url.origin !== raw.replace(/\/$/, '')) {
    fail(name, 'a list of origins (scheme://host[:port], no path, never *)', raw)
  }
  return url.origin
}

const DAY = 86_400

/**
 * The shortest key-encryption secret accepted, from TOKENBOOTH_SECRET or the data directory's
 * secret file: 32 characters of a random secret carry well over 128 bits; shorter ones are
 * guessable.
 */
export const MIN_SECRET_LENGTH = 32

// proxy-addr's names for address ranges (Fastify's trustProxy hands the list to it).
const PROXY_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal']

/** One TOKENBOOTH_TRUST_PROXY entry: an IPv4 or IPv6 address, a CIDR, or a keyword. */
function trustedProxy(raw: string): string {
  if (PROXY_KEYWORDS.includes(raw)) return raw
  const [address = '', prefix, extra] = raw.split('/')
  const version = isIP(address)
  const bits = version === 4 ? 32 : 128
  // No zone ids (fe80::1%eth0), no netmask form, and no /0 (proxy-addr refuses it; `true` says
  // "everyone" openly): one spelling for each range.
  const prefixOk =
    prefix === undefined || (/^\d{1,3}$/.test(prefix) && +prefix >= 1 && +prefix <= bits)
  if (version === 0 || address.includes('%') || !prefixOk || extra !== undefined) {
    fail(
      'TOKENBOOTH_TRUST_PROXY',
      'true, false, or a list of IP addresses and CIDRs (10.0.0.0/8, ::1) or loopback, linklocal, uniquelocal',
      raw,
    )
  }
  return raw
}

/** Reads and validates the environment. Throws a `TypeError` naming the variable and the value. */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  // Loopback by default: exposing the booth is a decision the operator makes explicitly.
  const host = env.TOKENBOOTH_HOST || '127.0.0.1'
  // Not 0: a port picked by the system would be unknown to the issuer URL built from it, and to
  // every verifier that discovers the booth there.
  const port = integer(env, 'TOKENBOOTH_PORT', 4000, 1, 65535)

  const issuerRaw =
    env.TOKENBOOTH_ISSUER || `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  let issuerUrl: URL
  try {
    issuerUrl = new URL(issuerRaw)
  } catch {
    return fail('TOKENBOOTH_ISSUER', 'an absolute http(s) URL', issuerRaw)
  }
  // RFC 8414 §2: the issuer is an https URL with no query or fragment (http allowed for dev).
  if (!/^https?:$/.test(issuerUrl.protocol) || issuerUrl.search || issuerUrl.hash) {
    fail('TOKENBOOTH_ISSUER', 'an http(s) URL with no query or fragment', issuerRaw)
  }
  const issuer = issuerRaw.replace(/\/+$/, '')

  const dataDirRaw = env.TOKENBOOTH_DATA_DIR || './data'
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw)

  const databaseUrl = env.TOKENBOOTH_DATABASE_URL || undefined
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    fail('TOKENBOOTH_DATABASE_URL', 'unset (SQLite) or a postgres:// URL', databaseUrl)
  }

  const secrets = list(env.TOKENBOOTH_SECRET)
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH)
      fail(
        'TOKENBOOTH_SECRET',
        `one or more values of at least ${MIN_SECRET_LENGTH} characters`,
        '***',
      )
  }
  if (databaseUrl !== undefined && secrets.length === 0) {
    // Several instances must share the key-encryption secret; a generated file cannot be shared.
    fail('TOKENBOOTH_SECRET', 'set when TOKENBOOTH_DATABASE_URL is set', '')
  }

  // ES256: verifies faster than EdDSA with node:crypto and every JWT library accepts it.
  const signingAlg = (env.TOKENBOOTH_SIGNING_ALG || 'ES256') as SigningAlg
  if (!SIGNING_ALGS.includes(signingAlg)) {
    fail('TOKENBOOTH_SIGNING_ALG', `one of ${SIGNING_ALGS.join(', ')}`, signingAlg)
  }
  let hmacSecret: Uint8Array | undefined
  if (signingAlg === 'HS256') {
    const raw = env.TOKENBOOTH_HMAC_SECRET ?? ''
    hmacSecret = Buffer.from(raw, 'base64url')
    // RFC 7518 §3.2: the key must be at least as long as the hash output (256 bits).
    if (hmacSecret.length < 32) {
      fail(
        'TOKENBOOTH_HMAC_SECRET',
        'a base64url secret of at least 32 bytes when TOKENBOOTH_SIGNING_ALG=HS256',
        '***',
      )
    }
  }

  // 15 minutes: short enough that a stolen token is worth little, long enough to refresh rarely.
  const accessTokenTtl = integer(env, 'TOKENBOOTH_ACCESS_TOKEN_TTL', 15 * 60, 10, DAY)
  // 14 days idle, as in the articles' example: a user who comes back within two weeks stays in.
  const refreshTokenTtl = integer(env, 'TOKENBOOTH_REFRESH_TOKEN_TTL', 14 * DAY, 60, 365 * DAY)
  // 30 days absolute: even an always-active stolen refresh chain ends.
  const sessionMaxAge = integer(env, 'TOKENBOOTH_SESSION_MAX_AGE', 30 * DAY, 60, 365 * DAY)
  // 5 seconds: covers a lost response or two tabs refreshing at once, too short to exploit.
  const refreshGrace = integer(env, 'TOKENBOOTH_REFRESH_GRACE', 5, 0, 300)
  // 30 days between signing keys (NIST SP 800-57 cryptoperiods are far longer; this is cheap).
  const keyRotation = integer(env, 'TOKENBOOTH_KEY_ROTATION', 30 * DAY, 3600, 365 * DAY)
  // 10 minutes: verifiers see a new key well before the lead time (1 day) ends.
  const jwksMaxAge = integer(env, 'TOKENBOOTH_JWKS_MAX_AGE', 600, 0, DAY)

  // 5 seconds, and at most 5: verifiers call a feed stale after 15 s of silence by default
  // (@tokenbooth/verify's staleAfterMs, three heartbeats). A slower heartbeat would make every
  // default verifier see a quiet but healthy feed as dead, and refuse tokens under fail-closed.
  const feedHeartbeat = integer(env, 'TOKENBOOTH_FEED_HEARTBEAT', 5, 1, 5)
  // Every request is a small form or JSON object: 30 s is ample on any network, and bounds how
  // long a client that stalls mid-request holds its connection (and a stop)
  const requestTimeout = integer(env, 'TOKENBOOTH_REQUEST_TIMEOUT', 30, 1, 300)

  const corsOrigins = list(env.TOKENBOOTH_CORS_ORIGINS).map((o) =>
    origin('TOKENBOOTH_CORS_ORIGINS', o),
  )

  const proxyRaw = (env.TOKENBOOTH_TRUST_PROXY ?? '').trim()
  let trustProxy: boolean | readonly string[] = false
  if (proxyRaw === 'true') trustProxy = true
  else if (proxyRaw !== '' && proxyRaw !== 'false')
    trustProxy = Object.freeze(list(proxyRaw).map(trustedProxy))

  const scopes = list(env.TOKENBOOTH_SCOPES || 'profile')
  for (const scope of scopes) {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope))
      fail('TOKENBOOTH_SCOPES', 'RFC 6749 scope tokens', scope)
  }
  const defaultScope =
    env.TOKENBOOTH_DEFAULT_SCOPE === undefined ? scopes : list(env.TOKENBOOTH_DEFAULT_SCOPE)
  for (const scope of defaultScope) {
    if (!scopes.includes(scope))
      fail('TOKENBOOTH_DEFAULT_SCOPE', 'a subset of TOKENBOOTH_SCOPES', scope)
  }

  const sync = (env.TOKENBOOTH_SQLITE_SYNCHRONOUS || 'FULL').toUpperCase()
  if (sync !== 'FULL' && sync !== 'NORMAL')
    fail('TOKENBOOTH_SQLITE_SYNCHRONOUS', 'FULL or NORMAL', sync)

  const cookieDomain = env.TOKENBOOTH_COOKIE_DOMAIN || undefined
  if (cookieDomain !== undefined && !/^\.?[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(cookieDomain)) {
    fail('TOKENBOOTH_COOKIE_DOMAIN', 'a domain name such as example.com', cookieDomain)
  }

  const logLevel = (env.TOKENBOOTH_LOG_LEVEL || 'info') as Config['logLevel']
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    fail('TOKENBOOTH_LOG_LEVEL', 'fatal, error, warn, info, debug, trace or silent', logLevel)
  }

  return Object.freeze({
    port,
    host,
    issuer,
    audience: env.TOKENBOOTH_AUDIENCE || issuer,
    dataDir,
    databaseUrl,
    secrets: Object.freeze(secrets),
    signingAlg,
    hmacSecret,
    accessTokenTtl,
    refreshTokenTtl,
    sessionMaxAge,
    refreshGrace,
    keyRotation,
    jwksMaxAge,
    feedHeartbeatMs: feedHeartbeat * 1000,
    requestTimeoutMs: requestTimeout * 1000,
    corsOrigins: Object.freeze(corsOrigins),
    cookieDomain,
    trustProxy,
    scopes: Object.freeze(scopes),
    defaultScope: Object.freeze(defaultScope),
    sqliteSynchronous: sync,
    logLevel,
  })
}

/** Risky but allowed choices, logged as warnings at startup. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = []
  if (config.signingAlg === 'HS256') {
    warnings.push('HS256 is configured: every verifier holds the secret that can also mint tokens')
  }
  if (config.accessTokenTtl > 3600) {
    warnings.push(`access tokens live ${config.accessTokenTtl}s: a stolen one is usable that long`)
  }
  if (config.sqliteSynchronous === 'NORMAL' && config.databaseUrl === undefined) {
    warnings.push('SQLite synchronous=NORMAL: a power failure can undo acknowledged rotations')
  }
  if (config.trustProxy === true) {
    warnings.push('TOKENBOOTH_TRUST_PROXY=true trusts X-Forwarded-For from any peer')
  }
  if (
    !config.issuer.startsWith('https:') &&
    !/^http:\/\/(127\.|localhost|\[::1\])/.test(config.issuer)
  ) {
    warnings.push('the issuer is not https: tokens and passwords cross the network in clear')
  }
  return warnings
}
