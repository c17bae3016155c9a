/** Starting bench servers as child processes on free 127.0.0.1 ports, and stopping them. */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RunningServer } from './types.ts'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const PLINTH_BIN = path.join(ROOT, 'bin', 'plinth.js')

/** CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
  // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** Polls `url` until it answers 2xx; fails after `timeoutMs` or when the process exits. */
async function waitUntilUp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before answering ${url}`)
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

export interface SpawnOptions {
  /** Arguments after `node`; `{port}` is replaced by the chosen port. */
  args: string[]
  env?: Record<string, string>
  cwd?: string
  /** Path polled until it answers (default /api/health). */
  readyPath?: string
  /** Runs after stop, e.g. to remove a temp folder. */
  cleanup?: () => Promise<void> | void
}

/**
 * Starts `node ARGS` with its output discarded (a server's logs cost it what they cost in
 * production, but nobody reads them here) and resolves once it answers.
 */
export async function spawnServer(opts: SpawnOptions): Promise<RunningServer> {
  const port = await freePort()
  const args = opts.args.map((a) => a.replaceAll('{port}', String(port)))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PLINTH_')))
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...env, ...opts.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await waitUntilUp(`${url}${opts.readyPath ?? '/api/health'}`, child)
  } catch (err) {
    child.kill('SIGKILL')
    await opts.cleanup?.()
    throw err
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(killer)
      }
      await opts.cleanup?.()
    },
  }
}

/**
 * `plinth serve` as a production node would run it, on a fresh data folder in a temp dir.
 * `env` sets PLINTH_* settings (PLINTH_DB for another engine, PLINTH_LOG_LEVEL, ...); `config`,
 * when given, is written as the folder's plinth.config.json (for settings with no variable).
 * Rate limits are off unless `env` or `config` says otherwise: one load generator on one address
 * is exactly what they refuse (the `limits` scenario measures them). `bin` serves another build
 * (another checkout's bin/plinth.js, its dist built).
 */
export function startPlinth(env: Record<string, string> = {}, config?: object, bin = PLINTH_BIN): Promise<RunningServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-'))
  if (config) writeFileSync(path.join(dir, 'plinth.config.json'), JSON.stringify(config))
  return spawnServer({
    args: [bin, 'serve', '--http', '127.0.0.1:{port}', '--dir', dir],
    env: config ? env : { PLINTH_RATE_LIMITS_ENABLED: 'false', ...env },
    cwd: dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  })
}
