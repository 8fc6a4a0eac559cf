/**
 * Starts the real `tokenbooth serve` for a benchmark: pinned to one core, on loopback, on a
 * fresh data directory, quiet (warn). Like test/support/booth.ts, but with `taskset` in front.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(
  new URL('../../packages/server/bin/tokenbooth.js', import.meta.url),
)

export interface BenchBooth {
  url: string
  /** The pid of the node process itself (taskset execs it), for /proc/PID/stat. */
  pid: number
  env: Record<string, string>
  output(): string
  /** SIGTERM (which lets --cpu-prof write its profile), then remove the data directory. */
  stop(): Promise<void>
}

export interface BoothOptions {
  /** Extra TOKENBOOTH_* variables. */
  env?: Record<string, string>
  /** Command prefix such as ['taskset', '-c', '0']. */
  pin: string[]
  /** Extra node flags, such as --cpu-prof. */
  nodeFlags?: string[]
}

export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

function spawnPinned(
  pin: string[],
  args: string[],
  env: Record<string, string>,
  stdio: 'pipe' | 'ignore',
) {
  const [command, ...rest] =
    pin.length > 0 ? [...pin, process.execPath, ...args] : [process.execPath, ...args]
  return spawn(command!, rest, {
    env,
    stdio: [stdio === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
}

/** Runs the CLI once (e.g. `clients add`), on the booth's data directory. */
export async function runCli(booth: BenchBooth, args: string[], stdin = ''): Promise<string> {
  const child = spawnPinned([], [BIN, ...args], booth.env, 'pipe')
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d))
  child.stderr!.on('data', (d: Buffer) => (stderr += d))
  child.stdin!.end(stdin)
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`tokenbooth ${args.join(' ')} exited with ${code}:\n${stderr}`)
  return stdout
}

export async function startBooth(options: BoothOptions): Promise<BenchBooth> {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenbooth-bench-'))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    TOKENBOOTH_PORT: String(port),
    TOKENBOOTH_HOST: '127.0.0.1',
    TOKENBOOTH_DATA_DIR: dataDir,
    TOKENBOOTH_LOG_LEVEL: 'warn',
    ...options.env,
  }
  const child: ChildProcess = spawnPinned(
    options.pin,
    [...(options.nodeFlags ?? []), BIN, 'serve'],
    env,
    'ignore',
  )
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d))
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const exited = once(child, 'exit')
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`tokenbooth exited with ${child.exitCode}:\n${output}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`tokenbooth did not become healthy:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url,
    pid: child.pid!,
    env,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
