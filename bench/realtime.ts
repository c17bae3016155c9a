/**
 * `node scripts/build.js --js && npx tsx bench/realtime.ts [--idle N] [--subscribers N] [--writes N]`
 *
 * Realtime figures from a real `plinth serve` (SQLite, logs at warn) in its own process, with the
 * clients in this one (raw HTTP streams, no SDK, so the client side stays light):
 * - idle: N connected streams that subscribed to nothing; the server's resident memory per
 *   stream beyond what it used before they connected (Linux `/proc`; GC timing adds noise);
 * - fan-out: one record change delivered to N subscribers, each with its own `x_user` header
 *   option, so every subscriber is its own rule check (a stand-in for N signed-in owners without
 *   N password hashes). The rule lets the owner or anyone see a `shared` record, and every write
 *   is shared, so each write reaches all N. Timed from the write request's start to the last
 *   subscriber's receipt (the commit happens inside that request), p50 and p99 over the writes;
 *   once with a rule on the record's own fields (decided in memory), once with one that follows a
 *   relation (a join: SQL, the checks of one event asked 100 to a query).
 *
 * It reports figures, not a pass or fail (this file is not run by `npm test` or `npm run bench`);
 * results go to bench/results/realtime.json. With PostgreSQL and Redis reachable, the same fan-out
 * also runs on one node and across two (writes on one, subscribers on the other).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { dropDatabases, freshDb, unavailable } from './lib/seed.ts'
import { freePort, PLINTH_BIN, ROOT } from './lib/servers.ts'

const { values } = parseArgs({
  options: {
    idle: { type: 'string', default: '10000' },
    subscribers: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '50' },
  },
})
const IDLE = Number(values.idle)
const SUBSCRIBERS = Number(values.subscribers)
const WRITES = Number(values.writes)

/** The server's resident memory, in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })

/** One open stream: its client id, and how many events (after PB_CONNECT) it has had, with when. */
interface Stream {
  clientId: string
  received: number[]
  close(): void
}

function openStream(base: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/realtime`, { agent }, (res) => {
      let text = ''
      let clientId = ''
      const received: number[] = []
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        let end: number
        while ((end = text.indexOf('\n\n')) >= 0) {
          const event = text.slice(0, end)
          text = text.slice(end + 2)
          if (!clientId) {
            clientId = /^id:(\w+)/.exec(event)?.[1] ?? ''
            resolve({ clientId, received, close: () => req.destroy() })
          } else received.push(performance.now())
        }
      })
    })
    req.on('error', reject)
  })
}

async function call(base: string, method: string, url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`)
  return text ? (JSON.parse(text) as Record<string, unknown>) : {}
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function startServer(dir: string, extra: Record<string, string> = {}, superuser = true): Promise<{ url: string; child: ChildProcess }> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PLINTH_'))), PLINTH_LOG_LEVEL: 'warn', ...extra }
  if (superuser) {
    const su = spawn(process.execPath, [PLINTH_BIN, 'superuser', 'upsert', 'root@example.com', 'bench-password-1', '--dir', dir], { cwd: dir, env, stdio: 'ignore' })
    await new Promise((r) => su.once('exit', r))
  }
  const port = await freePort()
  const child = spawn(process.execPath, [PLINTH_BIN, 'serve', '--http', `127.0.0.1:${port}`, '--dir', dir], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) break
    } catch {
      if (i > 600) throw new Error('plinth did not start')
    }
    await sleep(100)
  }
  return { url, child }
}

/** Opens `n` streams, a few hundred at a time. */
async function openMany(base: string, n: number): Promise<Stream[]> {
  const out: Stream[] = []
  for (let i = 0; i < n; i += 250) out.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => openStream(base)))))
  return out
}

async function fanOut(base: string, token: string, collection: string, body: (i: number) => Record<string, unknown>, subscribeOn = base): Promise<{ p50: number; p99: number; max: number }> {
  const streams = await openMany(subscribeOn, SUBSCRIBERS)
  await Promise.all(
    streams.map((s, i) => {
      const topic = `${collection}/*?options=${encodeURIComponent(JSON.stringify({ headers: { x_user: `u${i}` } }))}`
      return call(subscribeOn, 'POST', '/api/realtime', { clientId: s.clientId, subscriptions: [topic] })
    }),
  )
  const times: number[] = []
  for (let w = 0; w < WRITES; w++) {
    const t0 = performance.now()
    await call(base, 'POST', `/api/collections/${collection}/records`, body(w), token)
    while (streams.some((s) => s.received.length <= w)) await sleep(1)
    times.push(Math.max(...streams.map((s) => s.received[w]!)) - t0)
  }
  for (const s of streams) s.close()
  await sleep(500)
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1]! }
}

const OWN_RULE = 'owner = @request.headers.x_user || shared = true'

/**
 * One node against two on one PostgreSQL and one Redis, same run: subscribers on the node that
 * writes, then subscribers on the other node (each change crosses Redis). Undefined when
 * PostgreSQL or Redis is not reachable.
 */
