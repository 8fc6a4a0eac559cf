// The token debugger: decoding and signature checks run here, with WebCrypto; the token stays
// in this page. Only the booth's public JWKS is fetched (no token is sent with it).
const $ = (id) => document.getElementById(id)
const enc = new TextEncoder()

const EXPLAIN = {
  iss: 'Issuer: who made and signed the token.',
  sub: 'Subject: whom the token is about (the user id, or the client id for a service).',
  aud: 'Audience: the services that must accept it; others must refuse it.',
  exp: 'Expires: after this moment the token must be refused.',
  nbf: 'Not before: the token must be refused until this moment.',
  iat: 'Issued at: when the booth made it.',
  jti: 'Token id: unique, so that one token can be revoked or used only once.',
  client_id: 'The client (application) the token was issued to (RFC 9068).',
  scope: 'The rights the token carries, space-separated; a service checks the one it needs.',
  sid: 'Session id: revoking the session revokes every token of it.',
}

function b64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url')
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4))
  return Uint8Array.from(bin, (c) => c.charCodeAt(0))
}
const json = (part) => JSON.parse(new TextDecoder().decode(b64url(part)))

function verdict(text, good) {
  const el = $('verdict')
  el.textContent = text
  el.className = `verdict ${good === undefined ? '' : good ? 'good' : 'bad'}`
  el.dataset.state = good === undefined ? 'neutral' : good ? 'valid' : 'invalid'
}

function pemToDer(pem) {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '')
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0))
}

const ALGS = {
  ES256: {
    import: { name: 'ECDSA', namedCurve: 'P-256' },
    verify: { name: 'ECDSA', hash: 'SHA-256' },
  },
  ES384: {
    import: { name: 'ECDSA', namedCurve: 'P-384' },
    verify: { name: 'ECDSA', hash: 'SHA-384' },
  },
  EdDSA: { import: { name: 'Ed25519' }, verify: { name: 'Ed25519' } },
  RS256: {
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    verify: { name: 'RSASSA-PKCS1-v1_5' },
  },
  PS256: {
    import: { name: 'RSA-PSS', hash: 'SHA-256' },
    verify: { name: 'RSA-PSS', saltLength: 32 },
  },
}

/**
 * The booth's published keys, fetched once per page load: typing in the token box must not
 * fetch them on every keystroke. `credentials: 'omit'`: no cookie goes with the request.
 */
let jwks
/** Kids that already caused a refetch: an unknown kid refetches once, not on every keystroke. */
const refetchedFor = new Set()

function fetchJwks() {
  const pending = fetch('/.well-known/jwks.json', { credentials: 'omit' }).then(async (res) => {
    if (!res.ok) throw new Error(`the booth's JWKS answered HTTP ${res.status}`)
    const { keys } = await res.json()
    return Array.isArray(keys) ? keys : []
  })
  // A failed fetch is not kept: the next check tries again.
  pending.catch(() => {
    if (jwks === pending) jwks = undefined
  })
  return pending
}

async function boothKey(kid) {
  jwks ??= fetchJwks()
  const found = (await jwks).find((k) => k.kid === kid)
  if (found || refetchedFor.has(kid)) return found
  // The booth may have started signing with a new key after this page loaded (key rotation).
  refetchedFor.add(kid)
  jwks = fetchJwks()
  return (await jwks).find((k) => k.kid === kid)
}

// A public key in one of the forms the key box takes: as an HMAC secret it is the classic
// algorithm-confusion forgery (RFC 8725 §2.1), since anyone can read it
function looksLikePublicKey(text) {
  // any PEM block: a public key, a certificate (which carries one)
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(text)) return true
  try {
    const value = JSON.parse(text)
    return typeof value === 'object' && value !== null && typeof value.kty === 'string'
  } catch {
    return false
  }
}

