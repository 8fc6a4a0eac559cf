/**
 * The attack suite of issue 2 against GET /userinfo of a real booth: forged, confused, stripped
 * and oversized tokens are all 401, nothing is fetched from a URL a token names, and the booth
 * stays up. A second booth on HS256, whose secret the test knows, signs forgeries *correctly*,
 * so that a rejection there proves the one check under test rather than a broken signature.
 */
import assert from 'node:assert/strict'
import {
  createHmac,
  createPrivateKey,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { assertError, assertErrorBody, b64url, decodeJwt, uniqueName } from '../support/contract.ts'
import { bearer, call, postForm, signUpAndLogin } from '../support/http.ts'

/** Signs `header.payload` as given (no library normalises our forgeries). */
function compact(
  header: object,
  payload: object,
  signer: (input: Buffer) => Buffer | string,
): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  const signature = signer(Buffer.from(input))
  return `${input}.${typeof signature === 'string' ? signature : signature.toString('base64url')}`
}

const hmac = (key: string | Uint8Array) => (input: Buffer) =>
  createHmac('sha256', key).update(input).digest()
const es256 = (key: KeyObject) => (input: Buffer) =>
  cryptoSign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })

describe('attacks on /userinfo (ES256 booth)', () => {
  let booth: Booth
  let base: string
  let token: string
  let refreshToken: string
  let victimId: string
  let header: Record<string, any>
  let payload: Record<string, any>
  let jwksText: string
  let ourJwk: JWK
  let attacker: { privateKey: KeyObject; jwk: JWK }
  let fetchServer: Server
  let fetchServerUrl: string
  let fetches = 0

  const userinfo = (t: string) => call(`${base}/userinfo`, { headers: bearer(t) })

  async function expectRejected(forged: string, name: string): Promise<void> {
    const res = await userinfo(forged)
    assertError(res, 401, 'invalid_token', name)
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/, name)
  }

  before(async () => {
    booth = await startBooth()
    base = booth.url
    const tokens = await signUpAndLogin(base, uniqueName('target'))
    token = tokens.access_token
    refreshToken = tokens.refresh_token
    const victim = await signUpAndLogin(base, uniqueName('victim'))
    victimId = decodeJwt(victim.access_token).payload.sub
    ;({ header, payload } = decodeJwt(token))
    jwksText = (await call(`${base}/.well-known/jwks.json`)).text
    ourJwk = (JSON.parse(jwksText).keys as JWK[]).find((k) => k.kid === header.kid)!
    assert.ok(ourJwk, 'the signing key is in the JWKS')

    const pair = await generateKeyPair('ES256', { extractable: true })
    const jwk = await exportJWK(pair.publicKey)
    const privateJwk = await exportJWK(pair.privateKey)
    attacker = {
      privateKey: createPrivateKey({ key: privateJwk as any, format: 'jwk' }),
      jwk: { ...jwk, kid: 'attacker', alg: 'ES256', use: 'sig' },
    }

    // A key server the attacker controls: any request to it means the booth followed a token's URL.
    fetchServer = createServer((req, res) => {
      fetches++
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [attacker.jwk] }))
    })
    fetchServer.listen(0, '127.0.0.1')
    await once(fetchServer, 'listening')
    fetchServerUrl = `http://127.0.0.1:${(fetchServer.address() as { port: number }).port}`
  })

  after(async () => {
    fetchServer?.close()
    const code = await booth?.stop()
    if (booth) removeDir(booth.dataDir)
    assert.equal(code, 0)
  })

  it('the genuine token is accepted (the control for every case below)', async () => {
    const res = await userinfo(token)
    assert.equal(res.status, 200, res.text)
    // And the attacker's machinery works: a token it signs verifies under its own key.
    const own = compact(
      { alg: 'ES256', typ: 'at+jwt', kid: 'attacker' },
      payload,
      es256(attacker.privateKey),
    )
    const key = await importJWK(attacker.jwk, 'ES256')
    const { jwtVerify } = await import('jose')
    await jwtVerify(own, key)
  })

  it('alg none, in any case, with an empty signature', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await expectRejected(`${b64url({ ...header, alg })}.${b64url(payload)}.`, `alg ${alg}`)
      await expectRejected(
        `${b64url({ alg, typ: 'at+jwt' })}.${b64url(payload)}.`,
        `alg ${alg}, no kid`,
      )
      await expectRejected(
        `${b64url({ ...header, alg })}.${b64url(payload)}`,
        `alg ${alg}, two parts`,
      )
    }
  })

  it('a stripped or zeroed signature', async () => {
    const [h, p, s] = token.split('.') as [string, string, string]
    await expectRejected(`${h}.${p}.`, 'stripped signature')
    await expectRejected(`${h}.${p}`, 'no signature part')
    const zero = Buffer.alloc(Buffer.from(s, 'base64url').length).toString('base64url')
    await expectRejected(`${h}.${p}.${zero}`, 'zeroed signature')
    await expectRejected(`${h}.${p}.${Buffer.alloc(1).toString('base64url')}`, 'one zero byte')
    // Flip one bit in the middle of the signature.
    const flipped = Buffer.from(s, 'base64url')
    flipped[10] = flipped[10]! ^ 1
    await expectRejected(`${h}.${p}.${flipped.toString('base64url')}`, 'a flipped signature bit')
    // r and s swapped; and s replaced by n - s (ECDSA malleability) is caught by the same check.
    const raw = Buffer.from(s, 'base64url')
    await expectRejected(
      `${h}.${p}.${Buffer.concat([raw.subarray(32), raw.subarray(0, 32)]).toString('base64url')}`,
      'r and s swapped',
    )
  })

  it('a tampered payload under the old signature', async () => {
    const [h, , s] = token.split('.') as [string, string, string]
    const variants: Array<[string, object]> = [
      ['sub of another user', { ...payload, sub: victimId }],
      ['wider scope', { ...payload, scope: 'profile admin' }],
      ['later exp', { ...payload, exp: payload.exp + 86_400 }],
      ['extra claim', { ...payload, admin: true }],
    ]
    for (const [name, changed] of variants)
      await expectRejected(`${h}.${b64url(changed)}.${s}`, name)
  })

  it('HS256 signed with the public key as PEM and as JWK text', async () => {
    const pem = await exportSPKI(
      (await importJWK(ourJwk, 'ES256')) as Parameters<typeof exportSPKI>[0],
    )
    const { kty, crv, x, y } = ourJwk
    const keys: Array<[string, string]> = [
      ['PEM', pem],
      ['PEM without the final newline', pem.trimEnd()],
      ['JWK as served', JSON.stringify(ourJwk)],
      ['JWK, minimal members', JSON.stringify({ kty, crv, x, y })],
      ['JWKS document', jwksText],
    ]
    for (const [name, key] of keys) {
      await expectRejected(
        compact({ ...header, alg: 'HS256' }, payload, hmac(key)),
        `HS256 with ${name}`,
      )
      await expectRejected(
        compact({ alg: 'HS256', typ: 'at+jwt' }, payload, hmac(key)),
        `HS256 with ${name}, no kid`,
      )
    }
    // jose itself, for good measure: it refuses nothing here because the key is just bytes.
    const viaJose = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
      .sign(new TextEncoder().encode(pem))
    await expectRejected(viaJose, 'HS256 via jose with the PEM')
  })

  it('an embedded jwk header with the attacker key, signed by it', async () => {
    const { kid: _kid, ...bare } = attacker.jwk
    await expectRejected(
      compact({ alg: 'ES256', typ: 'at+jwt', jwk: bare }, payload, es256(attacker.privateKey)),
      'jwk, no kid',
    )
    await expectRejected(
      compact({ ...header, jwk: bare }, payload, es256(attacker.privateKey)),
      'jwk under our kid',
    )
    await expectRejected(
      compact(
        { alg: 'ES256', typ: 'at+jwt', kid: 'attacker', jwk: attacker.jwk },
        payload,
        es256(attacker.privateKey),
      ),
      'jwk with its own kid',
    )
  })

  it('jku and x5u pointing at a local server are never fetched', async () => {
    const url = `${fetchServerUrl}/jwks.json`
    for (const name of ['jku', 'x5u']) {
      await expectRejected(
        compact(
          { alg: 'ES256', typ: 'at+jwt', kid: 'attacker', [name]: url },
          payload,
          es256(attacker.privateKey),
        ),
        `${name} with its kid`,
      )
      await expectRejected(
        compact({ ...header, [name]: url }, payload, es256(attacker.privateKey)),
        `${name} under our kid`,
      )
      await expectRejected(
        compact({ ...header, [name]: url }, payload, () => token.split('.')[2]!),
        `${name} added to the genuine token`,
      )
    }
    // Give any background fetch a moment to land, and prove the server is reachable at all.
    await call(`${base}/healthz`)
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(fetches, 0, 'the booth fetched a URL named by a token')
    assert.equal((await call(url)).status, 200)
    assert.equal(fetches, 1)
    fetches = 0
  })

  it('kid injection', async () => {
    const kids = [
      '../../etc/passwd',
      '../../../../../../dev/null',
      "' OR '1'='1",
      `${header.kid}' --`,
      '"; DROP TABLE signing_keys; --',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      `${header.kid}\u0000`,
      'x'.repeat(10 * 1024),
    ]
    for (const kid of kids) {
      const name = `kid ${JSON.stringify(kid.slice(0, 40))}`
      await expectRejected(
        compact({ alg: 'ES256', typ: 'at+jwt', kid }, payload, es256(attacker.privateKey)),
        `${name}, ES256`,
      )
      // The classic: a kid that makes a file read return nothing, and HMAC with an empty key.
      await expectRejected(
        compact({ alg: 'HS256', typ: 'at+jwt', kid }, payload, hmac('')),
        `${name}, HS256 empty key`,
      )
    }
    await expectRejected(
      compact({ alg: 'ES256', typ: 'at+jwt', kid: 42 }, payload, es256(attacker.privateKey)),
      'numeric kid',
    )
    await expectRejected(
      compact(
        { alg: 'ES256', typ: 'at+jwt', kid: [header.kid] },
        payload,
        es256(attacker.privateKey),
      ),
      'array kid',
    )
    await expectRejected(
      compact(
        { alg: 'ES256', typ: 'at+jwt', kid: { $ne: null } },
        payload,
        es256(attacker.privateKey),
      ),
      'object kid',
    )
    assert.equal((await userinfo(token)).status, 200, 'the keys are still there')
  })

  it("a foreign key's signature under our kid", async () => {
    await expectRejected(
      compact(header, payload, es256(attacker.privateKey)),
      'ES256 attacker key, our kid',
    )
    for (const alg of ['ES384', 'RS256', 'PS256', 'EdDSA', 'ES256K', 'HS512']) {
      await expectRejected(
        compact({ ...header, alg }, payload, es256(attacker.privateKey)),
        `alg ${alg} under our kid`,
      )
    }
    const rsa = await generateKeyPair('RS256', { extractable: true })
    const viaJose = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: header.kid })
      .sign(rsa.privateKey)
    await expectRejected(viaJose, 'RS256 via jose under our kid')
  })

  it('a refresh token used as a Bearer token, and an access token used as a refresh token', async () => {
    await expectRejected(refreshToken, 'refresh token as Bearer')
    const res = await postForm(`${base}/token`, {
      grant_type: 'refresh_token',
      refresh_token: token,
    })
    assertError(res, 400, 'invalid_grant', 'access token as refresh token')
    // Neither attempt hurt the session.
    assert.equal((await userinfo(token)).status, 200)
    const ok = await postForm(`${base}/token`, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    })
    assert.equal(ok.status, 200, ok.text)
    refreshToken = ok.body.refresh_token
  })

  it('a changed typ (JWT, missing) under the old signature', async () => {
    const s = token.split('.')[2]!
    for (const typ of ['JWT', 'jwt', 'at+jwt ', 'application/jwt', undefined]) {
      const h = { ...header, typ }
      if (typ === undefined) delete h.typ
      await expectRejected(`${b64url(h)}.${b64url(payload)}.${s}`, `typ ${typ}`)
    }
  })

  it('malformed base64 and JSON', async () => {
    const [h, p, s] = token.split('.') as [string, string, string]
    const cases: Array<[string, string]> = [
      ['a.b.c', 'a.b.c'],
      ['dots only', '..'],
      ['four parts', `${h}.${p}.${s}.${s}`],
      ['padding in the header', `${h}==.${p}.${s}`],
      ['standard base64 characters', `${h.replace(/-/g, '+').replace(/_/g, '/')}+/.${p}.${s}`],
      ['header not JSON', `${b64url('not json')}.${p}.${s}`],
      ['header a JSON array', `${b64url('[]')}.${p}.${s}`],
      ['header JSON null', `${b64url('null')}.${p}.${s}`],
      ['header truncated JSON', `${b64url('{"alg":"ES256"')}.${p}.${s}`],
      ['payload not JSON', `${h}.${b64url('not json')}.${s}`],
      ['payload a JSON string', `${h}.${b64url('"sub"')}.${s}`],
      [
        'duplicate header members',
        `${b64url(`{"alg":"ES256","alg":"none","typ":"at+jwt","kid":${JSON.stringify(header.kid)}}`)}.${p}.${s}`,
      ],
      ['not base64 at all', '%%%.***.!!!'],
      ['JWE-shaped (five parts)', `${h}.${p}.${s}.${s}.${s}`],
    ]
    for (const [name, t] of cases) {
      const res = await userinfo(t)
      assert.equal(res.status, 401, `${name}: ${res.text}`)
      assertErrorBody(res, name)
    }
  })

  it("a 9 kB and a 100 kB token are 401 invalid_token (the verifier's size check, not the HTTP layer)", async () => {
    const [h, p, s] = token.split('.') as [string, string, string]
    const padded = b64url({ ...payload, pad: 'x'.repeat(7000) })
    await expectRejected(`${h}.${padded}.${s}`, '9 kB token')
    // Exactly 100 kB (102,400 characters), well-formed: a header, a padded payload, a signature.
    let pad = 'x'.repeat(75_000)
    let big = `${h}.${b64url({ ...payload, pad })}.${s}`
    pad += 'x'.repeat(Math.floor(((100 * 1024 - big.length) * 3) / 4))
    big = `${h}.${b64url({ ...payload, pad })}.${s}`
    assert.ok(Math.abs(big.length - 100 * 1024) <= 4, `token length ${big.length}`)
    await expectRejected(big, '100 kB token')
    const res = await userinfo(big)
    assert.deepEqual(res.body, {
      error: 'invalid_token',
      error_description: 'the access token is invalid',
    })
  })

  it('headers just past the HTTP limit (128 KiB) get a clean 431 in the JSON shape, and the booth stays up', async () => {
    for (const size of [128 * 1024 + 1, 256 * 1024]) {
      const res = await call(`${base}/userinfo`, {
        headers: { authorization: `Bearer ${'a'.repeat(size)}` },
      })
      assertError(res, 431, 'invalid_request', `${size}-byte Authorization header`)
      assert.equal(res.body.error_description, 'request headers too large')
    }
    // Many headers that add up past the limit count too, not only one long one.
    const many: Record<string, string> = {}
    for (let i = 0; i < 40; i++) many[`x-filler-${i}`] = 'f'.repeat(4000)
    assertError(await call(`${base}/userinfo`, { headers: many }), 431, 'invalid_request', 'many')
    // Just under the limit, the request reaches the booth, which judges the token: 401.
    const under = await call(`${base}/userinfo`, {
      headers: { authorization: `Bearer ${'a'.repeat(120 * 1024)}` },
    })
    assertError(under, 401, 'invalid_token', '120 kB Authorization header')
    assert.equal((await call(`${base}/healthz`)).status, 200)
  })

  it('the booth is still healthy and the genuine token still works', async () => {
    assert.equal((await call(`${base}/healthz`)).status, 200)
    assert.equal((await userinfo(token)).status, 200)
    assert.equal(fetches, 0)
  })
})

