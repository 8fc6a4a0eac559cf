/**
 * The booth's own pages (/login, /account, /debugger): static, self-contained (no CDN), loaded
 * into memory at start, served with a strict Content-Security-Policy (no inline script or
 * style, same-origin only). Their scripts use @tokenbooth/client in cookie mode.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { NotFound } from '../errors.ts'

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
}

function load(dir: string, prefix: string, into: Map<string, Buffer>): void {
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    if (name.isDirectory()) load(join(dir, name.name), `${prefix}${name.name}/`, into)
    else if (TYPES[extname(name.name)] !== undefined)
      into.set(`${prefix}${name.name}`, readFileSync(join(dir, name.name)))
  }
}

export function pageRoutes(app: FastifyInstance): void {
  const pagesDir = fileURLToPath(new URL('../../pages/', import.meta.url))
  const files = new Map<string, Buffer>()
  load(pagesDir, '', files)
  // The client SDK, as published: its dist/ is a set of ES modules with relative imports.
  const clientDir = dirname(fileURLToPath(import.meta.resolve('@tokenbooth/client')))
  load(clientDir, 'client/', files)

  function send(name: string) {
    const body = files.get(name)
    if (body === undefined) throw new NotFound({ description: 'no such page' })
    return { body, type: TYPES[extname(name)]! }
  }

  for (const page of ['login', 'account', 'debugger']) {
    app.get(`/${page}`, async (_request, reply) => {
      const { body, type } = send(`${page}.html`)
      return reply
        .header('content-security-policy', CSP)
        .header('cache-control', 'no-cache')
        .type(type)
        .send(body)
    })
  }
  app.get('/', async (_request, reply) => reply.redirect('/login'))
  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    const name = request.params['*']
    if (name.includes('..') || name.endsWith('.html'))
      throw new NotFound({ description: 'no such asset' })
    const { body, type } = send(name)
    return reply
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache')
      .type(type)
      .send(body)
  })
}
