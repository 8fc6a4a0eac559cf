/**
 * Refreshes and signing keys, in process over a real SQLite file with a frozen clock (the key
 * schedule spans hours, which the contract tests cannot wait for):
 * - the old access token sent along with a refresh, signed by a key that has since left the
 *   JWKS (issue 2: "the booth checks its signature — not its expiry — and that it belongs to the
 *   same session");
 * - no key that can sign: 503 before the rotation, and the refresh token is not consumed.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { loadConfig } from '../src/config.ts'
import type { BoothContext } from '../src/domain/context.ts'
import { createEvents } from '../src/domain/events.ts'
import { createKeyManager } from '../src/domain/keys.ts'
import { createKeyring } from '../src/domain/keyring.ts'
import { createMetrics } from '../src/domain/metrics.ts'
import { createHorizonLease } from '../src/domain/revocation-horizon.ts'
import { refreshSession } from '../src/domain/sessions.ts'
import { createThrottle } from '../src/domain/throttle.ts'
import { hashRefreshToken, newRefreshToken } from '../src/domain/tokens.ts'
import { ServiceUnavailable } from '../src/errors.ts'
import { createTokenServer, type TokenServer } from '../src/server.ts'
import { openStore } from '../src/store/open-store.ts'
import { signUp } from './inject.ts'
import { rotateToNewSecret } from './key-fixtures.ts'
import type { ClientRecord, Store } from '../src/store/store.ts'

const T0 = Date.parse('2027-03-01T00:00:00Z')
const SECRET = 's'.repeat(40)
const ISSUER = 'https://booth.test'
const PASSWORD = 'frozen clock passphrase'

function decode(token: string): { header: any; payload: any } {
  const [h, p] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()),
  }
}

describe('the old access token of a refresh, signed by a key that left the JWKS', () => {
  let dir: string
  let booth: TokenServer
  let now = T0

  beforeEach(async () => {
    now = T0
    dir = mkdtempSync(join(tmpdir(), 'tb-refresh-keys-'))
    const config = loadConfig({
      TOKENBOOTH_ISSUER: ISSUER,
      TOKENBOOTH_DATA_DIR: dir,
      TOKENBOOTH_SECRET: SECRET,
      TOKENBOOTH_LOG_LEVEL: 'silent',
      // Hourly keys published 15 minutes ahead; access tokens live 15 minutes.
      TOKENBOOTH_KEY_ROTATION: '3600',
      TOKENBOOTH_JWKS_MAX_AGE: '0',
    })
    booth = await createTokenServer({ config, clock: () => now })
  })
  afterEach(async () => {
    await booth.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const form = (url: string, fields: Record<string, string>) =>
    booth.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    })

  it('is still checked by its signature, with the retired key, and refused when tampered', async () => {
    await signUp(booth.app, 'idle.user', PASSWORD)
    const login = await form('/token', {
      grant_type: 'password',
      username: 'idle.user',
      password: PASSWORD,
    })
    assert.equal(login.statusCode, 200, login.body)
    const t0 = login.json() as { access_token: string; refresh_token: string }
    const oldKid = decode(t0.access_token).header.kid

    now = T0 + 1801_000 // the next key is created, to sign from T0 + 1 h
    await booth.ctx.keys.refresh()
    now = T0 + 3_600_000 + 900_000 + 61_000 + 60_000 // every token of the old key has expired
    await booth.ctx.keys.refresh()
    const published = booth.ctx.keys.jwks().keys.map((k) => k.kid)
    assert.ok(!published.includes(oldKid), 'the old key has left the JWKS')

    const [h, p, s] = t0.access_token.split('.')
    const payload = { ...decode(t0.access_token).payload, scope: 'profile admin' }
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
    const refused = await form('/token', {
      grant_type: 'refresh_token',
      refresh_token: t0.refresh_token,
      access_token: tampered,
    })
    assert.equal(refused.statusCode, 400, refused.body)
    assert.equal(refused.json().error, 'invalid_grant')

    const res = await form('/token', {
      grant_type: 'refresh_token',
      refresh_token: t0.refresh_token,
      access_token: t0.access_token,
    })
    assert.equal(res.statusCode, 200, `the idle client refreshes: ${res.body}`)
    const next = decode(res.json().access_token)
    assert.notEqual(next.header.kid, oldKid, 'signed by the current key')
    assert.equal(next.payload.sid, decode(t0.access_token).payload.sid)
  })
})

describe('no key this instance can sign with', () => {
  let dir: string
  let store: Store
  const OLD = 'o'.repeat(40)
  const NEW = 'n'.repeat(40)
  const config = loadConfig({ TOKENBOOTH_ISSUER: ISSUER, TOKENBOOTH_LOG_LEVEL: 'silent' })
  const client: ClientRecord = {
    id: 'app',
    name: 'app',
    secretHash: undefined,
    scope: '',
    createdAt: T0,
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tb-refresh-keys-'))
    store = await openStore({ databaseUrl: undefined, dataDir: dir, sqliteSynchronous: 'FULL' })
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a refresh is a 503 (ServiceUnavailable) and the refresh token is not consumed', async () => {
    const clock = () => T0
    await rotateToNewSecret({ store, config, clock, oldSecret: OLD, newSecret: NEW })
    // an instance still on the old secret: it opens the active key and can sign
    const owner = await createKeyManager({ store, keyring: createKeyring([OLD]), config, clock })
    owner.close()
    // Opens only the key that has not activated yet (create: false skips the start-up refusal).
    const keys = await createKeyManager({
      store,
      keyring: createKeyring([NEW]),
      config,
      clock,
      create: false,
    })
    keys.close()

    await store.createUser({ id: 'u1', username: 'u1', passwordHash: 'x', createdAt: T0 })
    const refreshToken = newRefreshToken(T0)
    const hash = hashRefreshToken(refreshToken)!
    await store.startSession(
      {
        id: 's1',
        userId: 'u1',
        clientId: client.id,
        scope: 'profile',
        createdAt: T0 - 60_000,
        lastUsedAt: T0 - 60_000,
        expiresAt: T0 + 86_400_000,
        revokedAt: undefined,
        userAgent: undefined,
      },
      { hash, expiresAt: T0 + 86_400_000 },
    )
    const ctx = (k: BoothContext['keys']): BoothContext => ({
      config,
      store,
      keys: k,
      events: createEvents(pino({ level: 'silent' }), createMetrics()),
      throttle: createThrottle(),
      clock,
      horizon: createHorizonLease(store, config.accessTokenTtl),
    })
    const input = { refreshToken, client, scope: undefined, sessionId: undefined }

    await assert.rejects(
      refreshSession(ctx(keys), input),
      (error: unknown) =>
        error instanceof ServiceUnavailable &&
        error.status === 503 &&
        error.error === 'temporarily_unavailable',
    )
    assert.equal((await store.findSessionByRefreshToken(hash, T0))?.id, 's1', 'not consumed')
    // An instance that can sign rotates the very same token afterwards.
    const ok = await refreshSession(ctx(owner), input)
    assert.equal(typeof ok.refresh_token, 'string')
    assert.equal(await store.findSessionByRefreshToken(hash, T0), undefined)
  })
})
