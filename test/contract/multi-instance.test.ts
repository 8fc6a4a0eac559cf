/**
 * Two booth processes on one PostgreSQL database behave as one (issue 2, "Storage"): one
 * successor chain under 50 concurrent refreshes spread over both, reuse detection, key rotation
 * and session revocation across instances.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { removeDir, runCli, startBooth, type Booth } from '../support/booth.ts'
import {
  assertError,
  decodeJwt,
  jwksKids,
  pollUntil,
  randomSecret,
  sleep,
  uniqueName,
} from '../support/contract.ts'
import { bearer, call, postForm, postJson } from '../support/http.ts'
import pg from 'pg'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'

const PASSWORD = 'two booths, one database'
// The grace window is short so that the reuse test need not wait long; 50 concurrent refreshes
// arrive well within it (a retry's time is taken when it arrives, not when it gets the row lock).
const GRACE_SECONDS = 1

describe('two booth instances on one PostgreSQL database', () => {
  let db: TestDatabase
  let a: Booth
  let b: Booth
  let env: Record<string, string>

  const refresh = (booth: Booth, token: string) =>
    postForm(`${booth.url}/token`, { grant_type: 'refresh_token', refresh_token: token })
  const userinfo = (booth: Booth, token: string) =>
    call(`${booth.url}/userinfo`, { headers: bearer(token) })

  async function newUserSession(
    on: Booth,
  ): Promise<{ access_token: string; refresh_token: string }> {
    const username = uniqueName('multi')
    const signup = await postJson(`${on.url}/signup`, { username, password: PASSWORD })
    assert.equal(signup.status, 201, signup.text)
    const login = await postForm(`${on.url}/token`, {
      grant_type: 'password',
      username,
      password: PASSWORD,
    })
    assert.equal(login.status, 200, login.text)
    return login.body
  }

  before(async () => {
    db = await createTestDatabase()
    env = {
      TOKENBOOTH_DATABASE_URL: db.url,
      TOKENBOOTH_SECRET: randomSecret(),
      TOKENBOOTH_REFRESH_GRACE: String(GRACE_SECONDS),
      // One deployment has one public issuer (behind a load balancer); the ports differ here.
      TOKENBOOTH_ISSUER: 'https://booth.example',
    }
    // One after the other: the second one finds the keys and schema the first one made.
    a = await startBooth({ env })
    b = await startBooth({ env })
  })

  after(async () => {
    const codes = await Promise.all([a?.stop(), b?.stop()])
    await db?.drop()
    for (const booth of [a, b]) if (booth) removeDir(booth.dataDir)
    assert.deepEqual(codes, [0, 0])
  })

  it('both instances publish the same keys', async () => {
    const [ka, kb] = await Promise.all([jwksKids(a.url), jwksKids(b.url)])
    assert.ok(ka.length >= 1)
    assert.deepEqual(ka, kb)
  })

  it('a token issued by A is accepted by B', async () => {
    const tokens = await newUserSession(a)
    const res = await userinfo(b, tokens.access_token)
    assert.equal(res.status, 200, res.text)
    // And B rotates A's refresh token.
    assert.equal((await refresh(b, tokens.refresh_token)).status, 200)
  })

  it('50 concurrent refreshes of one token over both instances: all 200, one successor, usable on either', async () => {
    const tokens = await newUserSession(a)
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => refresh(i % 2 === 0 ? a : b, tokens.refresh_token)),
    )
    for (const [i, r] of replies.entries())
      assert.equal(r.status, 200, `refresh ${i} on ${i % 2 ? 'B' : 'A'}: ${r.text}`)
    const successors = new Set(replies.map((r) => r.body.refresh_token as string))
    assert.equal(successors.size, 1, `one chain, got ${successors.size} successors`)
    const [successor] = successors
    assert.notEqual(successor, tokens.refresh_token)
    for (const [i, r] of replies.entries()) {
      assert.equal(
        (await userinfo(i % 2 === 0 ? b : a, r.body.access_token)).status,
        200,
        `access token ${i} on the other instance`,
      )
    }

    const onB = await refresh(b, successor!)
    assert.equal(onB.status, 200, `the successor works on B: ${onB.text}`)
    const onA = await refresh(a, onB.body.refresh_token)
    assert.equal(onA.status, 200, `and its successor on A: ${onA.text}`)
    assert.equal((await userinfo(b, onA.body.access_token)).status, 200)
  })

  it('reuse on B of a token rotated on A, after the grace window, revokes the family on both', async () => {
    const tokens = await newUserSession(a)
    const rotated = await refresh(a, tokens.refresh_token)
    assert.equal(rotated.status, 200, rotated.text)
    await sleep(GRACE_SECONDS * 1000 + 600)
    assertError(await refresh(b, tokens.refresh_token), 400, 'invalid_grant', 'reuse on B')
    for (const booth of [a, b]) {
      const name = booth === a ? 'A' : 'B'
      assertError(
        await refresh(booth, rotated.body.refresh_token),
        400,
        'invalid_grant',
        `the current token on ${name}`,
      )
      assertError(
        await userinfo(booth, rotated.body.access_token),
        401,
        'invalid_token',
        `the access token on ${name}`,
      )
    }
  })

  it('a session revoked through A is rejected at B at once', async () => {
    const viaLogout = await newUserSession(b)
    assert.equal((await userinfo(b, viaLogout.access_token)).status, 200)
    const out = await call(`${a.url}/logout`, {
      method: 'POST',
      headers: bearer(viaLogout.access_token),
    })
    assert.equal(out.status, 200, out.text)
    assertError(
      await userinfo(b, viaLogout.access_token),
      401,
      'invalid_token',
      'logout on A, userinfo on B',
    )

    const viaRevoke = await newUserSession(a)
    assert.equal(
      (await postForm(`${a.url}/revoke`, { token: viaRevoke.refresh_token })).status,
      200,
    )
    assertError(
      await userinfo(b, viaRevoke.access_token),
      401,
      'invalid_token',
      'revoke on A, userinfo on B',
    )
    assertError(
      await refresh(b, viaRevoke.refresh_token),
      400,
      'invalid_grant',
      'revoke on A, refresh on B',
    )

    const viaDelete = await newUserSession(a)
    const second = await postForm(`${a.url}/token`, {
      grant_type: 'password',
      username: (await userinfo(a, viaDelete.access_token)).body.username,
      password: PASSWORD,
    })
    const sid = decodeJwt(second.body.access_token).payload.sid
    const del = await call(`${a.url}/sessions/${sid}`, {
      method: 'DELETE',
      headers: bearer(viaDelete.access_token),
    })
    assert.equal(del.status, 204)
    assertError(
      await userinfo(b, second.body.access_token),
      401,
      'invalid_token',
      'DELETE on A, userinfo on B',
    )

    const viaAccessRevoke = await newUserSession(b)
    assert.equal(
      (await postForm(`${b.url}/revoke`, { token: viaAccessRevoke.access_token })).status,
      200,
    )
    assertError(
      await userinfo(a, viaAccessRevoke.access_token),
      401,
      'invalid_token',
      'access token revoked on B, used on A',
    )
  })

  it('keys rotate through the CLI: both instances publish the new kid within seconds', async () => {
    const before = await jwksKids(a.url)
    const out = await runCli(['keys', 'rotate', '--json'], env)
    assert.equal(out.code, 0, out.stderr)
    const { kid } = JSON.parse(out.stdout.trim().split('\n').at(-1)!)
    assert.equal(typeof kid, 'string')
    assert.ok(!before.includes(kid))
    const seen = await pollUntil(async () => {
      const [ka, kb] = await Promise.all([jwksKids(a.url), jwksKids(b.url)])
      return ka.includes(kid) && kb.includes(kid)
    }, 10_000)
    assert.ok(seen, `both instances list ${kid} within 10 s`)
    // Announced, not yet signing: tokens keep their old kid and stay valid on both.
    const tokens = await newUserSession(b)
    assert.ok(
      before.includes(decodeJwt(tokens.access_token).header.kid),
      'the new key does not sign before its lead time',
    )
    assert.equal((await userinfo(a, tokens.access_token)).status, 200)
    for (const old of before)
      assert.ok((await jwksKids(b.url)).includes(old), 'the old key stays published')
  })
})

describe('two instances with different TOKENBOOTH_SECRET lists (a secret rotation half done)', () => {
  // B holds only the old secret; A was given `new,old`, and a key sealed under the new secret is
  // rotated in. When that key starts signing, B cannot open it. B used to answer 500 after the
  // rotation had committed (and a retry after the grace window then revoked the session as
  // reuse) while /healthz said 200. Now B keeps signing with the newest key it can open and
  // reports 503 on /healthz, and no refresh through B is lost.
  const oldSecret = randomSecret()
  const newSecret = randomSecret()
  let db: TestDatabase
  let a: Booth
  let b: Booth
  const common = { TOKENBOOTH_REFRESH_GRACE: '1', TOKENBOOTH_ISSUER: 'https://booth.example' }

  before(async () => {
    db = await createTestDatabase()
    // B first, on the empty database: the first key is sealed under the old secret.
    b = await startBooth({
      env: { ...common, TOKENBOOTH_DATABASE_URL: db.url, TOKENBOOTH_SECRET: oldSecret },
    })
    a = await startBooth({
      env: {
        ...common,
        TOKENBOOTH_DATABASE_URL: db.url,
        TOKENBOOTH_SECRET: `${newSecret},${oldSecret}`,
      },
    })
  })
  after(async () => {
    const codes = await Promise.all([a?.stop(), b?.stop()])
    await db?.drop()
    for (const booth of [a, b]) if (booth) removeDir(booth.dataDir)
    assert.deepEqual(codes, [0, 0])
  })

  async function session(on: Booth) {
    const username = uniqueName('halfway')
    assert.equal((await postJson(`${on.url}/signup`, { username, password: PASSWORD })).status, 201)
    const login = await postForm(`${on.url}/token`, {
      grant_type: 'password',
      username,
      password: PASSWORD,
    })
    assert.equal(login.status, 200, login.text)
    return login.body as { access_token: string; refresh_token: string }
  }
  const refresh = (on: Booth, token: string) =>
    postForm(`${on.url}/token`, { grant_type: 'refresh_token', refresh_token: token })
  const userinfo = (on: Booth, token: string) =>
    call(`${on.url}/userinfo`, { headers: bearer(token) })

  it('B keeps signing with the old key, reports 503 on /healthz, and loses no refresh', async () => {
    const [oldKid] = await jwksKids(b.url)
    const beforeRotation = await session(a)
    const out = await runCli(['keys', 'rotate', '--json'], a.env)
    assert.equal(out.code, 0, out.stderr)
    const newKid = JSON.parse(out.stdout.trim().split('\n').at(-1)!).kid as string
    // The lead time (at least 15 minutes here) is the one thing a test cannot wait for: the key's
    // activation is moved to now, as if it had passed. Both instances reread keys every 5 s.
    const admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
    try {
      await admin.query('update signing_keys set activates_at = $1 where kid = $2', [
        Date.now() - 1000,
        newKid,
      ])
    } finally {
      await admin.end()
    }
    const switched = await pollUntil(async () => {
      const t = await session(a)
      return decodeJwt(t.access_token).header.kid === newKid &&
        (await call(`${b.url}/healthz`)).status === 503
        ? t
        : undefined
    }, 15_000)
    assert.ok(switched, 'A signs with the new key and B reports unhealthy within 15 s')

    const health = await call(`${b.url}/healthz`)
    assert.equal(health.status, 503)
    assert.deepEqual(Object.keys(health.body).sort(), ['error', 'error_description'])
    assert.equal(health.body.error, 'temporarily_unavailable')
    assert.match(
      health.body.error_description,
      new RegExp(`${newKid} cannot be opened with TOKENBOOTH_SECRET.*${oldKid}`),
    )
    assert.match(b.output(), new RegExp(`"level":50.*${newKid}`), 'B logs it as an error')
    assert.equal((await call(`${a.url}/healthz`)).status, 200, 'A is healthy')

    // A refresh through B of a session that began on A: 200, signed with the key B can open.
    const viaB = await refresh(b, beforeRotation.refresh_token)
    assert.equal(viaB.status, 200, `refresh on B: ${viaB.text}`)
    assert.equal(decodeJwt(viaB.body.access_token).header.kid, oldKid)
    for (const booth of [a, b]) {
      assert.equal((await userinfo(booth, viaB.body.access_token)).status, 200, booth.url)
    }
    // The chain goes on, on either instance: nothing was consumed without an answer.
    const onA = await refresh(a, viaB.body.refresh_token)
    assert.equal(onA.status, 200, `the successor on A: ${onA.text}`)
    assert.equal(decodeJwt(onA.body.access_token).header.kid, newKid)
    const onB = await refresh(b, onA.body.refresh_token)
    assert.equal(onB.status, 200, `and its successor on B: ${onB.text}`)
    assert.equal((await userinfo(a, onB.body.access_token)).status, 200)

    // Logins through B work too, and A accepts them.
    const loginB = await session(b)
    assert.equal(decodeJwt(loginB.access_token).header.kid, oldKid)
    assert.equal((await userinfo(a, loginB.access_token)).status, 200)
    // Both publish the new key; B also keeps publishing the one it signs with.
    assert.ok((await jwksKids(b.url)).includes(newKid))
    assert.ok((await jwksKids(b.url)).includes(oldKid!))
  })
})
