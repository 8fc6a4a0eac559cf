import { client, describeError, describeFailure, sentence, UNREACHABLE } from '/assets/common.js'

const $ = (id) => document.getElementById(id)

/**
 * Shows `message` in the form's alert (role=alert: read out at once) and ties it to the fields it
 * is about: `aria-invalid` plus the alert's id in their `aria-describedby`, so that a screen
 * reader reading a field later also reads why it was refused (WCAG 2.2 SC 3.3.1, ARIA21).
 * An empty message clears the form's errors.
 */
function showError(form, message, fields = [], focus = fields[0]) {
  const box = $(`${form}-error`)
  box.textContent = message
  for (const input of $(form).querySelectorAll('input')) {
    const ids = (input.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean)
    const others = ids.filter((id) => id !== box.id)
    if (fields.includes(input)) {
      input.setAttribute('aria-invalid', 'true')
      input.setAttribute('aria-describedby', [...others, box.id].join(' '))
    } else {
      input.removeAttribute('aria-invalid')
      if (others.length > 0) input.setAttribute('aria-describedby', others.join(' '))
      else input.removeAttribute('aria-describedby')
    }
  }
  focus?.focus()
}

/** The sign-in refusal as a sentence, and the fields it concerns. */
function loginRefusal(error) {
  if (error?.code === 'ERR_LOGIN_FAILED' && error.error === 'invalid_grant') {
    // RFC 6749 §5.2: the booth does not say which of the two was wrong, so neither do we.
    return { message: 'Wrong username or password.', invalid: 'both' }
  }
  return { message: describeFailure(error), invalid: 'none' }
}

/** Disables the form's button while a request runs, so one press sends one request. */
async function busy(form, work) {
  const button = $(form).querySelector('button[type=submit]')
  button.disabled = true
  try {
    await work()
  } finally {
    button.disabled = false
  }
}

async function signIn(form, username, password) {
  const [user, pass] = [$(`${form}-username`), $(`${form}-password`)]
  try {
    await client.login(username, password)
  } catch (error) {
    const { message, invalid } = loginRefusal(error)
    showError(form, message, invalid === 'both' ? [user, pass] : [], pass)
    return
  }
  location.assign('/account')
}

$('signin').addEventListener('submit', (event) => {
  event.preventDefault()
  const user = $('signin-username')
  const pass = $('signin-password')
  if (user.value.trim() === '') return showError('signin', 'Enter your username.', [user])
  if (pass.value === '') return showError('signin', 'Enter your password.', [pass])
  showError('signin', '')
  void busy('signin', () => signIn('signin', user.value, pass.value))
})

/** Which field a refused sign-up is about, from the booth's `error` (docs/errors.md). */
function signupFields(body) {
  if (body.error === 'invalid_password') return [$('signup-password')]
  if (body.error === 'username_taken') return [$('signup-username')]
  if (/username/.test(body.error_description ?? '')) return [$('signup-username')]
  return []
}

async function signUp(username, password) {
  let response
  try {
    response = await fetch('/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    })
  } catch {
    return showError('signup', UNREACHABLE)
  }
  if (response.status !== 201) {
    const body = await response
      .clone()
      .json()
      .catch(() => ({}))
    return showError('signup', await describeError(response), signupFields(body))
  }
  await signIn('signup', username, password)
}

$('signup').addEventListener('submit', (event) => {
  event.preventDefault()
  const user = $('signup-username')
  const pass = $('signup-password')
  if (user.value.trim() === '') return showError('signup', 'Choose a username.', [user])
  // The booth counts characters (code points), not UTF-16 units: so does this check.
  if ([...pass.value].length < 8) {
    return showError('signup', sentence('the password must have at least 8 characters'), [pass])
  }
  showError('signup', '')
  void busy('signup', () => signUp(user.value, pass.value))
})
