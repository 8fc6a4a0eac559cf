// The verifier's key set against a real (fake) issuer on loopback: discovery, Cache-Control,
// single flight, the unknown-kid cooldown and negative cache, kid storms, and outages.
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, test } from 'node:test'
import {
  TokenKeyUnknown,
  TokenSignatureInvalid,
  VerifierUnavailable,
  createVerifier,
} from '../src/index.ts'
import type { Verifier, VerifierEvent, VerifierOptions } from '../src/index.ts'
import { AUDIENCE, FakeIssuer, generateIssuerKey, manualClock, waitFor } from './fake-issuer.ts'

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(options: Partial<VerifierOptions> = {}, issuerOptions = {}) {
  const issuer = await FakeIssuer.start(issuerOptions)
  const clock = manualClock()
  const events: VerifierEvent[] = []
  const verifier = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    clock: clock.now,
    onEvent: (event) => events.push(event),
    ...options,
  })
  cleanup.push(
    () => issuer.close(),
    () => verifier.close(),
  )
  return { issuer, clock, events, verifier }
}

/** A structurally valid token whose kid no key has; it never reaches a signature check. */
function tokenWithKid(issuer: FakeIssuer, kid: string, now: number): Promise<string> {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const iat = Math.floor(now / 1000)
  const payload = {
    iss: issuer.url,
    aud: AUDIENCE,
    sub: 'u',
    client_id: 'c',
    jti: kid,
    iat,
    exp: iat + 60,
  }
  return Promise.resolve(
    `${b64({ alg: 'ES256', kid, typ: 'at+jwt' })}.${b64(payload)}.${'A'.repeat(86)}`,
  )
}

describe('discovery', () => {
  test('finds the JWKS through the metadata and verifies a token', async () => {
    const { issuer, clock, verifier, events } = await setup()
    await verifier.ready()
    assert.deepEqual(issuer.counts, { discovery: 1, jwks: 1, feed: 0 })
    const claims = await verifier.verify(await issuer.sign({}, undefined, clock.now()))
    assert.equal(claims.sub, 'user-1')
    assert.equal(verifier.status().keys, 1)
    assert.deepEqual(
      events.map((e) => e.type),
      ['jwks.refreshed'],
    )
  })

  test('a metadata document naming another issuer is refused (RFC 8414 §3.3)', async () => {
    const { verifier, events } = await setup({}, { metadataIssuer: 'http://127.0.0.1:1' })
    await assert.rejects(verifier.ready(), (error: unknown) => {
      assert.ok(error instanceof VerifierUnavailable)
      assert.match(error.message, /names the issuer/)
      return true
    })
    assert.equal(events[0]?.type, 'jwks.failed')
    assert.equal(verifier.status().keys, 0)
  })

  test('a verify before the keys arrive waits for the load in flight', async () => {
    const { issuer, clock, verifier } = await setup()
    const claims = await verifier.verify(await issuer.sign({}, undefined, clock.now()))
    assert.equal(claims.sub, 'user-1')
  })

  test('with the issuer down at start: 503-style VerifierUnavailable, then recovery', async () => {
    const { issuer, clock, verifier } = await setup({}, { down: true })
    const token = await issuer.sign({}, undefined, clock.now())
    await waitFor(() => issuer.counts.discovery >= 1, 5_000, 'a discovery attempt')
    await assert.rejects(verifier.verify(token), VerifierUnavailable)
    issuer.down = false
    await verifier.ready() // the loader retries on its own (250 ms, doubling)
    assert.equal((await verifier.verify(token)).sub, 'user-1')
  })

  test('a JWKS without Content-Length is given up at 256 KiB, not read to its end', async () => {
    let written = 0
    let closed = false
    const server = createServer((req, res) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return void res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }))
      }
      // chunked and endless: only reading it chunk by chunk can stop it in time
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const pump = () => {
        while (!closed && res.write(chunk)) written += chunk.length
      }
      res.on('drain', pump)
      res.on('close', () => (closed = true))
      pump()
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanup.push(async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })
    const events: VerifierEvent[] = []
    const verifier = createVerifier({
      issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      audience: AUDIENCE,
      onEvent: (event) => events.push(event),
    })
    cleanup.push(() => verifier.close())
    await waitFor(() => events.some((e) => e.type === 'jwks.failed'), 5_000, 'jwks.failed')
    const failed = events.find((e) => e.type === 'jwks.failed')!
    assert.match(String((failed as { error: unknown }).error), /larger than 262144 bytes/)
    await waitFor(() => closed, 3_000, 'the JWKS connection to close')
    // what the server managed to write: the limit plus the socket buffers, not the whole stream
    assert.ok(written < 16 * 1024 * 1024, `${written} bytes written before the verifier gave up`)
  })

  test('static jwks: no discovery, no fetch at all', async () => {
    const issuer = await FakeIssuer.start()
    cleanup.push(() => issuer.close())
    const verifier = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      jwks: { keys: issuer.keys.map((k) => k.jwk) },
      fetch: () => Promise.reject(new Error('no fetch expected')),
    })
    cleanup.push(() => verifier.close())
    await verifier.ready()
    assert.equal((await verifier.verify(await issuer.sign())).sub, 'user-1')
    await assert.rejects(
      verifier.verify(await tokenWithKid(issuer, 'other', Date.now())),
      TokenKeyUnknown,
    )
    assert.deepEqual(issuer.counts, { discovery: 0, jwks: 0, feed: 0 })
  })
})

