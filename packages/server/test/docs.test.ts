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

describe('docs/errors.md', () => {
  it('lists exactly the codes of every exported error class', () => {
    const codes = new Set<string>()
    for (const value of [...Object.values(verify), ...Object.values(server)]) {
      if (typeof value === 'function' && value.prototype instanceof Error) {
        const error = new (value as new (...args: unknown[]) => { code?: string })('x', {})
        if (error.code !== undefined) codes.add(error.code)
      }
    }
    assert.ok(codes.size > 25, `found only ${codes.size} codes`)
    assert.deepEqual(documented('errors.md').sort(), [...codes].sort())
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
