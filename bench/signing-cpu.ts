/**
 * `npx tsx bench/signing-cpu.ts [ROUNDS]`: what a signed view-by-id costs the SERVER, in CPU time
 * per request, beside the same request unsigned: the `signing-view-sqlite` targets (bench/scenarios/
 * signing.ts), each served by its own `plinth serve` under the same signed load generator (per-request
 * headers; the unsigned target gets them without a signature), 50 connections, 5 s a round.
 * The server's CPU time (utime + stime from /proc) over the requests it answered does not grow
 * when other processes share the cores, unlike req/s, so the ratio holds on a busy machine.
 * On a machine too busy for a server to saturate a core, `RATE=400` sends a fixed rate to both
 * targets (10 connections), so each wakes up as often for either. Linux only (reads /proc/PID/stat).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PLINTH_BIN } from './lib/servers.ts'
import { seed } from './scenarios/records.ts'

const ROUNDS = Number(process.argv[2] ?? 3)
/** `RATE=N`: a fixed N requests a second (both targets alike), for a machine too busy to saturate a server. */
const RATE = Number(process.env.RATE ?? 0)
const TICK_MS = 1000 / 100 // USER_HZ

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS // utime, stime (fields 14, 15)
}

async function serve(signed: boolean): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const s = await seed('sqlite')
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-cpu-'))
  if (signed) writeFileSync(path.join(dir, 'plinth.config.json'), JSON.stringify({ signatures: { mode: 'off', routes: { '/api/collections/posts/': 'required' } } }))
  const port = 20_000 + Math.floor(Math.random() * 10_000)
  const child = spawn(process.execPath, [PLINTH_BIN, 'serve', '--http', `127.0.0.1:${port}`, '--dir', dir], {
    cwd: dir, stdio: 'ignore', env: { ...process.env, PLINTH_DB: s.dbUrl, PLINTH_RATE_LIMITS_ENABLED: 'false', PLINTH_LOG_LEVEL: 'warn' },
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${url}/api/health`).then((r) => r.ok, () => false)) return { url, child, dir }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('plinth did not start')
}

async function round(signed: boolean): Promise<{ cpuPerReq: number; rps: number }> {
  const s = await seed('sqlite')
  const { url, child, dir } = await serve(signed)
  try {
    const auth = await fetch(`${url}/api/collections/users/auth-refresh`, { method: 'POST', headers: { authorization: s.token } })
    const body = (await auth.json()) as { token: string; signingKey?: unknown }
    const run = (duration: number) => {
      const opts = {
        url: `${url}/api/collections/posts/records/${s.postId}`, connections: RATE ? 10 : 50, duration, overallRate: RATE || undefined,
        headers: { authorization: body.token }, key: signed ? body.signingKey : undefined, pool: duration * (RATE || 20_000),
      }
      const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'lib', 'autocannon-signed.mjs'), JSON.stringify(opts)], { maxBuffer: 1 << 26 }).toString()
      return JSON.parse(out) as { requests: { total: number; average: number }; non2xx: number }
    }
    run(2) // warm-up
    const before = cpuMs(child.pid!)
    const r = run(RATE ? 8 : 5)
    const cpu = cpuMs(child.pid!) - before
    if (r.non2xx) throw new Error(`${r.non2xx} non-2xx answers`)
    return { cpuPerReq: (cpu * 1000) / r.requests.total, rps: r.requests.average }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const unsigned: number[] = []
const signed: number[] = []
for (let i = 1; i <= ROUNDS; i++) {
  const u = await round(false)
  const g = await round(true)
  unsigned.push(u.cpuPerReq)
  signed.push(g.cpuPerReq)
  console.log(`round ${i}: unsigned ${u.cpuPerReq.toFixed(0)} µs CPU/request (${u.rps.toFixed(0)} req/s), signed ${g.cpuPerReq.toFixed(0)} µs (${g.rps.toFixed(0)} req/s)`)
}
const mu = median(unsigned)
const ms = median(signed)
console.log(`median: unsigned ${mu.toFixed(0)} µs, signed ${ms.toFixed(0)} µs CPU per request; throughput ratio at equal CPU ${(mu / ms).toFixed(2)}`)
