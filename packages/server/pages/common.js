// Shared by the booth's pages: one client in cookie mode (tokens stay in HttpOnly cookies).
import { createClient, webStorage } from '/assets/client/index.js'

// In cookie mode the storage holds only the expiry and refresh time, never a token: it lets every
// tab and every page load know when to refresh, and lets tabs agree on one refresh.
export const client = createClient({
  issuer: location.origin,
  mode: 'cookie',
  storage: webStorage(localStorage),
})

/** The booth's JSON error as one sentence a person can act on. */
export async function describeError(response) {
  try {
    const body = await response.json()
    const retry = response.headers.get('retry-after')
    if (response.status === 429 && retry) return `Too many attempts. Try again in ${retry} seconds.`
    return body.error_description || body.error || `Request failed (${response.status})`
  } catch {
    return `Request failed (${response.status})`
  }
}
