/**
 * A revocation feed snapshot far larger than any socket buffer (issue 3, "On connect, a snapshot
 * of the revocations still relevant"): 12,000 revoked tokens are ~1.6 MB of events. Every
 * subscriber gets all of them and then `ready`, however slowly it reads; only a live subscriber
 * that has stopped reading is cut off, and it resumes from its last id with nothing missed.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { request, type IncomingMessage } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { removeDir, runCli, startBooth, type Booth } from '../support/booth.ts'
import { addClient, sleep } from '../support/contract.ts'
import { maxId, subscribe } from '../support/feed.ts'
import { basic } from '../support/http.ts'

const SNAPSHOT = 12_000

/** Revokes `count` fresh jtis through the operator CLI (one process, one jti per stdin line). */
async function revokeJtis(env: Record<string, string>, count: number): Promise<Set<string>> {
  const jtis = Array.from({ length: count }, () => randomUUID())
  const out = await runCli(['tokens', 'revoke', '--json'], env, jtis.join('\n'))
  assert.equal(out.code, 0, out.stderr.slice(0, 2000))
  assert.deepEqual(JSON.parse(out.stdout), { revoked: count })
  return new Set(jtis)
}

interface RawFeed {
  response: IncomingMessage
  /** Every `revocation` event's value and id, and whether `ready` came, in arrival order. */
  read(): { values: string[]; lastId: number; ready: boolean; endedBeforeReady: boolean }
  ended: Promise<void>
  close(): void
}

/**
 * A subscriber on node:http, so that the test decides when it reads (`response.pause()`);
 * `paused` starts it without reading anything.
 */
function rawSubscribe(
  url: string,
  headers: Record<string, string>,
  paused = false,
): Promise<RawFeed> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers })
    req.on('error', reject)
    req.on('response', (response) => {
      assert.equal(response.statusCode, 200)
      if (paused) response.pause()
      response.setEncoding('utf8')
      const values: string[] = []
      let lastId = 0
      let ready = false
      let endedBeforeReady = false
      let buffer = ''
      response.on('data', (chunk: string) => {
        buffer += chunk
        let stop: number
        while ((stop = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, stop)
          buffer = buffer.slice(stop + 2)
          if (block.includes('event: ready')) ready = true
          if (!block.includes('event: revocation')) continue
          const id = /^id: (\d+)$/m.exec(block)
          const data = /^data: (.*)$/m.exec(block)
          if (id !== null) lastId = Math.max(lastId, Number(id[1]))
          if (data !== null) values.push(JSON.parse(data[1]!).value)
        }
      })
      const ended = new Promise<void>((done) => {
        const end = () => {
          if (!ready) endedBeforeReady = true
          done()
        }
        response.on('end', end)
        response.on('close', end)
        response.on('error', end)
      })
      resolve({
        response,
        read: () => ({ values, lastId, ready, endedBeforeReady }),
        ended,
        close: () => req.destroy(),
      })
    })
    req.end()
  })
}

/** Open feed connections, from the booth's /metrics. */
async function subscribers(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = /^tokenbooth_feed_subscribers (\d+)$/m.exec(text)
  assert.ok(line, 'the booth reports its feed subscribers')
  return Number(line[1])
}

async function until(probe: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

describe('revocation feed: a snapshot larger than the socket buffers', () => {
  let booth: Booth
  let auth: Record<string, string>
  let snapshot: Set<string>

  before(async () => {
    booth = await startBooth({ env: { TOKENBOOTH_FEED_HEARTBEAT: '1' } })
    const client = await addClient(booth.env, 'verifier')
    auth = basic(client.client_id, client.client_secret!)
    snapshot = await revokeJtis(booth.env, SNAPSHOT)
  })
  after(async () => {
    await booth?.stop()
    if (booth) removeDir(booth.dataDir)
  })

  it('a subscriber reading as fast as it can gets every entry, then ready', async () => {
    const feed = subscribe(`${booth.url}/events/revocations`, auth)
    const ready = await feed.waitFor((e) => e.event === 'ready', 30_000)
    const index = feed.events.indexOf(ready)
    const before = new Set(feed.events.slice(0, index).map((e) => e.data.value))
    for (const jti of snapshot) assert.ok(before.has(jti), `${jti} came before ready`)
    assert.ok(Number(ready.data.seq) >= maxId(feed.events))
    feed.close()
  })

  it('a subscriber that reads nothing for a while is waited for, not cut off', async () => {
    const feed = await rawSubscribe(`${booth.url}/events/revocations`, auth, true)
    await sleep(1500)
    assert.equal(feed.read().values.length, 0, 'nothing was read while paused')
    feed.response.resume()
    await until(() => feed.read().ready || feed.read().endedBeforeReady, 'ready')
    const { values, endedBeforeReady } = feed.read()
    assert.equal(endedBeforeReady, false, 'the booth did not cut the subscriber off')
    const got = new Set(values)
    for (const jti of snapshot) assert.ok(got.has(jti), `${jti} was sent`)
    feed.close()
  })

  it('a live subscriber that stops reading is cut off once far behind, and resumes with nothing missed', async () => {
    const feed = await rawSubscribe(`${booth.url}/events/revocations`, auth)
    await until(() => feed.read().ready, 'ready')
    feed.response.pause()
    // More live entries than the loopback socket buffers and the booth's 1 MiB hold together;
    // the booth's subscriber gauge tells when it let go.
    const live = new Set<string>()
    let cut = false
    for (let round = 0; round < 6 && !cut; round++) {
      for (const jti of await revokeJtis(booth.env, 20_000)) live.add(jti)
      await sleep(500)
      cut = (await subscribers(booth.url)) === 0
    }
    assert.ok(cut, `the booth kept a subscriber ${live.size} entries behind connected`)
    feed.response.resume()
    await feed.ended
    const first = feed.read()
    assert.ok(first.ready)
    const received = new Set(first.values)
    const missing = [...live].filter((jti) => !received.has(jti))
    assert.ok(
      missing.length > 0,
      'the stream ended before every live entry was sent: it was cut off',
    )

    const resumed = await rawSubscribe(`${booth.url}/events/revocations`, {
      ...auth,
      'last-event-id': String(first.lastId),
    })
    await until(() => resumed.read().ready, 'ready after the resume')
    const again = new Set(resumed.read().values)
    for (const jti of missing) assert.ok(again.has(jti), `${jti} came with the resume`)
    resumed.close()
  })
})
