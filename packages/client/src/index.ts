/**
 * `@tokenbooth/client`: log in at a tokenbooth and call your APIs without thinking about tokens.
 * Web standards only (fetch, Request/Response, Web Locks, BroadcastChannel, all feature-detected),
 * no runtime dependencies: browsers, Node ≥ 22.18 and React Native.
 *
 * @example
 * ```ts
 * import { createClient, SessionExpired } from '@tokenbooth/client'
 *
 * const client = createClient({ issuer: 'https://auth.example.com' })
 * await client.login('kim', 'correct horse battery')
 * try {
 *   const res = await client.fetch('https://api.example.com/orders')
 * } catch (err) {
 *   if (err instanceof SessionExpired) await askToLogInAgain()
 *   else throw err
 * }
 * ```
 *
 * @module
 */
export { createClient, type Client, type ClientOptions, type LoginOptions } from './client.ts'
export {
  ClientClosed,
  ClientError,
  LoginFailed,
  LogoutFailed,
  RefreshFailed,
  SessionExpired,
  type BoothRefusal,
  type ClientErrorOptions,
} from './errors.ts'
export type { ChangeSource, ClientEventListener, ClientEventName, ClientEvents } from './events.ts'
export { decodeJwtPayload } from './jwt.ts'
export { isStoredTokens, memoryStorage, type StoredTokens, type TokenStorage } from './storage.ts'
export { webStorage, type WebStorageLike, type WebStorageOptions } from './web-storage.ts'
