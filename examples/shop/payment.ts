/**
 * The payment service (Hono). It accepts payments only from the cart service's own
 * client_credentials token (`payment:pay`, the cart's `client_id`, no session) and keeps a ledger.
 */
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import { createVerifier, type AccessTokenClaims } from '@tokenbooth/verify'
import { requireAuth } from '@tokenbooth/verify/hono'
import type { MiddlewareHandler } from 'hono'
import { AUDIENCE, BOOTH_URL, FEED_STALE_AFTER_MS, PAYMENT_PORT, required } from './config.ts'
import { health } from './health.ts'
import { createLog, logVerifierEvents } from './log.ts'

const log = createLog('payment')
// The one caller allowed to pay: the ledger takes `user` from the request body, so only a caller
// trusted to name the buyer — the cart, which verified the buyer's token itself — may write it.
const cartClientId = required('PAYMENT_CART_CLIENT_ID')

// Fail-open, like the cart: the shop keeps taking payments while the booth is down, and a token
// revoked meanwhile works until the feed is back (at most the outage, never past the token's
// exp). A shop that would rather refuse payments than risk a stolen token sets
// `policy: 'fail-closed'` here: payment then answers 503 while the feed is stale.
const verifier = createVerifier({
  issuer: BOOTH_URL,
  audience: AUDIENCE,
  revocation: {
    clientId: required('PAYMENT_CLIENT_ID'),
    clientSecret: required('PAYMENT_CLIENT_SECRET'),
    staleAfterMs: FEED_STALE_AFTER_MS,
  },
  onEvent: logVerifierEvents(log),
})

const ledger: Array<{ id: number; user: string; amount: number; by: string; at: string }> = []

const app = new Hono<{ Variables: { auth: AccessTokenClaims } }>()
app.get('/healthz', (c) => {
  const { code, body } = health(verifier)
  return c.json(body, code)
})

// The scope alone is not enough: a booth configured to let users ask for `payment:pay` would
// hand it to anyone who logs in. A service token has no `sid` (no session behind it) and names
// the client it was issued to; a user's token has a session, whatever client it came through.
const onlyTheCart: MiddlewareHandler<{ Variables: { auth: AccessTokenClaims } }> = async (
  c,
  next,
) => {
  const { sid, client_id } = c.get('auth')
  if (sid !== undefined || client_id !== cartClientId) {
    // 403 without a challenge: another token of this caller would not be let through either
    return c.json(
      { error: 'access_denied', error_description: 'only the cart service takes payments' },
      403,
    )
  }
  await next()
  return undefined
}

app.post('/payments', requireAuth(verifier, { scope: 'payment:pay' }), onlyTheCart, async (c) => {
  const body = (await c.req.json().catch(() => ({}))) as { user?: unknown; amount?: unknown }
  if (
    typeof body.user !== 'string' ||
    !Number.isInteger(body.amount) ||
    (body.amount as number) <= 0
  ) {
    return c.json(
      {
        error: 'invalid_request',
        error_description: 'user (string) and amount (positive integer) are required',
      },
      400,
    )
  }
  const entry = {
    id: ledger.length + 1,
    user: body.user,
    amount: body.amount as number,
    by: c.get('auth').client_id,
    at: new Date().toISOString(),
  }
  ledger.push(entry)
  // The audit line: which token paid (its jti, for `tokenbooth tokens revoke` if it leaked).
  log.info('payment taken', { ...entry, jti: c.get('auth').jti })
  return c.json(entry, 201)
})

// A user may read their own payments with their own token (any service can accept one token).
app.get('/payments', requireAuth(verifier, { scope: 'cart:read' }), (c) => {
  const sub = c.get('auth').sub
  return c.json({ payments: ledger.filter((p) => p.user === sub) })
})

// Listen first: a service restarted while the booth is down must come up (see cart.ts).
const server = serve({ fetch: app.fetch, port: PAYMENT_PORT, hostname: '127.0.0.1' }, () => {
  log.info('listening', { url: `http://127.0.0.1:${PAYMENT_PORT}` })
})
// A port taken (or refused) is the end of this service: say so and exit non-zero, so that
// start.ts (or whoever started it) sees the failure instead of a service that never listens.
server.on('error', (error) => {
  log.error('cannot listen', { port: PAYMENT_PORT, error: error.message })
  process.exit(1)
})
verifier.ready().then(
  () => log.info('verifier ready', { ...verifier.status() }),
  (error: unknown) => log.warn('verifier not ready', { error: (error as Error).message }),
)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close()
    void verifier.close().then(() => process.exit(0))
  })
}
