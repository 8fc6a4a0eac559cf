/**
 * Queries built and compiled once, for the store's hot paths.
 *
 * Kysely builds an immutable tree for every query (each builder call copies and freezes a node)
 * and compiles it to SQL on every run. A refresh runs five queries, and building them was about
 * a seventh of its CPU (BENCHMARKS.md, "Where a refresh spends its time"). The SQL text never
 * changes between calls; only the values do. So `compileOnce` builds the query one time with a
 * placeholder for each value, compiles it, and remembers where each placeholder landed among the
 * parameters; a call then only copies the values into a new parameter array.
 *
 * The builder gets an object whose properties are the placeholders. It must pass them to Kysely
 * as values (`where(col, '=', v.x)`, `values({ col: v.x })`, `set(...)`) and never look at them
 * in JavaScript (`if (v.x)`, `v.x.length`, `in` lists), which would see a placeholder, not the
 * value. Constants written in the builder stay as they are. A placeholder that never came out as
 * a parameter is a mistake in the builder, thrown when the store is created, so every test that
 * opens a store finds it.
 */
import type { CompiledQuery, Compilable } from 'kysely'

class Placeholder {
  readonly name: string
  constructor(name: string) {
    this.name = name
  }
}

export type CompiledOnce<V, R> = (values: V) => Compilable<R>

export function compileOnce<V extends Record<string, unknown>, R>(
  build: (values: V) => Compilable<R>,
): CompiledOnce<V, R> {
  const used = new Map<string, Placeholder>()
  const slots = new Proxy({} as V, {
    get(_target, name) {
      if (typeof name !== 'string') throw new TypeError('placeholders are named by strings')
      let slot = used.get(name)
      if (slot === undefined) used.set(name, (slot = new Placeholder(name)))
      return slot
    },
  })
  const template: CompiledQuery<R> = build(slots).compile()
  // For each parameter: the name of the value to put there, or the constant the builder wrote
  const sources = template.parameters.map((p) => (p instanceof Placeholder ? p.name : { p }))
  for (const name of used.keys()) {
    if (!sources.includes(name)) {
      throw new TypeError(`placeholder "${name}" is not a parameter of: ${template.sql}`)
    }
  }
  return (values) => {
    const parameters = sources.map((s) => (typeof s === 'string' ? values[s] : s.p))
    const compiled: CompiledQuery<R> = { ...template, parameters }
    return { compile: () => compiled }
  }
}
