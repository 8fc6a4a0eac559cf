/**
 * The cart service (Express). It keeps carts — its own data — but no session: every request
 * carries an access token that it verifies by itself with @tokenbooth/verify. At checkout it
 * calls the payment service with a token of its own (client_credentials).
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

// The service's own token for calling payment, reused until shortly before it expires.
let serviceToken: { token: string; expiresAt: number } | undefined
async function paymentToken(): Promise<string> {
  if (serviceToken !== undefined && serviceToken.expiresAt - Date.now() > 30_000)
    return serviceToken.token
  const res = await fetch(`${BOOTH_URL}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=payment%3Apay',
  })
  if (!res.ok) throw new Error(`the booth refused a service token: ${res.status}`)
  const body = (await res.json()) as { access_token: string; expires_in: number }
  serviceToken = { token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 }
  return body.access_token
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
  const amount = items.reduce((sum, i) => sum + i.qty * i.price, 0)
  try {
    const paid = await fetch(`${PAYMENT_URL}/payments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await paymentToken()}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ user: sub, amount }),
    })
    if (!paid.ok) {
      res
        .status(502)
        .json({ error: 'payment_failed', error_description: `payment answered ${paid.status}` })
      return
    }
    carts.delete(sub)
    res.json({ paid: amount, receipt: await paid.json() })
  } catch {
    res.status(502).json({
      error: 'payment_unreachable',
      error_description: 'the payment service is unreachable',
    })
  }
})

// Listen first: a service restarted while the booth is down must come up, say `starting` on
// /healthz, and serve as soon as the verifier has what it needs (it keeps trying meanwhile).
const server = app.listen(CART_PORT, '127.0.0.1', () => {
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
