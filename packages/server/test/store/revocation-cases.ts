/** Conformance: the revocation log, session listing and revocation, and purging. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RevocationRecord, Store } from '../../src/store/store.ts'
import {
  DAY,
  GRACE,
  HOUR,
  NOW,
  SECOND,
  liveTokens,
  rotation,
  seedAccounts,
  startSession,
  withStore,
  type OpenStore,
} from './fixtures.ts'

/** Every logged revocation, expired or not, without its seq. */
async function loggedRevocations(store: Store): Promise<Omit<RevocationRecord, 'seq'>[]> {
  const all = await store.listRevocations(0, 0, 1_000)
  return all.map(({ seq: _, ...entry }) => entry)
}

export function revocationCases(open: OpenStore): void {
  describe('revocations', () => {
    it('reuse logs a sid revocation with the given expiresAt', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW }))
        const at = NOW + GRACE + 1
        const reuse = rotation('rt1', 'rt3', { now: at, revocationExpiresAt: NOW + 7 * DAY })
        assert.equal((await store.rotateRefreshToken(reuse)).status, 'reused')
        const log = await store.listRevocations(0, at, 10)
        assert.deepEqual(
          log.map(({ seq: _, ...entry }) => entry),
          [{ kind: 'sid', value: 's1', at, expiresAt: NOW + 7 * DAY }],
        )
        assert.ok(log[0]!.seq > 0)
      }))

    it('revokeAllSessions revokes every live session of that user only, logging each', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 'a1', 'alice', 'rt-a1')
        await startSession(store, 'a2', 'alice', 'rt-a2', { createdAt: NOW + 1 })
        await startSession(store, 'a3', 'alice', 'rt-a3')
        await startSession(store, 'b1', 'bob', 'rt-b1')
        assert.equal(await store.revokeSession('a3', undefined, NOW + 1, NOW + DAY), true)

        assert.equal(await store.revokeAllSessions('alice', NOW + 2, NOW + 2 * DAY), 2)
        assert.equal((await store.findSession('a1'))?.revokedAt, NOW + 2)
        assert.equal((await store.findSession('a2'))?.revokedAt, NOW + 2)
        assert.equal((await store.findSession('a3'))?.revokedAt, NOW + 1)
        assert.equal((await store.findSession('b1'))?.revokedAt, undefined)
        assert.deepEqual(await store.listActiveSessions('alice', NOW + 2), [])

        const log = await store.listRevocations(0, NOW + 2, 10)
        const cut = log.filter((entry) => entry.at === NOW + 2)
        const expiresAt = NOW + 2 * DAY
        assert.deepEqual(
          cut.map(({ kind, value, expiresAt }) => ({ kind, value, expiresAt })),
          [
            { kind: 'sid', value: cut[0]!.value, expiresAt },
            { kind: 'sid', value: cut[1]!.value, expiresAt },
            { kind: 'sub', value: 'alice', expiresAt },
          ],
        )
        assert.deepEqual([cut[0]!.value, cut[1]!.value].sort(), ['a1', 'a2'])
        assert.equal(log.length, 4, 'a3 was logged once, when it was revoked')

        const bobs = await store.rotateRefreshToken(rotation('rt-b1', 'rt-b2', { now: NOW + 3 }))
        assert.equal(bobs.status, 'rotated')
        const alices = await store.rotateRefreshToken(rotation('rt-a1', 'rt-a4', { now: NOW + 3 }))
        assert.deepEqual(alices, { status: 'revoked' })
      }))

    it('revokeAccessToken logs a jti that isAccessTokenRevoked then reports', () =>
      withStore(open, async ({ store }) => {
        assert.equal(await store.isAccessTokenRevoked('jti-1'), false)
        await store.revokeAccessToken('jti-1', NOW, NOW + HOUR)
        assert.equal(await store.isAccessTokenRevoked('jti-1'), true)
        assert.equal(await store.isAccessTokenRevoked('jti-2'), false)
        assert.deepEqual(await loggedRevocations(store), [
          { kind: 'jti', value: 'jti-1', at: NOW, expiresAt: NOW + HOUR },
        ])
      }))

    it('listRevocations pages after a seq, oldest first, and leaves out expired entries', () =>
      withStore(open, async ({ store }) => {
        const expiries = [NOW + 10, NOW + DAY, NOW + DAY, NOW + 5, NOW + DAY]
        for (const [i, expiresAt] of expiries.entries()) {
          await store.revokeAccessToken(`j${i}`, NOW, expiresAt)
        }
        const everything = await store.listRevocations(0, NOW, 10)
        assert.deepEqual(
          everything.map((entry) => entry.value),
          ['j0', 'j1', 'j2', 'j3', 'j4'],
        )
        const seqs = everything.map((entry) => entry.seq)
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
        )

        const page1 = await store.listRevocations(0, NOW + 10, 2)
        assert.deepEqual(
          page1.map((entry) => entry.value),
          ['j1', 'j2'],
        )
        const page2 = await store.listRevocations(page1[1]!.seq, NOW + 10, 2)
        assert.deepEqual(
          page2.map((entry) => entry.value),
          ['j4'],
        )
        assert.deepEqual(await store.listRevocations(page2[0]!.seq, NOW + 10, 2), [])
      }))

    it('purgeExpired drops expired revocations, tokens and sessions, and keeps the rest', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await store.revokeAccessToken('old', NOW, NOW + 10)
        await store.revokeAccessToken('new', NOW, NOW + DAY)
        await startSession(store, 'ended', 'alice', 'rt-ended', { expiresAt: NOW + 10 })
        await startSession(store, 'idle', 'alice', 'rt-idle', { tokenExpiresAt: NOW + 10 })
        await startSession(store, 'live', 'bob', 'rt-live')

        await store.purgeExpired(NOW + 10)
        assert.deepEqual(await loggedRevocations(store), [
          { kind: 'jti', value: 'new', at: NOW, expiresAt: NOW + DAY },
        ])
        assert.equal(await store.isAccessTokenRevoked('old'), false)
        assert.equal(await store.isAccessTokenRevoked('new'), true)
        assert.equal(await store.findSession('ended'), undefined)
        assert.notEqual(await store.findSession('idle'), undefined)
        // Before the purge this token would still rotate at NOW + 5; now it is gone.
        const purged = await store.rotateRefreshToken(rotation('rt-idle', 'x', { now: NOW + 5 }))
        assert.deepEqual(purged, { status: 'unknown' })
        const live = await store.rotateRefreshToken(rotation('rt-live', 'rt-live2'))
        assert.equal(live.status, 'rotated')
      }))
  })

  describe('sessions', () => {
    it('listActiveSessions leaves out revoked and expired sessions, newest first, per user', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const older = await startSession(store, 'older', 'alice', 'rt1', { createdAt: NOW })
        const newer = await startSession(store, 'newer', 'alice', 'rt2', { createdAt: NOW + 20 })
        await startSession(store, 'revoked', 'alice', 'rt3', { createdAt: NOW + 30 })
        await startSession(store, 'expired', 'alice', 'rt4', {
          createdAt: NOW - 10,
          expiresAt: NOW + 100,
        })
        const bobs = await startSession(store, 'bobs', 'bob', 'rt5', { createdAt: NOW + 40 })
        await store.revokeSession('revoked', 'alice', NOW + 50, NOW + DAY)

        assert.deepEqual(await store.listActiveSessions('alice', NOW + 100), [newer, older])
        assert.deepEqual(await store.listActiveSessions('bob', NOW + 100), [bobs])
        assert.deepEqual(await store.listActiveSessions('carol', NOW + 100), [])
        assert.deepEqual(
          (await store.listActiveSessions('alice', NOW + 99)).map((s) => s.id),
          ['newer', 'older', 'expired'],
        )
      }))

    it('revokeSession with another user’s id answers false and changes nothing', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const session = await startSession(store, 's1', 'alice', 'rt1')
        assert.equal(await store.revokeSession('s1', 'bob', NOW + 1, NOW + DAY), false)
        assert.deepEqual(await store.findSession('s1'), session)
        assert.deepEqual(await loggedRevocations(store), [])
        assert.equal((await store.rotateRefreshToken(rotation('rt1', 'rt2'))).status, 'rotated')

        assert.equal(await store.revokeSession('s1', 'alice', NOW + 2, NOW + DAY), true)
        assert.equal(await store.revokeSession('s1', 'alice', NOW + 3, NOW + DAY), false)
        assert.equal(await store.revokeSession('nope', undefined, NOW + 3, NOW + DAY), false)
        assert.deepEqual(await loggedRevocations(store), [
          { kind: 'sid', value: 's1', at: NOW + 2, expiresAt: NOW + DAY },
        ])
      }))

    it('findRefreshToken finds current, consumed and expired tokens with their session', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const s1 = await startSession(store, 's1', 'alice', 'rt1', { tokenExpiresAt: NOW + HOUR })
        assert.deepEqual(await store.findRefreshToken('rt1'), {
          session: s1,
          expiresAt: NOW + HOUR,
          consumedAt: undefined,
        })
        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + SECOND }))
        const used = { ...s1, lastUsedAt: NOW + SECOND }
        assert.deepEqual(await store.findRefreshToken('rt1'), {
          session: used,
          expiresAt: NOW + HOUR,
          consumedAt: NOW + SECOND,
        })
        assert.deepEqual(await store.findRefreshToken('rt2'), {
          session: used,
          expiresAt: NOW + 14 * DAY,
          consumedAt: undefined,
        })
        assert.equal(await store.findRefreshToken('nope'), undefined)
        await store.revokeSession('s1', undefined, NOW + 2 * SECOND, NOW + DAY)
        assert.equal((await store.findRefreshToken('rt1'))?.session.revokedAt, NOW + 2 * SECOND)
      }))

    it('latestUserCutoff is the latest revokeAllSessions of that user only', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        assert.equal(await store.latestUserCutoff('alice'), undefined)
        await store.revokeAllSessions('alice', NOW + 5, NOW + DAY)
        await store.revokeAllSessions('alice', NOW + 1_500, NOW + DAY)
        await store.revokeAllSessions('bob', NOW + 9_000, NOW + DAY)
        // Neither a session nor an access-token revocation is a user cut-off.
        await startSession(store, 'a1', 'alice', 'rt-a1')
        await store.revokeSession('a1', undefined, NOW + 20_000, NOW + DAY)
        await store.revokeAccessToken('alice', NOW + 30_000, NOW + DAY)
        assert.equal(await store.latestUserCutoff('alice'), NOW + 1_500)
        assert.equal(await store.latestUserCutoff('bob'), NOW + 9_000)
        assert.equal(await store.latestUserCutoff('carol'), undefined)
      }))

    it('findSessionByRefreshToken finds a live token only, without consuming it', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const s1 = await startSession(store, 's1', 'alice', 'rt1', { tokenExpiresAt: NOW + HOUR })
        await startSession(store, 's2', 'alice', 'rt-revoked')
        assert.deepEqual(await store.findSessionByRefreshToken('rt1', NOW), s1)
        assert.deepEqual(await store.findSessionByRefreshToken('rt1', NOW), s1)
        assert.equal(await store.findSessionByRefreshToken('rt1', NOW + HOUR), undefined)
        assert.equal(await store.findSessionByRefreshToken('nope', NOW), undefined)

        await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + SECOND }))
        assert.equal(await store.findSessionByRefreshToken('rt1', NOW + SECOND), undefined)
        assert.deepEqual(await store.findSessionByRefreshToken('rt2', NOW + SECOND), {
          ...s1,
          lastUsedAt: NOW + SECOND,
        })

        await store.revokeSession('s2', undefined, NOW + SECOND, NOW + DAY)
        assert.deepEqual(await liveTokens(store, ['rt-revoked'], NOW + SECOND), [])

        // The session's absolute end counts, even with the token's idle expiry later.
        await startSession(store, 's3', 'alice', 'rt-short', { expiresAt: NOW + HOUR })
        assert.deepEqual(await liveTokens(store, ['rt-short'], NOW + HOUR - 1), ['rt-short'])
        assert.deepEqual(await liveTokens(store, ['rt-short'], NOW + HOUR), [])
        assert.equal((await store.findRefreshToken('rt-short'))?.session.id, 's3', 'still stored')
      }))

    it('extendRevocationHorizon only moves later, and raises the expiresAt of every entry logged after it (review B bug 3)', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        await startSession(store, 's2', 'bob', 'rt2')
        await store.extendRevocationHorizon(NOW + 2 * DAY)
        await store.extendRevocationHorizon(NOW + DAY) // earlier: no effect
        await store.revokeAccessToken('short', NOW, NOW + HOUR)
        await store.revokeAccessToken('long', NOW, NOW + 3 * DAY)
        await store.revokeSession('s1', undefined, NOW, NOW + HOUR)
        await store.revokeAllSessions('bob', NOW, NOW + HOUR)
        assert.deepEqual(
          (await loggedRevocations(store)).map(
            (entry) => `${entry.value} ${entry.expiresAt - NOW}`,
          ),
          [
            `short ${2 * DAY}`,
            `long ${3 * DAY}`,
            `s1 ${2 * DAY}`,
            `s2 ${2 * DAY}`,
            `bob ${2 * DAY}`,
          ],
        )
      }))
  })
}
