/**
 * What the benchmark needs to know about the machine: its cores, CPU model, clock ticks, whether
 * `taskset` can pin processes, and the CPU time a process has used so far (from /proc).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

export interface MachineFacts {
  nproc: number
  cpuModel: string
  node: string
  platform: string
  kernel: string
  /** `getconf CLK_TCK`: the unit of utime/stime in /proc/PID/stat. */
  clockTicks: number
  /** True when `taskset` exists and the machine has at least two cores to split. */
  pinning: boolean
  loadAverage: string
}

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return undefined
  }
}

export function clockTicks(): number {
  const ticks = Number(run('getconf', ['CLK_TCK']))
  // Linux has used 100 for USER_HZ on every mainstream architecture; getconf is the authority.
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
}

export function machineFacts(): MachineFacts {
  let cpuModel = 'unknown'
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line !== undefined) cpuModel = line.slice(line.indexOf(':') + 1).trim()
  } catch {
    // not Linux: leave it unknown
  }
  const nproc = Number(run('nproc', [])) || availableParallelism()
  let loadAverage = ''
  try {
    loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  } catch {
    // not Linux
  }
  return {
    nproc,
    cpuModel,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: run('uname', ['-r']) ?? 'unknown',
    clockTicks: clockTicks(),
    pinning: nproc >= 2 && run('taskset', ['-c', '0', 'true']) !== undefined,
    loadAverage,
  }
}

/**
 * utime + stime of a process, all its threads included (libuv's pool too), in clock ticks.
 * Fields 14 and 15 of /proc/PID/stat (proc(5)), counted after the `(comm)` field, which may
 * itself contain spaces and parentheses.
 */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) fields[12]
  return Number(fields[11]) + Number(fields[12])
}

/** The command prefix that pins a process to one core, or nothing when pinning is unavailable. */
export function pinPrefix(core: number, facts: MachineFacts): string[] {
  return facts.pinning ? ['taskset', '-c', String(core)] : []
}