async function acrossNodes(): Promise<{ oneNodeMs: Awaited<ReturnType<typeof fanOut>>; twoNodesMs: Awaited<ReturnType<typeof fanOut>> } | string> {
  const why = (await unavailable('postgres')) ?? (await redisUnavailable())
  if (why) return why
  const db = await freshDb('postgres')
  const env = { PLINTH_DB: db, PLINTH_REDIS: `redis://127.0.0.1:6379/14?prefix=plinth-bench-rt-${process.pid}:` }
  const dirA = mkdtempSync(path.join(tmpdir(), 'plinth-bench-rt-a-'))
  const dirB = mkdtempSync(path.join(tmpdir(), 'plinth-bench-rt-b-'))
  const a = await startServer(dirA, env)
  const b = await startServer(dirB, env, false)
  try {
    const { token } = (await call(a.url, 'POST', '/api/collections/_superusers/auth-with-password', { identity: 'root@example.com', password: 'bench-password-1' })) as { token: string }
    await call(a.url, 'POST', '/api/collections', { name: 'rt_items', type: 'base', listRule: OWN_RULE, fields: [{ name: 'title', type: 'text' }, { name: 'owner', type: 'text' }, { name: 'shared', type: 'bool' }] }, token)
    while ((await fetch(`${b.url}/api/collections/rt_items/records`)).status !== 200) await sleep(50)
    const body = (w: number) => ({ title: `w${w}`, owner: 'nobody', shared: true })
    const oneNodeMs = await fanOut(a.url, token, 'rt_items', body)
    const twoNodesMs = await fanOut(a.url, token, 'rt_items', body, b.url)
    return { oneNodeMs, twoNodesMs }
  } finally {
    for (const n of [a, b]) {
      n.child.kill('SIGTERM')
      await new Promise((r) => n.child.once('exit', r))
    }
    rmSync(dirA, { recursive: true, force: true })
    rmSync(dirB, { recursive: true, force: true })
    await dropDatabases()
  }
}

/** Why Redis cannot be used here, or undefined. */
async function redisUnavailable(): Promise<string | undefined> {
  const net = await import('node:net')
  return new Promise((resolve) => {
    const socket = net.connect(6379, '127.0.0.1', () => {
      socket.end()
      resolve(undefined)
    })
    socket.on('error', () => resolve('Redis is not reachable on 127.0.0.1:6379'))
  })
}

const dir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-rt-'))
const { url, child } = await startServer(dir)
try {
  const { token } = (await call(url, 'POST', '/api/collections/_superusers/auth-with-password', { identity: 'root@example.com', password: 'bench-password-1' })) as { token: string }
  const people = await call(url, 'POST', '/api/collections', { name: 'rt_people', type: 'base', fields: [{ name: 'name', type: 'text' }] }, token)
  await call(url, 'POST', '/api/collections', {
    name: 'rt_items',
    type: 'base',
    listRule: OWN_RULE,
    fields: [{ name: 'title', type: 'text' }, { name: 'owner', type: 'text' }, { name: 'shared', type: 'bool' }],
  }, token)
  await call(url, 'POST', '/api/collections', {
    name: 'rt_jitems',
    type: 'base',
    listRule: 'owner.name = @request.headers.x_user || owner.name = "everyone"',
    fields: [{ name: 'title', type: 'text' }, { name: 'owner', type: 'relation', collectionId: people.id, maxSelect: 1 }],
  }, token)
  const everyone = await call(url, 'POST', '/api/collections/rt_people/records', { name: 'everyone' }, token)

  // Idle streams: memory beyond a warmed-up baseline.
  const warm = await openMany(url, 100)
  for (const s of warm) s.close()
  await sleep(1000)
  const before = rss(child.pid!)
  const idle = await openMany(url, IDLE)
  await sleep(2000)
  const after = rss(child.pid!)
  for (const s of idle) s.close()
  await sleep(1000)
  const idleResult = { streams: IDLE, rssBeforeMiB: before / 2 ** 20, rssAfterMiB: after / 2 ** 20, bytesPerStream: Math.round((after - before) / IDLE) }

  const own = await fanOut(url, token, 'rt_items', (w) => ({ title: `w${w}`, owner: 'nobody', shared: true }))
  const join = await fanOut(url, token, 'rt_jitems', (w) => ({ title: `w${w}`, owner: everyone.id }))

  const nodes = await acrossNodes()
  const result = { date: new Date().toISOString(), node: process.version, idle: idleResult, fanOut: { subscribers: SUBSCRIBERS, writes: WRITES, ownFieldsMs: own, joinMs: join }, acrossNodes: nodes }
  console.log(`idle streams: ${IDLE}, server RSS ${idleResult.rssBeforeMiB.toFixed(1)} -> ${idleResult.rssAfterMiB.toFixed(1)} MiB, ${idleResult.bytesPerStream} bytes per stream`)
  console.log(`fan-out to ${SUBSCRIBERS} subscribers, ${WRITES} writes (write start -> last delivery):`)
  console.log(`  rule on own fields: p50 ${own.p50.toFixed(1)} ms, p99 ${own.p99.toFixed(1)} ms, max ${own.max.toFixed(1)} ms`)
  console.log(`  rule with a join:   p50 ${join.p50.toFixed(1)} ms, p99 ${join.p99.toFixed(1)} ms, max ${join.max.toFixed(1)} ms`)
  if (typeof nodes === 'string') console.log(`across nodes: skipped (${nodes})`)
  else {
    console.log(`PostgreSQL + Redis, own-field rule, ${SUBSCRIBERS} subscribers:`)
    console.log(`  one node:  p50 ${nodes.oneNodeMs.p50.toFixed(1)} ms, p99 ${nodes.oneNodeMs.p99.toFixed(1)} ms`)
    console.log(`  two nodes: p50 ${nodes.twoNodesMs.p50.toFixed(1)} ms, p99 ${nodes.twoNodesMs.p99.toFixed(1)} ms (writes on one, subscribers on the other)`)
  }
  mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true })
  writeFileSync(path.join(ROOT, 'bench', 'results', 'realtime.json'), JSON.stringify(result, null, 2))
} finally {
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  rmSync(dir, { recursive: true, force: true })
  agent.destroy()
}
