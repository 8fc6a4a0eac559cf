import { client, describeError } from '/assets/common.js'

const $ = (id) => document.getElementById(id)
const when = (iso) => new Date(iso).toLocaleString()

/** "Chrome on Linux" from a user agent string; the raw string stays in the title. */
function device(agent) {
  if (!agent) return 'Unknown device'
  const browser = /Edg\//.test(agent)
    ? 'Edge'
    : /Chrome\//.test(agent)
      ? 'Chrome'
      : /Firefox\//.test(agent)
        ? 'Firefox'
        : /Safari\//.test(agent)
          ? 'Safari'
          : agent.split(/[ /]/)[0]
  const os = /Windows/.test(agent)
    ? 'Windows'
    : /Android/.test(agent)
      ? 'Android'
      : /iPhone|iPad/.test(agent)
        ? 'iOS'
        : /Mac OS/.test(agent)
          ? 'macOS'
          : /Linux/.test(agent)
            ? 'Linux'
            : ''
  return os ? `${browser} on ${os}` : browser
}

function signedOut() {
  $('signed-in').hidden = true
  $('signed-out').hidden = false
  clearInterval(timer)
}

function row(session) {
  const tr = document.createElement('tr')
  tr.dataset.session = session.id
  const name = document.createElement('td')
  name.textContent = device(session.user_agent)
  name.title = session.user_agent ?? ''
  if (session.current) {
    const tag = document.createElement('span')
    tag.className = 'tag'
    tag.textContent = 'this device'
    name.append(' ', tag)
  }
  const created = document.createElement('td')
  created.textContent = when(session.created_at)
  const used = document.createElement('td')
  used.textContent = when(session.last_used_at)
  const actions = document.createElement('td')
  if (!session.current) {
    const revoke = document.createElement('button')
    revoke.type = 'button'
    revoke.className = 'secondary'
    revoke.textContent = 'Revoke'
    revoke.setAttribute(
      'aria-label',
      `Revoke the session of ${device(session.user_agent)} signed in ${when(session.created_at)}`,
    )
    revoke.addEventListener('click', () => revokeSession(session.id))
    actions.append(revoke)
  }
  tr.append(name, created, used, actions)
  return tr
}

async function load() {
  try {
    const response = await client.fetch('/sessions')
    if (response.status === 401) return signedOut()
    if (!response.ok) {
      $('account-error').textContent = await describeError(response)
      return
    }
    const { sessions } = await response.json()
    $('sessions').replaceChildren(...sessions.map(row))
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`
    $('signed-in').hidden = false
    $('signed-out').hidden = true
  } catch (error) {
    if (error.code === 'ERR_SESSION_EXPIRED') return signedOut()
    $('account-error').textContent = 'The booth could not be reached.'
  }
}

async function revokeSession(id) {
  const response = await client.fetch(`/sessions/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: { 'x-tokenbooth-csrf': '1' },
  })
  if (response.status !== 204) $('account-error').textContent = await describeError(response)
  await load()
}

$('logout').addEventListener('click', async () => {
  await client.logout().catch(() => {})
  signedOut()
})
$('logout-all').addEventListener('click', async () => {
  await client.logoutAll().catch(() => {})
  signedOut()
})
client.on('session-expired', signedOut)

// Keeps the list current, and keeps the session in use while the page is open.
const timer = setInterval(load, 3000)
load()
