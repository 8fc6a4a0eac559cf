/**
 * One resource server for the HTTP benchmark, started as its own process (pinned by the caller):
 * `node bench/verify/server.ts '<ServerPlan JSON>'`. It listens on 127.0.0.1 on a free port and
 * prints `{"port":N}` once ready; SIGTERM closes it.
 *
 * Every variant answers `GET /api` with the same small JSON body, `{"sub":"…"}`, so that only the
 * authentication differs:
 * - `none`: no authentication at all (the sub is a constant);
 * - `token`: our adapter (`protect` / `requireAuth`, scope `profile`), with `createVerifier` on a
 *   static JWKS and the revocation feed on (served in process, 3,000 revocations held);
 * - `fast-jwt`: fast-jwt's verifier with its cache (`cache: true`, 1,000 tokens), as a handler
 *   wrapper (node:http), a middleware (Express) and a `preHandler` hook (Fastify) that take the
 *   Bearer token, verify it, check the scope and answer 401/403 otherwise: the peer the issue
 *   quotes ("fast-jwt's cache reaches 0.6× here"). It checks no revocation;
 * - `session-*` (Express only): express-session as commonly configured (`resave: false`,
 *   `saveUninitialized: false`, a signed `connect.sid` cookie) on its MemoryStore, on
 *   connect-redis + redis, or on connect-pg-simple + pg; `POST /login` puts a user in the session.
 *   With these defaults every request with a session cookie costs the store a read and a `touch`
 *   (Redis GET + EXPIRE; PostgreSQL SELECT + UPDATE).
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import express from 'express'
import session from 'express-session'
import Fastify, {
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
} from 'fastify'
import { createVerifier as createFastJwtVerifier } from 'fast-jwt'
import { createVerifier, type AccessTokenClaims, type PublicJwk } from '@tokenbooth/verify'
import { requireAuth as expressAuth } from '@tokenbooth/verify/express'
import { requireAuth as fastifyAuth } from '@tokenbooth/verify/fastify'
import { protect } from '@tokenbooth/verify/node'
import { FEED_CLIENT, fakeFeedFetch } from './fake-feed.ts'

export type Framework = 'node:http' | 'express' | 'fastify'
export type Variant =
  'none' | 'token' | 'fast-jwt' | 'session-memory' | 'session-redis' | 'session-pg'

export interface ServerPlan {
  framework: Framework
  variant: Variant
  issuer: string
  /** The public JWK the tokens are signed for (variants `token` and `fast-jwt`). */
  jwk?: PublicJwk
  redisUrl?: string
  pgUrl?: string
}

const SCOPE = 'profile'
const SESSION_SECRET = 'bench-session-secret-0123456789abcdef'

declare module 'express-session' {
  interface SessionData {
    user: { sub: string; client_id: string; scope: string }
  }
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as ServerPlan
  const closers: (() => Promise<unknown> | unknown)[] = []

  const verifier =
    plan.variant === 'token'
      ? createVerifier({
          issuer: plan.issuer,
          audience: plan.issuer,
          jwks: { keys: [plan.jwk!] },
          revocation: FEED_CLIENT,
          fetch: fakeFeedFetch(),
        })
      : undefined
  if (verifier !== undefined) {
    await verifier.ready()
    closers.push(() => verifier.close())
  }

  // fast-jwt with its cache, checking what our adapter checks (alg, typ, iss, aud, exp, the scope)
  const fastJwt = plan.variant === 'fast-jwt' ? fastJwtAuth(plan.jwk!, plan.issuer) : undefined

