/**
 * Test support for the client: the real booth on loopback (test/support/booth.ts), and a small
 * loopback "front" of our own in front of it that forwards everything to the booth, counts what
 * crosses it (refresh requests, 401s) and adds a few resource routes a real API would have.
 * Nothing of the booth or of the client is mocked.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startBooth, removeDir, type Booth } from '../../../test/support/booth.ts'
import { postJson } from '../../../test/support/http.ts'

export const PASSWORD = 'a fine long passphrase'

export interface BoothFixture {
  booth: Booth
  front: Front
  /** The issuer URL clients use: the front, which forwards to the booth. */
  issuer: string
  stop(): Promise<void>
}

/** Starts a booth (10 s access tokens unless `env` says otherwise) and a front before it. */
export async function startFixture(env: Record<string, string> = {}): Promise<BoothFixture> {
  const booth = await startBooth({
    env: { TOKENBOOTH_ACCESS_TOKEN_TTL: '10', TOKENBOOTH_LOG_LEVEL: 'warn', ...env },
  })
  const front = await startFront(booth.url)
  return {
    booth,
    front,
    issuer: front.url,
    async stop() {
      await front.close()
      await booth.stop()
      removeDir(booth.dataDir)
    },
  }
}

let users = 0
/** Signs up a fresh user at the booth and returns its username. */
export async function signUp(booth: Booth, prefix = 'user'): Promise<string> {
  const username = `${prefix}${process.pid}x${++users}`
  const res = await postJson(`${booth.url}/signup`, { username, password: PASSWORD })
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${res.text}`)
  return username
}

/** `tokenbooth_events_total{event=...}` from the booth's /metrics (0 when absent). */
export async function boothEvents(booth: Booth, event: string): Promise<number> {
  const text = await (await fetch(`${booth.url}/metrics`)).text()
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`tokenbooth_events_total{event="${event}"} `))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/**
 * A client clock that stands still (at real time plus `shiftMs`) until the test moves it, so that
 * "6.1 s after login" means exactly that, however long the login's password hashing took.
 */
export function shiftedClock(shiftMs = 0) {
  let now = Date.now() + shiftMs
  return {
    now: () => now,
    advance(ms: number) {
      now += ms
    },
  }
}

export interface Front {
  url: string
  /** POST /token with grant_type=refresh_token that reached the booth. */
  refreshRequests: number
  /** Responses with status 401, by path. */
  unauthorized: Map<string, number>
  /** Authorization headers seen on /api/* routes, in order. */
  apiAuthorizations: (string | undefined)[]
  /** When set, refresh requests get this status without reaching the booth. */
  failRefreshWith: number | undefined
  /** The next this many refresh answers are lost: the booth answers, the front cuts the line. */
  dropRefreshAnswers: number
  /** The next this many refresh answers are held back (the booth has answered) until `release`. */
  holdRefreshAnswers: number
  /** Lets go of everything held: refresh answers, and first requests to `/api/held/*`. */
  release(): void
  close(): Promise<void>
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

const INVALID_TOKEN = { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' }

function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

/**
 * The front. Resource routes (a stand-in for an API server; the booth is not involved):
 * - `/api/reject` always answers 401 `invalid_token`;
 * - `/api/reject-once/*` answers 401 `invalid_token` to the first request for each path, then echoes;
 * - `/api/echo` answers 200 with the method, Authorization, CSRF and Cookie headers and body it got;
 * - `/api/forbidden` answers 403 `insufficient_scope`; `/api/bare` answers 401 with no error;
 * - `/api/held/*` answers 401 `invalid_token`, to the first request for each path only after
 *   `release()`.
 * Everything else is forwarded to the booth as is.
 */
export async function startFront(target: string): Promise<Front> {
  const rejectedOnce = new Set<string>()
  const heldOnce = new Set<string>()
  const front: Front = {
    url: '',
    refreshRequests: 0,
    unauthorized: new Map(),
    apiAuthorizations: [],
    failRefreshWith: undefined,
    dropRefreshAnswers: 0,
    holdRefreshAnswers: 0,
    release: () => {},
    close: async () => {},
  }
  let held = gate()
  front.release = () => {
    held.open()
    held = gate()
  }
  const server = createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? '/', 'http://front').pathname
      const body = await readBody(req)
      res.on('finish', () => {
        if (res.statusCode === 401)
          front.unauthorized.set(path, (front.unauthorized.get(path) ?? 0) + 1)
      })
      if (path.startsWith('/api/')) {
        front.apiAuthorizations.push(req.headers.authorization)
        const echo = {
          method: req.method,
          authorization: req.headers.authorization,
          csrf: req.headers['x-tokenbooth-csrf'],
          cookie: req.headers.cookie,
          body: body.toString(),
        }
        if (path === '/api/reject') return send(res, 401, { error: 'invalid_token' }, INVALID_TOKEN)
        if (path.startsWith('/api/held/')) {
          if (!heldOnce.has(path)) {
            heldOnce.add(path)
            await held.opened
          }
          return send(res, 401, { error: 'invalid_token' }, INVALID_TOKEN)
        }
        if (path.startsWith('/api/reject-once') && !rejectedOnce.has(path)) {
          rejectedOnce.add(path)
          return send(res, 401, { error: 'invalid_token' }, INVALID_TOKEN)
        }
        if (path === '/api/forbidden') {
          return send(
            res,
            403,
            { error: 'insufficient_scope' },
            {
              'www-authenticate': 'Bearer realm="api", error="insufficient_scope", scope="admin"',
            },
          )
        }
        if (path === '/api/bare')
          return send(
            res,
            401,
            { error: 'invalid_request' },
            { 'www-authenticate': 'Bearer realm="api"' },
          )
        return send(res, 200, echo)
      }
      let fate: 'pass' | 'drop' | 'hold' = 'pass'
      if (
        path === '/token' &&
        new URLSearchParams(body.toString()).get('grant_type') === 'refresh_token'
      ) {
        front.refreshRequests++
        if (front.dropRefreshAnswers > 0) {
          front.dropRefreshAnswers--
          fate = 'drop'
        } else if (front.holdRefreshAnswers > 0) {
          front.holdRefreshAnswers--
          fate = 'hold'
        }
        if (front.failRefreshWith !== undefined) {
          return send(res, front.failRefreshWith, {
            error: 'temporarily_unavailable',
            error_description: 'test outage',
          })
        }
      }
      const headers = new Headers()
      for (const [name, value] of Object.entries(req.headers)) {
        if (['host', 'connection', 'content-length'].includes(name) || value === undefined) continue
        headers.set(name, Array.isArray(value) ? value.join(', ') : value)
      }
      const upstream = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
        redirect: 'manual',
      })
      const out: Record<string, string | string[]> = {}
      upstream.headers.forEach((value, name) => {
        if (name !== 'set-cookie' && name !== 'content-length' && name !== 'content-encoding')
          out[name] = value
      })
      const cookies = upstream.headers.getSetCookie()
      if (cookies.length > 0) out['set-cookie'] = cookies
      const answer = Buffer.from(await upstream.arrayBuffer())
      // The booth has done its part (rotated, for a refresh); only the answer is lost or late.
      if (fate === 'drop') return void res.destroy()
      if (fate === 'hold') await held.opened
      if (res.destroyed) return
      res.writeHead(upstream.status, out)
      res.end(answer)
    } catch (error) {
      res.writeHead(502).end(String(error))
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  front.close = async () => {
    front.release()
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  }
  return front
}

/** A Map-backed stand-in for `localStorage` (Node has none without a flag). */
export function mapStorage() {
  const map = new Map<string, string>()
  return {
    map,
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    removeItem: (key: string) => void map.delete(key),
  }
}

/** Collects a client's events, in order. */
export function recordEvents(client: {
  on(event: any, listener: (payload: any) => void): () => void
}) {
  const seen: { event: string; payload: any }[] = []
  for (const event of ['signed-in', 'refreshed', 'session-expired', 'signed-out']) {
    client.on(event, (payload) => seen.push({ event, payload }))
  }
  return {
    seen,
    count: (event: string) => seen.filter((e) => e.event === event).length,
  }
}

/**
 * Polls `probe` every 10 ms until it is true; fails after `tries` (100: about a second), naming
 * `what`. For what another tab hears over BroadcastChannel, which arrives on its own time.
 */
export async function until(
  probe: () => boolean | Promise<boolean>,
  what: string,
  tries = 100,
): Promise<void> {
  for (let i = 0; !(await probe()); i++) {
    assert.ok(i < tries, what)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
