/**
 * Signing keys: generated here, stored sealed, published as a JWKS, rotated on a schedule.
 *
 * Lifecycle of a key (all instances read the same rows, so they agree on every step):
 * 1. created `lead` before it activates, and published from then on, so every verifier that
 *    honours the JWKS max-age knows it before the first token it signs;
 * 2. signs from `activatesAt` until the next key activates;
 * 3. stays published until every token it signed has expired (next activation + access TTL).
 */
import {
  createPrivateKey,
  createSecretKey,
  generateKeyPairSync,
  randomUUID,
  type KeyObject,
} from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import type { Logger } from 'pino'
import { createKeySet, createSecretKeySet, type KeySet } from '@tokenbooth/verify'
import type { Config, SigningAlg } from '../config.ts'
import { KeyDecryptionFailed, ServiceUnavailable } from '../errors.ts'
import type { SigningKeyRecord, Store } from '../store/store.ts'
import type { Keyring } from './keyring.ts'

export interface ActiveKey {
  kid: string
  alg: SigningAlg
  key: KeyObject
}

export type KeyHealth = { ok: true } | { ok: false; reason: string }

export interface KeyManager {
  /**
   * The key that signs now: the scheduled one, or — when this instance cannot open it (another
   * instance rotated under a secret this one lacks) — the newest activated key it can open.
   * Throws ServiceUnavailable when it can open none; callers ask before changing anything.
   */
  signer(): ActiveKey
  /** Not ok while this instance cannot open the scheduled key (reported by /healthz). */
  health(): KeyHealth
  /** The public keys to publish, and their serialised form. */
  jwks(): { keys: JWK[] }
  jwksJson(): string
  /** The keys the booth verifies its own tokens with (the published ones). */
  keySet(): KeySet
  /**
   * The published keys plus those retired within the refresh-token lifetime: what the old access
   * token sent along with a refresh may be signed by (grants/refresh-token.ts). Never for bearer
   * authentication.
   */
  sessionKeySet(): KeySet
  /** Reloads keys from the store and creates the next one when it is due. */
  refresh(): Promise<void>
  /** Creates a key that activates after one JWKS max-age (operator-requested rotation). */
  rotate(): Promise<SigningKeyRecord>
  list(): ReadonlyArray<SigningKeyRecord & { state: 'next' | 'active' | 'retired' }>
  close(): void
}

export interface KeyManagerOptions {
  store: Store
  keyring: Keyring
  config: Pick<
    Config,
    | 'signingAlg'
    | 'hmacSecret'
    | 'keyRotation'
    | 'jwksMaxAge'
    | 'accessTokenTtl'
    | 'refreshTokenTtl'
  >
  clock: () => number
  /** Where reload failures and keys this instance cannot open are reported. */
  log?: Pick<Logger, 'warn' | 'error'>
  onRotate?: (key: SigningKeyRecord) => void
  /** How often every instance rereads the key table (ms). */
  reloadInterval?: number
  /** `false` for a read-only look (`tokenbooth keys list`): never creates a key. */
  create?: boolean
}

function generate(alg: SigningAlg): { publicKey: KeyObject; privateKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'EdDSA':
      return generateKeyPairSync('ed25519')
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 3072 })
    case 'HS256':
      throw new TypeError('HS256 keys are configured, not generated')
  }
}

/** A new key pair as a store row; the private half sealed by the keyring. */
export async function createSigningKey(
  alg: SigningAlg,
  keyring: Keyring,
  createdAt: number,
  activatesAt: number,
): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = generate(alg)
  const jwk = publicKey.export({ format: 'jwk' }) as JWK
  // RFC 7638 thumbprint, plus randomness so that a kid never repeats across regenerations.
  const kid = `${(await calculateJwkThumbprint(jwk)).slice(0, 16)}${randomUUID().slice(0, 4)}`
  const publicJwk = JSON.stringify({ ...jwk, kid, alg, use: 'sig' })
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' })
  return { kid, alg, publicJwk, privateSealed: keyring.seal(pkcs8, kid), createdAt, activatesAt }
}

