/**
 * Security events: each one is logged (pino, with `event` set to its name) and counted in
 * /metrics. docs/events.md lists them; test/docs.test.ts keeps that list equal to this one.
 */
import type { Logger } from 'pino'
import type { Metrics } from './metrics.ts'

export const EVENTS = {
  'user.signed_up': 'info',
  'login.succeeded': 'info',
  'login.failed': 'info',
  'login.throttled': 'warn',
  'refresh_token.rotated': 'debug',
  'refresh_token.retried': 'info',
  'refresh_token.reused': 'warn',
  'refresh_token.rejected': 'info',
  'client_credentials.issued': 'debug',
  'client.authentication_failed': 'warn',
  'session.revoked': 'info',
  'user.sessions_revoked': 'info',
  'access_token.revoked': 'info',
  'signing_key.created': 'info',
} as const

export type EventName = keyof typeof EVENTS

export interface Events {
  emit(name: EventName, fields?: Record<string, unknown>): void
}

export function createEvents(log: Logger, metrics: Metrics): Events {
  const counter = metrics.counter('tokenbooth_events_total', 'Security events by name', ['event'])
  return {
    emit(name, fields = {}) {
      counter.inc({ event: name })
      log[EVENTS[name]]({ event: name, ...fields }, name)
    },
  }
}
