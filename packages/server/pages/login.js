import { client, describeError } from '/assets/common.js'

const $ = (id) => document.getElementById(id)

async function signIn(username, password, errorBox) {
  try {
    await client.login(username, password)
    location.assign('/account')
  } catch (error) {
    errorBox.textContent =
      error.code === 'ERR_LOGIN_FAILED'
        ? error.retryAfter
          ? `Too many attempts. Try again in ${error.retryAfter} seconds.`
          : error.error === 'invalid_grant'
            ? 'Wrong username or password.'
            : error.description || 'Sign-in failed.'
        : 'The booth could not be reached. Try again.'
  }
}

$('signin').addEventListener('submit', (event) => {
  event.preventDefault()
  const box = $('signin-error')
  box.textContent = ''
  signIn($('signin-username').value, $('signin-password').value, box)
})

$('signup').addEventListener('submit', async (event) => {
  event.preventDefault()
  const box = $('signup-error')
  box.textContent = ''
  const username = $('signup-username').value
  const password = $('signup-password').value
  if ([...password].length < 8) {
    box.textContent = 'The password must have at least 8 characters.'
    $('signup-password').focus()
    return
  }
  const response = await fetch('/signup', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (response.status !== 201) {
    box.textContent = await describeError(response)
    return
  }
  await signIn(username, password, box)
})
