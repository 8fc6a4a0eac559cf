/**
 * Request parameters of the OAuth endpoints: form-encoded (RFC 6749 §4) or JSON objects whose
 * values are strings. A parameter given twice is an error (RFC 6749 §3.1, §3.2).
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
