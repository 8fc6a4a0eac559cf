/**
 * Password storage per the OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2,
 * p = 1, through @node-rs/argon2, whose async calls run on libuv's thread pool, so a login does
 * not stall the event loop. Policy per NIST SP 800-63B §5.1.1.2: at least 8 characters, long
 * passphrases allowed (256), no composition rules, and a list of common passwords refused.
 */
import { readFileSync } from 'node:fs'
import { hash, verify } from '@node-rs/argon2'
import { PasswordRejected } from '../errors.ts'
import { processCounter } from './metrics.ts'

export const MIN_PASSWORD_LENGTH = 8
// Long enough for any passphrase; bounded so a huge body cannot buy seconds of hashing.
export const MAX_PASSWORD_LENGTH = 256

// `algorithm: 2` is Argon2id; the package exports it as a const enum, which erasable TS cannot use.
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

// Every Argon2id run, by operation: proof (in /metrics) that an unknown user costs the same
// verification as a wrong password.
const hashRuns = processCounter(
  'tokenbooth_password_hashes_total',
  'Argon2id computations by operation (hash, verify)',
)

let common: Set<string> | undefined
function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(new URL('../../data/common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#')),
  )
  return common
}

/** NFKC, so the same password typed on two keyboards is the same password (SP 800-63B). */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}

/** Throws PasswordRejected with a description the user can act on. */
export function checkPasswordPolicy(password: string, username: string): void {
  // A lone surrogate has no UTF-8 form: the Argon2 binding would hash it as U+FFFD, so that
  // every such password, and the one with a real U+FFFD, would be one password
  if (!password.isWellFormed()) {
    throw new PasswordRejected({
      description: 'the password must be valid Unicode text (it has a lone surrogate)',
    })
  }
  const length = [...password].length
  if (length < MIN_PASSWORD_LENGTH) {
    throw new PasswordRejected({
      description: `the password must have at least ${MIN_PASSWORD_LENGTH} characters`,
    })
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new PasswordRejected({
      description: `the password must have at most ${MAX_PASSWORD_LENGTH} characters`,
    })
  }
  const lower = password.toLowerCase()
  if (commonPasswords().has(lower) || lower === username) {
    throw new PasswordRejected({ description: 'this password is too common; choose another' })
  }
}

export function hashPassword(password: string): Promise<string> {
  hashRuns.inc({ op: 'hash' })
  return hash(password, ARGON2)
}

/** Compares in constant time (inside Argon2); a malformed stored hash is a mismatch. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  hashRuns.inc({ op: 'verify' })
  try {
    return await verify(stored, password)
  } catch {
    return false
  }
}

let dummy: Promise<string> | undefined
/**
 * A real hash of a random password: an unknown user is checked against it, so that it costs
 * exactly what a wrong password costs (RFC 6749 §5.2 answers; OWASP on timing).
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(crypto.randomUUID())
  return dummy
}
