// The shared adapter suite through all four adapters, each on a real server on loopback.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { after } from 'node:test'
import { serve } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { requireAuth as expressAuth } from '../src/adapters/express.ts'
import { requireAuth as fastifyAuth } from '../src/adapters/fastify.ts'
import { requireAuth as honoAuth } from '../src/adapters/hono.ts'
import type { AuthVariables } from '../src/adapters/hono.ts'
import { protect } from '../src/adapters/node.ts'
import { closeAdapterFixture, defineAdapterSuite } from './adapter-suite.ts'
import type { StartedServer } from './adapter-suite.ts'

after(closeAdapterFixture)

// The handler of every adapter's GET /boom: it fails after a turn of the event loop
async function fail(): Promise<never> {
  await new Promise((resolve) => setImmediate(resolve))
  throw new Error('handler failed on purpose')
}

async function listen(server: Server): Promise<StartedServer> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

defineAdapterSuite('node:http', (verifier) => {
  const json = (res: import('node:http').ServerResponse, body: unknown) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  const me = protect(verifier, (req, res) => json(res, req.auth))
  const admin = protect(verifier, (_req, res, claims) => json(res, claims), { scope: 'admin' })
  const boom = protect(verifier, fail, { onError: () => {} })
  const routes: Record<string, typeof me> = { '/admin': admin, '/boom': boom }
  return listen(createServer((req, res) => (routes[req.url ?? ''] ?? me)(req, res)))
})

defineAdapterSuite('express', (verifier) => {
  const app = express()
  app.get('/me', expressAuth(verifier), (req, res) => void res.json(req.auth))
  app.get(
    '/admin',
    expressAuth(verifier, { scope: ['admin'] }),
    (req, res) => void res.json(req.auth),
  )
  app.get('/boom', expressAuth(verifier), fail)
  // Express's default error handler would print the stack; the status is what the suite checks
  app.use((_error: unknown, _req: express.Request, res: express.Response, _next: unknown) => {
    res.status(500).json({ error: 'server_error' })
  })
  return listen(createServer(app))
})

defineAdapterSuite('fastify', async (verifier) => {
  const app = Fastify()
  app.setErrorHandler(async (_error, _request, reply) =>
    reply.code(500).send({ error: 'server_error' }),
  )
  app.decorateRequest('auth', null)
  app.get('/me', { preHandler: fastifyAuth(verifier) }, async (request) => request.auth)
  app.get(
    '/admin',
    { preHandler: fastifyAuth(verifier, { scope: 'admin' }) },
    async (request) => request.auth,
  )
  app.get('/boom', { preHandler: fastifyAuth(verifier) }, fail)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() }
})

defineAdapterSuite('hono', async (verifier) => {
  const app = new Hono<{ Variables: AuthVariables }>()
  app.get('/me', honoAuth(verifier), (c) => c.json(c.get('auth')))
  app.get('/admin', honoAuth(verifier, { scope: 'admin' }), (c) => c.json(c.get('auth')))
  app.get('/boom', honoAuth(verifier), fail)
  app.onError((_error, c) => c.json({ error: 'server_error' }, 500)) // quiet: no stack on stderr
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
})
