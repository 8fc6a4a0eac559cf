// The event-stream parser against the HTML Living Standard §9.2.6 (its examples are the fixtures),
// and against arbitrary chunking with fast-check.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { createSseParser } from '../src/sse.ts'
import type { SseEvent } from '../src/sse.ts'

function parse(chunks: string[]): { events: SseEvent[]; retries: number[]; comments: string[] } {
  const events: SseEvent[] = []
  const retries: number[] = []
  const comments: string[] = []
  const parser = createSseParser({
    event: (e) => events.push(e),
    retry: (ms) => retries.push(ms),
    comment: (c) => comments.push(c),
  })
  for (const chunk of chunks) parser.push(chunk)
  parser.end()
  return { events, retries, comments }
}

describe('SSE parser (HTML §9.2.6)', () => {
  test('multi-line data joins with LF; a trailing unterminated event is dropped', () => {
    // the standard's first example
    const { events } = parse(['data: YHOO\ndata: +2\ndata: 10\n\n'])
    assert.deepEqual(events, [{ type: 'message', data: 'YHOO\n+2\n10', id: '' }])
    assert.deepEqual(parse(['data: never dispatched']).events, [])
  })

  test('comments, ids that persist, and the space after the colon', () => {
    // the standard's second example
    const text =
      ': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n'
    const { events, comments } = parse([text])
    assert.deepEqual(comments, [' test stream'])
    assert.deepEqual(events, [
      { type: 'message', data: 'first event', id: '1' },
      // `id` with no colon sets the id to the empty string
      { type: 'message', data: 'second event', id: '' },
    ])
  })

  test('data with empty values and a field without a colon', () => {
    // the standard's third example: two events, "" and "\n"; the third never ends
    assert.deepEqual(
      parse(['data\n\ndata\ndata\n\ndata:']).events.map((e) => e.data),
      ['', '\n'],
    )
  })

  test('only one leading space is removed', () => {
    // the standard's fourth example: two identical events
    assert.deepEqual(
      parse(['data:test\n\ndata: test\n\n']).events.map((e) => e.data),
      ['test', 'test'],
    )
  })

  test('event types, retry, unknown fields, NUL in id, and a BOM', () => {
    const text =
      '\uFEFFretry: 1000\nretry: 1x\nevent: revocation\nid: 7\nfoo: bar\ndata: {}\n\nid: 8\u00009\ndata: x\n\n'
    const { events, retries } = parse([text])
    assert.deepEqual(retries, [1000])
    assert.deepEqual(events, [
      { type: 'revocation', data: '{}', id: '7' },
      { type: 'message', data: 'x', id: '7' },
    ])
  })

  test('a block without data dispatches nothing and resets the type', () => {
    const { events } = parse(['event: ready\n\ndata: x\n\n'])
    assert.deepEqual(events, [{ type: 'message', data: 'x', id: '' }])
  })

  test('CR, LF and CRLF all end lines, also when CRLF is split across chunks', () => {
    for (const chunks of [
      ['data: a\r\rdata: b\n\n'],
      ['data: a\r', '\n\r', '\ndata: b\r\n\r\n'],
      ['data: a\r\n', '\r\ndata: b\r\r'],
    ]) {
      assert.deepEqual(
        parse(chunks).events.map((e) => e.data),
        ['a', 'b'],
        JSON.stringify(chunks),
      )
    }
  })

  test('a line longer than 1 MiB is refused', () => {
    const parser = createSseParser({ event: () => {} })
    assert.throws(() => parser.push(`data: ${'x'.repeat(1 << 20)}`), RangeError)
  })

  test('any chunking of a stream gives the same events', () => {
    const field = fc.stringMatching(/^[a-z0-9 {}":,]{0,20}$/)
    const block = fc.record({
      type: fc.option(fc.constantFrom('revocation', 'heartbeat', 'ready')),
      id: fc.option(fc.integer({ min: 1, max: 1000 })),
      data: fc.array(field, { minLength: 1, maxLength: 3 }),
      eol: fc.constantFrom('\n', '\r', '\r\n'),
    })
    fc.assert(
      fc.property(
        fc.array(block, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (blocks, cuts) => {
          const text = blocks
            .map(({ type, id, data, eol }) => {
              let s = ''
              if (type !== null) s += `event: ${type}${eol}`
              if (id !== null) s += `id: ${id}${eol}`
              for (const d of data) s += `data: ${d}${eol}`
              return s + eol
            })
            .join('')
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
          const chunks: string[] = []
          let from = 0
          for (const p of points) {
            chunks.push(text.slice(from, p))
            from = p
          }
          chunks.push(text.slice(from))
          assert.deepEqual(parse(chunks).events, parse([text]).events)
          assert.equal(parse([text]).events.length, blocks.length)
        },
      ),
      { numRuns: 300 },
    )
  })
})
