/**
 * createTokenServer: the booth as a Fastify instance plus the context it runs on. `cli.ts` hosts
 * it; tests drive it over real HTTP or with `app.inject`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import { pino, type Logger } from 'pino'
import { CSRF_HEADER } from '@tokenbooth/verify'
import { configWarnings, type Config } from './config.ts'
import type { BoothContext } from './domain/context.ts'
import { createEvents } from './domain/events.ts'
import { createKeyManager } from './domain/keys.ts'
import { createKeyring } from './domain/keyring.ts'
import { createMetrics } from './domain/metrics.ts'
import { dummyHash } from './domain/passwords.ts'
import { createRevocationFeed } from './domain/revocation-feed.ts'
import { createHorizonLease } from './domain/revocation-horizon.ts'
import { loadOrCreateSecret } from './domain/secret-file.ts'
import { createThrottle } from './domain/throttle.ts'
import {
  ExpectationFailed,
  HttpError,
  InvalidRequest,
  MethodNotAllowed,
  NotFound,
  PayloadTooLarge,
  ServerError,
  UnsupportedMediaType,
} from './errors.ts'
import { accountRoutes } from './http/account.ts'
import { healthRoutes } from './http/health.ts'
import { pageRoutes } from './http/pages.ts'
import { parseForm, rejectRepeatedKeys } from './http/params.ts'
import { revocationFeedRoutes } from './http/revocation-feed.ts'
import { revocationRoutes } from './http/revocation.ts'
import { tokenRoutes } from './http/token.ts'
import { wellKnownRoutes } from './http/well-known.ts'
import { openStore } from './store/open-store.ts'
import { StoreInputRejected, type Store } from './store/store.ts'

export interface TokenServerOptions {
  config: Config
  /** Defaults to the store the configuration names. */
  store?: Store
  clock?: () => number
  logger?: Logger
}

export interface TokenServer {
  readonly app: FastifyInstance
  readonly ctx: BoothContext
  /** Listens on the configured host and port; resolves to the address. */
  listen(): Promise<string>
  /** Stops accepting, lets requests in flight finish, closes the store. */
  close(): Promise<void>
}

const REVOKING = new Set([
  'session.revoked',
  'user.sessions_revoked',
  'access_token.revoked',
  'refresh_token.reused',
])

// Every body here is a small form or JSON object; 64 kB leaves room and bounds the parsing work.
const BODY_LIMIT = 64 * 1024

// Node's default is 16 KiB, which answers an oversized bearer token with a 431 before the
// verifier sees it. 128 KiB lets a 100 kB token through to the verifier's own size check (8 kB,
// ERR_TOKEN_TOO_LARGE → 401 invalid_token, as issue 2's attack suite asks); anything larger
// still gets the 431 below. The price is at most 128 KiB buffered per connection while headers
// arrive, the same order as the body limit.
const MAX_HEADER_SIZE = 128 * 1024

// A stop waits this long for requests in flight, then closes their connections
const CLOSE_GRACE_MS = 10_000

function toHttpError(error: FastifyError | HttpError): HttpError {
  if (error instanceof HttpError) return error
  // Defence in depth: input validation keeps these from the store, but if a value slips
  // through that PostgreSQL refuses to read (a NUL byte, 22021; text it cannot cast, 22P02),
  // the fault is the request's, not the booth's.
  if (error instanceof StoreInputRejected) {
    return new InvalidRequest({ description: 'a parameter holds a value the booth cannot accept' })
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidRequest({ description: 'the body is not valid JSON' })
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge({ description: 'the body is too large' })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType({
        description: 'send application/x-www-form-urlencoded or application/json',
      })
  }
  const status = error.statusCode ?? 500
  if (status === 405) return new MethodNotAllowed({ description: 'method not allowed' })
  if (status >= 400 && status < 500) {
    return new InvalidRequest({ description: 'malformed request', detail: error.message })
  }
  return new ServerError({ description: 'internal error', cause: error })
}

// On every answer (onSend, the error paths, and the raw socket answers below HTTP)
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const
const SECURITY_HEADER_LINES = Object.entries(SECURITY_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('')

function securityHeaders(reply: FastifyReply): void {
  reply
    .header('x-content-type-options', SECURITY_HEADERS['x-content-type-options'])
    .header('referrer-policy', SECURITY_HEADERS['referrer-policy'])
  // pages set their own policy
  if (!reply.hasHeader('content-security-policy')) {
    reply.header('content-security-policy', SECURITY_HEADERS['content-security-policy'])
  }
}

// A route's path (find-my-way syntax: `:param` segments, a trailing `*`) as a whole-path RegExp;
// a trailing slash is ignored, as the router ignores it
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) =>
      segment.startsWith(':')
        ? '[^/]+'
        : segment === '*'
          ? '.*'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  return new RegExp(`^${source}/?$`)
}

