/** Conformance: concurrent rotations, atomicity under a failing statement, durability. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  NOW,
  SECOND,
  liveTokens,
  rotation,
  sealed,
  seedAccounts,
  startSession,
  userRecord,
  warmUp,
  withStore,
  type OpenStore,
} from './fixtures.ts'

const CALLERS = 50

export function concurrencyCases(open: OpenStore): void {
  describe('concurrency and atomicity', () => {
    it(`${CALLERS} concurrent rotations of one token: one rotates, the rest retry`, () =>
      withStore(open, async ({ store, peer }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        const successors = Array.from({ length: CALLERS }, (_, i) => `rt2-${i}`)
        await warmUp(peer === undefined ? [store] : [store, peer])
        // Alternate between two instances where the backend has them (two pools, one database).
        const outcomes = await Promise.all(
          successors.map((next, i) =>
            (i % 2 === 0 ? store : (peer ?? store)).rotateRefreshToken(rotation('rt1', next)),
          ),
        )
        const rotated = outcomes.flatMap((outcome, i) =>
          outcome.status === 'rotated' ? [successors[i]!] : [],
        )
        assert.equal(rotated.length, 1, `statuses: ${outcomes.map((o) => o.status).join(' ')}`)
        const winner = rotated[0]!
        for (const outcome of outcomes) {
          if (outcome.status === 'rotated') continue
          assert.equal(outcome.status, 'retried')
          assert.equal(outcome.sealedSuccessor, sealed(winner))
          assert.equal(outcome.successorHash, winner)
        }
        assert.deepEqual(await liveTokens(store, ['rt1', ...successors], NOW + SECOND), [winner])
        assert.equal((await store.findSession('s1'))?.revokedAt, undefined)
      }))

    it('a failing insert of the successor leaves the presented token unconsumed', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const s1 = await startSession(store, 's1', 'alice', 'rt1')
        const s2 = await startSession(store, 's2', 'bob', 'rt-bob')
        // A successor hash that already exists: the insert fails after the consume ran.
        await assert.rejects(store.rotateRefreshToken(rotation('rt1', 'rt-bob')))
        assert.deepEqual(await store.findSessionByRefreshToken('rt1', NOW + SECOND), s1)
        assert.deepEqual(await store.findSessionByRefreshToken('rt-bob', NOW + SECOND), s2)
        assert.deepEqual(await store.findSession('s1'), s1)
        const retried = await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + 2 }))
        assert.deepEqual(retried, { status: 'rotated', session: { ...s1, lastUsedAt: NOW + 2 } })
      }))

    it('a failing transaction does not affect the others queued in the same turn', () =>
      withStore(open, async ({ store }) => {
        await seedAccounts(store)
        const s1 = await startSession(store, 's1', 'alice', 'rt1')
        await startSession(store, 's2', 'bob', 'rt-bob')
        // All queued synchronously, so SQLite's group commit runs them in one BEGIN … COMMIT.
        const settled = await Promise.allSettled([
          store.createUser(userRecord('u1')),
          store.rotateRefreshToken(rotation('rt1', 'rt-bob')),
          store.createUser(userRecord('u2')),
          store.createUser(userRecord('u3', 'u1')),
          store.rotateRefreshToken(rotation('rt-bob', 'rt-bob2')),
          store.createUser(userRecord('u4')),
        ])
        const labels = settled.map((s) => {
          if (s.status === 'rejected') return 'failed'
          return typeof s.value === 'string' ? s.value : s.value.status
        })
        assert.deepEqual(labels, ['created', 'failed', 'created', 'taken', 'rotated', 'created'])
        for (const id of ['u1', 'u2', 'u4']) {
          assert.deepEqual(await store.findUserById(id), userRecord(id))
        }
        assert.equal(await store.findUserById('u3'), undefined)
        assert.deepEqual(await liveTokens(store, ['rt1', 'rt-bob', 'rt-bob2'], NOW + SECOND), [
          'rt1',
          'rt-bob2',
        ])
        assert.deepEqual(await store.findSession('s1'), s1)
      }))

    it('an acknowledged rotation survives close() and reopening the database', () =>
      withStore(open, async ({ store, reopen }) => {
        await seedAccounts(store)
        await startSession(store, 's1', 'alice', 'rt1')
        const first = await store.rotateRefreshToken(rotation('rt1', 'rt2', { now: NOW + 1 }))
        assert.equal(first.status, 'rotated')
        await store.close()

        const reopened = await reopen()
        const again = await reopened.rotateRefreshToken(rotation('rt1', 'rt3', { now: NOW + 2 }))
        assert.equal(again.status, 'retried')
        assert.equal(again.status === 'retried' && again.sealedSuccessor, sealed('rt2'))
        assert.equal(again.status === 'retried' && again.successorHash, 'rt2')
        const next = await reopened.rotateRefreshToken(rotation('rt2', 'rt4', { now: NOW + 3 }))
        assert.equal(next.status, 'rotated')
      }))
  })
}
