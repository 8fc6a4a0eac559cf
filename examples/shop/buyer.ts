/**
 * A buyer, as the articles tell it: log in at the booth, use the cart, pay, refresh the token,
 * log out — and see the old token refused by the services within a second.
 * Run `npm run shop` first, then `npm run shop:buyer`.
 */
import { BOOTH_URL, CART_URL, PAYMENT_URL } from './config.ts'

const username = `buyer${Date.now().toString(36)}`
const password = 'a bus token, please'

function step(text: string, detail?: unknown) {
  console.log(`• ${text}${detail === undefined ? '' : `\n    ${JSON.stringify(detail)}`}`)
}

async function call(url: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers)
  if (init.token) headers.set('authorization', `Bearer ${init.token}`)
  if (init.body) headers.set('content-type', 'application/json')
  const res = await fetch(url, { ...init, headers })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

async function token(params: Record<string, string>) {
  const res = await fetch(`${BOOTH_URL}/token`, {
    method: 'POST',
    body: new URLSearchParams(params),
  })
  const body = (await res.json()) as {
    access_token: string
    refresh_token: string
    expires_in: number
    scope: string
  }
  if (!res.ok) throw new Error(`token request failed: ${JSON.stringify(body)}`)
  return body
}

await call(`${BOOTH_URL}/signup`, { method: 'POST', body: JSON.stringify({ username, password }) })
step(`signed up as ${username}`)
let tokens = await token({ grant_type: 'password', username, password })
step(`logged in at the booth: scope "${tokens.scope}", access token valid ${tokens.expires_in} s`)

step(
  'added two day passes to the cart',
  (
    await call(`${CART_URL}/cart/items`, {
      method: 'POST',
      token: tokens.access_token,
      body: JSON.stringify({ sku: 'day-pass', qty: 2 }),
    })
  ).body,
)
step(
  'the cart, checked by the cart service alone',
  (await call(`${CART_URL}/cart`, { token: tokens.access_token })).body,
)
step(
  'checked out: cart → payment with its own service token',
  (await call(`${CART_URL}/checkout`, { method: 'POST', token: tokens.access_token })).body,
)
step(
  'the same user token also works at the payment service',
  (await call(`${PAYMENT_URL}/payments`, { token: tokens.access_token })).body,
)

const old = tokens
tokens = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
step('refreshed: a new access token and a new (rotated) refresh token', {
  rotated: tokens.refresh_token !== old.refresh_token,
})
const replay = await fetch(`${BOOTH_URL}/token`, {
  method: 'POST',
  body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: old.refresh_token }),
})
step(
  `re-using the old refresh token within the grace window gives the same successor: ${replay.status}`,
)

await call(`${BOOTH_URL}/logout`, { method: 'POST', token: tokens.access_token })
const started = Date.now()
for (;;) {
  const res = await call(`${CART_URL}/cart`, { token: tokens.access_token })
  if (res.status === 401) {
    step(
      `logged out: the cart service refused the token ${Date.now() - started} ms later, without asking the booth`,
    )
    break
  }
  if (Date.now() - started > 5000) throw new Error('the token was still accepted 5 s after logout')
  await new Promise((r) => setTimeout(r, 20))
}
