import { PGlite } from '@electric-sql/pglite'
import { createTestDatabase } from '/work/main/test/support/postgres.ts'
let t = performance.now()
const a = new PGlite()
await a.waitReady
console.log('pglite new', performance.now() - t)
t = performance.now()
const b = await a.clone()
console.log('pglite clone', performance.now() - t)
t = performance.now()
const c = new PGlite()
await c.waitReady
console.log('pglite new 2', performance.now() - t)
const r = await a.query('select 9007199254740991::int8 as x, 1::bigint as y')
console.log(r.rows, typeof (r.rows[0] as any).x)
t = performance.now()
const db = await createTestDatabase()
console.log('createdb', performance.now() - t)
t = performance.now()
await db.drop()
console.log('dropdb', performance.now() - t)
