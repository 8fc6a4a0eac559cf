/** The booth as a library: host it yourself, or use the `tokenbooth` command. */
export { loadConfig, type Config, type SigningAlg } from './config.ts'
export { createTokenServer, type TokenServer, type TokenServerOptions } from './server.ts'
export { openStore } from './store/open-store.ts'
export type { Store } from './store/store.ts'
export * from './errors.ts'