async function keyFor(alg, kid, pasted) {
  if (alg === 'HS256') {
    if (!pasted)
      return { error: 'HS256 tokens are checked with the shared secret: paste it as the key.' }
    if (looksLikePublicKey(pasted))
      return {
        error:
          'That is a public key, which anyone can read: an HS256 token "signed" with it is the algorithm-confusion forgery. Refused.',
      }
    // RFC 8725 §3.1: one algorithm per key; a kid naming one of the booth's keys pins its alg
    let published
    if (typeof kid === 'string') {
      try {
        published = await boothKey(kid)
      } catch {
        // fail closed: without the booth's keys the kid cannot be ruled out as one of them
        return {
          error: `Could not check the kid "${kid}" against the booth's keys (its JWKS did not load): not verified.`,
        }
      }
    }
    if (published)
      return {
        error: `The key "${kid}" is the booth's ${published.alg} key, the token claims HS256: refused (algorithm confusion).`,
      }
    const key = await crypto.subtle.importKey(
      'raw',
      enc.encode(pasted),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    )
    return { key, params: { name: 'HMAC' }, source: 'the pasted secret' }
  }
  const spec = ALGS[alg]
  if (!spec) return { error: `alg "${alg}" is not one a verifier should accept.` }
  if (pasted) {
    const key = pasted.startsWith('{')
      ? await crypto.subtle.importKey('jwk', JSON.parse(pasted), spec.import, false, ['verify'])
      : await crypto.subtle.importKey('spki', pemToDer(pasted), spec.import, false, ['verify'])
    return { key, params: spec.verify, source: 'the pasted key' }
  }
  const jwk = await boothKey(kid)
  if (!jwk)
    return {
      error: `The booth publishes no key with kid "${kid}": not signed by this booth, or the key was retired.`,
    }
  if (jwk.alg !== alg)
    return {
      error: `The key "${kid}" is for ${jwk.alg}, the token claims ${alg}: refused (algorithm confusion).`,
    }
  const key = await crypto.subtle.importKey(
    'jwk',
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, n: jwk.n, e: jwk.e },
    spec.import,
    false,
    ['verify'],
  )
  return { key, params: spec.verify, source: `the booth's key ${kid}`, booth: true }
}

function explain(payload) {
  const dl = $('claims')
  dl.replaceChildren()
  for (const [name, value] of Object.entries(payload)) {
    const dt = document.createElement('dt')
    dt.textContent = name
    const dd = document.createElement('dd')
    let text = typeof value === 'string' ? value : JSON.stringify(value)
    if (['exp', 'nbf', 'iat'].includes(name) && typeof value === 'number') {
      text = `${new Date(value * 1000).toLocaleString()} (${value})`
      if (name === 'exp') {
        const countdown = document.createElement('span')
        countdown.id = 'exp-countdown'
        countdown.dataset.exp = String(value)
        dd.append(`${text} — `, countdown, document.createElement('br'))
        text = ''
      }
    }
    if (text) dd.append(text, document.createElement('br'))
    const why = document.createElement('span')
    why.className = 'hint'
    why.textContent = EXPLAIN[name] ?? 'A private claim agreed between the booth and its services.'
    dd.append(why)
    dl.append(dt, dd)
  }
  tick()
}

function tick() {
  const el = document.getElementById('exp-countdown')
  if (!el) return
  const left = Number(el.dataset.exp) - Math.floor(Date.now() / 1000)
  el.textContent =
    left > 0 ? `expires in ${Math.floor(left / 60)} min ${left % 60} s` : `expired ${-left} s ago`
  el.className = left > 0 ? 'ok' : 'error'
}
setInterval(tick, 1000)

let generation = 0
async function inspect() {
  const mine = ++generation
  const token = $('token').value.trim()
  const pasted = $('key').value.trim()
  $('header').textContent = ''
  $('payload').textContent = ''
  $('claims').replaceChildren()
  if (!token) return verdict('Paste a token above.')
  // no verdict of the previous token may stand while this one is checked
  verdict('Checking…')
  const parts = token.split('.')
  let header
  let payload
  const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value)
  try {
    if (parts.length !== 3) throw new Error()
    header = json(parts[0])
    payload = json(parts[1])
    if (!isObject(header) || !isObject(payload)) throw new Error()
  } catch {
    return verdict('This is not a JWT: it needs three base64url parts holding JSON objects.', false)
  }
  $('header').textContent = JSON.stringify(header, null, 2)
  $('payload').textContent = JSON.stringify(payload, null, 2)
  explain(payload)
  if (String(header.alg).toLowerCase() === 'none')
    return verdict('Unsigned (alg "none"): anyone could have written it. Never accept it.', false)
  try {
    const found = await keyFor(header.alg, header.kid, pasted)
    if (mine !== generation) return
    if (found.error) return verdict(found.error, false)
    const ok = await crypto.subtle.verify(
      found.params,
      found.key,
      b64url(parts[2]),
      enc.encode(`${parts[0]}.${parts[1]}`),
    )
    if (mine !== generation) return
    verdict(
      ok
        ? found.booth
          ? `Signature verified with ${found.source}: the booth issued this token and nobody changed it.`
          : `Signature verified with ${found.source}: whoever holds that key signed this token, and nobody changed it since.`
        : 'Signature does NOT verify: the token was tampered with or signed by someone else.',
      ok,
    )
  } catch (error) {
    if (mine === generation) verdict(`The signature could not be checked: ${error.message}`, false)
  }
}

$('token').addEventListener('input', inspect)
$('key').addEventListener('input', inspect)
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token')
if (fromHash) {
  $('token').value = fromHash
  history.replaceState(null, '', location.pathname)
}
inspect()
