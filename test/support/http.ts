/** Small HTTP helpers for contract tests: real fetch over loopback. */

export interface Reply {
  status: number
  headers: Headers
  body: any
  text: string
}

export async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init)
  const text = await res.text()
  let body: unknown
  try {
    body = text === '' ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: res.status, headers: res.headers, body, text }
}

/** POST a form (RFC 6749 style). */
export function postForm(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  })
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

export function basic(id: string, secret: string): Record<string, string> {
  const enc = (s: string) => encodeURIComponent(s)
  return { authorization: `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}` }
}

/** Signs up and logs in; returns the token response. */
export async function signUpAndLogin(
  base: string,
  username: string,
  password = 'a fine long passphrase',
  extra: Record<string, string> = {},
) {
  const signup = await postJson(`${base}/signup`, { username, password })
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${signup.text}`)
  return logIn(base, username, password, extra)
}

/** A password grant for an existing user; throws unless it answers 200. */
export async function logIn(
  base: string,
  username: string,
  password: string,
  extra: Record<string, string> = {},
) {
  const login = await postForm(`${base}/token`, {
    grant_type: 'password',
    username,
    password,
    ...extra,
  })
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`)
  return login.body as {
    access_token: string
    refresh_token: string
    expires_in: number
    scope: string
    token_type: string
  }
}
