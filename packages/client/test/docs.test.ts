/** The client's section of docs/errors.md stays equal to the code. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import * as client from '../src/index.ts'

describe('docs/errors.md, @tokenbooth/client', () => {
  it('lists exactly the codes of every exported error class, each with its class', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')
    const section = doc.slice(doc.indexOf('## @tokenbooth/client'))
    assert.ok(section.length > 0)
    const rows = [...section.matchAll(/^\|\s*(\w+)\s*\|\s*`(ERR_[A-Z_]+)`\s*\|/gm)].map((m) => [
      m[1]!,
      m[2]!,
    ])
    const exported: string[][] = []
    for (const [name, value] of Object.entries(client)) {
      if (
        typeof value === 'function' &&
        (value === client.ClientError || value.prototype instanceof client.ClientError)
      ) {
        const error = new (value as new () => client.ClientError)()
        assert.equal(error.name, name)
        exported.push([name, error.code])
      }
    }
    assert.ok(exported.length >= 6)
    assert.deepEqual(rows.sort(), exported.sort())
  })
})
