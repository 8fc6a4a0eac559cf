/**
 * Encryption at rest. Private signing keys are sealed with AES-256-GCM under a key-encryption key
 * derived (HKDF-SHA256) from `TOKENBOOTH_SECRET`; several secrets may be configured: the first
 * seals, all of them open, so a secret can be rotated without downtime.
 *
 * Sealed text: `v1.<kek id>.<iv>.<ciphertext+tag>`, base64url parts; the AAD binds it to its use
 * (the kid), so a sealed key cannot be swapped for another row's.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'

export interface Keyring {
  seal(plaintext: Uint8Array, aad: string): string
  /** Opens what any configured secret sealed; `undefined` when none can. */
  open(sealed: string, aad: string): Buffer | undefined
}

function kekId(secret: string): string {
  return createHash('sha256')
    .update('tokenbooth kek id\0')
    .update(secret)
    .digest('base64url')
    .slice(0, 8)
}

function deriveKey(ikm: string | Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, 'tokenbooth', info, 32))
}

export function seal(key: Uint8Array, id: string, plaintext: Uint8Array, aad: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  return `v1.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`
}

export function open(key: Uint8Array, sealed: string, aad: string): Buffer | undefined {
  const [version, , ivText, bodyText] = sealed.split('.')
  if (version !== 'v1' || ivText === undefined || bodyText === undefined) return undefined
  const body = Buffer.from(bodyText, 'base64url')
  if (body.length < 16) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'))
    decipher.setAAD(Buffer.from(aad))
    decipher.setAuthTag(body.subarray(body.length - 16))
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()])
  } catch {
    return undefined
  }
}

/**
 * @example
 * const keyring = createKeyring(config.secrets)
 * const sealed = keyring.seal(pkcs8, kid)
 * keyring.open(sealed, kid) // the pkcs8 bytes, or undefined for a secret we do not hold
 */
export function createKeyring(secrets: readonly string[]): Keyring {
  if (secrets.length === 0) throw new TypeError('"secrets" must hold at least one secret')
  const keys = new Map(secrets.map((s) => [kekId(s), deriveKey(s, 'kek v1')] as const))
  const [firstId] = keys.keys()
  return {
    seal: (plaintext, aad) => seal(keys.get(firstId!)!, firstId!, plaintext, aad),
    open(sealedText, aad) {
      const key = keys.get(sealedText.split('.')[1] ?? '')
      return key && open(key, sealedText, aad)
    },
  }
}
