import type { AccessTokenClaims } from './claims.ts'
import { InsufficientScope } from './errors.ts'

/**
 * Throws `InsufficientScope` unless the token's `scope` claim (space-separated, RFC 6749 §3.3,
 * RFC 9068 §2.2.3) contains every one of `scopes`; the error's `scope` lists all of `scopes`, as
 * the 403 challenge should (RFC 6750 §3). Scopes are compared exactly, case-sensitively.
 * Throws `TypeError` if a scope is empty or contains a space (that is two scopes: pass them
 * separately).
 *
 * It does NOT verify the token: pass claims from `verifier.verify` only.
 *
 * @example
 * ```ts
 * const claims = await verifier.verifyRequest(req.headers)
 * requireScope(claims, 'cart:read', 'cart:write')
 * ```
 */
export function requireScope(claims: AccessTokenClaims, ...scopes: string[]): void {
  const granted = claims.scope ?? ''
  for (const scope of scopes) {
    if (typeof scope !== 'string' || scope === '' || scope.includes(' ')) {
      throw new TypeError(`each scope must be a non-empty string without spaces, got "${scope}"`)
    }
    if (!hasScope(granted, scope)) throw new InsufficientScope(scopes.join(' '))
  }
}

/** True if the space-separated `granted` contains `scope` as a whole word; no allocation. */
export function hasScope(granted: string, scope: string): boolean {
  let from = 0
  for (;;) {
    const at = granted.indexOf(scope, from)
    if (at === -1) return false
    const end = at + scope.length
    if (
      (at === 0 || granted.charCodeAt(at - 1) === 32) &&
      (end === granted.length || granted.charCodeAt(end) === 32)
    ) {
      return true
    }
    from = at + 1
  }
}
