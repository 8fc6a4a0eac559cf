/** Signing-key lifecycle with a frozen clock over a real SQLite file. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { TokenInvalid, verifyAccessToken, type KeySet } from '@tokenbooth/verify'
import { loadConfig } from '../src/config.ts'
import { createKeyManager, type KeyManager } from '../src/domain/keys.ts'
import { createKeyring } from '../src/domain/keyring.ts'
import { issueAccessToken } from '../src/domain/tokens.ts'
import { KeyDecryptionFailed, ServiceUnavailable } from '../src/errors.ts'
import { openStore } from '../src/store/open-store.ts'
import { rotateToNewSecret } from './key-fixtures.ts'
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

describe('key manager: a change of algorithm, and clocks that disagree', () => {
  let dir: string
  let store: Store
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tb-keys-alg-'))
    store = await openStore({ databaseUrl: undefined, dataDir: dir, sqliteSynchronous: 'FULL' })
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  // one reload of an instance at `at` (createKeyManager reloads once as it starts)
  async function reload(env: Record<string, string>, at: number): Promise<KeyManager> {
    const config = loadConfig({ TOKENBOOTH_ISSUER: 'https://booth.test', ...env })
    const keys = await createKeyManager({
      store,
      keyring: createKeyring([SECRET]),
      config,
      clock: () => at,
    })
    keys.close()
    return keys
  }

  it('a change of alg while a next key is pending rolls over once, not on every reload, and the new alg stays', async () => {
    // ES256, rotation 30 days, lead 1 day: 29 days in, the next ES256 key is pending
    await reload({}, T0)
    const pending = await reload({}, T0 + 29 * DAY)
    assert.equal(pending.list().length, 2)
    const pendingKey = pending.list()[1]!
    assert.equal(pendingKey.state, 'next')
    // the operator switches to EdDSA: reloads every 5 s for an hour add nothing (the newest key
    // is less than a lead time old), and once it is, an hour of reloads adds one EdDSA key
    const ed = { TOKENBOOTH_SIGNING_ALG: 'EdDSA' }
    let t = T0 + 29 * DAY + 60_000
    for (let i = 0; i < 720; i++, t += 5_000) await reload(ed, t)
    assert.equal((await reload(ed, t)).list().length, 2, 'no key while the newest is young')
    t = T0 + 30 * DAY + 60_000
    for (let i = 0; i < 720; i++, t += 5_000) await reload(ed, t)
    const keys = await reload(ed, t)
    const edKeys = keys.list().filter((k) => k.alg === 'EdDSA')
    assert.equal(edKeys.length, 1, `${keys.list().length} keys after the reloads`)
    assert.equal(keys.list().length, 3)
    assert.ok(edKeys[0]!.activatesAt > pendingKey.activatesAt, 'after the pending ES256 key')
    // a month on, it signs, and still EdDSA (the pending ES256 key does not take over)
    const later = await reload({ TOKENBOOTH_SIGNING_ALG: 'EdDSA' }, T0 + 60 * DAY)
    assert.equal(later.signer().kid, later.list().find((k) => k.alg === 'EdDSA')!.kid)
  })

  it('instances of a rolling change that disagree on the alg add one key per lead time, not one per reload', async () => {
    await reload({}, T0)
    let t = T0 + DAY
    for (let i = 0; i < 360; i++, t += 5_000) {
      await reload({}, t)
      await reload({ TOKENBOOTH_SIGNING_ALG: 'EdDSA' }, t)
    }
    // half an hour of both: the first EdDSA rollover, and no ES256 one back within the lead
    const keys = await reload({}, t)
    assert.equal(
      keys.list().length,
      2,
      keys
        .list()
        .map((k) => k.alg)
        .join(','),
    )
  })

  it('the first key of a store signs on an instance whose clock is behind the one that made it', async () => {
    // three instances start together on an empty store; the one that creates the key is 30 ms
    // ahead: the others must not find "no active key" and refuse to start
    const ahead = await reload({}, T0 + 30)
    const behind = await reload({}, T0)
    assert.equal(behind.signer().kid, ahead.signer().kid)
    assert.equal(behind.list().length, 1)
  })
})

describe('key manager: keys this instance cannot open, old tokens, reload failures', () => {
  const OLD = 'o'.repeat(40)
  const NEW = 'n'.repeat(40)
  const config = loadConfig({ TOKENBOOTH_ISSUER: 'https://booth.test' })
  const claims = { issuer: 'https://booth.test', audience: 'https://booth.test' }
  let dir: string
  let store: Store
  let now = T0
  const clock = () => now

  /** A real pino logger writing JSON lines into an array. */
  function capturingLog() {
    const lines: Array<{ level: number; msg: string; [key: string]: unknown }> = []
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
    return { log, lines }
  }

  function sign(key: ReturnType<KeyManager['signer']>, at: number) {
    return issueAccessToken(key, {
      ...claims,
      subject: 'u',
      clientId: 'c',
      scope: [],
      sessionId: 's',
      ttl: 900,
      now: at,
    }).token
  }

  beforeEach(async () => {
    now = T0
    dir = mkdtempSync(join(tmpdir(), 'tb-keys-'))
    store = await openStore({ databaseUrl: undefined, dataDir: dir, sqliteSynchronous: 'FULL' })
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('an instance that cannot open the key another one rotated in keeps signing with its newest, and says so', async () => {
    const { log, lines } = capturingLog()
    // Instance A holds only the old secret; instance B was given `new,old` and rotates.
    const a = await createKeyManager({
      store,
      keyring: createKeyring([OLD]),
      config,
      clock,
      log,
      reloadInterval: 20,
    })
    const b = await createKeyManager({ store, keyring: createKeyring([NEW, OLD]), config, clock })
    b.close()
    try {
      const k1 = a.signer().kid
      const k2 = (await b.rotate()).kid
      await a.refresh()
      assert.deepEqual(a.health(), { ok: true }, 'not yet: the new key does not sign yet')
      const warned = lines.filter((l) => l.level === 40 && l.kid === k2)
      assert.equal(warned.length, 1, 'the unopenable key is reported once, ahead of time')
      await a.refresh()
      assert.equal(lines.filter((l) => l.level === 40 && l.kid === k2).length, 1, 'only once')

      now = (await store.listSigningKeys()).find((k) => k.kid === k2)!.activatesAt
      await Promise.all([a.refresh(), b.refresh()])
      assert.equal(b.signer().kid, k2)
      const fallback = a.signer()
      assert.equal(fallback.kid, k1, 'A signs with the newest key it can open')
      assert.ok(fallback.key, 'with a real private key (it used to be undefined)')
      const health = a.health()
      assert.equal(health.ok, false)
      assert.match(!health.ok ? health.reason : '', new RegExp(`${k2}.*TOKENBOOTH_SECRET.*${k1}`))
      const error = await pollUntil(() => lines.find((l) => l.level === 50), 2_000)
      assert.ok(error, 'the reload reports the degraded state at error level')
      assert.match(error.msg, new RegExp(k2))

      // Long after K1's schedule ended, A still publishes the key it signs with; B does not.
      now += 900_000 + 61_000
      await Promise.all([a.refresh(), b.refresh()])
      assert.deepEqual(
        a
          .jwks()
          .keys.map((k) => k.kid)
          .sort(),
        [k1, k2].sort(),
      )
      assert.deepEqual(
        b.jwks().keys.map((k) => k.kid),
        [k2],
      )
      verifyAccessToken(sign(a.signer(), now), a.keySet(), { ...claims, now: clock })
    } finally {
      a.close()
    }
  })

  it('after a secret rotation done as documented, a start without the old secret warns about no retired key', async () => {
    const { firstKid: k1, next: k2 } = await rotateToNewSecret({
      store,
      config,
      clock,
      oldSecret: OLD,
      newSecret: NEW,
    })
    now = k2.activatesAt + 900_000 + 61_000 // K1 has left the JWKS: `old` is dropped
    const { log, lines } = capturingLog()
    const keys = await createKeyManager({
      store,
      keyring: createKeyring([NEW]),
      config,
      clock,
      log,
    })
    try {
      assert.equal(keys.signer().kid, k2.kid)
      assert.deepEqual(keys.health(), { ok: true })
      assert.deepEqual(
        lines.filter((l) => l.level >= 40),
        [],
        `no warning about the retired ${k1}`,
      )
      // The probe can fail: a key not yet retired that this instance cannot open is reported.
      const third = await createKeyManager({
        store,
        keyring: createKeyring(['t'.repeat(40), NEW]),
        config,
        clock,
      })
      third.close()
      const k3 = await third.rotate()
      await keys.refresh()
      assert.deepEqual(
        lines.filter((l) => l.level === 40).map((l) => l.kid),
        [k3.kid],
      )
    } finally {
      keys.close()
    }
  })

  it('with no activated key it can open, signer() is a 503 (ServiceUnavailable), never a key-less signer', async () => {
    await rotateToNewSecret({ store, config, clock, oldSecret: OLD, newSecret: NEW })
    // A look that opens only the next key (create: false skips the start-up refusal).
    const onlyNext = await createKeyManager({
      store,
      keyring: createKeyring([NEW]),
      config,
      clock,
      create: false,
    })
    onlyNext.close()
    assert.throws(
      () => onlyNext.signer(),
      (error: unknown) => error instanceof ServiceUnavailable && error.status === 503,
    )
    assert.equal(onlyNext.health().ok, false)
  })

  it('a start whose secret cannot open the active key still refuses (configuration error)', async () => {
    const { next: k2 } = await rotateToNewSecret({
      store,
      config,
      clock,
      oldSecret: OLD,
      newSecret: NEW,
    })
    now = k2.activatesAt
    await assert.rejects(
      createKeyManager({ store, keyring: createKeyring([OLD]), config, clock }),
      (error: unknown) => error instanceof KeyDecryptionFailed,
    )
  })

  it('sessionKeySet keeps a retired key for the refresh-token lifetime; keySet only until its tokens expire', async () => {
    const keys = await createKeyManager({ store, keyring: createKeyring([OLD]), config, clock })
    keys.close()
    now = T0 + 28 * DAY + 1000
    await keys.refresh()
    const old = sign(keys.signer(), T0 + 30 * DAY - 1000)
    const retired = T0 + 30 * DAY
    const check = (set: KeySet) =>
      verifyAccessToken(old, set, { ...claims, now: clock, ignoreExpiration: true })

    now = retired + 900_000 + 61_000 // left the JWKS
    await keys.refresh()
    assert.throws(() => check(keys.keySet()), TokenInvalid)
    check(keys.sessionKeySet())

    now = retired + config.refreshTokenTtl * 1000 - 1000 // any refresh token it came with is near its end
    await keys.refresh()
    check(keys.sessionKeySet())

    now = retired + config.refreshTokenTtl * 1000 + 61_000 // no live refresh token is that old
    await keys.refresh()
    assert.throws(() => check(keys.sessionKeySet()), TokenInvalid)
  })

  it('a reload that fails is logged, and the loaded keys keep signing', async () => {
    const { log, lines } = capturingLog()
    const other = await openStore({
      databaseUrl: undefined,
      dataDir: join(dir, 'other'),
      sqliteSynchronous: 'FULL',
    })
    const keys = await createKeyManager({
      store: other,
      keyring: createKeyring([OLD]),
      config,
      clock,
      log,
      reloadInterval: 20,
    })
    try {
      const kid = keys.signer().kid
      await other.close() // the store goes away under the running manager
      const warning = await pollUntil(
        () => lines.find((l) => l.level === 40 && /reloading the signing keys failed/.test(l.msg)),
        2_000,
      )
      assert.ok(warning, 'the failure is in the log')
      assert.ok(warning.err, 'with the error')
      assert.equal(keys.signer().kid, kid)
    } finally {
      keys.close()
    }
  })
})

async function pollUntil<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined || Date.now() > deadline) return value
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
