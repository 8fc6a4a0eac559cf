// Shared by the booth's pages: one client in cookie mode (tokens stay in HttpOnly cookies).
import { createClient, webStorage } from '/assets/client/index.js'

// In cookie mode the storage holds only the expiry and refresh time, never a token: it lets every
// tab and every page load know when to refresh, and lets tabs agree on one refresh.
export const client = createClient({
  issuer: location.origin,
  mode: 'cookie',
  storage: webStorage(localStorage),
})

/** What the pages say when no answer came back: fetch rejected (offline, booth down, timeout). */
export const UNREACHABLE = 'The booth could not be reached. Check your connection and try again.'

/** The booth's lower-case `error_description` as a sentence: "This username is taken." */
export function sentence(text) {
  const trimmed = text.trim()
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/** The booth's JSON error as one sentence a person can act on. */
export async function describeError(response) {
  const retry = response.headers.get('retry-after')
  if (response.status === 429 && retry) return `Too many attempts. Try again in ${retry} seconds.`
  try {
    const body = await response.json()
    const text = body.error_description || body.error
    return text ? sentence(text) : `Request failed (HTTP ${response.status}).`
  } catch {
    return `Request failed (HTTP ${response.status}).`
  }
}

/**
 * Why a call failed, as a sentence. The client's errors carry the booth's answer (`status`
 * undefined: none came back); `fetch` itself rejects with a TypeError when the network fails.
 */
export function describeFailure(error) {
  if (typeof error?.code === 'string' && 'status' in error) {
    if (error.status === undefined) return UNREACHABLE
    if (error.retryAfter !== undefined)
      return `Too many attempts. Try again in ${error.retryAfter} seconds.`
    const text = error.errorDescription || error.error
    return text ? sentence(text) : `The booth answered HTTP ${error.status}.`
  }
  if (error instanceof TypeError) return UNREACHABLE
  return `Something went wrong: ${error?.message ?? String(error)}`
}
