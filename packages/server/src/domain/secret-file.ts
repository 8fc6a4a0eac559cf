/**
 * The embedded default needs no configuration: on first start a key-encryption secret is
 * generated into the data directory (mode 0600) and read on later starts. The file is held to
 * the rule TOKENBOOTH_SECRET follows (at least 32 characters), so a truncated or emptied file
 * stops the start instead of sealing signing keys under a guessable secret.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { MIN_SECRET_LENGTH } from '../config.ts'

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code
}

/** The secret in `path`, `undefined` when there is no file; TypeError when it breaks the rule. */
function readSecret(path: string): string | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if (errno(error) === 'ENOENT') return undefined
    throw error
  }
  const secret = text.trim()
  // One secret: TOKENBOOTH_SECRET's separators (spaces, commas) inside would mean a list here.
  if (secret.length < MIN_SECRET_LENGTH || /[\s,]/.test(secret)) {
    throw new TypeError(
      `the key-encryption secret file ${path} must hold one secret of at least ` +
        `${MIN_SECRET_LENGTH} characters (no spaces or commas), got ${secret.length} characters: ` +
        'restore the file, or set TOKENBOOTH_SECRET',
    )
  }
  return secret
}

/** Makes a new directory entry (a created or linked file) survive a power failure. */
function fsyncDirectory(dir: string): void {
  // Windows cannot open a directory for fsync, and its entries need no such step.
  if (process.platform === 'win32') return
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * The key-encryption secret of `dataDir`: read from `dataDir/secret`, or generated there when
 * the file does not exist. Throws a TypeError naming the file when it holds no valid secret.
 *
 * The new file appears whole or not at all: the secret is written under a temporary name with
 * mode 0600 and fsynced, then linked to `secret` and the directory fsynced. A concurrent start
 * never reads a half-written file, a crash never leaves an empty one, and `link` (unlike
 * `rename`) fails rather than replace a secret another process placed first, so both end up
 * with the same secret. It does NOT check the file's mode or owner on later starts.
 *
 * @example
 * ```ts
 * const { secret, created } = loadOrCreateSecret('/var/lib/tokenbooth')
 * ```
 */
export function loadOrCreateSecret(dataDir: string): { secret: string; created: boolean } {
  const path = join(dataDir, 'secret')
  const existing = readSecret(path)
  if (existing !== undefined) return { secret: existing, created: false }

  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  const temp = join(dataDir, `.secret-${randomBytes(8).toString('hex')}.tmp`)
  const fd = openSync(temp, 'wx', 0o600)
  let placed = false
  try {
    try {
      writeFileSync(fd, `${secret}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    try {
      linkSync(temp, path)
      placed = true
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error
    }
  } finally {
    unlinkSync(temp)
  }
  fsyncDirectory(dataDir)
  // Another process linked its secret first: use that one.
  if (!placed) return loadOrCreateSecret(dataDir)
  return { secret, created: true }
}