  let server: Server
  if (plan.framework === 'node:http') {
    const answer = (res: ServerResponse, sub: string) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub }))
    }
    const handler =
      fastJwt !== undefined
        ? (req: IncomingMessage, res: ServerResponse) => {
            const claims = fastJwt(req.headers.authorization)
            if (typeof claims === 'number') res.writeHead(claims).end()
            else answer(res, claims.sub)
          }
        : verifier === undefined
          ? (_req: IncomingMessage, res: ServerResponse) => answer(res, 'anonymous')
          : protect(verifier, (req, res) => answer(res, req.auth.sub), { scope: SCOPE })
    server = createServer(handler)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
  } else if (plan.framework === 'fastify') {
    const app = Fastify({ logger: false })
    if (fastJwt !== undefined) {
      app.decorateRequest('auth', null)
      const preHandler = (
        request: FastifyRequest,
        reply: FastifyReply,
        done: HookHandlerDoneFunction,
      ) => {
        const claims = fastJwt(request.headers.authorization)
        if (typeof claims === 'number') void reply.code(claims).send()
        else {
          request.auth = claims as AccessTokenClaims
          done()
        }
      }
      app.get('/api', { preHandler }, async (request) => ({ sub: request.auth!.sub }))
    } else if (verifier === undefined) {
      app.get('/api', async () => ({ sub: 'anonymous' }))
    } else {
      app.decorateRequest('auth', null)
      app.get('/api', { preHandler: fastifyAuth(verifier, { scope: SCOPE }) }, async (request) => ({
        sub: request.auth!.sub,
      }))
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    server = app.server
    closers.push(() => app.close())
  } else {
    const app = express()
    if (plan.variant === 'none') {
      app.get('/api', (_req, res) => {
        res.json({ sub: 'anonymous' })
      })
    } else if (plan.variant === 'token') {
      app.get('/api', expressAuth(verifier!, { scope: SCOPE }), (req, res) => {
        res.json({ sub: req.auth!.sub })
      })
    } else if (fastJwt !== undefined) {
      const middleware = (req: express.Request, res: express.Response, next: () => void) => {
        const claims = fastJwt(req.headers.authorization)
        if (typeof claims === 'number') res.status(claims).end()
        else {
          req.auth = claims as AccessTokenClaims
          next()
        }
      }
      app.get('/api', middleware, (req, res) => {
        res.json({ sub: req.auth!.sub })
      })
    } else {
      app.use(
        session({
          secret: SESSION_SECRET,
          resave: false,
          saveUninitialized: false,
          store: await sessionStore(plan, closers),
          // the access token's lifetime, so both hold a login for the same 15 minutes
          cookie: { httpOnly: true, sameSite: 'lax', maxAge: 15 * 60 * 1000 },
        }),
      )
      app.post('/login', (req, res) => {
        req.session.user = { sub: crypto.randomUUID(), client_id: 'tokenbooth', scope: SCOPE }
        res.json({ sub: req.session.user.sub })
      })
      app.get('/api', (req, res) => {
        const user = req.session.user
        if (user === undefined) {
          res.status(401).json({ error: 'login_required' })
          return
        }
        res.json({ sub: user.sub })
      })
    }
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
  }
  closers.unshift(() => new Promise((resolve) => server.close(resolve)))
  server.keepAliveTimeout = 60_000

  process.once('SIGTERM', () => {
    server.closeAllConnections()
    void (async () => {
      for (const close of closers) await close()
      process.exit(0)
    })()
  })
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
}

/**
 * fast-jwt's cached verifier behind a small Bearer check: the claims, or the status to answer
 * (401 without a valid token, 403 without the scope).
 */
function fastJwtAuth(
  jwk: PublicJwk,
  issuer: string,
): (authorization: string | undefined) => { sub: string } | number {
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  }) as string
  const verify = createFastJwtVerifier({
    key,
    algorithms: [jwk.alg as 'ES256'],
    allowedIss: issuer,
    allowedAud: issuer,
    checkTyp: 'at+jwt',
    cache: true,
  })
  return (authorization) => {
    if (authorization === undefined || !/^bearer /i.test(authorization)) return 401
    let claims: { sub: string; scope?: unknown }
    try {
      claims = verify(authorization.slice(7)) as { sub: string; scope?: unknown }
    } catch {
      return 401
    }
    const { scope } = claims
    return typeof scope === 'string' && scope.split(' ').includes(SCOPE) ? claims : 403
  }
}

async function sessionStore(
  plan: ServerPlan,
  closers: (() => Promise<unknown> | unknown)[],
): Promise<session.Store> {
  if (plan.variant === 'session-redis') {
    const { createClient } = await import('redis')
    const { RedisStore } = await import('connect-redis')
    const client = createClient({ url: plan.redisUrl })
    await client.connect()
    closers.push(() => client.quit())
    return new RedisStore({ client })
  }
  if (plan.variant === 'session-pg') {
    const { default: pg } = await import('pg')
    // connect-pg-simple ships no types and this package installs no @types for it
    const connectPgSimple = createRequire(import.meta.url)('connect-pg-simple') as (
      s: typeof session,
    ) => new (options: { pool: unknown; createTableIfMissing: boolean }) => session.Store
    // pg's default pool size (10); idle connections are kept (pg closes them after 10 s idle),
    // because the benchmark counts these backends' CPU while other scenarios take their turn;
    // application_name lets it find them
    const pool = new pg.Pool({
      connectionString: plan.pgUrl,
      application_name: 'tokenbooth-bench-session',
      idleTimeoutMillis: 0,
    })
    closers.push(() => pool.end())
    const PgStore = connectPgSimple(session)
    // the bench has created the table (stores.ts): three processes creating it at once race
    return new PgStore({ pool, createTableIfMissing: false })
  }
  return new session.MemoryStore()
}

await main()
