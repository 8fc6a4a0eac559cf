import { createPublicKey, createSecretKey } from 'node:crypto'
import type { JsonWebKey, KeyObject } from 'node:crypto'

/**
 * The algorithms a verification key may be pinned to. `HS256` is only reachable through
 * {@link createSecretKeySet}; `EdDSA` means Ed25519 only.
 *
 * @example
 * ```ts
 * const alg: VerificationAlgorithm = 'ES256'
 * ```
 */
export type VerificationAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256' | 'HS256'

/**
 * A key with its pinned algorithm: a token is only checked against `key` if its header `alg`
 * equals `alg` exactly (RFC 8725 §3.1).
 *
 * @example
 * ```ts
 * const { alg, key } = keys.get('2025-01')!
 * ```
 */
export interface VerificationKey {
  readonly kid: string
  readonly alg: VerificationAlgorithm
  /** A `public` KeyObject, or a `secret` one for HS256. Never a private key. */
  readonly key: KeyObject
}

/**
 * An immutable set of verification keys looked up by `kid`.
 *
 * It does NOT refresh itself: build a new set when the JWKS changes.
 *
 * @example
 * ```ts
 * const keys = createKeySet(await (await fetch(jwksUri)).json())
 * keys.get('2025-01') // VerificationKey | undefined
 * ```
 */
export interface KeySet {
  get(kid: string): VerificationKey | undefined
  readonly kids: readonly string[]
  readonly size: number
}

/**
 * One entry of a JWKS as it arrives off the wire; every member is untrusted.
 *
 * @example
 * ```ts
 * const jwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: '...', kid: 'k1', alg: 'EdDSA' }
 * ```
 */
export interface PublicJwk {
  readonly kty?: string
  readonly kid?: string
  readonly alg?: string
  readonly use?: string
  readonly key_ops?: readonly string[]
  readonly [member: string]: unknown
}

/**
 * Options for {@link createKeySet}.
 *
 * @example
 * ```ts
 * createKeySet(jwks, { onSkip: (reason, index) => log.warn({ index }, reason) })
 * ```
 */
export interface KeySetOptions {
  /** Called once for every JWKS entry that is skipped, with the reason; for the operator's log. */
  onSkip?: (reason: string, index: number) => void
}

/** Longest `kid` accepted, here and in token headers. */
export const MAX_KID_LENGTH = 256

// RFC 7517 §4 / RFC 7518 §6: members that only a private or symmetric key carries
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

// What each algorithm requires of the JWK (kty, crv) and of the imported key (type, curve)
const REQUIREMENTS: Readonly<Record<string, { kty: string; crv?: string; type: string }>> = {
  ES256: { kty: 'EC', crv: 'P-256', type: 'ec' },
  ES384: { kty: 'EC', crv: 'P-384', type: 'ec' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', type: 'ed25519' },
  RS256: { kty: 'RSA', type: 'rsa' },
  PS256: { kty: 'RSA', type: 'rsa' },
}
const NAMED_CURVES: Readonly<Record<string, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
}
const MIN_RSA_BITS = 2048 // RFC 7518 §3.3
const MIN_SECRET_BYTES = 32 // RFC 7518 §3.2: a key at least as long as the SHA-256 output

/**
 * Builds a {@link KeySet} from a JWKS. Each usable key is pinned to its `alg`. Entries that cannot
 * be used are skipped (a JWKS may hold keys for other purposes): no `kid`, `alg` missing or not one
 * of ES256, ES384, EdDSA, RS256, PS256, `alg` not matching `kty`/`crv`, `use` other than `sig`,
 * `key_ops` without `verify`, RSA moduli under 2048 bits, a duplicate `kid` (the first wins), or
 * key material Node cannot import. A JWKS with no usable key gives an empty set.
 *
 * Throws `TypeError` if `jwks` is not `{ keys: [...] }` or if ANY entry carries private or secret
 * material (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`): publishing that is an incident, not a
 * key to skip. It does NOT fetch anything, check `x5c` chains, or accept symmetric keys (see
 * {@link createSecretKeySet}).
 *
 * @example
 * ```ts
 * const keys = createKeySet({ keys: [{ kty: 'EC', crv: 'P-256', x, y, kid: 'k1', alg: 'ES256' }] })
 * keys.kids // ['k1']
 * ```
 */
