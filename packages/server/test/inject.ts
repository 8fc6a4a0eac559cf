/** Requests to an in-process booth (`createTokenServer`), through Fastify's `inject`. */
import assert from 'node:assert/strict'
import type { TokenServer } from '../src/server.ts'

/** `POST /signup`, which must answer 201. */
export async function signUp(app: TokenServer['app'], username: string, password: string) {
  const res = await app.inject({ method: 'POST', url: '/signup', payload: { username, password } })
  assert.equal(res.statusCode, 201, res.body)
}
