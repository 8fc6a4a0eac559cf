/**
 * Passwords that are not valid Unicode text. The Argon2 binding hands the hash UTF-8, and a lone
 * surrogate has none: it is hashed as U+FFFD, so without these rules "pass\uD800word-123" would
 * open the account whose password is "pass\uFFFDword-123" (and any other lone surrogate too).
 * Against a real SQLite store in a temporary directory.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { authenticate, signUp } from '../src/domain/accounts.ts'
import { verifyPassword } from '../src/domain/passwords.ts'
import { InvalidGrant, PasswordRejected } from '../src/errors.ts'
import { openStore } from '../src/store/open-store.ts'
import type { Store } from '../src/store/store.ts'

describe('passwords with a lone surrogate', () => {
  let dir: string
  let store: Store

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokenbooth-passwords-'))
    store = await openStore({ dataDir: dir, sqliteSynchronous: 'FULL' })
  })
  after(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('the hash alone cannot tell them from U+FFFD (why the rules exist)', async () => {
    const user = await signUp(store, 'replacement', 'pass\uFFFDword-123', Date.now())
    assert.equal(await verifyPassword(user.passwordHash, 'pass\uD800word-123'), true)
  })

  it('a login with one is refused like a wrong password, even where the hash would match', async () => {
    await signUp(store, 'fffd', 'pass\uFFFDword-123', Date.now())
    assert.equal((await authenticate(store, 'fffd', 'pass\uFFFDword-123')).username, 'fffd')
    for (const attempt of ['pass\uD800word-123', 'pass\uDFFFword-123']) {
      await assert.rejects(authenticate(store, 'fffd', attempt), (error: unknown) => {
        assert.ok(error instanceof InvalidGrant)
        assert.equal(error.description, 'wrong username or password')
        return true
      })
    }
  })

  it('sign-up refuses one, with a reason the user can act on', async () => {
    for (const password of ['pass\uD800word-123', 'pass\uDC00word-123', 'trailing-high\uD83D']) {
      await assert.rejects(signUp(store, 'surrogate', password, Date.now()), (error: unknown) => {
        assert.ok(error instanceof PasswordRejected)
        assert.match(String(error.description), /lone surrogate/)
        return true
      })
    }
    // a well-formed pair is an ordinary character
    const user = await signUp(store, 'emoji', 'pass\uD83D\uDE00word-123', Date.now())
    assert.equal(user.username, 'emoji')
  })
})
