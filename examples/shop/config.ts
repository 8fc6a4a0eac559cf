/** Ports and names shared by the shop's processes (overridable through the environment). */
export const BOOTH_URL = process.env.SHOP_BOOTH_URL ?? 'http://127.0.0.1:4000'
export const CART_PORT = Number(process.env.SHOP_CART_PORT ?? 4100)
export const PAYMENT_PORT = Number(process.env.SHOP_PAYMENT_PORT ?? 4200)
export const CART_URL = process.env.SHOP_CART_URL ?? `http://127.0.0.1:${CART_PORT}`
export const PAYMENT_URL = process.env.SHOP_PAYMENT_URL ?? `http://127.0.0.1:${PAYMENT_PORT}`

/** Every service accepts the same tokens: one audience for the whole shop. */
export const AUDIENCE = process.env.SHOP_AUDIENCE ?? 'https://shop.example'

export const SCOPES = 'profile cart:read cart:write payment:pay'
export const USER_SCOPES = 'profile cart:read cart:write'

export function required(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new TypeError(`${name} must be set`)
  return value
}
