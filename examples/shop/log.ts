/**
 * The services' log: one JSON line per entry on standard output, and the verifier's events in it.
 * The issue's rule for a silent revocation feed under fail-open is "keep verifying; log and expose
 * it": `/healthz` exposes it (the verifier's `status()`), this logs it.
 */
import type { VerifierEvent } from '@tokenbooth/verify'

export interface Log {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  /** What ends the process (it exits right after). */
  error(msg: string, fields?: Record<string, unknown>): void
}

/** A logger that tags every line with the service's name. */
export function createLog(service: string): Log {
  const write = (level: string, msg: string, fields: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), service, level, msg, ...fields }))
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  }
}

// What an operator must act on: the booth's feed silent, refused or broken, keys unloadable.
const WARNINGS = new Set<VerifierEvent['type']>(['feed.stale', 'feed.error', 'jwks.failed'])

/** An `onEvent` hook for `createVerifier` that logs every event, the worrying ones as warnings. */
export function logVerifierEvents(log: Log): (event: VerifierEvent) => void {
  return (event) => {
    const { type, ...fields } = event
    const error = 'error' in fields ? fields.error : undefined
    const details = {
      ...fields,
      ...(error === undefined
        ? {}
        : { error: error instanceof Error ? error.message : String(error) }),
    }
    if (WARNINGS.has(type)) log.warn(type, details)
    else log.info(type, details)
  }
}
