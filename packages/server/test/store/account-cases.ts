/** Conformance: migrations, users, clients and signing keys. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SigningKeyRecord } from '../../src/store/store.ts'
import {
  DAY,
  HOUR,
  NOW,
  clientRecord,
  userRecord,
  warmUp,
  withStore,
  type OpenStore,
} from './fixtures.ts'

function signingKey(kid: string, activatesAt: number): SigningKeyRecord {
  return {
    kid,
    alg: 'EdDSA',
    publicJwk: `{"kid":"${kid}"}`,
    privateSealed: `sealed-private(${kid})`,
    createdAt: NOW,
    activatesAt,
  }
}

export function accountCases(open: OpenStore): void {
  describe('migrations', () => {
    it('migrate is idempotent: a second run changes nothing and the store works', () =>
      withStore(open, async ({ store }) => {
        await store.migrate()
        assert.equal(await store.createUser(userRecord('alice')), 'created')
        await store.migrate()
        assert.deepEqual(await store.findUserById('alice'), userRecord('alice'))
      }))

    it('two concurrent migrate() calls, on two instances where possible, both succeed', () =>
      withStore(
        open,
        async ({ store, peer }) => {
          await Promise.all([store.migrate(), (peer ?? store).migrate()])
          assert.equal(await store.createUser(userRecord('alice')), 'created')
          assert.deepEqual(await (peer ?? store).findUserById('alice'), userRecord('alice'))
        },
        { migrate: false },
      ))
  })

  describe('users and clients', () => {
    it('creates a user, refuses a taken username or id, finds by name and id', () =>
      withStore(open, async ({ store }) => {
        assert.equal(await store.createUser(userRecord('u1', 'alice')), 'created')
        assert.equal(await store.createUser(userRecord('u2', 'alice')), 'taken')
        assert.equal(await store.createUser(userRecord('u1', 'bob')), 'taken')
        assert.deepEqual(await store.findUserByUsername('alice'), userRecord('u1', 'alice'))
        assert.deepEqual(await store.findUserById('u1'), userRecord('u1', 'alice'))
        assert.equal(await store.findUserById('u2'), undefined)
        assert.equal(await store.findUserByUsername('bob'), undefined)
      }))

    it('creates clients, refuses a taken id, and a public client keeps secretHash undefined', () =>
      withStore(open, async ({ store }) => {
        assert.equal(await store.createClient(clientRecord('web')), 'created')
        assert.equal(
          await store.createClient(clientRecord('web', { secretHash: 'secret:other' })),
          'taken',
        )
        assert.equal(
          await store.createClient(clientRecord('spa', { secretHash: undefined })),
          'created',
        )
        assert.deepEqual(await store.findClient('web'), clientRecord('web'))
        const spa = await store.findClient('spa')
        assert.deepEqual(spa, clientRecord('spa', { secretHash: undefined }))
        assert.equal(spa?.secretHash, undefined)
        assert.equal(await store.findClient('nobody'), undefined)
      }))
  })

  describe('signing keys', () => {
    it('inserts keys and lists them by activatesAt, not by insertion order', () =>
      withStore(open, async ({ store }) => {
        assert.deepEqual(await store.listSigningKeys(), [])
        assert.equal(await store.insertSigningKey(signingKey('later', NOW + 2 * DAY), NOW), true)
        assert.equal(await store.insertSigningKey(signingKey('sooner', NOW), NOW + 3 * DAY), true)
        assert.deepEqual(await store.listSigningKeys(), [
          signingKey('sooner', NOW),
          signingKey('later', NOW + 2 * DAY),
        ])
      }))

    it('refuses a key when another activates at or after unlessActivatingAfter', () =>
      withStore(open, async ({ store }) => {
        const existing = signingKey('k1', NOW + DAY)
        assert.equal(await store.insertSigningKey(existing, NOW), true)
        assert.equal(
          await store.insertSigningKey(signingKey('k2', NOW + 2 * DAY), NOW + DAY),
          false,
        )
        assert.equal(
          await store.insertSigningKey(signingKey('k3', NOW + 2 * DAY), NOW - HOUR),
          false,
        )
        assert.deepEqual(await store.listSigningKeys(), [existing])
        const k4 = signingKey('k4', NOW + 2 * DAY)
        assert.equal(await store.insertSigningKey(k4, NOW + DAY + 1), true)
        assert.deepEqual(await store.listSigningKeys(), [existing, k4])
      }))

    it('ten concurrent inserts with one unlessActivatingAfter: exactly one wins', () =>
      withStore(open, async ({ store, peer }) => {
        await warmUp(peer === undefined ? [store] : [store, peer])
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? store : (peer ?? store)).insertSigningKey(
              signingKey(`k${i}`, NOW + DAY + i),
              NOW + HOUR,
            ),
          ),
        )
        assert.equal(outcomes.filter((inserted) => inserted).length, 1)
        const winner = outcomes.indexOf(true)
        assert.deepEqual(await store.listSigningKeys(), [
          signingKey(`k${winner}`, NOW + DAY + winner),
        ])
      }))
  })
}
