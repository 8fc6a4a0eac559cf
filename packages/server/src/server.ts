/**
 * createTokenServer: the booth as a Fastify instance plus the context it runs on. `cli.ts` hosts
 * it; tests drive it over real HTTP or with `app.inject`.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
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

function toHttpError(error: FastifyError): HttpError {
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
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Per-request log lines would cost more than a refresh; /metrics counts requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    http: { maxHeaderSize: MAX_HEADER_SIZE },
    trustProxy: config.trustProxy as boolean | string[],
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Errors below HTTP (an oversized header, a malformed request line) get the JSON shape too.
    clientErrorHandler(error, socket) {
      if (!socket.writable) return
      const status = (error as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
      const body = JSON.stringify({
        error: 'invalid_request',
        error_description: status === 431 ? 'request headers too large' : 'malformed HTTP request',
      })
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      )
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
    requests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    })
    settle(request)
  })
  let closing = false
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
    // While stopping, tell keep-alive clients to go, so that closing does not wait on them.
    if (closing) reply.header('connection', 'close')
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'")
    }
    return payload
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const http = toHttpError(error)
    if (http.status >= 500) request.log.error({ err: error, url: request.url }, 'request failed')
    // A value that reached the database before validation refused it: answered, but worth a look.
    else if (error instanceof StoreInputRejected)
      request.log.warn({ err: error, url: request.url }, 'the database refused a request value')
    else if (http.detail)
      request.log.debug({ code: http.code, detail: http.detail }, 'request refused')
    const body: Record<string, string> = { error: http.error }
    if (http.description !== undefined) body.error_description = http.description
    return reply.code(http.status).headers(http.headers()).type('application/json').send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    const error = new NotFound({
      description: `no route for ${request.method} ${request.url.split('?')[0]!.slice(0, 100)}`,
    })
    return reply
      .code(404)
      .type('application/json')
      .send({ error: error.error, error_description: error.description })
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
        await stopped
        await store.close()
      })()
      return closed
    },
  }
}
