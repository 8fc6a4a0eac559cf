// The revocation list's semantics, independent of the feed that fills it.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TokenRevoked } from '../src/index.ts'
import type { AccessTokenClaims } from '../src/index.ts'
import { createRevocationList, parseRevocation } from '../src/revocations.ts'

const T = 1_750_000_000
function claims(overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return {
    iss: 'i',
    aud: 'a',
    sub: 'alice',
    client_id: 'c',
    jti: 'j1',
    sid: 's1',
    iat: T,
    exp: T + 300,
    ...overrides,
  }
}
const far = (T + 3600) * 1000

describe('revocation list', () => {
  test('sid, jti and sub each reject, naming which', () => {
    const list = createRevocationList()
    assert.doesNotThrow(() => list.check(claims()))
    list.apply({ kind: 'jti', value: 'j1', at: 0, expires_at: far }, T * 1000)
    assert.throws(() => list.check(claims()), { name: 'TokenRevoked', by: 'jti' })
    assert.doesNotThrow(() => list.check(claims({ jti: 'j2' })))
    list.apply({ kind: 'sid', value: 's2', at: 0, expires_at: far }, T * 1000)
    assert.throws(() => list.check(claims({ jti: 'j2', sid: 's2' })), { by: 'sid' })
    assert.doesNotThrow(() => list.check(claims({ jti: 'j2', sid: undefined })))
  })

  test('sub cut-off: iat * 1000 <= at rejects, so the whole second of the cut-off is rejected', () => {
    const list = createRevocationList()
    list.apply({ kind: 'sub', value: 'alice', at: T * 1000 + 999, expires_at: far }, T * 1000)
    assert.throws(() => list.check(claims({ iat: T - 1 })), TokenRevoked)
    // issued at T.000–T.999: before or after the cut-off at T.999, iat cannot tell; fail safe
    assert.throws(() => list.check(claims({ iat: T })), TokenRevoked)
    assert.doesNotThrow(() => list.check(claims({ iat: T + 1 })))
    assert.doesNotThrow(() => list.check(claims({ sub: 'bob', iat: T - 1 })))
  })

  test('applying is idempotent and order-insensitive: the widest cut-off wins', () => {
    const list = createRevocationList()
    const late = { kind: 'sub', value: 'alice', at: (T + 10) * 1000, expires_at: far } as const
    const early = { kind: 'sub', value: 'alice', at: T * 1000, expires_at: far - 1 } as const
    for (const entry of [late, early, late, early]) list.apply(entry, T * 1000)
    assert.equal(list.size, 1)
    assert.throws(() => list.check(claims({ iat: T + 10 })), TokenRevoked)
    list.prune(far - 1)
    assert.equal(list.size, 1, 'the later expires_at of the two is kept')
  })

  test('expired entries are ignored on arrival and pruned later', () => {
    const list = createRevocationList()
    assert.equal(list.apply({ kind: 'sid', value: 'x', at: 0, expires_at: 10 }, 10), false)
    list.apply({ kind: 'sid', value: 'a', at: 0, expires_at: 100 }, 0)
    list.apply({ kind: 'jti', value: 'b', at: 0, expires_at: 200 }, 0)
    list.apply({ kind: 'sub', value: 'c', at: 0, expires_at: 300 }, 0)
    assert.equal(list.size, 3)
    list.prune(200)
    assert.equal(list.size, 1)
    list.prune(300)
    assert.equal(list.size, 0)
  })

  test('version goes up with every entry applied, of any kind, and only then', () => {
    // the verifier skips the lookups for a cached token checked at the current version: an
    // entry that could revoke something without moving it would let that token through
    const list = createRevocationList()
    const seen = [list.version]
    for (const kind of ['sid', 'jti', 'sub', 'sub'] as const) {
      list.apply({ kind, value: 'v', at: T * 1000 + seen.length, expires_at: far }, T * 1000)
      seen.push(list.version)
    }
    assert.ok(
      seen.every((v, i) => i === 0 || v > seen[i - 1]!),
      `strictly increasing: ${seen.join(', ')}`,
    )
    const before = list.version
    assert.equal(list.apply({ kind: 'sid', value: 'old', at: 0, expires_at: 10 }, 10), false)
    list.check(claims({ sub: 'bob', sid: 's9', jti: 'j9' }))
    list.prune(far)
    assert.equal(list.version, before, 'an expired entry, a check and pruning revoke nothing')
  })

  test('parseRevocation accepts exactly the protocol shape', () => {
    assert.deepEqual(
      parseRevocation('{"kind":"sid","value":"s","at":1,"expires_at":2,"extra":true}'),
      {
        kind: 'sid',
        value: 's',
        at: 1,
        expires_at: 2,
      },
    )
    for (const bad of [
      'nope',
      'null',
      '[]',
      '{"kind":"user","value":"s","at":1,"expires_at":2}',
      '{"kind":"sid","value":"","at":1,"expires_at":2}',
      '{"kind":"sid","value":1,"at":1,"expires_at":2}',
      '{"kind":"sid","value":"s","at":"1","expires_at":2}',
      '{"kind":"sid","value":"s","at":1}',
      `{"kind":"sid","value":"${'x'.repeat(1025)}","at":1,"expires_at":2}`,
    ]) {
      assert.equal(parseRevocation(bad), undefined, bad)
    }
  })
})
