/**
 * User accounts: sign-up and password authentication.
 */
import { randomUUID } from 'node:crypto'
import { InvalidGrant, InvalidRequest, UsernameTaken } from '../errors.ts'
import type { Store, UserRecord } from '../store/store.ts'
import {
  checkPasswordPolicy,
  dummyHash,
  hashPassword,
  normalizePassword,
  verifyPassword,
} from './passwords.ts'

const USERNAME = /^[\p{L}\p{N}._@+-]{3,64}$/u

/**
 * NFKC then lower case, so that `Ｋim`, `KIM` and `kim` are one account (and cannot be
 * registered as three look-alikes). Throws InvalidRequest for a name outside the rules.
 *
 * @example normalizeUsername('  Alice ') // throws: spaces are not allowed
 * @example normalizeUsername('Ａlice') // 'alice'
 */
export function normalizeUsername(raw: string): string {
  const username = accountName(raw)
  if (username === undefined) {
    throw new InvalidRequest({
      description: 'the username must be 3 to 64 letters, digits or . _ @ + -',
    })
  }
  return username
}

/**
 * The normalized username, or `undefined` for a name that can never be registered (what the
 * login throttle keys an account by: bounded, and one counter for every spelling of a name).
 *
 * @example accountName('ＫＩＭ') // 'kim'
 * @example accountName('x'.repeat(65_000)) // undefined
 */
export function accountName(raw: string): string | undefined {
  const username = raw.normalize('NFKC').toLowerCase()
  return USERNAME.test(username) ? username : undefined
}

/**
 * Creates a user. `admit` runs once the name and password passed the policy and before the
 * password is hashed: the sign-up throttle counts only requests that cost a hash.
 */
export async function signUp(
  store: Store,
  rawUsername: string,
  rawPassword: string,
  now: number,
  admit?: () => void,
): Promise<UserRecord> {
  const username = normalizeUsername(rawUsername)
  const password = normalizePassword(rawPassword)
  checkPasswordPolicy(password, username)
  admit?.()
  const user: UserRecord = {
    id: randomUUID(),
    username,
    passwordHash: await hashPassword(password),
    createdAt: now,
  }
  if ((await store.createUser(user)) === 'taken') {
    throw new UsernameTaken({ description: 'this username is taken' })
  }
  return user
}

/**
 * The user whose password this is, or InvalidGrant. An unknown user is checked against a dummy
 * hash and fails on the same line as a wrong password: same answer, same time (RFC 6749 §5.2).
 * Does not throttle: the caller does (see throttle.ts).
 */
export async function authenticate(
  store: Store,
  rawUsername: string,
  rawPassword: string,
): Promise<UserRecord> {
  // A name that could never exist still costs a full hash.
  const username = accountName(rawUsername)
  const user = username === undefined ? undefined : await store.findUserByUsername(username)
  const stored = user?.passwordHash ?? (await dummyHash())
  const ok = await verifyPassword(stored, normalizePassword(rawPassword))
  // No password with a lone surrogate is ever stored (checkPasswordPolicy), but the binding hashes
  // one as U+FFFD, so it would match the password holding a real U+FFFD. It still costs its hash.
  if (!ok || user === undefined || !rawPassword.isWellFormed()) {
    throw new InvalidGrant({
      description: 'wrong username or password',
      detail: user ? 'wrong password' : 'unknown user',
    })
  }
  return user
}