describe('JWKS caching', () => {
  test('Cache-Control max-age: served from memory until stale, then refreshed in the background', async () => {
    const { issuer, clock, verifier } = await setup({}, { jwksCacheControl: 'public, max-age=60' })
    await verifier.ready()
    const token = await issuer.sign({}, undefined, clock.now())
    clock.advance(59_000)
    await verifier.verify(token)
    assert.equal(issuer.counts.jwks, 1)
    clock.advance(2_000)
    // stale: the call is answered with the old set at once, the refresh runs behind it
    assert.equal((await verifier.verify(token)).sub, 'user-1')
    await waitFor(() => issuer.counts.jwks === 2, 2_000, 'a background refresh')
    await new Promise((resolve) => setTimeout(resolve, 20))
    // one refresh per staleness, not one per call
    await Promise.all([verifier.verify(token), verifier.verify(token)])
    assert.equal(issuer.counts.jwks, 2)
  })

  test('a rotated-in key is fetched on first sight once the cooldown allows it', async () => {
    const { issuer, clock, verifier, events } = await setup({ jwksCooldownMs: 30_000 })
    await verifier.ready()
    const next = generateIssuerKey()
    issuer.keys.push(next)
    const token = await issuer.sign({}, next, clock.now())
    // right after the initial load: within the cooldown, so no refetch yet
    await assert.rejects(verifier.verify(token), TokenKeyUnknown)
    assert.equal(issuer.counts.jwks, 1)
    clock.advance(30_000)
    // the kid is remembered as unknown (negative cache) until unknownKidTtlMs (60 s) passes
    await assert.rejects(verifier.verify(token), TokenKeyUnknown)
    clock.advance(30_001)
    assert.equal((await verifier.verify(token)).sub, 'user-1')
    assert.equal(issuer.counts.jwks, 2)
    assert.equal(events.filter((e) => e.type === 'jwks.refreshed').length, 2)
  })

  test('negative cache: a repeated unknown kid costs no fetch, a new one may', async () => {
    const { issuer, clock, verifier } = await setup({
      jwksCooldownMs: 1_000,
      unknownKidTtlMs: 60_000,
    })
    await verifier.ready()
    clock.advance(1_000)
    const x = await tokenWithKid(issuer, 'x', clock.now())
    await assert.rejects(verifier.verify(x), TokenKeyUnknown)
    assert.equal(issuer.counts.jwks, 2)
    clock.advance(5_000) // past the cooldown, within the negative-cache TTL
    await assert.rejects(verifier.verify(x), TokenKeyUnknown)
    assert.equal(issuer.counts.jwks, 2)
    await assert.rejects(
      verifier.verify(await tokenWithKid(issuer, 'y', clock.now())),
      TokenKeyUnknown,
    )
    assert.equal(issuer.counts.jwks, 3)
    clock.advance(60_000) // x forgotten
    await assert.rejects(verifier.verify(x), TokenKeyUnknown)
    assert.equal(issuer.counts.jwks, 4)
  })

  test('kid storm: thousands of random kids cost one JWKS request per cooldown', async () => {
    const { issuer, clock, verifier } = await setup({ jwksCooldownMs: 30_000 })
    await verifier.ready()
    const good = await issuer.sign({}, undefined, clock.now())
    const storm = async (n: number) => {
      const tokens = await Promise.all(
        Array.from({ length: n }, () => tokenWithKid(issuer, randomUUID(), clock.now())),
      )
      const results = await Promise.allSettled([
        ...tokens.map((t) => verifier.verify(t)),
        verifier.verify(good),
      ])
      const last = results.pop()!
      assert.equal(last.status, 'fulfilled', 'a good token still verifies during the storm')
      for (const r of results)
        assert.ok(r.status === 'rejected' && r.reason instanceof TokenKeyUnknown)
    }
    clock.advance(30_000)
    await storm(3_000) // concurrent: they all share one flight
    assert.equal(issuer.counts.jwks, 2)
    await storm(2_000) // within the cooldown: none
    assert.equal(issuer.counts.jwks, 2)
    clock.advance(30_000)
    for (let i = 0; i < 5; i++) await storm(200) // sequential bursts: still one per cooldown
    assert.equal(issuer.counts.jwks, 3)
    assert.equal(issuer.counts.discovery, 1)
  })

  test('concurrent callers share one in-flight refetch', async () => {
    const { issuer, clock, verifier } = await setup({ jwksCooldownMs: 0 })
    await verifier.ready()
    const next = generateIssuerKey()
    issuer.keys.push(next)
    const tokens = await Promise.all(
      Array.from({ length: 50 }, () => issuer.sign({}, next, clock.now())),
    )
    const claims = await Promise.all(tokens.map((t) => verifier.verify(t)))
    assert.equal(claims.length, 50)
    assert.equal(issuer.counts.jwks, 2)
  })

  test('the issuer down: the stale key set keeps verifying known keys', async () => {
    const { issuer, clock, verifier, events } = await setup({}, { jwksCacheControl: 'max-age=60' })
    await verifier.ready()
    const token = await issuer.sign({}, undefined, clock.now())
    issuer.down = true
    clock.advance(120_000)
    assert.equal((await verifier.verify(token)).sub, 'user-1')
    await waitFor(() => events.some((e) => e.type === 'jwks.failed'), 5_000, 'jwks.failed')
    const fresh = await issuer.sign({}, undefined, clock.now())
    assert.equal((await verifier.verify(fresh)).sub, 'user-1')
    assert.equal(verifier.status().keys, 1)
    // the failed refresh waits a cooldown before the next attempt
    const attempts = issuer.counts.jwks
    await verifier.verify(await issuer.sign({}, undefined, clock.now()))
    assert.equal(issuer.counts.jwks, attempts)
  })

  test('a key withdrawn from the JWKS also stops its cached tokens', async () => {
    const { issuer, clock, verifier } = await setup({ jwksCooldownMs: 0 })
    await verifier.ready()
    const token = await issuer.sign({}, undefined, clock.now())
    await verifier.verify(token)
    assert.equal(verifier.status().cacheSize, 1)
    const old = issuer.keys[0]!
    issuer.keys = [generateIssuerKey()]
    // a token with the new kid triggers the refetch that drops the old key
    await verifier.verify(await issuer.sign({}, issuer.keys[0], clock.now()))
    await assert.rejects(verifier.verify(token), (error: unknown) => {
      assert.ok(error instanceof TokenKeyUnknown)
      assert.equal(error.kid, old.kid)
      return true
    })
  })

  test('a key replaced under the same kid also stops its cached tokens', async () => {
    const { issuer, clock, verifier } = await setup(
      { jwksCooldownMs: 0 },
      { jwksCacheControl: 'max-age=60' },
    )
    await verifier.ready()
    const old = issuer.keys[0]!
    const token = await issuer.sign({}, old, clock.now())
    await verifier.verify(token)
    assert.equal(verifier.status().cacheSize, 1)
    // re-keyed in place: the kid stays, the key material changes
    const replacement = generateIssuerKey(old.kid)
    issuer.keys = [replacement]
    clock.advance(61_000) // past the JWKS max-age: the next verify refreshes in the background
    await verifier.verify(token)
    await waitFor(() => verifier.status().cacheSize === 0, 5_000, 'the cache cleared')
    assert.equal(issuer.counts.jwks, 2)
    await assert.rejects(verifier.verify(token), TokenSignatureInvalid)
    assert.equal(
      (await verifier.verify(await issuer.sign({}, replacement, clock.now()))).sub,
      'user-1',
    )
  })
})

describe('lifecycle', () => {
  test('close() stops everything; later calls reject with VerifierUnavailable', async () => {
    const { issuer, clock, verifier } = await setup()
    await verifier.ready()
    const token = await issuer.sign({}, undefined, clock.now())
    await verifier.verify(token)
    await verifier.close()
    await assert.rejects(verifier.verify(token), VerifierUnavailable)
    await verifier.close() // idempotent
  })

  test('close() while the first load is pending rejects ready()', async () => {
    const { verifier } = await setup({}, { down: true })
    const ready = verifier.ready()
    await verifier.close()
    await assert.rejects(ready, VerifierUnavailable)
  })

  test('an onEvent hook that throws changes nothing', async () => {
    const issuer = await FakeIssuer.start()
    const verifier = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      onEvent: () => {
        throw new Error('broken logger')
      },
    })
    cleanup.push(
      () => issuer.close(),
      () => verifier.close(),
    )
    await verifier.ready()
    assert.equal((await verifier.verify(await issuer.sign())).sub, 'user-1')
  })
})

export type { Verifier }
