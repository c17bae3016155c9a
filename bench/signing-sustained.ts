/**
 * `npx tsx bench/signing-sustained.ts [SECONDS]` (default 60): signed view-by-id requests at full
 * speed against one `plinth serve` on its embedded defaults (SQLite, in-process counters), for
 * longer than a burst: every signed request leaves a nonce held ~331 s, so this shows whether a
 * node keeps serving once hundreds of thousands are held, and what they cost in memory.
 *
 * Prints one line per 10 s: requests a second, the share answered 2xx, the server's resident
 * memory, and the live requests a second as a ratio of the first 10 s (the reference, same run).
 * `BENCH_BIN=PATH` serves another build (another checkout's bin/plinth.js with its dist built).
 * Linux only (reads /proc/PID/status).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { runAutocannon, type AutocannonJson } from './lib/load.ts'
import { PLINTH_BIN, startPlinth } from './lib/servers.ts'
import { seed } from './scenarios/records.ts'

const SECONDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 60)
const STEP = 10
const GENERATOR = path.join(import.meta.dirname, 'lib', 'autocannon-signed.mjs')

const s = await seed('sqlite')
const config = { signatures: { mode: 'off', routes: { '/api/collections/posts/': 'required' } } }
const server = await startPlinth({ PLINTH_DB: s.dbUrl, PLINTH_RATE_LIMITS_ENABLED: 'false', PLINTH_LOG_LEVEL: 'error' }, config, process.env.BENCH_BIN ?? PLINTH_BIN)
try {
  const res = await fetch(`${server.url}/api/collections/users/auth-refresh`, { method: 'POST', headers: { authorization: s.token } })
  const auth = (await res.json()) as { token: string; signingKey: unknown }
  const opts = { url: `${server.url}/api/collections/posts/records/${s.postId}`, connections: 50, duration: STEP, headers: { authorization: auth.token }, key: auth.signingKey }
  let first: number | undefined
  for (let t = STEP; t <= SECONDS; t += STEP) {
    const r = await runAutocannon<AutocannonJson>(['--import', 'tsx', GENERATOR, JSON.stringify(opts)])
    const ok = r.requests.total - r.non2xx
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1]) / 1024
    first ??= ok
    console.log(
      `${String(t).padStart(4)} s: ${(r.requests.total / STEP).toFixed(0)} req/s, ${((100 * ok) / r.requests.total).toFixed(1)} % 2xx, ` +
        `rss ${rss.toFixed(0)} MB, 2xx req/s vs the first ${STEP} s ${(ok / first).toFixed(2)}`,
    )
  }
} finally {
  await server.stop()
}
