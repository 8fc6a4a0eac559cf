/**
 * A tiny stand-in for the booth, for the SDK's own tests: node:http on 127.0.0.1 serving
 * discovery, a JWKS (with request counts, Cache-Control and an outage switch) and the revocation
 * feed protocol (Basic auth, backlog after Last-Event-ID, `ready`, heartbeats, silence, restart).
 * Tokens are signed with jose, an implementation independent of ours. The real booth is exercised
 * in booth.test.ts.
 */
import { Buffer } from 'node:buffer'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SignJWT } from 'jose'

export const FEED_CLIENT_ID = 'cart service'
export const FEED_CLIENT_SECRET = 'p@ss:word/+'
export const AUDIENCE = 'https://api.test'

export interface IssuerKey {
  kid: string
  privateKey: KeyObject
  jwk: Record<string, unknown>
}

export interface Revocation {
  seq: number
  kind: 'sid' | 'sub' | 'jti'
  value: string
  at: number
  expires_at: number
}

export interface FakeIssuerOptions {
  /** Pretend to be another issuer in the discovery document. */
  metadataIssuer?: string
  /** `retry:` sent at the start of each feed connection. Default 50 ms (fast tests). */
  retryMs?: number
  /** Heartbeat period. Default 100 ms. */
  heartbeatMs?: number
  /** Start with the discovery and JWKS endpoints failing. */
  down?: boolean
  /** Cache-Control of the JWKS. Default `public, max-age=600`. */
  jwksCacheControl?: string
}

export function generateIssuerKey(kid = `k-${randomUUID().slice(0, 8)}`): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return {
    kid,
    privateKey,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
  }
}

export class FakeIssuer {
  url = ''
  port = 0
  readonly counts = { discovery: 0, jwks: 0, feed: 0 }
  keys: IssuerKey[] = [generateIssuerKey()]
  jwksCacheControl: string | undefined
  /** Discovery and the JWKS reset the connection while true. */
  down: boolean
  /** The feed sends nothing (no backlog, no ready, no heartbeats) while true. */
  silent = false
  feedStatus = 200
  readonly revocations: Revocation[] = []
  /** The Last-Event-ID header of each feed connection, '' when absent. */
  readonly lastEventIds: string[] = []
  readonly options: FakeIssuerOptions
  private seq = 0
  private readonly streams = new Set<ServerResponse>()
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private readonly server = createServer((req, res) => this.handle(req, res))

  constructor(options: FakeIssuerOptions = {}) {
    this.options = options
    this.down = options.down ?? false
    this.jwksCacheControl = options.jwksCacheControl ?? 'public, max-age=600'
  }

  static async start(options: FakeIssuerOptions = {}): Promise<FakeIssuer> {
    const issuer = new FakeIssuer(options)
    await issuer.listen(0)
    return issuer
  }

