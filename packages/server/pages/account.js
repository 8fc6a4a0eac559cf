import { client, describeError, describeFailure } from '/assets/common.js'

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

/**
 * The error line (role=alert). `from` says who showed it: a successful poll clears only its own
 * error, so that a failed revoke or logout stays on screen until the user acts again.
 */
let errorFrom
function showError(message, from) {
  $('account-error').textContent = message
  errorFrom = message === '' ? undefined : from
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

/**
 * Loads the session list through the client, which refreshes the access cookie first when it is
 * due. Exported so that the browser test can run it in two tabs at the same moment.
 */
export async function load() {
  let response
  try {
    response = await client.fetch('/sessions')
  } catch (error) {
    if (error.code === 'ERR_SESSION_EXPIRED') return signedOut()
    // RefreshFailed (booth down, 5xx, 429) or a network failure: the session may still be fine.
    return showError(describeFailure(error), 'load')
  }
  if (response.status === 401) return signedOut()
  if (!response.ok) return showError(await describeError(response), 'load')
  const { sessions } = await response.json()
  $('sessions').replaceChildren(...sessions.map(row))
  $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`
  $('signed-in').hidden = false
  $('signed-out').hidden = true
  if (errorFrom === 'load') showError('', 'load')
}

async function revokeSession(id) {
  showError('', 'revoke')
  try {
    const response = await client.fetch(`/sessions/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      headers: { 'x-tokenbooth-csrf': '1' },
    })
    if (response.status !== 204) showError(await describeError(response), 'revoke')
  } catch (error) {
    if (error.code === 'ERR_SESSION_EXPIRED') return signedOut()
    showError(`Not revoked. ${describeFailure(error)}`, 'revoke')
    return
  }
  await load()
}

/**
 * Log out (here, or everywhere). The client signs out locally even when the booth did not
 * confirm (LogoutFailed); the booth's cookies then still hold the session, so this page says so
 * and stays, and pressing the button again asks the booth again.
 */
async function logOut(everywhere) {
  showError('', 'logout')
  try {
    await (everywhere ? client.logoutAll() : client.logout())
  } catch (error) {
    const what = everywhere ? 'You are not logged out everywhere' : 'You are not logged out'
    showError(`${what}. ${describeFailure(error)}`, 'logout')
    return
  }
  signedOut()
}

$('logout').addEventListener('click', () => logOut(false))
$('logout-all').addEventListener('click', () => logOut(true))
client.on('session-expired', signedOut)

// Keeps the list current, and keeps the session in use while the page is open. Another device's
// revocation of this session shows here at the next poll.
const timer = setInterval(load, 3000)
load()
