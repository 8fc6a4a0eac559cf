/**
 * A `Last-Event-ID` above every seq in the log (review B, bug 2): a database restored from a
 * backup, or a bogus value. The booth used to read from that number, so the subscriber got no
 * snapshot and `ready` echoed the client's number as the booth's seq. It is a fresh connect now:
 * the full snapshot, and `ready` says the booth's own seq.
 *
 * An in-process booth (createTokenServer) on a real SQLite file and on real PostgreSQL, listening
 * on 127.0.0.1, spoken to over HTTP as a verifier would; its clock is frozen.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { basic } from '../../../test/support/http.ts'
import { subscribe } from '../../../test/support/feed.ts'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { loadConfig } from '../src/config.ts'
import { registerClient } from '../src/domain/clients.ts'
import { createTokenServer, type TokenServer } from '../src/server.ts'

const T0 = Date.parse('2027-03-01T00:00:00Z')
const HOUR = 3_600_000

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`Last-Event-ID past the log's top, on ${backend} (review B bug 2)`, () => {
    let dir: string
    let db: TestDatabase | undefined
    let booth: TokenServer
    let feedUrl: string
    let auth: Record<string, string>

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tb-last-event-id-'))
      if (backend === 'postgres') db = await createTestDatabase()
      const config = loadConfig({
        TOKENBOOTH_ISSUER: 'https://booth.test',
        TOKENBOOTH_DATA_DIR: dir,
        TOKENBOOTH_SECRET: 's'.repeat(40),
        TOKENBOOTH_LOG_LEVEL: 'silent',
        ...(db === undefined ? {} : { TOKENBOOTH_DATABASE_URL: db.url }),
      })
      booth = await createTokenServer({ config, clock: () => T0 })
      feedUrl = `${await booth.app.listen({ host: '127.0.0.1', port: 0 })}/events/revocations`
      const { client, secret } = await registerClient(booth.ctx.store, 'verifier', '', T0)
      auth = basic(client.id, secret!)
      // A log of three entries, seqs 1 to 3
      for (const jti of ['j1', 'j2', 'j3']) {
        await booth.ctx.store.revokeAccessToken(jti, T0, T0 + HOUR)
      }
    })
    after(async () => {
      await booth?.close()
      await db?.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    async function resume(lastEventId: string) {
      const feed = subscribe(feedUrl, { ...auth, 'last-event-id': lastEventId })
      try {
        const ready = await feed.waitFor((e) => e.event === 'ready')
        // Entries may repeat (the protocol allows it, and applying one is idempotent): on
        // PostgreSQL the poller publishes unsettled entries live while the snapshot is sent
        return {
          revocations: [...new Set(feed.revocations().map((e) => `${e.id}:${e.data.value}`))],
          seq: ready.data.seq as number,
        }
      } finally {
        feed.close()
      }
    }

    it('Last-Event-ID 1000 with a log of 3 entries: the full snapshot, and ready.seq = 3', async () => {
      assert.deepEqual(await resume('1000'), { revocations: ['1:j1', '2:j2', '3:j3'], seq: 3 })
    })

    it('the largest id the booth accepts (15 digits) is a fresh connect too', async () => {
      assert.deepEqual(await resume('999999999999999'), {
        revocations: ['1:j1', '2:j2', '3:j3'],
        seq: 3,
      })
    })

    it("the log's own top is a resume: nothing after it (on PostgreSQL, the window again)", async () => {
      const resumed = await resume('3')
      assert.equal(resumed.seq, 3)
      // PostgreSQL rereads the last few seconds (revocation-feed.ts), and the clock is frozen.
      assert.deepEqual(resumed.revocations, backend === 'sqlite' ? [] : ['1:j1', '2:j2', '3:j3'])
    })
  })
}
