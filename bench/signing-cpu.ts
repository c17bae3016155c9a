/**
 * `npx tsx bench/signing-cpu.ts [ROUNDS] [--together] [--same-requests]`: what a signed view-by-id costs the SERVER,
 * in CPU time per request, beside the same request unsigned: the `signing-view-sqlite` targets
 * (bench/scenarios/signing.ts), each served by its own `plinth serve`, each under its own load
 * generator (bench/lib/autocannon-signed.mjs, per-request headers; the unsigned target gets them
 * without a signature), 50 connections, 5 s a round after a 2 s warm-up.
 *
 * Each server's CPU time (utime + stime from /proc, read around the load alone) over the requests
 * it answered is its cost per request; a round's ratio is unsigned / signed, the throughput ratio
 * at equal CPU, and the figure is the median of the rounds' ratios. Each line shows each server's
 * share of one core: a server well under 100 % was waiting for its load generator.
 * By default the two run one after the other, each with the machine to itself (as a node in
 * production). `--together` runs both pairs at the same time, so whatever else the machine does
 * falls on both alike: steadier for comparing two builds (`BENCH_BIN`), but four busy processes on
 * two cores evict each other's caches, which weighs on the signed path more.
 * `--same-requests` sends the unsigned server the signed requests too (it has signatures off, so it
 * reads the two headers and checks nothing): both generators then do the same work, and the ratio
 * is what the server's check alone costs, apart from the generator and the headers' bytes.
 * `BENCH_BIN=PATH` serves another build (another checkout's bin/plinth.js with its dist built), to
 * compare two versions. Linux only (reads /proc/PID/stat).
 */
import path from 'node:path'
import { runAutocannon, type AutocannonJson } from './lib/load.ts'
import { PLINTH_BIN, startPlinth } from './lib/servers.ts'
import type { RunningServer } from './lib/types.ts'
import { seed } from './scenarios/records.ts'

const ROUNDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3)
const TOGETHER = process.argv.includes('--together')
const SAME_REQUESTS = process.argv.includes('--same-requests')
const BIN = process.env.BENCH_BIN ?? PLINTH_BIN
const GENERATOR = path.join(import.meta.dirname, 'lib', 'autocannon-signed.mjs')

interface Server extends RunningServer {
  /** The auth-refresh answer: a token, and its session key when signing is on. */
  auth: { token: string; signingKey?: unknown }
}

async function serve(signed: boolean): Promise<Server> {
  const s = await seed('sqlite')
  const config = signed ? { signatures: { mode: 'off', routes: { '/api/collections/posts/': 'required' } } } : undefined
  const server = await startPlinth({ PLINTH_DB: s.dbUrl, PLINTH_RATE_LIMITS_ENABLED: 'false', PLINTH_LOG_LEVEL: 'warn' }, config, BIN)
  const res = await fetch(`${server.url}/api/collections/users/auth-refresh`, { method: 'POST', headers: { authorization: s.token } })
  return { ...server, auth: (await res.json()) as Server['auth'] }
}

interface Load extends AutocannonJson {
  /** The server's CPU time during the load (the generator reads it, given `pid`). */
  serverCpuMs: number
}

/** One load generator against `server` for `duration` s; resolves with its result. */
function load(server: Server, auth: Server['auth'] | undefined, duration: number): Promise<Load> {
  const opts = {
    url: `${server.url}/api/collections/posts/records/${seedPostId}`, connections: 50, duration,
    headers: { authorization: (auth ?? server.auth).token }, key: auth?.signingKey, pid: server.pid,
  }
  return runAutocannon<Load>(['--import', 'tsx', GENERATOR, JSON.stringify(opts)])
}

const seedPostId = (await seed('sqlite')).postId

async function round(): Promise<{ unsigned: number; signed: number; shares: [number, number] }> {
  const servers = [await serve(false), await serve(true)] as const // one after the other: they share the seeded database
  try {
    // The signed server's token and key sign the unsigned server's requests too: both servers share the database and its token secret.
    const asUnsigned = SAME_REQUESTS ? servers[1].auth : undefined
    const both = async (seconds: number): Promise<[Load, Load]> =>
      TOGETHER
        ? Promise.all([load(servers[0], asUnsigned, seconds), load(servers[1], servers[1].auth, seconds)])
        : [await load(servers[0], asUnsigned, seconds), await load(servers[1], servers[1].auth, seconds)]
    await both(2) // warm-up
    const SECONDS = 5
    const [u, g] = await both(SECONDS)
    for (const r of [u, g]) if (r.non2xx) throw new Error(`${r.non2xx} non-2xx answers`)
    const perReq = (r: Load) => (r.serverCpuMs * 1000) / r.requests.total
    return { unsigned: perReq(u), signed: perReq(g), shares: [u.serverCpuMs / (SECONDS * 10), g.serverCpuMs / (SECONDS * 10)] }
  } finally {
    for (const s of servers) await s.stop()
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const unsigned: number[] = []
const signed: number[] = []
const ratios: number[] = []
for (let i = 1; i <= ROUNDS; i++) {
  const r = await round()
  unsigned.push(r.unsigned)
  signed.push(r.signed)
  ratios.push(r.unsigned / r.signed)
  console.log(
    `round ${i}: unsigned ${r.unsigned.toFixed(0)} µs CPU/request (${r.shares[0].toFixed(0)} % of a core), ` +
      `signed ${r.signed.toFixed(0)} µs (${r.shares[1].toFixed(0)} %), ratio ${ratios.at(-1)!.toFixed(2)}`,
  )
}
console.log(`median: unsigned ${median(unsigned).toFixed(0)} µs, signed ${median(signed).toFixed(0)} µs CPU per request; throughput ratio at equal CPU (median of the rounds') ${median(ratios).toFixed(2)}`)