  async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as { port: number }).port
    this.url = `http://127.0.0.1:${this.port}`
    this.heartbeat = setInterval(() => {
      this.broadcast(
        `event: heartbeat\ndata: ${JSON.stringify({ seq: this.seq, time: Date.now() })}\n\n`,
      )
    }, this.options.heartbeatMs ?? 100)
  }

  /** Kills every connection and stops listening (a crash); state is kept for `restart`. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat)
    for (const stream of this.streams) stream.destroy()
    this.streams.clear()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  async restart(): Promise<void> {
    await this.listen(this.port)
  }

  /** Signs an access token with `key` (default: the first published key). */
  sign(
    claims: Record<string, unknown> = {},
    key: Pick<IssuerKey, 'kid' | 'privateKey'> = this.keys[0]!,
    nowMs = Date.now(),
  ): Promise<string> {
    const iat = Math.floor(nowMs / 1000)
    return new SignJWT({
      sub: 'user-1',
      client_id: 'shop',
      jti: randomUUID(),
      sid: `sid-${randomUUID()}`,
      scope: 'cart:read',
      iat,
      exp: iat + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.url)
      .setAudience(AUDIENCE)
      .sign(key.privateKey)
  }

  /** Records a revocation and sends it to every connected feed; returns its seq. */
  revoke(
    kind: Revocation['kind'],
    value: string,
    at = Date.now(),
    expiresAt = at + 600_000,
  ): number {
    const entry: Revocation = { seq: ++this.seq, kind, value, at, expires_at: expiresAt }
    this.revocations.push(entry)
    this.broadcast(event(entry))
    return entry.seq
  }

  /** Rolls the log back to `seq`, as a database restored from a backup taken then would be. */
  restoreLog(seq: number): void {
    const after = this.revocations.findIndex((entry) => entry.seq > seq)
    if (after !== -1) this.revocations.splice(after)
    this.seq = seq
  }

  /** Writes raw text to every connected feed (duplicates, out-of-order ids, garbage). */
  broadcast(text: string): void {
    if (this.silent) return
    for (const stream of this.streams) stream.write(text)
  }

  /** Ends every feed connection cleanly. */
  endFeeds(): void {
    for (const stream of this.streams) stream.end()
    this.streams.clear()
  }

  get feedConnections(): number {
    return this.streams.size
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.stop()
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/'
    if (path === '/.well-known/oauth-authorization-server') {
      this.counts.discovery++
      if (this.down) return void req.socket.destroy()
      return json(res, {
        issuer: this.options.metadataIssuer ?? this.url,
        jwks_uri: `${this.url}/jwks`,
      })
    }
    if (path === '/jwks') {
      this.counts.jwks++
      if (this.down) return void req.socket.destroy()
      const headers: Record<string, string> = {}
      if (this.jwksCacheControl !== undefined) headers['cache-control'] = this.jwksCacheControl
      return json(res, { keys: this.keys.map((k) => k.jwk) }, headers)
    }
    if (path === '/events/revocations') return this.feed(req, res)
    res.writeHead(404).end()
  }

  private feed(req: IncomingMessage, res: ServerResponse): void {
    this.counts.feed++
    const expected = `Basic ${Buffer.from(`${form(FEED_CLIENT_ID)}:${form(FEED_CLIENT_SECRET)}`).toString('base64')}`
    if (req.headers.authorization !== expected || this.feedStatus !== 200) {
      res
        .writeHead(this.feedStatus === 200 ? 401 : this.feedStatus, {
          'www-authenticate': 'Basic realm="booth"',
        })
        .end()
      return
    }
    const lastEventId = String(req.headers['last-event-id'] ?? '')
    this.lastEventIds.push(lastEventId)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    res.flushHeaders()
    this.streams.add(res)
    res.on('close', () => this.streams.delete(res))
    if (this.silent) return
    // as the booth does: an id past the log's top (a restored database) gets the full snapshot
    const requested = lastEventId === '' ? 0 : Number(lastEventId)
    const after = requested > this.seq ? 0 : requested
    const now = Date.now()
    let text = `retry: ${this.options.retryMs ?? 50}\n\n`
    for (const entry of this.revocations) {
      if (entry.seq > after && entry.expires_at > now) text += event(entry)
    }
    text += `event: ready\ndata: ${JSON.stringify({ seq: this.seq })}\n\n`
    res.write(text)
  }
}

function event(entry: Revocation): string {
  const { seq, ...data } = entry
  return `event: revocation\nid: ${seq}\ndata: ${JSON.stringify(data)}\n\n`
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

function form(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}

/** A clock the test moves by hand, starting at real time. */
export function manualClock(start = Date.now()): {
  now: () => number
  advance: (ms: number) => void
  set: (ms: number) => void
} {
  let t = start
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) }
}

/** Polls `probe` every 10 ms until it is truthy or `timeoutMs` passes. */
export async function waitFor(
  probe: () => unknown,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