export async function createKeyManager(options: KeyManagerOptions): Promise<KeyManager> {
  const { store, keyring, config, clock } = options
  const ttlMs = config.accessTokenTtl * 1000
  const rotationMs = config.keyRotation * 1000
  // Publish ahead by at least two JWKS max-ages (and a minute), and by up to a day when the
  // rotation period allows: verifiers that cache the JWKS see a key long before it signs.
  const leadMs = Math.max(
    2 * config.jwksMaxAge * 1000 + 60_000,
    Math.min(86_400_000, rotationMs / 4),
  )
  // Tokens are checked with a small clock tolerance; keep keys a minute past the last expiry.
  const keepMs = ttlMs + 60_000
  // An access token sent along with a refresh was issued with its refresh token, at most one
  // refresh-token lifetime ago (idle expiry), by a key active then.
  const sessionKeepMs = config.refreshTokenTtl * 1000 + 60_000
  const log = options.log

  let records: SigningKeyRecord[] = []
  let privateKeys = new Map<string, KeyObject>()
  let jwksCache = { keys: [] as JWK[] }
  let jwksText = '{"keys":[]}'
  let keySet: KeySet = createKeySet(jwksCache)
  let sessionKeys: KeySet = keySet
  // kids already reported as unopenable, so the log says it once, not every 5 seconds.
  const reported = new Set<string>()

  if (config.signingAlg === 'HS256') {
    const secret = config.hmacSecret!
    const kid = `hs-${(await calculateJwkThumbprint({ kty: 'oct', k: Buffer.from(secret).toString('base64url') })).slice(0, 12)}`
    const active: ActiveKey = { kid, alg: 'HS256', key: createSecretKey(secret) }
    const hsKeySet = createSecretKeySet([{ kid, secret }])
    return {
      signer: () => active,
      health: () => ({ ok: true }),
      jwks: () => jwksCache,
      jwksJson: () => jwksText,
      keySet: () => hsKeySet,
      sessionKeySet: () => hsKeySet,
      refresh: async () => {},
      rotate: () =>
        Promise.reject(new TypeError('HS256 keys rotate by changing TOKENBOOTH_HMAC_SECRET')),
      list: () => [],
      close: () => {},
    }
  }

  function retiredAt(i: number): number | undefined {
    return records[i + 1]?.activatesAt
  }

  function load(rows: SigningKeyRecord[], now: number): void {
    const opened = new Map<string, KeyObject>()
    for (const row of rows) {
      const der = keyring.open(row.privateSealed, row.kid)
      if (der !== undefined)
        opened.set(row.kid, createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
    }
    if (rows.length > 0 && opened.size === 0) {
      throw new KeyDecryptionFailed(
        `TOKENBOOTH_SECRET opens none of the ${rows.length} signing keys in the store; ` +
          'refusing to create new ones. Set the secret that sealed them (several values may be given).',
      )
    }
    records = rows
    privateKeys = opened
    const signing = signingRecord(now)?.kid
    // Keys not yet retired, those retired less than `keep` ago, and the key this instance signs
    // with even past its schedule (see signer()).
    const keysWithin = (keep: number): JWK[] =>
      rows
        .filter((r, i) => {
          const retired = retiredAt(i)
          return retired === undefined || now < retired + keep || r.kid === signing
        })
        .map((r) => JSON.parse(r.publicJwk) as JWK)
    jwksCache = { keys: keysWithin(keepMs) }
    jwksText = JSON.stringify(jwksCache)
    keySet = createKeySet(jwksCache)
    sessionKeys = createKeySet({ keys: keysWithin(sessionKeepMs) })
    rows.forEach((row, i) => {
      // A retired key is never scheduled to sign again (a fallback for a newer key this
      // instance cannot open is that newer key's report): after a secret rotation done as
      // documented (the old secret dropped once its key left the JWKS) not opening it is expected.
      const retired = retiredAt(i)
      if (opened.has(row.kid) || reported.has(row.kid) || (retired !== undefined && retired <= now))
        return
      reported.add(row.kid)
      log?.warn(
        { kid: row.kid, activates_at: new Date(row.activatesAt).toISOString() },
        `this instance cannot open signing key ${row.kid} with TOKENBOOTH_SECRET; once that key ` +
          'is scheduled to sign, it signs with the newest key it can open and reports unhealthy',
      )
    })
  }

  function activeIndex(now: number): number {
    let index = -1
    records.forEach((r, i) => {
      if (r.activatesAt <= now) index = i
    })
    // None active yet by this clock: the first key of a store, made by an instance whose clock is
    // ahead of this one's. No verifier has an older key, so it signs here too.
    return index === -1 && records.length > 0 ? 0 : index
  }

  /** The newest activated key this instance can open (the scheduled one when it can). */
  function signingRecord(now: number): SigningKeyRecord | undefined {
    for (let i = activeIndex(now); i >= 0; i--) {
      if (privateKeys.has(records[i]!.kid)) return records[i]
    }
    return undefined
  }

  function health(): KeyHealth {
    const now = clock()
    const scheduled = records[activeIndex(now)]
    if (scheduled === undefined || privateKeys.has(scheduled.kid)) return { ok: true }
    const fallback = signingRecord(now)
    return {
      ok: false,
      reason:
        `the active signing key ${scheduled.kid} cannot be opened with TOKENBOOTH_SECRET; ` +
        (fallback === undefined
          ? 'no key this instance can open may sign'
          : `signing with the older key ${fallback.kid} instead`),
    }
  }

  async function refresh(): Promise<void> {
    const now = clock()
    let rows = await store.listSigningKeys()
    // Open what is there first: a secret that opens nothing must stop us before we write.
    load(rows, now)
    const latest = rows.at(-1)
    let due: number | undefined
    let unless = 0
    if (latest === undefined) due = now
    else if (latest.alg === config.signingAlg) {
      // Created two lead times ahead, so that it can activate on schedule at least one lead
      // time after every instance has seen it.
      if (now >= latest.activatesAt + rotationMs - 2 * leadMs) {
        due = Math.max(latest.activatesAt + rotationMs, now + leadMs)
        unless = latest.activatesAt + 1
      }
    } else if (now - latest.createdAt >= leadMs) {
      // A change of algorithm rolls over with the same lead, so verifiers see it coming, to a key
      // that activates after every key there is (one of the old alg may be pending): it is then
      // the latest, and the next reload sees the new alg in place. At most one such key per lead
      // time: instances of a rolling change that disagree on the alg take turns that slowly, not
      // on every reload.
      due = Math.max(now + leadMs, latest.activatesAt + 1)
      unless = latest.activatesAt + 1
    }
    if (due !== undefined && options.create !== false) {
      const key = await createSigningKey(config.signingAlg, keyring, now, due)
      if (await store.insertSigningKey(key, unless)) {
        options.onRotate?.(key)
      }
      rows = await store.listSigningKeys()
      load(rows, now)
    }
  }

  await refresh()
  // At start, a secret that cannot open the key scheduled to sign is a configuration error and
  // stops the start. While running, the same state (another instance rotated under a secret this
  // one lacks) must not stop signing: signer() falls back and /healthz reports it.
  if (options.create !== false && !privateKeys.has(records[activeIndex(clock())]?.kid ?? '')) {
    throw new KeyDecryptionFailed('the active signing key cannot be opened with TOKENBOOTH_SECRET')
  }
  let degraded = false
  const timer = setInterval(() => {
    refresh().then(
      () => {
        const state = health()
        if (!state.ok && !degraded) log?.error({ reason: state.reason }, state.reason)
        degraded = !state.ok
      },
      (error: unknown) => {
        // Keep the keys we have; the next tick retries. A store outage must not stop signing.
        log?.warn({ err: error }, 'reloading the signing keys failed; keeping the loaded ones')
      },
    )
  }, options.reloadInterval ?? 5_000)
  timer.unref()

  return {
    signer() {
      const record = signingRecord(clock())
      if (record === undefined) {
        const state = health()
        throw new ServiceUnavailable({
          description: 'no signing key is available; try again later',
          detail: state.ok ? 'no key has activated yet' : state.reason,
        })
      }
      return { kid: record.kid, alg: record.alg as SigningAlg, key: privateKeys.get(record.kid)! }
    },
    health,
    jwks: () => jwksCache,
    jwksJson: () => jwksText,
    keySet: () => keySet,
    sessionKeySet: () => sessionKeys,
    refresh,
    async rotate() {
      const now = clock()
      const key = await createSigningKey(config.signingAlg, keyring, now, now + leadMs)
      await store.insertSigningKey(key, Number.MAX_SAFE_INTEGER)
      options.onRotate?.(key)
      load(await store.listSigningKeys(), now)
      return key
    },
    list() {
      const now = clock()
      const active = activeIndex(now)
      return records.map((r, i) => ({
        ...r,
        state:
          i === active
            ? ('active' as const)
            : i > active
              ? ('next' as const)
              : ('retired' as const),
      }))
    },
    close: () => clearInterval(timer),
  }
}
