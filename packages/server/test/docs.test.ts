/** The error and event references in docs/ stay equal to the code. */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import * as verify from '@tokenbooth/verify'
import * as server from '../src/errors.ts'
import { EVENTS } from '../src/domain/events.ts'

function doc(file: string): string {
  return readFileSync(new URL(`../../../docs/${file}`, import.meta.url), 'utf8')
}

function documented(file: string): string[] {
  return [...doc(file).matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]!)
}

/** Every exported error class, by code. */
function errorClasses(): Map<string, new (...args: unknown[]) => Error> {
  const classes = new Map<string, new (...args: unknown[]) => Error>()
  for (const value of [...Object.values(verify), ...Object.values(server)]) {
    if (typeof value === 'function' && value.prototype instanceof Error) {
      const Class = value as new (...args: unknown[]) => Error & { code?: string }
      const code = new Class('x', {}).code
      if (code !== undefined) classes.set(code, Class)
    }
  }
  return classes
}

/**
 * The HTTP status and OAuth `error` an error class answers with, as the table writes them: the
 * booth's HttpError subclasses carry both; the verifier's errors get theirs from
 * `describeAuthError`, the one mapping every adapter uses. Base classes and operational errors
 * answer nothing of their own: `—`.
 */
function answerOf(Class: new (...args: unknown[]) => Error): { status: string; error: string } {
  const error = new Class('x', {})
  if (error instanceof server.HttpError && Class !== server.HttpError) {
    return { status: String(error.status), error: `\`${error.error}\`` }
  }
  const answer = error instanceof server.HttpError ? undefined : verify.describeAuthError(error)
  if (answer === undefined) return { status: '—', error: '—' }
  return {
    status: String(answer.status),
    error: `\`${(JSON.parse(answer.body) as { error: string }).error}\``,
  }
}

/** The rows of the codes table: code → [class, HTTP, error] cells, trimmed. */
function errorRows(): Map<string, { status: string; error: string }> {
  const rows = new Map<string, { status: string; error: string }>()
  for (const line of doc('errors.md').split('\n')) {
    const cells = line.split('|').map((c) => c.trim())
    // | `code` | class | HTTP | `error` | when |  →  ['', code, class, HTTP, error, when, '']
    const code = /^`(ERR_[A-Z_]+)`$/.exec(cells[1] ?? '')?.[1]
    if (code === undefined || cells.length !== 7) continue
    rows.set(code, { status: cells[3]!, error: cells[4]! })
  }
  return rows
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of every exported error class', () => {
    const codes = [...errorClasses().keys()]
    assert.ok(codes.length > 25, `found only ${codes.length} codes`)
    assert.deepEqual(documented('errors.md').sort(), codes.sort())
  })

  it('gives each code the HTTP status and OAuth error its class answers with', () => {
    const rows = errorRows()
    const classes = errorClasses()
    assert.equal(rows.size, classes.size, 'one row of the codes table per class')
    for (const [code, Class] of classes) {
      assert.deepEqual(rows.get(code), answerOf(Class), `${code} (${Class.name})`)
    }
    // The check itself must see the columns: a known row, read back.
    assert.deepEqual(rows.get('ERR_INVALID_CLIENT'), { status: '401', error: '`invalid_client`' })
    assert.deepEqual(rows.get('ERR_TOKEN_MISSING'), { status: '401', error: '`invalid_request`' })
  })
})

describe('docs/events.md', () => {
  it('lists exactly the events the booth knows, with their levels', () => {
    assert.deepEqual(documented('events.md').sort(), Object.keys(EVENTS).sort())
    for (const [name, level] of Object.entries(EVENTS)) {
      assert.match(
        doc('events.md'),
        new RegExp(`^\\|\\s*\`${name.replace('.', '\\.')}\`\\s*\\|\\s*${level}\\s*\\|`, 'm'),
      )
    }
  })

  it('every event the booth knows is emitted somewhere in the source', () => {
    const src = fileURLToPath(new URL('../src', import.meta.url))
    const found = execFileSync('grep', ['-rhoE', "emit\\('[a-z_.]+'", src], { encoding: 'utf8' })
    const emitted = new Set([...found.matchAll(/emit\('([a-z_.]+)'/g)].map((m) => m[1]!))
    assert.deepEqual([...emitted].sort(), Object.keys(EVENTS).sort())
  })
})

describe('docs/configuration.md', () => {
  it('lists exactly the variables config.ts reads', () => {
    const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8')
    const read = new Set([...source.matchAll(/\b(TOKENBOOTH_[A-Z_]+)\b/g)].map((m) => m[1]!))
    assert.ok(read.size >= 20, `found only ${read.size} variables`)
    assert.deepEqual(documented('configuration.md').sort(), [...read].sort())
  })
})
