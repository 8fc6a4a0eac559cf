/**
 * The cart service (Express). It keeps carts — its own data — but no session: every request
 * carries an access token that it verifies by itself with @tokenbooth/verify. At checkout it
 * calls the payment service with a token of its own (client_credentials), the only kind payment
 * takes.
 */
import express from 'express'
import { createVerifier } from '@tokenbooth/verify'
import { requireAuth } from '@tokenbooth/verify/express'
import {
  AUDIENCE,
  BOOTH_URL,
  CART_PORT,
  FEED_STALE_AFTER_MS,
  PAYMENT_URL,
  required,
  SERVICE_SCOPE,
} from './config.ts'
import { health } from './health.ts'
import { createLog, logVerifierEvents } from './log.ts'

const clientId = required('CART_CLIENT_ID')
const clientSecret = required('CART_CLIENT_SECRET')
const log = createLog('cart')

const verifier = createVerifier({
  issuer: BOOTH_URL,
  audience: AUDIENCE,
  revocation: { clientId, clientSecret, staleAfterMs: FEED_STALE_AFTER_MS },
  onEvent: logVerifierEvents(log),
})

type Item = { sku: string; qty: number; price: number }
const carts = new Map<string, Item[]>()
const PRICES: Record<string, number> = {
  'bus-token': 1250,
  'day-pass': 5000,
  'monthly-pass': 55000,
}

/** The booth did not answer a service-token request: no token, so no payment (503, not 502). */
class BoothUnreachable extends Error {
  override readonly name = 'BoothUnreachable'
}
/**
 * Payment did not answer. Whether it charged is then unknown; the items go back so the buyer can
 * try again, which could charge twice: a real shop would send an idempotency key.
 */
class PaymentUnreachable extends Error {
  override readonly name = 'PaymentUnreachable'
}

// The service's own token for calling payment, reused until shortly before it expires, or until
// payment refuses it. One request to the booth serves every checkout waiting for a token.
let serviceToken: { token: string; expiresAt: number } | undefined
let pendingToken: Promise<string> | undefined
async function paymentToken(): Promise<string> {
  if (serviceToken !== undefined && serviceToken.expiresAt - Date.now() > 30_000)
    return serviceToken.token
  pendingToken ??= requestPaymentToken().finally(() => (pendingToken = undefined))
  return pendingToken
}

async function requestPaymentToken(): Promise<string> {
  let res: Response
  try {
    res = await fetch(`${BOOTH_URL}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `grant_type=client_credentials&scope=${encodeURIComponent(SERVICE_SCOPE)}`,
    })
  } catch (error) {
    throw new BoothUnreachable((error as Error).message)
  }
  if (!res.ok) throw new Error(`the booth refused a service token: ${res.status}`)
  const body = (await res.json()) as { access_token: string; expires_in: number }
  serviceToken = { token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 }
  return body.access_token
}

/**
 * Charges `user` at payment. A 401 means payment no longer takes the cached token (revoked, or
 * signed with a key it does not know): it is dropped, and the charge tried once more with a new
 * one, as the client SDK does on a 401. A 401 took no payment, so the retry cannot charge twice.
 */
async function pay(user: string, amount: number): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const token = await paymentToken()
    const res = await fetch(`${PAYMENT_URL}/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user, amount }),
    }).catch((error: unknown) => {
      throw new PaymentUnreachable((error as Error).message)
    })
    if (res.status !== 401 || attempt === 2) return res
    await res.body?.cancel()
    if (serviceToken?.token === token) serviceToken = undefined
    log.warn('payment refused the service token; getting a new one')
  }
}

const app = express()
app.use(express.json({ limit: '16kb' }))

app.get('/healthz', (_req, res) => {
  const { code, body } = health(verifier)
  res.status(code).json(body)
})

app.get('/cart', requireAuth(verifier, { scope: 'cart:read' }), (req, res) => {
  const sub = req.auth!.sub
  const items = carts.get(sub) ?? []
  res.json({ user: sub, items, total: items.reduce((sum, i) => sum + i.qty * i.price, 0) })
})

app.post('/cart/items', requireAuth(verifier, { scope: 'cart:write' }), (req, res) => {
  const { sku, qty } = (req.body ?? {}) as { sku?: unknown; qty?: unknown }
  const price = typeof sku === 'string' ? PRICES[sku] : undefined
  if (
    typeof sku !== 'string' ||
    price === undefined ||
    typeof qty !== 'number' ||
    !Number.isInteger(qty) ||
    qty < 1 ||
    qty > 100
  ) {
    res.status(400).json({
      error: 'invalid_request',
      error_description: `sku is one of ${Object.keys(PRICES).join(', ')}; qty 1 to 100`,
    })
    return
  }
  const items = carts.get(req.auth!.sub) ?? []
  items.push({ sku, qty, price })
  carts.set(req.auth!.sub, items)
  res.status(201).json({ items })
})

app.post('/checkout', requireAuth(verifier, { scope: 'cart:write' }), async (req, res) => {
  const sub = req.auth!.sub
  const items = carts.get(sub) ?? []
  if (items.length === 0) {
    res.status(400).json({ error: 'invalid_request', error_description: 'the cart is empty' })
    return
  }
  // Taken out before the first await: a second checkout of this cart, arriving while payment
  // answers the first, finds it empty and cannot charge the same items again.
  carts.delete(sub)
  const amount = items.reduce((sum, i) => sum + i.qty * i.price, 0)
  const failed = (status: number, error: string, description: string) => {
    // Not paid: the items go back, ahead of any added meanwhile.
    carts.set(sub, [...items, ...(carts.get(sub) ?? [])])
    res.status(status).json({ error, error_description: description })
  }
  let paid: Response
  try {
    paid = await pay(sub, amount)
  } catch (error) {
    if (error instanceof BoothUnreachable) {
      // Not payment's fault: with no cached service token, checkout waits for the booth.
      res.set('retry-after', '5')
      failed(503, 'booth_unreachable', 'the cart cannot get a service token: the booth is down')
    } else if (error instanceof PaymentUnreachable) {
      failed(502, 'payment_unreachable', 'the payment service is unreachable')
    } else {
      failed(502, 'service_token_refused', (error as Error).message)
    }
    return
  }
  if (!paid.ok) {
    failed(502, 'payment_failed', `payment answered ${paid.status}`)
    return
  }
  res.json({ paid: amount, receipt: await paid.json() })
})

// Listen first: a service restarted while the booth is down must come up, say `starting` on
// /healthz, and serve as soon as the verifier has what it needs (it keeps trying meanwhile).
// Express 5 hands a listen error to this callback instead of throwing it: a port taken must end
// the process (non-zero, for start.ts to see), not log "listening" and serve nothing.
const server = app.listen(CART_PORT, '127.0.0.1', (error?: Error) => {
  if (error !== undefined) {
    log.error('cannot listen', { port: CART_PORT, error: error.message })
    process.exit(1)
  }
  log.info('listening', { url: `http://127.0.0.1:${CART_PORT}` })
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