export async function createTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const { config } = options
  const clock = options.clock ?? Date.now
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: 'tokenbooth' } })

  // The secret file is read (and checked) before the store opens: a bad one stops the start
  // before anything is created.
  let secrets = config.secrets
  if (secrets.length === 0) {
    const { secret, created } = loadOrCreateSecret(config.dataDir)
    if (created)
      log.info(
        { dataDir: config.dataDir },
        'generated a key-encryption secret in the data directory',
      )
    secrets = [secret]
  }
  const store = options.store ?? (await openStore(config))
  const metrics = createMetrics()
  const feed = createRevocationFeed({ store, clock })
  const logged = createEvents(log, metrics)
  // Every revoking action pokes the feed, so subscribers hear of it without waiting for a poll.
  const events: typeof logged = {
    emit(name, fields) {
      logged.emit(name, fields)
      if (REVOKING.has(name)) feed.poke()
    },
  }

  const keys = await createKeyManager({
    store,
    keyring: createKeyring(secrets),
    config,
    clock,
    log,
    onRotate: (key) =>
      events.emit('signing_key.created', {
        kid: key.kid,
        alg: key.alg,
        activates_at: new Date(key.activatesAt).toISOString(),
      }),
  })
  for (const warning of configWarnings(config)) log.warn(warning)
  // Hash the dummy password now, so the first unknown-user login costs what any other does.
  await dummyHash()

  const ctx: BoothContext = {
    config,
    store,
    keys,
    events,
    throttle: createThrottle(),
    clock,
    horizon: createHorizonLease(store, config.accessTokenTtl),
  }
  // Connections whose current request was answered before its body had all arrived (onResponse)
  const answeredEarly = new WeakSet<object>()
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Per-request log lines would cost more than a refresh; /metrics counts requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    http: {
      maxHeaderSize: MAX_HEADER_SIZE,
      connectionsCheckingInterval: Math.min(30_000, config.requestTimeoutMs / 4),
      // Node requires headersTimeout ≤ requestTimeout; its default is 60 s
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
    },
    trustProxy: config.trustProxy as boolean | string[],
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // The whole request (headers and body) must arrive within TOKENBOOTH_REQUEST_TIMEOUT:
    // Fastify's default (0) turns Node's off, so a client that sent headers and then no body, or
    // a byte every 20 s, held its socket (and a stop) for ever. Node checks its timeouts every
    // connectionsCheckingInterval (30 s by default): a quarter of the timeout keeps them close.
    requestTimeout: config.requestTimeoutMs,
    // Errors below HTTP (an oversized header, a malformed request line, a request that did not
    // arrive in time) get the JSON shape too.
    clientErrorHandler(error, socket) {
      if (!socket.writable) return
      // This request was answered before its body had arrived (a 413 or 415, which need no
      // body), and then the body never came: a second answer would be taken for the next
      // request's, so the connection just goes
      if (answeredEarly.has(socket)) {
        socket.destroy()
        return
      }
      const code = (error as { code?: string }).code
      const [status, reason, description] =
        code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'request headers too large']
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'the request did not arrive in time']
            : [400, 'Bad Request', 'malformed HTTP request']
      const body = JSON.stringify({ error: 'invalid_request', error_description: description })
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
          `${SECURITY_HEADER_LINES}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      )
    },
    // Errors Fastify raises before routing (a malformed percent-encoding in the path): the same
    // JSON shape and headers as every other error, not Fastify's own body
    frameworkErrors(error, request, reply) {
      return sendError(error as FastifyError, request, reply)
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  })

  app.removeContentTypeParser('text/plain')
  // Fastify's own JSON parsing (with its prototype-poisoning checks), then a repeated member
  // name is refused as a repeated form field is (RFC 6749 §3.1).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (error, value) => {
      if (error) return done(error, undefined)
      try {
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          rejectRepeatedKeys(body as string)
        }
        done(null, value)
      } catch (repeated) {
        done(repeated as Error, undefined)
      }
    })
  })
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      try {
        done(null, parseForm(body as string))
      } catch (error) {
        done(error as Error, undefined)
      }
    },
  )

  const requests = metrics.counter(
    'tokenbooth_http_requests_total',
    'HTTP requests by route and status',
  )
  // Requests in flight, so that a stop can close every connection once none is left: waiting for
  // idle keep-alive sockets (or one a client opened and never used) could take a minute.
  // A set, not a counter: an aborted request may also see onResponse.
  const inFlight = new Set<FastifyRequest>()
  const settle = (request: FastifyRequest) => {
    inFlight.delete(request)
    if (closing && inFlight.size === 0) app.server.closeAllConnections()
  }
  app.addHook('onRequest', async (request) => {
    inFlight.add(request)
  })
  app.addHook('onRequestAbort', async (request) => settle(request))
  app.addHook('onResponse', async (request, reply) => {
    if (!request.raw.complete) answeredEarly.add(request.raw.socket)
    requests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    })
    settle(request)
  })
  let closing = false
  app.addHook('onSend', async (_request, reply, payload) => {
    securityHeaders(reply)
    // While stopping, tell keep-alive clients to go, so that closing does not wait on them.
    if (closing) reply.header('connection', 'close')
    return payload
  })

  function sendError(
    error: FastifyError | HttpError,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    const http = toHttpError(error)
    if (http.status >= 500) request.log.error({ err: error, url: request.url }, 'request failed')
    // A value that reached the database before validation refused it: answered, but worth a look.
    else if (error instanceof StoreInputRejected)
      request.log.warn({ err: error, url: request.url }, 'the database refused a request value')
    else if (http.detail)
      request.log.debug({ code: http.code, detail: http.detail }, 'request refused')
    const body: Record<string, string> = { error: http.error }
    if (http.description !== undefined) body.error_description = http.description
    // set here as well as in onSend: a framework error is answered outside the hooks
    securityHeaders(reply)
    return reply.code(http.status).headers(http.headers()).type('application/json').send(body)
  }
  app.setErrorHandler(sendError)

  // Every route's path pattern and methods, so that a known path asked with another method is a
  // 405 naming the methods it takes (RFC 9110 §15.5.6), not a 404
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>()
  app.addHook('onRoute', (route) => {
    // a bare wildcard (the CORS preflight's `*`) names no resource
    if (route.url === '*' || route.url === '/*') return
    let entry = routes.get(route.url)
    if (entry === undefined) {
      entry = { pattern: routePattern(route.url), methods: new Set() }
      routes.set(route.url, entry)
    }
    for (const method of [route.method].flat()) entry.methods.add(method)
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!
    const shown = `${request.method} ${path.slice(0, 100)}`
    const allow = new Set<string>()
    for (const { pattern, methods } of routes.values()) {
      if (pattern.test(path)) for (const method of methods) allow.add(method)
    }
    if (allow.size > 0 && !allow.has(request.method)) {
      const error = new MethodNotAllowed({
        description: `${request.method} is not a method of ${path.slice(0, 100)}`,
        allow: [...allow].sort(),
      })
      return sendError(error, request, reply)
    }
    return sendError(new NotFound({ description: `no route for ${shown}` }), request, reply)
  })
  // Node answers an Expect other than 100-continue itself, with an empty 417
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const error = new ExpectationFailed({ description: 'only "Expect: 100-continue" is supported' })
    const body = JSON.stringify({ error: error.error, error_description: error.description })
    res
      .writeHead(417, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...SECURITY_HEADERS,
        connection: 'close',
      })
      .end(body)
  })

  await app.register(cookie)
  await app.register(cors, {
    // Never `*`: only the configured origins, and only they get credentials (cookies) allowed.
    origin: config.corsOrigins.length === 0 ? false : [...config.corsOrigins],
    credentials: config.corsOrigins.length > 0,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', CSRF_HEADER],
    maxAge: 600,
  })

  healthRoutes(app, ctx, metrics)
  wellKnownRoutes(app, ctx)
  tokenRoutes(app, ctx)
  revocationRoutes(app, ctx)
  accountRoutes(app, ctx)
  pageRoutes(app)
  const feedRoutes = revocationFeedRoutes(app, ctx, feed, config.feedHeartbeatMs)
  metrics.gauge(
    'tokenbooth_feed_subscribers',
    'Open revocation feed connections',
    () => feed.subscribers,
  )
  metrics.gauge(
    'tokenbooth_signing_keys_published',
    'Keys in the JWKS',
    () => keys.jwks().keys.length,
  )

  const purge = setInterval(() => {
    store.purgeExpired(clock()).catch((error: unknown) => log.warn({ err: error }, 'purge failed'))
  }, 10 * 60_000)
  purge.unref()

  let closed: Promise<void> | undefined
  return {
    app,
    ctx,
    async listen() {
      return app.listen({ port: config.port, host: config.host })
    },
    close() {
      closed ??= (async () => {
        closing = true
        clearInterval(purge)
        keys.close()
        // Streams never go idle: end them first, or closing would wait for them forever.
        feed.close()
        feedRoutes.close()
        const stopped = app.close()
        if (inFlight.size === 0) app.server.closeAllConnections()
        // a request that does not finish (a client that stalls) must not hold the stop for ever
        const grace = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS)
        grace.unref()
        await stopped
        clearTimeout(grace)
        await store.close()
      })()
      return closed
    },
  }
}
