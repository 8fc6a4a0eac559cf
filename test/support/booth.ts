/**
 * Starts the real `tokenbooth` binary on loopback for contract tests, and stops it.
 * Tests speak only HTTP to it (and run its CLI), as any user would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(
  new URL('../../packages/server/bin/tokenbooth.js', import.meta.url),
)

export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** Env for a `serve` that must refuse to start: its own port and data dir, so it touches nothing. */
export async function refusingEnv(extra: Record<string, string>): Promise<Record<string, string>> {
  return {
    TOKENBOOTH_PORT: String(await freePort()),
    TOKENBOOTH_HOST: '127.0.0.1',
    TOKENBOOTH_DATA_DIR: mkdtempSync(join(tmpdir(), 'tokenbooth-refuse-')),
    ...extra,
  }
}

export interface Booth {
  url: string
  port: number
  dataDir: string
  env: Record<string, string>
  process: ChildProcess
  /** Everything the process wrote, for assertions on logs and for failure reports. */
  output(): string
  /** SIGTERM, and wait for the exit code. */
  stop(): Promise<number | null>
  /** SIGKILL: a crash. */
  kill(): Promise<void>
}

export interface StartOptions {
  env?: Record<string, string>
  /** Reuse a data directory (restart on the same SQLite file). */
  dataDir?: string
  port?: number
}

/** Runs the CLI once and returns its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  child.stdin.end(stdin ?? '')
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

export async function startBooth(options: StartOptions = {}): Promise<Booth> {
  const port = options.port ?? (await freePort())
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tokenbooth-test-'))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    TOKENBOOTH_PORT: String(port),
    TOKENBOOTH_HOST: '127.0.0.1',
    TOKENBOOTH_DATA_DIR: dataDir,
    TOKENBOOTH_LOG_LEVEL: 'info',
    ...options.env,
  }
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d))
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const exited = once(child, 'exit') as Promise<[number | null]>
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`tokenbooth exited with ${child.exitCode}:\n${output}`)
    try {
      const res = await fetch(`${url}/healthz`)
      if (res.ok) break
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
    port,
    dataDir,
    env,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const [code] = await exited
      return code
    },
    async kill() {
      if (child.exitCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
