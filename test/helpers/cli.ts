/** Runs the real `plinth` command as a child process. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const PLINTH_BIN = fileURLToPath(new URL('../../bin/plinth.js', import.meta.url))

/**
 * The environment for a child: this one without PLINTH_* server settings, plus `env`. Rate limits
 * are off unless `env` turns them on (see NO_RATE_LIMITS in app.ts).
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PLINTH_') || k === 'PLINTH_REQUIRE_SERVICES'))
  return { ...base, PLINTH_RATE_LIMITS_ENABLED: 'false', ...env }
}

export function startCli(args: string[], env: Record<string, string> = {}, cwd?: string): ChildProcess {
  return spawn(process.execPath, [PLINTH_BIN, ...args], { env: childEnv(env), cwd, stdio: ['ignore', 'pipe', 'pipe'] })
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Collects a child's output until it exits. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return collect(startCli(args, env, cwd))
}

/** A `plinth serve` child listening on a real port. */
export interface ServeProcess {
  child: ChildProcess
  url: string
  /** Resolves when the process exits, with everything it printed. */
  exited: Promise<CliResult>
}

/**
 * Starts `plinth serve` on a free port and resolves once it logs the URL it listens on (logged
 * after listen() returned, so it answers from then on). The 60 s bound only turns a hang into a
 * readable failure; it is not a performance assertion. `onStart` gets the child at once, so a
 * caller can register its clean-up before start-up can fail.
 */
export async function startServe(args: string[], env: Record<string, string>, cwd: string, onStart?: (p: Omit<ServeProcess, 'url'>) => void): Promise<ServeProcess> {
  const child = startCli(['serve', '--http', '127.0.0.1:0', ...args], env, cwd)
  const exited = collect(child)
  onStart?.({ child, exited })
  return { child, url: await listeningUrl(child, exited), exited }
}

/**
 * The URL a starting `plinth serve` (`child`, its output collected into `exited`) logs once it
 * listens; rejects when it exits first. The 60 s bound only turns a hang into a readable failure.
 */
export function listeningUrl(child: ChildProcess, exited: Promise<CliResult>): Promise<string> {
  let out = ''
  return new Promise<string>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no listening line within 60 s:\n${out}`)), 60_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)
      if (m) {
        clearTimeout(guard)
        resolve(m[1]!)
      }
    })
    void exited.then((r) => {
      clearTimeout(guard)
      reject(new Error(`plinth exited early (${r.code}):\n${r.stdout}\n${r.stderr}`))
    })
  })
}
