import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configWarnings, loadConfig } from '../src/config.ts'

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, '/srv')
    assert.equal(c.port, 4000)
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.issuer, 'http://127.0.0.1:4000')
    assert.equal(c.audience, c.issuer)
    assert.equal(c.dataDir, '/srv/data')
    assert.equal(c.databaseUrl, undefined)
    assert.equal(c.signingAlg, 'ES256')
    assert.equal(c.accessTokenTtl, 900)
    assert.equal(c.refreshTokenTtl, 14 * 86_400)
    assert.equal(c.refreshGrace, 5)
    assert.equal(c.keyRotation, 30 * 86_400)
    assert.equal(c.sqliteSynchronous, 'FULL')
    assert.ok(Object.isFrozen(c))
  })

  for (const [name, value, pattern] of [
    ['TOKENBOOTH_PORT', '80a', /TOKENBOOTH_PORT must be an integer from 1 to 65535, got "80a"/],
    ['TOKENBOOTH_PORT', '70000', /TOKENBOOTH_PORT/],
    // Port 0 would give the issuer http://127.0.0.1:0, where no verifier finds the booth.
    ['TOKENBOOTH_PORT', '0', /TOKENBOOTH_PORT must be an integer from 1 to 65535, got "0"/],
    // Over 5 s, default verifiers (15 s stale bound) would take a quiet feed for a dead one.
    [
      'TOKENBOOTH_FEED_HEARTBEAT',
      '6',
      /TOKENBOOTH_FEED_HEARTBEAT must be an integer from 1 to 5, got "6"/,
    ],
    ['TOKENBOOTH_FEED_HEARTBEAT', '0', /TOKENBOOTH_FEED_HEARTBEAT .*"0"/],
    ['TOKENBOOTH_TRUST_PROXY', '10.0.0.0/33', /TOKENBOOTH_TRUST_PROXY must be .*"10\.0\.0\.0\/33"/],
    ['TOKENBOOTH_TRUST_PROXY', '10.0.0.1, 10.0.0.300', /TOKENBOOTH_TRUST_PROXY .*"10\.0\.0\.300"/],
    ['TOKENBOOTH_TRUST_PROXY', 'proxy.internal', /TOKENBOOTH_TRUST_PROXY .*"proxy\.internal"/],
    ['TOKENBOOTH_TRUST_PROXY', '::1/129', /TOKENBOOTH_TRUST_PROXY .*"::1\/129"/],
    ['TOKENBOOTH_TRUST_PROXY', '10.0.0.0/255.0.0.0', /TOKENBOOTH_TRUST_PROXY .*255\.0\.0\.0/],
    ['TOKENBOOTH_TRUST_PROXY', '0.0.0.0/0', /TOKENBOOTH_TRUST_PROXY .*"0\.0\.0\.0\/0"/],
    ['TOKENBOOTH_TRUST_PROXY', 'fe80::1%eth0', /TOKENBOOTH_TRUST_PROXY .*"fe80::1%eth0"/],
    ['TOKENBOOTH_TRUST_PROXY', '10.0.0.0/8/8', /TOKENBOOTH_TRUST_PROXY .*"10\.0\.0\.0\/8\/8"/],
    ['TOKENBOOTH_TRUST_PROXY', 'true,10.0.0.1', /TOKENBOOTH_TRUST_PROXY .*"true"/],
    ['TOKENBOOTH_TRUST_PROXY', '10.0.0.0/08x', /TOKENBOOTH_TRUST_PROXY/],
    ['TOKENBOOTH_ACCESS_TOKEN_TTL', '-5', /TOKENBOOTH_ACCESS_TOKEN_TTL .*"-5"/],
    ['TOKENBOOTH_ISSUER', 'ftp://x', /TOKENBOOTH_ISSUER/],
    ['TOKENBOOTH_ISSUER', 'https://x/?q=1', /TOKENBOOTH_ISSUER/],
    ['TOKENBOOTH_DATABASE_URL', 'mysql://x', /TOKENBOOTH_DATABASE_URL/],
    [
      'TOKENBOOTH_SIGNING_ALG',
      'none',
      /TOKENBOOTH_SIGNING_ALG must be one of ES256, EdDSA, RS256, HS256, got "none"/,
    ],
    ['TOKENBOOTH_SECRET', 'short', /TOKENBOOTH_SECRET/],
    ['TOKENBOOTH_CORS_ORIGINS', '*', /TOKENBOOTH_CORS_ORIGINS/],
    ['TOKENBOOTH_CORS_ORIGINS', 'https://a.example/path', /TOKENBOOTH_CORS_ORIGINS/],
    ['TOKENBOOTH_SQLITE_SYNCHRONOUS', 'OFF', /TOKENBOOTH_SQLITE_SYNCHRONOUS/],
  ] as const) {
    it(`rejects ${name}=${value} naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (e: unknown) => e instanceof TypeError && pattern.test(e.message),
      )
    })
  }

  it('requires a shared secret with PostgreSQL', () => {
    assert.throws(
      () => loadConfig({ TOKENBOOTH_DATABASE_URL: 'postgres://h/db' }),
      /TOKENBOOTH_SECRET must be set/,
    )
  })

  it('requires a 256-bit secret for HS256, and warns about it', () => {
    assert.throws(
      () => loadConfig({ TOKENBOOTH_SIGNING_ALG: 'HS256', TOKENBOOTH_HMAC_SECRET: 'c2hvcnQ' }),
      /TOKENBOOTH_HMAC_SECRET/,
    )
    const c = loadConfig({
      TOKENBOOTH_SIGNING_ALG: 'HS256',
      TOKENBOOTH_HMAC_SECRET: Buffer.alloc(32, 7).toString('base64url'),
    })
    assert.ok(configWarnings(c).some((w) => w.includes('HS256')))
  })

  it('warns about long access tokens and NORMAL sync, not about the defaults', () => {
    assert.deepEqual(configWarnings(loadConfig({})), [])
    const c = loadConfig({
      TOKENBOOTH_ACCESS_TOKEN_TTL: '7200',
      TOKENBOOTH_SQLITE_SYNCHRONOUS: 'normal',
    })
    assert.equal(configWarnings(c).length, 2)
  })

  it('accepts ports 1 and 65535, heartbeats 1 to 5 s', () => {
    assert.equal(loadConfig({ TOKENBOOTH_PORT: '1' }).port, 1)
    assert.equal(loadConfig({ TOKENBOOTH_PORT: '65535' }).issuer, 'http://127.0.0.1:65535')
    assert.equal(loadConfig({}).feedHeartbeatMs, 5000)
    assert.equal(loadConfig({ TOKENBOOTH_FEED_HEARTBEAT: '1' }).feedHeartbeatMs, 1000)
  })

  it('accepts every documented form of trusted proxy, and true/false', () => {
    const forms = [
      '127.0.0.1',
      '10.0.0.0/8',
      '192.168.1.0/24',
      '10.1.2.3/32',
      '::1',
      '2001:db8::/32',
      'fd00::/8',
      '::ffff:10.0.0.1',
      '2001:db8::1/128',
      'loopback',
      'linklocal',
      'uniquelocal',
    ]
    const c = loadConfig({ TOKENBOOTH_TRUST_PROXY: forms.join(', ') })
    assert.deepEqual(c.trustProxy, forms)
    assert.ok(Object.isFrozen(c.trustProxy))
    assert.equal(loadConfig({ TOKENBOOTH_TRUST_PROXY: 'true' }).trustProxy, true)
    assert.equal(loadConfig({ TOKENBOOTH_TRUST_PROXY: 'false' }).trustProxy, false)
    assert.equal(loadConfig({}).trustProxy, false)
  })

  it('parses trusted proxies and scopes', () => {
    const c = loadConfig({
      TOKENBOOTH_TRUST_PROXY: '10.0.0.1, 10.0.0.0/8',
      TOKENBOOTH_SCOPES: 'profile cart:read',
    })
    assert.deepEqual(c.trustProxy, ['10.0.0.1', '10.0.0.0/8'])
    assert.deepEqual(c.scopes, ['profile', 'cart:read'])
    assert.deepEqual(c.defaultScope, ['profile', 'cart:read'])
    assert.throws(
      () => loadConfig({ TOKENBOOTH_SCOPES: 'a', TOKENBOOTH_DEFAULT_SCOPE: 'b' }),
      /TOKENBOOTH_DEFAULT_SCOPE/,
    )
  })
})
