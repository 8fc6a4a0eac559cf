/**
 * Cookie mode, for browser apps of the booth's own site: tokens travel in HttpOnly cookies that
 * page scripts cannot read (an XSS cannot steal them), instead of in JSON.
 *
 * - `tb_at`: the access token; Path=/, Max-Age = its lifetime.
 * - `tb_rt`: the refresh token; Path=/token, so it is sent to the token endpoint and nowhere else.
 * Both are HttpOnly, SameSite=Strict, and Secure unless the issuer is plain-http loopback (dev).
 *
 * CSRF (OWASP CSRF cheat sheet, defence in depth): SameSite=Strict; plus every cookie-
 * authenticated state change must carry an allowed `Origin` and the custom header
 * `X-Tokenbooth-CSRF` — a cross-site form cannot set it, and a cross-site fetch that sets it
 * needs a CORS preflight that only configured origins pass.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { CSRF_HEADER } from '@tokenbooth/verify'
import type { Config } from '../config.ts'
import type { TokenResponse } from '../domain/sessions.ts'
import { InvalidRequest } from '../errors.ts'

export const ACCESS_COOKIE = 'tb_at'
export const REFRESH_COOKIE = 'tb_rt'

function secure(config: Config): boolean {
  const { protocol, hostname } = new URL(config.issuer)
  const loopback = hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.')
  return protocol === 'https:' || !loopback
}

function base(config: Config) {
  return {
    httpOnly: true,
    secure: secure(config),
    sameSite: 'strict' as const,
    ...(config.cookieDomain === undefined ? {} : { domain: config.cookieDomain }),
  }
}

export function setTokenCookies(reply: FastifyReply, config: Config, tokens: TokenResponse): void {
  reply.setCookie(ACCESS_COOKIE, tokens.access_token, {
    ...base(config),
    path: '/',
    maxAge: tokens.expires_in,
  })
  if (tokens.refresh_token !== undefined) {
    reply.setCookie(REFRESH_COOKIE, tokens.refresh_token, {
      ...base(config),
      path: '/token',
      maxAge: config.refreshTokenTtl,
    })
  }
}

export function clearTokenCookies(reply: FastifyReply, config: Config): void {
  reply.clearCookie(ACCESS_COOKIE, { ...base(config), path: '/' })
  reply.clearCookie(REFRESH_COOKIE, { ...base(config), path: '/token' })
}

/** The origins whose pages may use cookie mode: the booth's own and the configured ones. */
export function cookieOrigins(config: Config): Set<string> {
  return new Set([new URL(config.issuer).origin, ...config.corsOrigins])
}

/** Throws InvalidRequest unless the request carries an allowed Origin and the CSRF header. */
export function checkCsrf(request: FastifyRequest, origins: ReadonlySet<string>): void {
  const origin = request.headers.origin
  if (origin === undefined || !origins.has(origin)) {
    throw new InvalidRequest({
      description: 'cookie requests must come from an allowed origin',
      detail: `origin ${origin}`,
    })
  }
  if (request.headers[CSRF_HEADER] === undefined) {
    throw new InvalidRequest({
      description: `cookie requests must carry the ${CSRF_HEADER} header`,
    })
  }
}
