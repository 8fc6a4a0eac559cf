/**
 * The booth's errors: one hierarchy rooted in `TokenboothError` (from @tokenbooth/verify), each
 * with a stable `code`. An `HttpError` knows its status and its public OAuth `error` value; the
 * `detail` is for the operator (log and events) and never reaches the client.
 *
 * docs/errors.md lists every code with its status and OAuth `error`; test/docs.test.ts (in this
 * package) keeps that table equal to these classes.
 */
import { TokenboothError } from '@tokenbooth/verify'

export interface HttpErrorOptions {
  /** Public, one line: goes into `error_description`. */
  description?: string
  /** Private: goes to the log only. */
  detail?: string
  cause?: unknown
}

export class HttpError extends TokenboothError {
  override readonly code: string = 'ERR_HTTP'
  readonly status: number = 500
  readonly error: string = 'server_error'
  readonly description: string | undefined
  readonly detail: string | undefined
  constructor(options: HttpErrorOptions = {}) {
    super(options.detail ?? options.description, { cause: options.cause })
    this.name = new.target.name
    this.description = options.description
    this.detail = options.detail
  }
  /** Extra response headers (WWW-Authenticate, Retry-After). */
  headers(): Record<string, string> {
    return {}
  }
}

// RFC 6749 §5.2
export class InvalidRequest extends HttpError {
  override readonly code = 'ERR_INVALID_REQUEST'
  override readonly status = 400
  override readonly error = 'invalid_request'
}
export class InvalidGrant extends HttpError {
  override readonly code = 'ERR_INVALID_GRANT'
  override readonly status = 400
  override readonly error = 'invalid_grant'
}
export class UnsupportedGrantType extends HttpError {
  override readonly code = 'ERR_UNSUPPORTED_GRANT_TYPE'
  override readonly status = 400
  override readonly error = 'unsupported_grant_type'
}
export class InvalidScope extends HttpError {
  override readonly code = 'ERR_INVALID_SCOPE'
  override readonly status = 400
  override readonly error = 'invalid_scope'
}
export class UnauthorizedClient extends HttpError {
  override readonly code = 'ERR_UNAUTHORIZED_CLIENT'
  override readonly status = 400
  override readonly error = 'unauthorized_client'
}
export class InvalidClient extends HttpError {
  override readonly code = 'ERR_INVALID_CLIENT'
  override readonly status = 401
  override readonly error = 'invalid_client'
  override headers() {
    // RFC 6749 §5.2: a 401 for client authentication carries the scheme the client used.
    return { 'www-authenticate': 'Basic realm="tokenbooth"' }
  }
}

// RFC 6750 §3
export class MissingToken extends HttpError {
  override readonly code = 'ERR_MISSING_TOKEN'
  override readonly status = 401
  override readonly error = 'invalid_request'
  override headers() {
    // §3.1: a request with no credentials gets no error code in the challenge.
    return { 'www-authenticate': 'Bearer realm="tokenbooth"' }
  }
}
export class InvalidToken extends HttpError {
  override readonly code = 'ERR_INVALID_TOKEN'
  override readonly status = 401
  override readonly error = 'invalid_token'
  override headers() {
    return { 'www-authenticate': 'Bearer realm="tokenbooth", error="invalid_token"' }
  }
}
export class InsufficientScope extends HttpError {
  override readonly code = 'ERR_INSUFFICIENT_SCOPE'
  override readonly status = 403
  override readonly error = 'insufficient_scope'
  readonly scope: string
  constructor(scope: string, options: HttpErrorOptions = {}) {
    super({ description: `this request needs the scope "${scope}"`, ...options })
    this.scope = scope
  }
  override headers() {
    return {
      'www-authenticate': `Bearer realm="tokenbooth", error="insufficient_scope", scope="${this.scope}"`,
    }
  }
}

// Accounts
export class UsernameTaken extends HttpError {
  override readonly code = 'ERR_USERNAME_TAKEN'
  override readonly status = 409
  override readonly error = 'username_taken'
}
export class PasswordRejected extends HttpError {
  override readonly code = 'ERR_PASSWORD_REJECTED'
  override readonly status = 400
  override readonly error = 'invalid_password'
}

// Transport
export class TooManyRequests extends HttpError {
  override readonly code = 'ERR_TOO_MANY_REQUESTS'
  override readonly status = 429
  override readonly error = 'too_many_requests'
  readonly retryAfter: number
  constructor(retryAfter: number, options: HttpErrorOptions = {}) {
    super({ description: `too many attempts; retry after ${retryAfter} s`, ...options })
    this.retryAfter = retryAfter
  }
  override headers() {
    return { 'retry-after': String(this.retryAfter) }
  }
}
export class NotFound extends HttpError {
  override readonly code = 'ERR_NOT_FOUND'
  override readonly status = 404
  override readonly error = 'not_found'
}
export class MethodNotAllowed extends HttpError {
  override readonly code = 'ERR_METHOD_NOT_ALLOWED'
  override readonly status = 405
  override readonly error = 'invalid_request'
  /** The methods the route takes, for `Allow` (RFC 9110 §15.5.6); empty when unknown. */
  readonly allow: readonly string[]
  constructor(options: HttpErrorOptions & { allow?: readonly string[] } = {}) {
    super(options)
    this.allow = options.allow ?? []
  }
  override headers(): Record<string, string> {
    return this.allow.length === 0 ? {} : { allow: this.allow.join(', ') }
  }
}
export class RequestTimeout extends HttpError {
  override readonly code = 'ERR_REQUEST_TIMEOUT'
  override readonly status = 408
  override readonly error = 'invalid_request'
}
export class PayloadTooLarge extends HttpError {
  override readonly code = 'ERR_PAYLOAD_TOO_LARGE'
  override readonly status = 413
  override readonly error = 'invalid_request'
}
export class ExpectationFailed extends HttpError {
  override readonly code = 'ERR_EXPECTATION_FAILED'
  override readonly status = 417
  override readonly error = 'invalid_request'
}
export class UnsupportedMediaType extends HttpError {
  override readonly code = 'ERR_UNSUPPORTED_MEDIA_TYPE'
  override readonly status = 415
  override readonly error = 'invalid_request'
}
export class ServerError extends HttpError {
  override readonly code = 'ERR_SERVER_ERROR'
  override readonly status = 500
  override readonly error = 'server_error'
}
export class ServiceUnavailable extends HttpError {
  override readonly code = 'ERR_SERVICE_UNAVAILABLE'
  override readonly status = 503
  override readonly error = 'temporarily_unavailable'
}

// Operations (not HTTP): raised at startup or by the CLI.
export class KeyDecryptionFailed extends TokenboothError {
  override readonly code = 'ERR_KEY_DECRYPTION_FAILED'
}
