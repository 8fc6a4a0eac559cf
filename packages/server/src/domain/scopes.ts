/**
 * Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens. A token never carries more than
 * was granted; a refresh may only narrow.
 */
import { InvalidScope } from '../errors.ts'

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/** Splits and checks a scope parameter; `undefined` stays `undefined` (nothing was asked). */
export function parseScope(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined
  const scopes = raw.split(' ').filter(Boolean)
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new InvalidScope({ description: 'malformed scope' })
  }
  return [...new Set(scopes)]
}

/**
 * The scopes to grant: what was asked for, when all of it is allowed; `fallback` when nothing
 * was asked for. An ask beyond `allowed` is refused whole (no silent narrowing).
 *
 * @example grantScope(['a'], ['a', 'b'], ['a', 'b']) // ['a']
 */
export function grantScope(
  requested: readonly string[] | undefined,
  allowed: readonly string[],
  fallback: readonly string[],
): string[] {
  if (requested === undefined) return fallback.filter((s) => allowed.includes(s))
  const beyond = requested.filter((s) => !allowed.includes(s))
  if (beyond.length > 0) {
    throw new InvalidScope({ description: `scope not allowed: ${beyond.join(' ')}` })
  }
  return [...requested]
}

export function hasScope(granted: string | undefined, needed: string): boolean {
  return granted !== undefined && granted.split(' ').includes(needed)
}
