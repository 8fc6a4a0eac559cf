/**
 * Interop (issue 2, "Tests and proof"): a real OAuth client library, oauth4webapi, discovers the
 * booth, logs in, refreshes, revokes and calls userinfo; jose verifies our access tokens from the
 * published JWKS, as any resource server would.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { addClient, uniqueName } from '../support/contract.ts'
import { postJson } from '../support/http.ts'

const PASSWORD = 'interop passphrase of some length'
const insecure = { [oauth.allowInsecureRequests]: true } as const

describe('interop with oauth4webapi and jose', () => {
  let booth: Booth
  let issuer: URL
  let as: oauth.AuthorizationServer
  let username: string
  let userId: string
  let service: { client_id: string; client_secret: string }
  // First-party apps use the booth's default public client.
  const app: oauth.Client = { client_id: 'tokenbooth' }

  async function passwordLogin(scope?: string): Promise<oauth.TokenEndpointResponse> {
    const params: Record<string, string> = { username, password: PASSWORD }
    if (scope !== undefined) params.scope = scope
    const res = await oauth.genericTokenEndpointRequest(
      as,
      app,
      oauth.None(),
      'password',
      params,
      insecure,
    )
    return oauth.processGenericTokenEndpointResponse(as, app, res)
  }

  async function userinfo(accessToken: string): Promise<oauth.UserInfoResponse> {
    const res = await oauth.userInfoRequest(as, app, accessToken, insecure)
    return oauth.processUserInfoResponse(as, app, userId, res)
  }

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_SCOPES: 'profile cart:read' } })
    issuer = new URL(booth.url)
    service = (await addClient(booth.env, 'interop-svc', { scope: 'cart:read' })) as typeof service
    username = uniqueName('interop')
    const signup = await postJson(`${booth.url}/signup`, { username, password: PASSWORD })
    assert.equal(signup.status, 201, signup.text)
    userId = signup.body.id
  })

  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  it('discovers the booth through both well-known documents', async () => {
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      const res = await oauth.discoveryRequest(issuer, { algorithm, ...insecure })
      const metadata = await oauth.processDiscoveryResponse(issuer, res)
      assert.equal(new URL(metadata.issuer).href, issuer.href)
      assert.ok(metadata.token_endpoint && metadata.jwks_uri && metadata.revocation_endpoint)
      assert.ok(metadata.introspection_endpoint && metadata.userinfo_endpoint)
      as = metadata
    }
  })

  it('logs in with the password grant, calls userinfo, refreshes, and revokes', async () => {
    const login = await passwordLogin()
    assert.equal(login.token_type, 'bearer')
    assert.ok(login.refresh_token)
    assert.equal(typeof login.expires_in, 'number')
    const info = await userinfo(login.access_token)
    assert.equal(info.sub, userId)
    assert.equal(info.username, username)

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      app,
      await oauth.refreshTokenGrantRequest(as, app, oauth.None(), login.refresh_token!, insecure),
    )
    assert.ok(refreshed.refresh_token)
    assert.notEqual(refreshed.refresh_token, login.refresh_token)
    assert.equal((await userinfo(refreshed.access_token)).sub, userId)

    const narrowed = await oauth.processRefreshTokenResponse(
      as,
      app,
      await oauth.refreshTokenGrantRequest(as, app, oauth.None(), refreshed.refresh_token!, {
        ...insecure,
        additionalParameters: { scope: 'profile' },
      }),
    )
    assert.equal(narrowed.scope, 'profile')

    const revoked = await oauth.revocationRequest(as, app, oauth.None(), narrowed.refresh_token!, {
      ...insecure,
      additionalParameters: { token_type_hint: 'refresh_token' },
    })
    assert.equal(await oauth.processRevocationResponse(revoked), undefined)

    // The library reads our RFC 6750 challenge and our RFC 6749 error bodies.
    await assert.rejects(userinfo(narrowed.access_token), (error: unknown) => {
      assert.ok(error instanceof oauth.WWWAuthenticateChallengeError, String(error))
      assert.equal(error.status, 401)
      const [challenge] = error.cause
      assert.equal(challenge?.scheme, 'bearer')
      assert.equal(challenge?.parameters.error, 'invalid_token')
      return true
    })
    await assert.rejects(
      oauth.processRefreshTokenResponse(
        as,
        app,
        await oauth.refreshTokenGrantRequest(
          as,
          app,
          oauth.None(),
          narrowed.refresh_token!,
          insecure,
        ),
      ),
      (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error))
        assert.equal(error.error, 'invalid_grant')
        assert.equal(error.status, 400)
        return true
      },
    )
  })

  it('reads a wrong password as an invalid_grant error', async () => {
    const res = await oauth.genericTokenEndpointRequest(
      as,
      app,
      oauth.None(),
      'password',
      { username, password: 'not it, sorry' },
      insecure,
    )
    await assert.rejects(
      oauth.processGenericTokenEndpointResponse(as, app, res),
      (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error))
        assert.equal(error.error, 'invalid_grant')
        return true
      },
    )
  })

  it('gets a client_credentials token with ClientSecretBasic, and introspects with it', async () => {
    const client: oauth.Client = { client_id: service.client_id }
    const auth = oauth.ClientSecretBasic(service.client_secret)
    const res = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      auth,
      { scope: 'cart:read' },
      insecure,
    )
    const tokens = await oauth.processClientCredentialsResponse(as, client, res)
    assert.equal(tokens.token_type, 'bearer')
    assert.equal(tokens.refresh_token, undefined)
    assert.equal(tokens.scope, 'cart:read')

    const login = await passwordLogin()
    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, login.access_token, insecure),
    )
    assert.equal(introspection.active, true)
    assert.equal(introspection.sub, userId)

    await assert.rejects(
      oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(
          as,
          client,
          oauth.ClientSecretBasic('wrong'),
          {},
          insecure,
        ),
      ),
      (error: unknown) => {
        assert.ok(
          error instanceof oauth.ResponseBodyError ||
            error instanceof oauth.WWWAuthenticateChallengeError,
          String(error),
        )
        assert.equal((error as { status: number }).status, 401)
        return true
      },
    )
  })

  it('oauth4webapi validates our access tokens as RFC 9068 JWTs', async () => {
    const login = await passwordLogin()
    const request = new Request('http://resource.test/cart', {
      headers: { authorization: `Bearer ${login.access_token}` },
    })
    const claims = await oauth.validateJwtAccessToken(as, request, as.issuer, insecure)
    assert.equal(claims.sub, userId)
    assert.equal(claims.client_id, 'tokenbooth')
  })

  it('jose verifies user and client tokens from the remote JWKS (typ at+jwt, iss, aud)', async () => {
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!))
    const options = {
      issuer: as.issuer,
      audience: as.issuer,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id', 'scope'],
    }
    const login = await passwordLogin('profile cart:read')
    const { payload, protectedHeader } = await jwtVerify(login.access_token, jwks, options)
    assert.equal(protectedHeader.typ, 'at+jwt')
    assert.equal(payload.sub, userId)
    assert.equal(payload.scope, 'profile cart:read')
    assert.equal(typeof payload.sid, 'string')

    const client: oauth.Client = { client_id: service.client_id }
    const cc = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(service.client_secret),
        {},
        insecure,
      ),
    )
    const verified = await jwtVerify(cc.access_token, jwks, options)
    assert.equal(verified.payload.client_id, service.client_id)

    // The same checks refuse a token for another audience or issuer.
    await assert.rejects(
      jwtVerify(login.access_token, jwks, { ...options, audience: 'http://other.example' }),
    )
    await assert.rejects(
      jwtVerify(login.access_token, jwks, { ...options, issuer: 'http://other.example' }),
    )
    await assert.rejects(jwtVerify(login.access_token, jwks, { ...options, typ: 'JWT' }))
  })
})
