/**
 * Request parameters of the OAuth endpoints: form-encoded (RFC 6749 §4) or JSON objects whose
 * values are strings. A parameter given twice is an error (RFC 6749 §3.1, §3.2), in a JSON body
 * too, where `JSON.parse` would silently keep the last of two equal names (RFC 8259 §4 leaves
 * duplicate names to the implementation).
 */
import { InvalidRequest } from '../errors.ts'

export type Params = Readonly<Record<string, string>>

/** Parses `application/x-www-form-urlencoded`, refusing repeated names. */
export function parseForm(body: string): Params {
  const params: Record<string, string> = Object.create(null)
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in params) throw new InvalidRequest({ description: `parameter "${name}" is repeated` })
    params[name] = value
  }
  return params
}

/**
 * Throws InvalidRequest when the top-level object of `text` names a member twice. Names are
 * compared decoded, so `"\u0063lient_id"` repeats `"client_id"`. Nested objects are not
 * checked: `readParams` refuses any value that is not a string.
 *
 * It does NOT validate JSON: call it on text `JSON.parse` accepted, whose top level is an object.
 *
 * @example rejectRepeatedKeys('{"scope":"a","scope":"b"}') // throws: parameter "scope" is repeated
 */
export function rejectRepeatedKeys(text: string): void {
  const seen = new Set<string>()
  let depth = 0
  // Inside the top-level object, a string right after `{` or `,` is a member name.
  let expectName = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      let end = i + 1
      let escaped = false
      for (; end < text.length; end++) {
        const d = text.charCodeAt(end)
        if (escaped) escaped = false
        else if (d === 0x5c) escaped = true
        else if (d === 0x22) break
      }
      if (depth === 1 && expectName) {
        const raw = text.slice(i, end + 1)
        const name: string = raw.includes('\\') ? JSON.parse(raw) : raw.slice(1, -1)
        if (seen.has(name)) {
          throw new InvalidRequest({ description: `parameter "${name.slice(0, 64)}" is repeated` })
        }
        seen.add(name)
        expectName = false
      }
      i = end
    } else if (c === 0x7b || c === 0x5b) {
      depth++
      expectName = depth === 1
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    } else if (c === 0x2c && depth === 1) {
      expectName = true
    }
  }
}

/** The body as string parameters: form fields, or a JSON object of strings. */
export function readParams(body: unknown): Params {
  if (body === undefined || body === null) return Object.create(null)
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequest({ description: 'the body must be a form or a JSON object' })
  }
  const params: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(body)) {
    if (typeof value !== 'string') {
      throw new InvalidRequest({ description: `parameter "${name}" must be a string` })
    }
    params[name] = value
  }
  return params
}

/** A parameter that must be present and non-empty (RFC 6749: empty counts as absent). */
export function required(params: Params, name: string): string {
  const value = params[name]
  if (value === undefined || value === '') {
    throw new InvalidRequest({ description: `parameter "${name}" is missing` })
  }
  return value
}

export function optional(params: Params, name: string): string | undefined {
  const value = params[name]
  return value === '' ? undefined : value
}
