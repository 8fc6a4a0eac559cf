/**
 * `npm run bench`: the booth over HTTP on SQLite (synchronous=FULL, then NORMAL), JWT signing and
 * verification peers in process, the verifier SDK (bench/verify/: in process, resource servers
 * over HTTP, memory, revocation latency), and, when the refresh target is missed, a CPU profile
 * of the booth during a refresh run. Prints Markdown tables; writes bench/results/latest.{json,md}.
 *
 * Flags: --quick (short runs, for trying the harness), --only=http|crypto|verify, --profile
 * (always profile), --no-profile (never).
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CryptoOptions, CryptoResults } from './crypto/main.ts'
import { runHttpSuite, type HttpModeResult, type HttpOptions } from './http/suite.ts'
import { machineFacts, pinPrefix, type MachineFacts } from './lib/machine.ts'
import { summarizeProfile, type ProfileSummary } from './lib/profile.ts'
import { verifyHasErrors, verifyMarkdown } from './verify/report.ts'
import { runVerifySuite, verifyOptions, type VerifyResults } from './verify/suite.ts'
import {
  REFRESH_TARGET,
  cryptoTables,
  hasErrors,
  httpTable,
  httpVerdicts,
  machineText,
  profileText,
  refreshFigure,
} from './report.ts'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))
const CRYPTO = fileURLToPath(new URL('./crypto/main.ts', import.meta.url))

interface Flags {
  quick: boolean
  only: 'http' | 'crypto' | 'verify' | undefined
  profile: boolean | undefined
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { quick: false, only: undefined, profile: undefined }
  for (const arg of argv) {
    if (arg === '--quick') flags.quick = true
    else if (arg === '--profile') flags.profile = true
    else if (arg === '--no-profile') flags.profile = false
    else if (arg === '--only=http' || arg === '--only=crypto' || arg === '--only=verify')
      flags.only = arg.slice(7) as 'http' | 'crypto' | 'verify'
    else
      throw new TypeError(
        `unknown flag ${JSON.stringify(arg)}; use --quick, --only=http|crypto|verify, --profile, --no-profile`,
      )
  }
  return flags
}

/** The commit benchmarked, and whether packages/ had uncommitted changes (figures then vary). */
function revision(): { commit: string; dirty: boolean } | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return {
      commit: git('rev-parse', 'HEAD'),
      dirty: git('status', '--porcelain', '--', 'packages') !== '',
    }
  } catch {
    return undefined
  }
}

async function runCrypto(options: CryptoOptions, facts: MachineFacts): Promise<CryptoResults> {
  const [command, ...args] = [
    ...pinPrefix(1, facts),
    process.execPath,
    CRYPTO,
    JSON.stringify(options),
  ]
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`the crypto benchmark exited with ${code}`)
  return JSON.parse(stdout) as CryptoResults
}

async function profileRefresh(
  base: HttpOptions,
): Promise<{ summary: ProfileSummary; rps: number | undefined; file: string }> {
  const dir = join(RESULTS, 'profile-tmp')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const http = await runHttpSuite({
    ...base,
    modes: ['FULL'],
    only: ['refresh'],
    seconds: Math.min(base.seconds, 8),
    boothNodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  })
  const name = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (name === undefined) throw new Error('the booth wrote no CPU profile')
  const file = join(RESULTS, 'refresh.cpuprofile')
  renameSync(join(dir, name), file)
  rmSync(dir, { recursive: true, force: true })
  const window = http[0]?.scenarios[0]?.windowMonotonicUs
  return { summary: summarizeProfile(file, 25, window), rps: refreshFigure(http, 'FULL'), file }
}

export async function main(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv)
  const facts = machineFacts()
  const started = Date.now()
  mkdirSync(RESULTS, { recursive: true })
  process.stderr.write(
    `tokenbooth bench: ${facts.nproc} cores, ${facts.cpuModel}, Node ${facts.node}\n`,
  )
  if (!facts.pinning)
    process.stderr.write('warning: taskset unavailable; processes are not pinned\n')

  const httpOptions: HttpOptions = {
    facts,
    seconds: flags.quick ? 3 : 10,
    warmupSeconds: flags.quick ? 1 : 2,
    modes: ['FULL', 'NORMAL'],
    connections: 32,
    loginConnections: 4,
    pacedRate: 200,
  }
  const cryptoOptions: CryptoOptions = flags.quick
    ? { warmupMs: 100, roundMs: 60, rounds: 3 }
    : { warmupMs: 300, roundMs: 70, rounds: 15 }

  const verifySuite = verifyOptions(facts, flags.quick)

  let http: HttpModeResult[] = []
  if (flags.only === undefined || flags.only === 'http') http = await runHttpSuite(httpOptions)
  let crypto: CryptoResults | undefined
  if (flags.only === undefined || flags.only === 'crypto') {
    process.stderr.write('in-process JWT peers (pinned to core 1)\n')
    crypto = await runCrypto(cryptoOptions, facts)
  }
  let verify: VerifyResults | undefined
  if (flags.only === undefined || flags.only === 'verify') {
    verify = await runVerifySuite(verifySuite)
  }
  const refresh = refreshFigure(http, 'FULL')
  let profile: Awaited<ReturnType<typeof profileRefresh>> | undefined
  const missed = refresh !== undefined && refresh < REFRESH_TARGET
  if (flags.profile === true || (flags.profile === undefined && missed && http.length > 0)) {
    process.stderr.write('profiling the booth during a refresh run (--cpu-prof)\n')
    profile = await profileRefresh(httpOptions)
  }

  const rev = revision()
  const sections = [
    `## Machine\n\n${machineText(facts)}${rev ? `\n- tokenbooth at ${rev.commit.slice(0, 7)}${rev.dirty ? ' with uncommitted changes in packages/' : ''}` : ''}`,
    http.length > 0
      ? `## Over HTTP (${httpOptions.seconds} s per scenario after ${httpOptions.warmupSeconds} s warm-up)\n\n${httpTable(http)}\n\n${httpVerdicts(
          http,
        )
          .map((l) => `- ${l}`)
          .join('\n')}`
      : '',
    crypto
      ? `## In process (median of ${cryptoOptions.rounds} rounds)\n\n${cryptoTables(crypto)}`
      : '',
    verify ? `## Verifier\n\n${verifyMarkdown(verify)}` : '',
    profile
      ? `## Where a refresh spends its time\n\n${profileText(profile.summary, profile.rps)}\n\nProfile: ${profile.file}`
      : '',
  ].filter(Boolean)
  const markdown = `${sections.join('\n\n')}\n`
  process.stdout.write(`\n${markdown}`)

  const errors = hasErrors(http) || (verify !== undefined && verifyHasErrors(verify))
  writeFileSync(join(RESULTS, 'latest.md'), markdown)
  writeFileSync(
    join(RESULTS, 'latest.json'),
    `${JSON.stringify(
      {
        command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
        date: new Date(started).toISOString(),
        durationSeconds: (Date.now() - started) / 1000,
        machine: facts,
        revision: rev,
        options: {
          http: { ...httpOptions, facts: undefined },
          crypto: cryptoOptions,
          verify: { ...verifySuite, facts: undefined },
        },
        refreshTarget: {
          perSecond: REFRESH_TARGET,
          full: refresh,
          met: refresh === undefined ? undefined : !missed,
        },
        errors,
        http,
        crypto,
        verify,
        profile: profile?.summary,
      },
      null,
      2,
    )}\n`,
  )
  process.stderr.write(
    `wrote ${join(RESULTS, 'latest.json')} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  )
  return errors ? 1 : 0
}
