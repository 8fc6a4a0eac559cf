/**
 * Runs the built client (dist/, what the booth's pages and npm users load) in a `node:vm` realm
 * whose global object holds the JavaScript built-ins plus only the Web APIs the core needs:
 * no window, document, navigator, localStorage, BroadcastChannel, process or Buffer. Any use of
 * another global throws a ReferenceError there. Needs `--experimental-vm-modules`;
 * no-dom.test.ts starts it. Prints one JSON line of observations for the test to check.
 *
 * Usage: node --experimental-vm-modules no-dom-realm.ts <issuer> <username> <password>
 */
import { readFileSync } from 'node:fs'
import vm from 'node:vm'

/** The whole platform the client core may rely on (React Native and every browser have these). */
export const WEB_APIS = {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
  Request,
  Response,
  Headers,
  AbortSignal,
  URL,
  URLSearchParams,
  queueMicrotask,
  setTimeout,
  clearTimeout,
  TextEncoder,
  TextDecoder,
  atob,
  btoa,
}

const [issuer, username, password] = process.argv.slice(2) as [string, string, string]
const realm = vm.createContext({ ...WEB_APIS })
const dist = new URL('../dist/', import.meta.url)
const modules = new Map<string, vm.SourceTextModule>()

function load(url: URL): vm.SourceTextModule {
  let module = modules.get(url.href)
  if (module === undefined) {
    module = new vm.SourceTextModule(readFileSync(url, 'utf8'), {
      identifier: url.href,
      context: realm,
    })
    modules.set(url.href, module)
  }
  return module
}

const index = load(new URL('index.js', dist))
await index.link((specifier, referencing) => {
  // No runtime dependencies: only the package's own relative modules.
  if (!specifier.startsWith('./'))
    throw new Error(`the client imports "${specifier}" (only ./relative modules are allowed)`)
  return load(new URL(specifier, referencing.identifier))
})
await index.evaluate()
const sdk = index.namespace as typeof import('../src/index.ts')

const out: Record<string, unknown> = {
  absent: vm.runInContext(
    `['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'BroadcastChannel',
      'process', 'Buffer', 'require'].filter((name) => typeof globalThis[name] !== 'undefined')`,
    realm,
  ),
}

let now = Date.now()
const client = sdk.createClient({ issuer, clock: () => now })
const refreshed: number[] = []
client.on('refreshed', ({ expiresAt }) => refreshed.push(expiresAt))
try {
  sdk.createClient({ issuer, crossTab: true })
} catch (error) {
  out.crossTabRefused = (error as Error).message
}

await client.login(username, password)
const first = await client.getAccessToken()
const me = await client.fetch(`${issuer}/userinfo`)
out.userinfo = { status: me.status, body: await me.json() }

// Past the refresh point (half of a 10 s token): the next call refreshes first.
now += 6_000
const again = await client.fetch(`${issuer}/userinfo`)
out.afterRefresh = { status: again.status, refreshed: refreshed.length }
out.tokenChanged = (await client.getAccessToken()) !== first

await client.logout()
out.signedInAfterLogout = await client.isSignedIn()
const old = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${first}` } })
out.oldTokenAfterLogout = old.status
client.close()

process.stdout.write(`${JSON.stringify(out)}\n`)
