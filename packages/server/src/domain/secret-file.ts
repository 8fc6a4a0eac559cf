/**
 * The embedded default needs no configuration: on first start a key-encryption secret is
 * generated into the data directory (mode 0600) and read on later starts.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function loadOrCreateSecret(dataDir: string): { secret: string; created: boolean } {
  const path = join(dataDir, 'secret')
  try {
    return { secret: readFileSync(path, 'utf8').trim(), created: false }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  // 'wx': never overwrite a secret another process wrote first.
  try {
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecret(dataDir)
    throw error
  }
  return { secret, created: true }
}
