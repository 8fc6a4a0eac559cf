/** Conformance: the refresh-token compare-and-swap and its grace window. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  DAY,
  GRACE,
  HOUR,
  NOW,
  OTHER_CLIENT,
  SECOND,
  liveTokens,
  rotation,
  sealed,
  seedAccounts,
  startSession,
  withStore,
  type OpenStore,
} from './fixtures.ts'

export function rotationCases(open: OpenStore): void {
  describe('refresh-token rotation', () => {
    it('rotates the presented token, then its successor rotates', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const session = await startSession(store, 's1', 'alice', 'rt1')
        const first = await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + SECOND }))
        assert.deepEqual(first, {
          status: 'rotated',
          session: { ...session, lastUsedAt: NOW + SECOND },
        })
        const second = await store.rotateRefreshToken(rotation('rt2', 'rt3', { now: NOW + HOUR }))
        assert.deepEqual(second, {
          status: 'rotated',
          session: { ...session, lastUsedAt: NOW + HOUR },
        })
        assert.deepEqual(await store.findSession('s1'), { ...session, lastUsedAt: NOW + HOUR })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2', 'rt3'], NOW + HOUR), ['rt3'])
      }))

    it('answers unknown for a hash it never stored', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        assert.deepEqual(await store.rotateRefreshToken(rotation('nope', 'rt2')), {
          status: 'unknown',
        })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2'], NOW), ['rt1'])
      }))

    it('answers expired for an idle-expired token, and consumes nothing', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1', { tokenExpiresAt: NOW + HOUR })
        const late = await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + HOUR }))
        assert.deepEqual(late, { status: 'expired' })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2'], NOW), ['rt1'])
        const inTime = await store.rotateRefreshToken(
          rotation('rt1', 'rt3', { now: NOW + HOUR - 1 }),
        )
        assert.equal(inTime.status, 'rotated')
      }))

    it('answers expired past the session expiresAt, though the token is not idle-expired', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        // The first token has 14 days of idle life; the session ends at NOW + HOUR.
        await startSession(store, 's1', 'alice', 'rt1', { expiresAt: NOW + HOUR })
        const late = await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + HOUR }))
        assert.deepEqual(late, { status: 'expired' })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2'], NOW + HOUR - 1), ['rt1'])
        const inTime = await store.rotateRefreshToken(
          rotation('rt1', 'rt3', { now: NOW + HOUR - 1 }),
        )
        assert.equal(inTime.status, 'rotated')
        const successor = await store.rotateRefreshToken(
          rotation('rt3', 'rt4', { now: NOW + HOUR }),
        )
        assert.deepEqual(successor, { status: 'expired' })
      }))

    it('answers mismatch for another client or another session, and consumes nothing', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await startSession(store, 's2', 'alice', 'rt-s2')
        const otherClient = rotation('rt1', 'rt2', { clientId: OTHER_CLIENT })
        assert.deepEqual(await store.rotateRefreshToken(otherClient), { status: 'mismatch' })
        const otherSession = rotation('rt1', 'rt3', { sessionId: 's2' })
        assert.deepEqual(await store.rotateRefreshToken(otherSession), { status: 'mismatch' })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2', 'rt3'], NOW), ['rt1'])
        const proven = await store.rotateRefreshToken(rotation('rt1', 'rt4', { sessionId: 's1' }))
        assert.equal(proven.status, 'rotated')
      }))

    it('answers revoked after revokeSession', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        assert.equal(await store.revokeSession('s1', 'alice', NOW + 1, NOW + DAY), true)
        assert.deepEqual(await store.rotateRefreshToken(rotation('rt1', 'rt2')), {
          status: 'revoked',
        })
        assert.equal((await store.findSession('s1'))?.revokedAt, NOW + 1)
      }))
  })

  describe('grace window', () => {
    const T = NOW + SECOND

    it('the previous token within graceMs is retried with the stored sealed successor', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const session = await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: T }))
        const retry = await store.rotateRefreshToken(
          rotation('rt1', 'rt-retry', { now: T + GRACE - 1 }),
        )
        assert.deepEqual(retry, {
          status: 'retried',
          session: { ...session, lastUsedAt: T },
          sealedSuccessor: sealed('rt2'),
          successorHash: 'rt2',
        })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2', 'rt-retry'], T), ['rt2'])
        assert.equal((await store.findSession('s1'))?.revokedAt, undefined)
      }))

    it('the previous token after the window is reuse: the session is revoked', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const session = await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: T }))
        const reuse = await store.rotateRefreshToken(rotation('rt1', 'rt3', { now: T + GRACE }))
        assert.deepEqual(reuse, {
          status: 'reused',
          session: { ...session, lastUsedAt: T, revokedAt: T + GRACE },
        })
        assert.equal((await store.findSession('s1'))?.revokedAt, T + GRACE)
        const successor = await store.rotateRefreshToken(rotation('rt2', 'rt4', { now: T + GRACE }))
        assert.deepEqual(successor, { status: 'revoked' })
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2', 'rt3', 'rt4'], T), [])
      }))

    it('a token two generations back is reuse even within the window', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: T }))
        await store.rotateRefreshToken(rotation('rt2', 'rt3', { now: T + 1 }))
        const reuse = await store.rotateRefreshToken(rotation('rt1', 'rt4', { now: T + 2 }))
        assert.equal(reuse.status, 'reused')
        assert.equal((await store.findSession('s1'))?.revokedAt, T + 2)
        assert.equal(await store.findSessionByRefreshToken('rt3', T + 2), undefined)
      }))

    it('with graceMs = 0 a request stamped before the rotation committed is reuse, not a retry', () =>
      withStore(open, async ({ store }) => {
        // Its `now` was taken before it waited on the row lock held by the rotation (issue 2:
        // "0 allowed"): the age is negative, and there is still no window to retry in.
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: T, graceMs: 0 }))
        const waited = await store.rotateRefreshToken(
          rotation('rt1', 'rt3', { now: T - 5, graceMs: 0 }),
        )
        assert.equal(waited.status, 'reused')
        assert.equal((await store.findSession('s1'))?.revokedAt, T - 5)
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt2', 'rt3'], T), [])
      }))

    it('with a window, a request stamped before the rotation committed is a retry', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: T }))
        const waited = await store.rotateRefreshToken(rotation('rt1', 'rt3', { now: T - 5 }))
        assert.equal(waited.status, 'retried')
        assert.equal(waited.status === 'retried' && waited.successorHash, 'rt2')
        assert.equal((await store.findSession('s1'))?.revokedAt, undefined)
      }))

    it('with graceMs = 0 the previous token is reuse at once, even in the same millisecond', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: T, graceMs: 0 }))
        const again = await store.rotateRefreshToken(rotation('rt1', 'rt3', { now: T, graceMs: 0 }))
        assert.equal(again.status, 'reused')
        assert.equal((await store.findSession('s1'))?.revokedAt, T)
      }))
  })
}
