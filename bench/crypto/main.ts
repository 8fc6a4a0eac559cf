/**
 * The in-process half of the benchmark, run as its own process pinned to one core: JWT signing
 * and verification peers for each algorithm, and the Argon2id bound on logins. Reads its options
 * as JSON from argv[2] and prints the results as one JSON line on stdout.
 */
import { hashPassword, verifyPassword } from '../../packages/server/dist/domain/passwords.js'
import { compare, type HarnessOptions, type PeerResult } from './harness.ts'
import { ALGS, peersFor, type Alg } from './peers.ts'

export interface CryptoOptions extends HarnessOptions {
  algs?: readonly Alg[]
}

export interface CryptoGroup {
  alg: Alg
  op: 'sign' | 'verify'
  results: PeerResult[]
}

export interface CryptoResults {
  groups: CryptoGroup[]
  /** One Argon2id verify at the booth's parameters, as the booth calls it, one at a time. */
  argon2: PeerResult
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as CryptoOptions
  const groups: CryptoGroup[] = []
  for (const alg of options.algs ?? ALGS) {
    const peers = await peersFor(alg)
    for (const op of ['sign', 'verify'] as const) {
      process.stderr.write(`  ${alg} ${op} …\n`)
      groups.push({ alg, op, results: await compare(peers[op], options) })
    }
  }
  process.stderr.write('  argon2id verify …\n')
  const stored = await hashPassword('bench-passphrase-0-correct-horse')
  if (!(await verifyPassword(stored, 'bench-passphrase-0-correct-horse')))
    throw new Error('argon2 check failed')
  // a hash takes tens of milliseconds: longer rounds, so each holds enough of them
  const [argon2] = await compare(
    [
      {
        name: 'argon2id verify (booth parameters)',
        run: () => verifyPassword(stored, 'bench-passphrase-0-correct-horse'),
      },
    ],
    { warmupMs: 200, roundMs: Math.max(600, options.roundMs), rounds: 3 },
  )
  const results: CryptoResults = { groups, argon2: argon2! }
  process.stdout.write(`${JSON.stringify(results)}\n`)
}

await main()
