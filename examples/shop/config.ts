/** Ports and names shared by the shop's processes (overridable through the environment). */
export const BOOTH_URL = process.env.SHOP_BOOTH_URL ?? 'http://127.0.0.1:4000'
export const CART_PORT = port('SHOP_CART_PORT', 4100)
export const PAYMENT_PORT = port('SHOP_PAYMENT_PORT', 4200)
export const CART_URL = process.env.SHOP_CART_URL ?? `http://127.0.0.1:${CART_PORT}`
export const PAYMENT_URL = process.env.SHOP_PAYMENT_URL ?? `http://127.0.0.1:${PAYMENT_PORT}`

/** Every service accepts the same tokens: one audience for the whole shop. */
export const AUDIENCE = process.env.SHOP_AUDIENCE ?? 'https://shop.example'

/**
 * The scopes a user may ask for at login: the booth's `TOKENBOOTH_SCOPES`. The password grant
 * grants any of them to anyone who asks, so `payment:pay` must not be one: it goes to the cart
 * service alone, registered with it (client_credentials draws on the client's own scopes).
 */
export const USER_SCOPES = 'profile cart:read cart:write'
/** The cart service's scope for calling payment; never a user's (see `USER_SCOPES`). */
export const SERVICE_SCOPE = 'payment:pay'

/**
 * How long the revocation feed may be silent before a service calls it stale, in ms; unset, the
 * SDK's default (15 s: three missed heartbeats of a booth sending one every 5 s). The tests set
 * it short so that a booth outage outlasts it.
 */
export const FEED_STALE_AFTER_MS = optionalInteger('SHOP_FEED_STALE_AFTER_MS', 100, 3_600_000)

export function required(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new TypeError(`${name} must be set`)
  return value
}

function optionalInteger(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max)
    throw new TypeError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    )
  return value
}

function port(name: string, fallback: number): number {
  return optionalInteger(name, 1, 65_535) ?? fallback
}
