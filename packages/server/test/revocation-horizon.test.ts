/**
 * The access-token lifetime lowered (review B, bug 3): a revocation must stay in the feed as long
 * as any token it may match is valid, not only for the lifetime the revoking instance is
 * configured with now. A booth issues a token under TTL 7200; a booth with TTL 10 (the same one
 * restarted, on SQLite; another instance running beside it, on PostgreSQL) ends that session;
 * the `sid` entry must outlive the old token, and leave the snapshot once it has expired.
 *
 * In-process booths (createTokenServer) on a real SQLite file and on real PostgreSQL, with one
 * frozen clock moved by hand; the feed is read over HTTP on 127.0.0.1, as a verifier reads it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { basic } from '../../../test/support/http.ts'
import { subscribe } from '../../../test/support/feed.ts'
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.ts'
import { loadConfig } from '../src/config.ts'
import { registerClient } from '../src/domain/clients.ts'
import { createTokenServer, type TokenServer } from '../src/server.ts'
import { signUp } from './inject.ts'

const T0 = Date.parse('2027-06-01T00:00:00Z')
const MINUTE = 60_000
const PASSWORD = 'a long enough passphrase'

function claimsOf(token: string): { exp: number; sid: string } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
}

for (const backend of ['sqlite', 'postgres'] as const) {
  const how = backend === 'sqlite' ? 'restarted with TTL 10' : 'beside an instance with TTL 10'
  describe(`a token issued under TTL 7200, its session ended by a booth ${how}, on ${backend} (review B bug 3)`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-horizon-'))
    let db: TestDatabase | undefined
    const booths: TokenServer[] = []
    let now = T0
    const clock = () => now

    after(async () => {
      for (const booth of booths) await booth.close()
      await db?.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    async function start(ttl: number): Promise<TokenServer> {
      const config = loadConfig({
        TOKENBOOTH_ISSUER: 'https://booth.test',
        TOKENBOOTH_DATA_DIR: dir,
        TOKENBOOTH_SECRET: 's'.repeat(40),
        TOKENBOOTH_LOG_LEVEL: 'silent',
        TOKENBOOTH_ACCESS_TOKEN_TTL: String(ttl),
        ...(db === undefined ? {} : { TOKENBOOTH_DATABASE_URL: db.url }),
      })
      const booth = await createTokenServer({ config, clock })
      booths.push(booth)
      return booth
    }

    it('the sid entry outlives the old token, and a fresh snapshot holds it past the new TTL', async () => {
      if (backend === 'postgres') db = await createTestDatabase()
      const long = await start(7200)
      await signUp(long.app, 'kim', PASSWORD)
      const login = await long.app.inject({
        method: 'POST',
        url: '/token',
        payload: { grant_type: 'password', username: 'kim', password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      const token = login.json().access_token as string
      const { exp, sid } = claimsOf(token)
      assert.equal(exp, T0 / 1000 + 7200)

      if (backend === 'sqlite') await booths.shift()!.close()
      const short = await start(10)
      const base = await short.app.listen({ host: '127.0.0.1', port: 0 })
      const { client, secret } = await registerClient(short.ctx.store, 'verifier', '', now)
      const snapshot = async () => {
        const feed = subscribe(`${base}/events/revocations`, basic(client.id, secret!))
        try {
          await feed.waitFor((e) => e.event === 'ready')
          return feed.revocations().find((e) => e.data.value === sid)?.data
        } finally {
          feed.close()
        }
      }

      now = T0 + MINUTE
      const logout = await short.app.inject({
        method: 'POST',
        url: '/logout',
        headers: { authorization: `Bearer ${token}` },
      })
      assert.equal(logout.statusCode, 200, logout.body)
      const entry = await snapshot()
      assert.ok(entry, 'the snapshot right after the logout has the sid')
      assert.ok(
        entry.expires_at >= exp * 1000 + MINUTE,
        `kept past the old token's exp and the margin (expires_at ${entry.expires_at - T0} ms after T0)`,
      )

      now = T0 + 30 * MINUTE // long past the new TTL + 60 s; the old token is still valid
      assert.ok((await snapshot()) !== undefined, "a new verifier's snapshot still has the sid")

      // Not kept for ever: once the old token has expired (and the margins passed), it leaves.
      now = exp * 1000 + 3 * MINUTE
      assert.equal(await snapshot(), undefined, 'gone once no token it matches can be valid')
    })
  })
}
