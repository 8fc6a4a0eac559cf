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
import { createKeySet, createSecretKeySet, type KeySet } from '@tokenbooth/verify'
import type { Config, SigningAlg } from '../config.ts'
import { KeyDecryptionFailed } from '../errors.ts'
import type { SigningKeyRecord, Store } from '../store/store.ts'
import type { Keyring } from './keyring.ts'

export interface ActiveKey {
  kid: string
  alg: SigningAlg
  key: KeyObject
}

export interface KeyManager {
  /** The key that signs now. */
  signer(): ActiveKey
  /** The public keys to publish, and their serialised form. */
  jwks(): { keys: JWK[] }
  jwksJson(): string
  /** The keys the booth verifies its own tokens with (the published ones). */
  keySet(): KeySet
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
    'signingAlg' | 'hmacSecret' | 'keyRotation' | 'jwksMaxAge' | 'accessTokenTtl'
  >
  clock: () => number
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

  let records: SigningKeyRecord[] = []
  let privateKeys = new Map<string, KeyObject>()
  let jwksCache = { keys: [] as JWK[] }
  let jwksText = '{"keys":[]}'
  let keySet: KeySet = createKeySet(jwksCache)

  if (config.signingAlg === 'HS256') {
    const secret = config.hmacSecret!
    const kid = `hs-${(await calculateJwkThumbprint({ kty: 'oct', k: Buffer.from(secret).toString('base64url') })).slice(0, 12)}`
    const active: ActiveKey = { kid, alg: 'HS256', key: createSecretKey(secret) }
    const hsKeySet = createSecretKeySet([{ kid, secret }])
    return {
      signer: () => active,
      jwks: () => jwksCache,
      jwksJson: () => jwksText,
      keySet: () => hsKeySet,
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
    const published = rows.filter((_, i) => {
      const retired = retiredAt(i)
      return retired === undefined || retired > now || now < retired + keepMs
    })
    jwksCache = { keys: published.map((r) => JSON.parse(r.publicJwk) as JWK) }
    jwksText = JSON.stringify(jwksCache)
    keySet = createKeySet(jwksCache)
  }

  function activeIndex(now: number): number {
    let index = -1
    records.forEach((r, i) => {
      if (r.activatesAt <= now) index = i
    })
    return index
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
    else if (
      latest.alg !== config.signingAlg ||
      now >= latest.activatesAt + rotationMs - 2 * leadMs
    ) {
      // Created two lead times ahead, so that it can activate on schedule at least one lead
      // time after every instance has seen it. A change of algorithm rolls over with the
      // same lead, so verifiers see it coming.
      due = Math.max(
        latest.alg === config.signingAlg ? latest.activatesAt + rotationMs : 0,
        now + leadMs,
      )
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
    if (options.create !== false && !privateKeys.has(records[activeIndex(now)]?.kid ?? '')) {
      throw new KeyDecryptionFailed(
        'the active signing key cannot be opened with TOKENBOOTH_SECRET',
      )
    }
  }

  await refresh()
  const timer = setInterval(() => {
    refresh().catch(() => {
      // Keep the keys we have; the next tick retries. A store outage must not stop signing.
    })
  }, options.reloadInterval ?? 5_000)
  timer.unref()

  return {
    signer() {
      const record = records[activeIndex(clock())]!
      return { kid: record.kid, alg: record.alg as SigningAlg, key: privateKeys.get(record.kid)! }
    },
    jwks: () => jwksCache,
    jwksJson: () => jwksText,
    keySet: () => keySet,
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