describe('attacks on /userinfo, correctly signed (HS256 booth with a known secret)', () => {
  const secret = randomBytes(32)
  let booth: Booth
  let base: string
  let header: Record<string, any>
  let payload: Record<string, any>
  let fetches = 0
  let fetchServer: Server
  let fetchUrl: string

  const forge = (h: object, p: object) => compact(h, p, hmac(secret))
  const userinfo = (t: string) => call(`${base}/userinfo`, { headers: bearer(t) })
  async function expectRejected(forged: string, name: string): Promise<void> {
    const res = await userinfo(forged)
    assertError(res, 401, 'invalid_token', name)
  }

  before(async () => {
    booth = await startBooth({
      env: {
        TOKENBOOTH_SIGNING_ALG: 'HS256',
        TOKENBOOTH_HMAC_SECRET: secret.toString('base64url'),
      },
    })
    base = booth.url
    const tokens = await signUpAndLogin(base, uniqueName('hs'))
    ;({ header, payload } = decodeJwt(tokens.access_token))
    fetchServer = createServer((_req, res) => {
      fetches++
      res.end('{"keys":[]}')
    })
    fetchServer.listen(0, '127.0.0.1')
    await once(fetchServer, 'listening')
    fetchUrl = `http://127.0.0.1:${(fetchServer.address() as { port: number }).port}/k`
  })

  after(async () => {
    fetchServer?.close()
    const code = await booth?.stop()
    if (booth) removeDir(booth.dataDir)
    assert.equal(code, 0)
  })

  it('the secret never appears in the JWKS', async () => {
    const res = await call(`${base}/.well-known/jwks.json`)
    assert.equal(res.status, 200)
    assert.ok(!res.text.includes(secret.toString('base64url')))
    assert.ok(!res.text.includes(secret.toString('base64')))
    for (const key of res.body.keys ?? []) assert.equal(key.k, undefined)
  })

  it('control: the token re-signed unchanged with the secret is accepted', async () => {
    assert.equal(header.alg, 'HS256')
    const res = await userinfo(forge(header, payload))
    assert.equal(res.status, 200, res.text)
  })

  it('typ JWT or missing is rejected even with a valid signature', async () => {
    for (const typ of ['JWT', 'jwt', 'application/jwt', 'at+jwt+x', '', undefined]) {
      const h: Record<string, unknown> = { ...header, typ }
      if (typ === undefined) delete h.typ
      await expectRejected(forge(h, payload), `typ ${JSON.stringify(typ)}`)
    }
  })

  it('jwk, jku, x5u, x5c and crit headers are rejected even with a valid signature, and nothing is fetched', async () => {
    const headers: Array<[string, object]> = [
      ['jwk', { ...header, jwk: { kty: 'oct', k: secret.toString('base64url') } }],
      ['jku', { ...header, jku: fetchUrl }],
      ['x5u', { ...header, x5u: fetchUrl }],
      ['x5c', { ...header, x5c: ['MIIB'] }],
      ['crit', { ...header, crit: ['exp'] }],
      ['crit with an unknown member', { ...header, crit: ['tokenbooth'], tokenbooth: true }],
      ['b64 false', { ...header, b64: false, crit: ['b64'] }],
    ]
    for (const [name, h] of headers) await expectRejected(forge(h, payload), name)
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(fetches, 0)
  })

  it('alg none and alg confusion under the HS256 kid', async () => {
    for (const alg of ['none', 'NONE', 'HS384', 'HS512', 'ES256']) {
      await expectRejected(forge({ ...header, alg }, payload), `alg ${alg}`)
    }
    await expectRejected(
      `${b64url({ ...header, alg: 'none' })}.${b64url(payload)}.`,
      'alg none, empty signature',
    )
  })

  it('wrong iss, wrong aud, expired, not yet valid, or missing claims are rejected', async () => {
    const now = Math.floor(Date.now() / 1000)
    const { jti: _jti, ...noJti } = payload
    const { sub: _sub, ...noSub } = payload
    const { exp: _exp, ...noExp } = payload
    const variants: Array<[string, object]> = [
      ['wrong iss', { ...payload, iss: 'http://evil.example' }],
      ['iss with a trailing slash', { ...payload, iss: `${payload.iss}/` }],
      ['wrong aud', { ...payload, aud: 'http://evil.example' }],
      ['expired an hour ago', { ...payload, iat: now - 7200, exp: now - 3600 }],
      ['nbf in an hour', { ...payload, nbf: now + 3600 }],
      ['no jti', noJti],
      ['no sub', noSub],
      ['no exp', noExp],
      ['exp as a string', { ...payload, exp: String(payload.exp) }],
      ['unknown session', { ...payload, sid: '00000000-0000-4000-8000-000000000000' }],
    ]
    for (const [name, p] of variants) await expectRejected(forge(header, p), name)
  })

  it('the booth is still healthy', async () => {
    assert.equal((await call(`${base}/healthz`)).status, 200)
    assert.equal((await userinfo(forge(header, payload))).status, 200)
  })
})
