import { after } from 'node:test'
import { defineStoreConformance } from './conformance.ts'
import { pgliteBackend } from './pglite-backend.ts'

const pglite = pgliteBackend()
after(() => pglite.close())

defineStoreConformance('pglite', pglite.open)
