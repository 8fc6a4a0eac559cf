/**
 * Assertions and small tools shared by the contract tests in test/contract/. Like the rest of
 * test/support, they only speak HTTP to a booth or run its CLI: nothing here reaches inside.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, runCli } from './booth.ts'
import type { Reply } from './http.ts'

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A key-encryption secret for TOKENBOOTH_SECRET (≥ 32 characters). */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** A unique, valid username (letters, digits and . _ - only). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`
}

export interface DecodedJwt {
  header: Record<string, any>
  payload: Record<string, any>
  signature: string
}

/** Decodes a compact JWS without verifying it (tests read what any token holder can read). */
export function decodeJwt(token: string): DecodedJwt {
  const [h, p, s] = token.split('.')
  assert.ok(
    h !== undefined && p !== undefined && s !== undefined,
    `not a compact JWS: ${token.slice(0, 40)}`,
  )
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    signature: s,
  }
}

export const b64url = (value: string | Uint8Array | object): string =>
  Buffer.from(
    typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value),
  ).toString('base64url')

/**
 * The shape every error must have (issue 2, "Bearer errors"): a JSON object with a string `error`
 * and at most a string `error_description`, no stack trace, and never a 5xx for bad input.
 */
export function assertErrorBody(reply: Reply, context = ''): void {
  const where = `${context} (${reply.status} ${reply.text.slice(0, 300)})`
  assert.ok(reply.status >= 400 && reply.status < 500, `expected a 4xx ${where}`)
  assert.match(
    reply.headers.get('content-type') ?? '',
    /^application\/json/,
    `JSON content-type ${where}`,
  )
  assert.equal(typeof reply.body, 'object', `JSON object body ${where}`)
  assert.equal(typeof reply.body.error, 'string', `"error" is a string ${where}`)
  assert.ok(reply.body.error.length > 0, `"error" is non-empty ${where}`)
  for (const key of Object.keys(reply.body)) {
    assert.ok(key === 'error' || key === 'error_description', `unexpected key "${key}" ${where}`)
  }
  if ('error_description' in reply.body) {
    assert.equal(
      typeof reply.body.error_description,
      'string',
      `error_description is a string ${where}`,
    )
  }
  assertNoStack(reply.text, where)
}

/** A stack trace or an internal path in a response body is a leak. */
export function assertNoStack(text: string, where = ''): void {
  assert.doesNotMatch(
    text,
    /\n\s+at |at .*\.(ts|js):\d+|node_modules|\/src\/|\/dist\//,
    `no stack trace ${where}`,
  )
}

/** Status, OAuth error code and body shape in one assertion. */
export function assertError(reply: Reply, status: number, error: string, context = ''): void {
  assert.equal(
    reply.status,
    status,
    `${context}: expected ${status} ${error}, got ${reply.status} ${reply.text.slice(0, 300)}`,
  )
  assertErrorBody(reply, context)
  assert.equal(reply.body.error, error, `${context}: error code`)
}

/** The `max-age` of a Cache-Control header, or undefined. */
export function maxAge(cacheControl: string | null): number | undefined {
  const m = /(?:^|[,\s])max-age=(\d+)/.exec(cacheControl ?? '')
  return m ? Number(m[1]) : undefined
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value || Date.now() > deadline) return value
    await sleep(intervalMs)
  }
}

/** `tokenbooth clients add NAME --json` against the store `env` names. */
export async function addClient(
  env: Record<string, string>,
  name: string,
  options: { scope?: string; public?: boolean } = {},
): Promise<{ client_id: string; client_secret?: string; scope?: string }> {
  const args = ['clients', 'add', name, '--json']
  if (options.scope !== undefined) args.push('--scope', options.scope)
  if (options.public) args.push('--public')
  const out = await runCli(args, env)
  assert.equal(out.code, 0, `clients add failed: ${out.stderr}${out.stdout}`)
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!)
}

/**
 * Runs `tokenbooth ARGS` and waits for it to exit, killing it after `timeoutMs` (so a command
 * that wrongly keeps running, such as `serve` that should have refused to start, fails the test
 * instead of hanging it).
 */
export async function runUntilExit(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{
  code: number | null
  signal: NodeJS.Signals | null
  output: string
  timedOut: boolean
}> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d))
  child.stderr.on('data', (d: Buffer) => (output += d))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeoutMs)
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  return { code, signal, output, timedOut }
}

/** Every byte of every file under `dir` (the SQLite database, its WAL, the secret file …). */
export function readAllFiles(dir: string): Buffer {
  const parts: Buffer[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const stat = statSync(path)
    if (stat.isDirectory()) parts.push(readAllFiles(path))
    else if (stat.isFile()) parts.push(readFileSync(path))
  }
  return Buffer.concat(parts)
}

/** The kids a booth's JWKS lists now. */
export async function jwksKids(base: string): Promise<string[]> {
  const res = await fetch(`${base}/.well-known/jwks.json`)
  const body = (await res.json()) as { keys: Array<{ kid: string }> }
  return body.keys.map((k) => k.kid)
}
