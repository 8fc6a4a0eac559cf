/**
 * A streaming parser for `text/event-stream` (HTML Living Standard §9.2.6, "Interpreting an event
 * stream"), fed decoded text in chunks of any size: a line, a field, or a CR LF pair may be split
 * across chunks.
 *
 * Implemented as the standard says: lines end in CR LF, LF or CR; a line starting with `:` is a
 * comment; `field: value` loses one leading space; a line without a colon is a field with an empty
 * value; `data` lines join with LF; `id` containing NUL is ignored; `retry` must be ASCII digits;
 * an empty line dispatches, unless no data was buffered; an event not ended by an empty line when
 * the stream ends is dropped. Decoding (UTF-8, BOM) is the caller's, with `TextDecoder`; a BOM left
 * at the very start is dropped here as well.
 */

/** One dispatched event. `id` is the stream's last event ID at dispatch (it persists). */
export interface SseEvent {
  type: string
  data: string
  id: string
}

/** What the parser reports to its owner. */
export interface SseHandlers {
  event(event: SseEvent): void
  /** A valid `retry:` field, in milliseconds. */
  retry?(ms: number): void
  /** A comment line (without the colon). */
  comment?(text: string): void
}

/**
 * The parser: `push` decoded text (throws `RangeError` if a line, or the data of one event, grows
 * past 1 MiB); `end` when the stream ends (drops an unfinished event). An `id:` in a block without
 * `data` updates the ID carried by later events, but is not reported on its own.
 */
export interface SseParser {
  push(chunk: string): void
  end(): void
}

const LF = 10
const CR = 13
// Not in the standard: a guard against a peer that never ends a line or an event (a revocation
// entry is ~200 characters)
const MAX_LINE_LENGTH = 1 << 20

/** Creates an {@link SseParser} that reports to `handlers`. */
export function createSseParser(handlers: SseHandlers): SseParser {
  let buffer = ''
  let started = false
  // a chunk ended with CR: if the next one starts with LF, that LF belongs to the same line break
  let skipLf = false
  let data = ''
  let hasData = false
  let type = ''
  let lastId = ''

  function line(text: string): void {
    if (text === '') return dispatch()
    if (text.charCodeAt(0) === 58 /* : */) {
      handlers.comment?.(text.slice(1))
      return
    }
    const colon = text.indexOf(':')
    let field: string
    let value: string
    if (colon === -1) {
      field = text
      value = ''
    } else {
      field = text.slice(0, colon)
      value = text.charCodeAt(colon + 1) === 32 ? text.slice(colon + 2) : text.slice(colon + 1)
    }
    switch (field) {
      case 'event':
        type = value
        break
      case 'data':
        // the line limit alone would let a peer send endless data lines that never dispatch
        if (data.length + value.length >= MAX_LINE_LENGTH) {
          data = ''
          hasData = false
          throw new RangeError(`event stream event longer than ${MAX_LINE_LENGTH} characters`)
        }
        data = hasData ? `${data}\n${value}` : value
        hasData = true
        break
      case 'id':
        if (!value.includes('\0')) lastId = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) handlers.retry?.(Number(value))
        break
      default:
      // unknown fields are ignored
    }
  }

  function dispatch(): void {
    if (!hasData) {
      type = ''
      return
    }
    const event: SseEvent = { type: type === '' ? 'message' : type, data, id: lastId }
    data = ''
    hasData = false
    type = ''
    handlers.event(event)
  }

  return {
    push(chunk) {
      if (chunk === '') return
      let text = buffer + chunk
      if (!started) {
        started = true
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
      }
      let start = 0
      if (skipLf) {
        skipLf = false
        if (text.charCodeAt(0) === LF) start = 1
      }
      const length = text.length
      for (let i = start; i < length; i++) {
        const c = text.charCodeAt(i)
        if (c !== LF && c !== CR) continue
        line(text.slice(start, i))
        if (c === CR) {
          if (i + 1 === length) skipLf = true
          else if (text.charCodeAt(i + 1) === LF) i++
        }
        start = i + 1
      }
      buffer = start === length ? '' : text.slice(start)
      if (buffer.length > MAX_LINE_LENGTH) {
        buffer = ''
        throw new RangeError(`event stream line longer than ${MAX_LINE_LENGTH} characters`)
      }
    },
    end() {
      // §9.2.6: "Once the end of the file is reached, any pending data must be discarded."
      buffer = ''
      data = ''
      hasData = false
      type = ''
      skipLf = false
    },
  }
}
