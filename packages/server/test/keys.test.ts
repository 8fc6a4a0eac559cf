/** Signing-key lifecycle with a frozen clock over a real SQLite file. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { verifyAccessToken } from '@tokenbooth/verify'
import { loadConfig } from '../src/config.ts'
import { createKeyManager } from '../src/domain/keys.ts'
import { createKeyring } from '../src/domain/keyring.ts'
import { issueAccessToken } from '../src/domain/tokens.ts'
import { KeyDecryptionFailed } from '../src/errors.ts'
import { openStore } from '../src/store/open-store.ts'
import type { Store } from '../src/store/store.ts'

const DAY = 86_400_000
const SECRET = 'k'.repeat(40)
const T0 = Date.parse('2027-01-01T00:00:00Z')

describe('key manager', () => {
  let dir: string
  let store: Store
  let now = T0
  const clock = () => now
  // rotation 30 days, max-age 600 s → lead 1 day; access TTL 900 s
  const config = loadConfig({ TOKENBOOTH_ISSUER: 'https://booth.test' })

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tb-keys-'))
    store = await openStore({ databaseUrl: undefined, dataDir: dir, sqliteSynchronous: 'FULL' })
  })
  after(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates one key on first start, publishes it, and signs with it', async () => {
    const keys = await createKeyManager({ store, keyring: createKeyring([SECRET]), config, clock })
    keys.close()
    const [first] = keys.list()
    assert.equal(keys.list().length, 1)
    assert.equal(first!.state, 'active')
    assert.equal(keys.signer().kid, first!.kid)
    const jwks = keys.jwks()
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [first!.kid],
    )
    assert.equal(jwks.keys[0]!.d, undefined, 'no private member is published')
    assert.equal(jwks.keys[0]!.use, 'sig')
    assert.equal(jwks.keys[0]!.alg, 'ES256')
  })

  it('publishes the next key a lead time before it signs, then retires the old one after the last token expires', async () => {
    const keys = await createKeyManager({ store, keyring: createKeyring([SECRET]), config, clock })
    keys.close()
    const first = keys.signer().kid

    now = T0 + 28 * DAY - 1000 // just before two lead times ahead
    await keys.refresh()
    assert.equal(keys.list().length, 1)

    now = T0 + 28 * DAY + 1000 // next key created and published, not signing yet
    await keys.refresh()
    const second = keys.list().find((k) => k.state === 'next')
    assert.ok(second, 'a next key exists')
    assert.equal(second.activatesAt, T0 + 30 * DAY)
    assert.deepEqual(
      keys
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [first, second.kid].sort(),
    )
    assert.equal(keys.signer().kid, first)
    // A token signed by the old key just before the switch…
    const token = await issueAccessToken(keys.signer(), {
      issuer: 'https://booth.test',
      audience: 'https://booth.test',
      subject: 'u',
      clientId: 'c',
      scope: [],
      sessionId: 's',
      ttl: 900,
      now: T0 + 30 * DAY - 1000,
    })

    now = T0 + 30 * DAY // the switch
    await keys.refresh()
    assert.equal(keys.signer().kid, second.kid)
    // …still verifies with the published set until it expires.
    now = T0 + 30 * DAY + 890_000
    await keys.refresh()
    assert.ok(keys.jwks().keys.some((k) => k.kid === first))
    verifyAccessToken(token.token, keys.keySet(), {
      issuer: 'https://booth.test',
      audience: 'https://booth.test',
      now: clock,
    })

    now = T0 + 30 * DAY + 900_000 + 61_000 // every token of the old key has expired
    await keys.refresh()
    assert.deepEqual(
      keys.jwks().keys.map((k) => k.kid),
      [second.kid],
    )
  })

  it('two managers on one store create one next key, not two', async () => {
    const a = await createKeyManager({ store, keyring: createKeyring([SECRET]), config, clock })
    const b = await createKeyManager({ store, keyring: createKeyring([SECRET]), config, clock })
    a.close()
    b.close()
    const before = await store.listSigningKeys()
    now = before.at(-1)!.activatesAt + 28 * DAY + 1000
    await Promise.all([a.refresh(), b.refresh()])
    const after = await store.listSigningKeys()
    assert.equal(after.length, before.length + 1, JSON.stringify(after.map((k) => k.activatesAt)))
  })

  it('refuses to start with a secret that opens no stored key, and creates none', async () => {
    const count = (await store.listSigningKeys()).length
    await assert.rejects(
      createKeyManager({ store, keyring: createKeyring(['w'.repeat(40)]), config, clock }),
      (error: unknown) =>
        error instanceof KeyDecryptionFailed && /TOKENBOOTH_SECRET/.test(error.message),
    )
    assert.equal((await store.listSigningKeys()).length, count)
  })

  it('opens keys with any configured secret (secret rotation)', async () => {
    const keys = await createKeyManager({
      store,
      keyring: createKeyring(['n'.repeat(40), SECRET]),
      config,
      clock,
    })
    keys.close()
    assert.ok(keys.signer().key)
  })

  it('rotate() publishes a key that signs only after the lead time', async () => {
    const keys = await createKeyManager({ store, keyring: createKeyring([SECRET]), config, clock })
    keys.close()
    const active = keys.signer().kid
    const created = await keys.rotate()
    assert.ok(created.activatesAt >= now + 2 * config.jwksMaxAge * 1000)
    assert.equal(keys.signer().kid, active)
    assert.ok(keys.jwks().keys.some((k) => k.kid === created.kid))
  })
})
