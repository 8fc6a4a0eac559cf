// The booth's HTTP surface at its edges, on the real binary over loopback: a method a route does
// not take (405 with Allow), errors raised before routing (a malformed URL) and by Node itself
// (Expect, a request that never finishes arriving) all in the documented JSON shape with the
// security headers, and a stop that a stalled client cannot hold up.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { removeDir, startBooth, type Booth } from '../support/booth.ts'
import { assertError } from '../support/contract.ts'
import { call } from '../support/http.ts'

/** Sends `request` on a raw socket; resolves with everything the booth wrote until it closed. */
async function raw(port: number, request: string): Promise<{ text: string; socket: Socket }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => (text += chunk))
  socket.write(request)
  await once(socket, 'close')
  return { text, socket }
}

/** Status line, lower-cased headers and the parsed JSON body of a raw HTTP/1.1 answer. */
function parse(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = new Map(
    lines.map((l) => [
      l.slice(0, l.indexOf(':')).toLowerCase(),
      l.slice(l.indexOf(':') + 1).trim(),
    ]),
  )
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as unknown }
}

function assertSecurityHeaders(get: (name: string) => string | null | undefined, context: string) {
  assert.equal(get('x-content-type-options'), 'nosniff', context)
  assert.match(get('content-security-policy') ?? '', /frame-ancestors 'none'/, context)
}

describe('HTTP edges', () => {
  let booth: Booth

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_REQUEST_TIMEOUT: '2' } })
  })

  after(async () => {
    const code = await booth?.stop()
    if (booth) removeDir(booth.dataDir)
    assert.equal(code, 0, booth?.output().slice(-2000))
  })

  it('a method the route does not take is 405 with Allow; an unknown path stays 404', async () => {
    for (const [method, path, allowed] of [
      ['GET', '/token', 'POST'],
      ['DELETE', '/userinfo', 'GET'],
      ['PUT', '/sessions/abc', 'DELETE'],
      ['POST', '/.well-known/jwks.json', 'GET'],
    ] as const) {
      const res = await call(`${booth.url}${path}`, { method })
      assertError(res, 405, 'invalid_request', `${method} ${path}`)
      const allow = (res.headers.get('allow') ?? '').split(', ')
      assert.ok(allow.includes(allowed), `${method} ${path}: Allow ${allow.join(', ')}`)
      assert.ok(!allow.includes(method), `${method} ${path}: Allow ${allow.join(', ')}`)
      assertSecurityHeaders((n) => res.headers.get(n), `${method} ${path}`)
    }
    assertError(await call(`${booth.url}/no-such-thing`), 404, 'not_found', 'unknown path')
    assertError(
      await call(`${booth.url}/no-such-thing`, { method: 'DELETE' }),
      404,
      'not_found',
      'unknown path, other method',
    )
    // a method the route does take still works (the trailing slash ignored, as routing does)
    assert.equal((await call(`${booth.url}/.well-known/jwks.json/`)).status, 200)
  })

  it('a malformed percent-encoding in the path is a 400 in the JSON shape, with the security headers', async () => {
    for (const path of ['/sessions/%zz', '/sessions/%E0%A4%A']) {
      const res = await call(`${booth.url}${path}`, { method: 'DELETE' })
      assertError(res, 400, 'invalid_request', path)
      assertSecurityHeaders((n) => res.headers.get(n), path)
    }
  })

  it('an Expect other than 100-continue is a 417 in the JSON shape', async () => {
    const { text } = await raw(
      booth.port,
      'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\nConnection: close\r\n\r\n',
    )
    const answer = parse(text)
    assert.equal(answer.status, 417, text)
    assert.equal((answer.body as { error: string }).error, 'invalid_request')
    assertSecurityHeaders((n) => answer.headers.get(n), 'Expect: foo')
  })

  it('a request whose body never arrives is answered 408 and its connection closed', async () => {
    // complete headers, a promised body of 10 bytes, then nothing (TOKENBOOTH_REQUEST_TIMEOUT 2 s)
    const { text } = await raw(
      booth.port,
      'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n',
    )
    const answer = parse(text)
    assert.equal(answer.status, 408, text)
    assert.equal((answer.body as { error: string }).error, 'invalid_request')
    assertSecurityHeaders((n) => answer.headers.get(n), '408')
    assert.equal((await call(`${booth.url}/healthz`)).status, 200, 'the booth serves on')
  })
})

describe('a request answered before its body arrived, whose body never comes', () => {
  it('gets that one answer; the request timeout adds no second one to the connection', async () => {
    const booth = await startBooth({ env: { TOKENBOOTH_REQUEST_TIMEOUT: '2' } })
    try {
      // an unsupported media type is refused before the body is read; the 10 bytes never come
      const { text } = await raw(
        booth.port,
        'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n',
      )
      // anywhere in the stream: a second answer would follow the first body on the same line
      const statusLines = text.match(/HTTP\/1\.1 \d{3}/g) ?? []
      assert.deepEqual(statusLines, ['HTTP/1.1 415'], text)
    } finally {
      assert.equal(await booth.stop(), 0, booth.output().slice(-2000))
      removeDir(booth.dataDir)
    }
  })
})

describe('a stop with a request stalled in flight', () => {
  it('does not wait for the stalled client: the booth exits 0 after its grace', async () => {
    // a request timeout longer than the stop's 10 s grace, so that the grace is what ends it
    const booth = await startBooth({ env: { TOKENBOOTH_REQUEST_TIMEOUT: '120' } })
    try {
      const socket = connect(booth.port, '127.0.0.1')
      await once(socket, 'connect')
      socket.on('error', () => {})
      socket.write(
        'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n',
      )
      // in flight: the booth has the headers and waits for a body that never comes
      await new Promise((resolve) => setTimeout(resolve, 300))
      const closed = once(socket, 'close')
      const code = await booth.stop()
      assert.equal(code, 0, booth.output().slice(-2000))
      await closed
    } finally {
      await booth.kill()
      removeDir(booth.dataDir)
    }
  })
})