export function createKeySet(
  jwks: { readonly keys: readonly PublicJwk[] },
  options: KeySetOptions = {},
): KeySet {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
    throw new TypeError('"jwks" must be an object with a "keys" array')
  }
  const map = new Map<string, VerificationKey>()
  const skip = (reason: string, index: number): void => options.onSkip?.(reason, index)
  jwks.keys.forEach((jwk: unknown, index) => {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
      return skip('entry is not an object', index)
    }
    const entry = jwk as Record<string, unknown>
    for (const member of PRIVATE_MEMBERS) {
      if (Object.hasOwn(entry, member)) {
        throw new TypeError(
          `JWKS entry ${index} has the private member "${member}"; a verification key set must ` +
            'hold public keys only (symmetric keys go through createSecretKeySet)',
        )
      }
    }
    const reason = rejectReason(entry, map)
    if (reason !== undefined) return skip(reason, index)
    const kid = entry.kid as string
    const alg = entry.alg as VerificationAlgorithm
    const key = importPublicKey(entry, alg)
    if (typeof key === 'string') return skip(key, index)
    map.set(kid, Object.freeze({ kid, alg, key }))
  })
  return freezeKeySet(map)
}

function rejectReason(
  jwk: Record<string, unknown>,
  seen: Map<string, unknown>,
): string | undefined {
  const { kid, alg, use, key_ops: keyOps, kty, crv } = jwk
  if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
    return `"kid" must be a non-empty string of at most ${MAX_KID_LENGTH} characters`
  }
  if (seen.has(kid)) return 'duplicate "kid"; the first key with it is kept'
  if (use !== undefined && use !== 'sig') return '"use" is not "sig"'
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) {
    return '"key_ops" does not include "verify"'
  }
  const need =
    typeof alg === 'string' && Object.hasOwn(REQUIREMENTS, alg) ? REQUIREMENTS[alg] : undefined
  if (need === undefined) return '"alg" is missing or not allowed'
  if (kty !== need.kty || (need.crv !== undefined && crv !== need.crv)) {
    return `"alg" ${alg} does not fit this "kty"/"crv"`
  }
  return undefined
}

// Returns the key, or the reason it cannot be used
function importPublicKey(jwk: Record<string, unknown>, alg: string): KeyObject | string {
  const need = REQUIREMENTS[alg]!
  // hand Node only the public members it needs, so nothing else in the JWK can influence the import
  const members =
    need.kty === 'RSA'
      ? ['kty', 'n', 'e']
      : need.kty === 'EC'
        ? ['kty', 'crv', 'x', 'y']
        : ['kty', 'crv', 'x']
  const minimal: Record<string, string> = {}
  for (const name of members) {
    const value = jwk[name]
    if (typeof value !== 'string') return `"${name}" must be a string`
    minimal[name] = value
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: minimal as JsonWebKey, format: 'jwk' })
  } catch {
    return 'key material cannot be imported'
  }
  // check what was actually imported, not only what the JWK claimed
  if (key.type !== 'public' || key.asymmetricKeyType !== need.type) return 'unexpected key type'
  const details = key.asymmetricKeyDetails ?? {}
  if (
    need.crv !== undefined &&
    need.kty === 'EC' &&
    details.namedCurve !== NAMED_CURVES[need.crv]
  ) {
    return 'unexpected curve'
  }
  if (need.kty === 'RSA' && (details.modulusLength ?? 0) < MIN_RSA_BITS) {
    return `RSA modulus is shorter than ${MIN_RSA_BITS} bits`
  }
  return key
}

/**
 * Builds a {@link KeySet} of HS256 secrets. This is the only way to get a symmetric key into a key
 * set; a JWKS never can. Throws `TypeError` for a `kid` that is empty or longer than 256
 * characters, a duplicate `kid`, or a secret shorter than 32 bytes (RFC 7518 §3.2).
 *
 * It does NOT check the secret's entropy: use 32 bytes from `crypto.randomBytes`, not a password.
 *
 * @example
 * ```ts
 * const keys = createSecretKeySet([{ kid: 'hs-1', secret: randomBytes(32) }])
 * keys.get('hs-1')?.alg // 'HS256'
 * ```
 */
export function createSecretKeySet(
  secrets: readonly { readonly kid: string; readonly secret: Uint8Array }[],
): KeySet {
  if (!Array.isArray(secrets)) throw new TypeError('"secrets" must be an array')
  const map = new Map<string, VerificationKey>()
  secrets.forEach(({ kid, secret }, index) => {
    if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
      throw new TypeError(
        `secrets[${index}].kid must be a non-empty string of at most 256 characters`,
      )
    }
    if (map.has(kid)) throw new TypeError(`secrets[${index}].kid duplicates an earlier kid`)
    if (!(secret instanceof Uint8Array) || secret.byteLength < MIN_SECRET_BYTES) {
      throw new TypeError(`secrets[${index}].secret must be a Uint8Array of at least 32 bytes`)
    }
    // createSecretKey copies the bytes, so later changes to `secret` do not affect the key set
    map.set(kid, Object.freeze({ kid, alg: 'HS256', key: createSecretKey(secret) }))
  })
  return freezeKeySet(map)
}

function freezeKeySet(map: Map<string, VerificationKey>): KeySet {
  const kids = Object.freeze([...map.keys()])
  return Object.freeze({
    get: (kid: string) => map.get(kid),
    kids,
    size: kids.length,
  })
}
