/**
 * IM over WebSocket (#16), measured by the scenarios themselves: real `plinth serve` nodes (logs
 * at warn, rate limits and IM frame limits off), the WebSocket clients (`ws`) in the bench's process.
 * - im-idle: memory of N authenticated, idle connections on one node, per connection, beyond a
 *   warmed-up baseline. N is 20,000 where the open-file limit allows, else the limit less 500
 *   (the server and the bench each hold one descriptor per connection).
 * - im-messages-sqlite / -postgres: 50 senders, each in a direct conversation with its own
 *   receiver, send 40 messages each, one at a time (the next after the ack): messages/s from the
 *   first send to the last delivery, and delivery latency (send to receipt by the other member),
 *   every message persisted before its ack.
 * - im-messages-nodes: the same on PostgreSQL with senders on one node, receivers on another
 *   (every message crosses Redis).
 */
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'
import { adminOn, dropDatabases, freshDb, QUIET, unavailable, upsertSuperuser, USER_PASSWORD, type Admin, type Engine } from '../lib/seed.ts'
import { heapUsed, redisUnavailable, rss, sleep } from '../lib/realtime.ts'
import { startPlinth } from '../lib/servers.ts'
import type { Figure, MeasuredScenario, RunningServer } from '../lib/types.ts'

const PAIRS = 50
const PER_SENDER = 40
const CONFIG = { rateLimits: { enabled: false }, im: { userRate: 0, connectionRate: 0 } }

interface Node {
  server: RunningServer
  admin: Admin
}

async function start(db: string, env: Record<string, string> = {}, upsert = true): Promise<Node> {
  if (upsert) upsertSuperuser(db)
  const server = await startPlinth({ PLINTH_DB: db, ...QUIET, ...env }, CONFIG)
  try {
    return { server, admin: await adminOn(server.url) }
  } catch (err) {
    await server.stop()
    throw err
  }
}

/** The soft limit on open files of this process (Linux `/proc`). */
function openFileLimit(): number {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
  return m ? Number(m[1]) : 1024
}

type Frame = Record<string, unknown> & { type: string }

/** An authenticated, live IM socket; `onFrame` sees every frame after `ready`/`resumed`. */
function connect(url: string, token: string, onFrame?: (f: Frame) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/api/plinth/im', { perMessageDeflate: false })
    ws.on('error', reject)
    ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', token, conversations: {} })))
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame
      if (f.type === 'resumed') resolve(ws)
      else if (f.type === 'error') reject(new Error(JSON.stringify(f)))
      else if (f.type !== 'ready') onFrame?.(f)
    })
  })
}

async function users(admin: Admin, prefix: string, n: number): Promise<{ id: string; token: string }[]> {
  const rows = Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@bench.local`, password: USER_PASSWORD, passwordConfirm: USER_PASSWORD }))
  const ids = await admin.createMany('users', rows)
  const out: { id: string; token: string }[] = []
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${admin.url}/api/collections/users/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: `${prefix}${i}@bench.local`, password: USER_PASSWORD }),
    })
    out.push({ id: ids[i]!, token: ((await res.json()) as { token: string }).token })
  }
  return out
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!

/** PAIRS senders on `sendOn`, their receivers on `receiveOn`, PER_SENDER messages each. */
async function messages(sendOn: Node, receiveOn: Node): Promise<{ perSec: number; p50: number; p99: number; count: number }> {
  const people = await users(sendOn.admin, `im${Date.now()}-`, PAIRS * 2)
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  const total = PAIRS * PER_SENDER
  let lastDelivery = 0
  let allDelivered!: () => void
  const done = new Promise<void>((r) => (allDelivered = r))
  const sockets: WebSocket[] = []
  const pairs: { ws: WebSocket; conversation: string; acks: Map<string, () => void> }[] = []
  for (let p = 0; p < PAIRS; p++) {
    const [sender, receiver] = [people[2 * p]!, people[2 * p + 1]!]
    const res = await fetch(`${sendOn.server.url}/api/plinth/im/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: sender.token },
      body: JSON.stringify({ kind: 'direct', user: receiver.id }),
    })
    const conversation = ((await res.json()) as { id: string }).id
    sockets.push(
      await connect(receiveOn.server.url, receiver.token, (f) => {
        if (f.type !== 'message') return
        const t = sentAt.get(f.clientId as string)
        if (t === undefined) return
        lastDelivery = performance.now()
        latencies.push(lastDelivery - t)
        if (latencies.length === total) allDelivered()
      }),
    )
    const acks = new Map<string, () => void>()
    const ws = await connect(sendOn.server.url, sender.token, (f) => {
      if (f.type === 'ack' || f.type === 'error') acks.get(f.ref as string)?.()
    })
    sockets.push(ws)
    pairs.push({ ws, conversation, acks })
  }
  const started = performance.now()
  await Promise.all(
    pairs.map(async ({ ws, conversation, acks }, p) => {
      for (let i = 0; i < PER_SENDER; i++) {
        const clientId = `p${p}-m${i}`
        const acked = new Promise<void>((r) => acks.set(clientId, r))
        sentAt.set(clientId, performance.now())
        ws.send(JSON.stringify({ type: 'send', ref: clientId, conversation, clientId, kind: 'text', body: { text: `message ${i} of sender ${p}` } }))
        await acked
        acks.delete(clientId)
      }
    }),
  )
  await Promise.race([done, sleep(60_000)])
  for (const ws of sockets) ws.terminate()
  const sorted = latencies.sort((a, b) => a - b)
  return { perSec: (latencies.length / (lastDelivery - started)) * 1000, p50: pct(sorted, 50), p99: pct(sorted, 99), count: latencies.length }
}

function messageFigures(r: Awaited<ReturnType<typeof messages>>, label: string): Figure[] {
  return [
    { name: `${label} messages/s`, value: r.perSec, unit: 'msg/s', notes: `${r.count} of ${PAIRS * PER_SENDER} delivered; ${PAIRS} senders, one message in flight each` },
    { name: `${label} delivery p50`, value: r.p50, unit: 'ms' },
    { name: `${label} delivery p99`, value: r.p99, unit: 'ms', reference: `${label} delivery p50` },
  ]
}

const idle: MeasuredScenario = {
  name: 'im-idle',
  group: 'im',
  description: 'memory of idle, authenticated IM WebSocket connections on one node (20,000 where the open-file limit allows), SQLite',
  measure: async () => {
    const count = Math.min(20_000, openFileLimit() - 500)
    const node = await start(await freshDb('sqlite'))
    try {
      const [user] = await users(node.admin, 'idle-', 1)
      const pid = node.server.pid!
      const warm = await Promise.all(Array.from({ length: 100 }, () => connect(node.server.url, user!.token)))
      for (const ws of warm) ws.terminate()
      await sleep(1000)
      const [rssBefore, heapBefore] = [rss(pid), await heapUsed(node)]
      const sockets: WebSocket[] = []
      // 100 handshakes at a time: a loaded machine answers a burst of thousands with 408s.
      for (let i = 0; i < count; i += 100) {
        sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => connect(node.server.url, user!.token)))))
      }
      await sleep(2000)
      const [rssAfter, heapAfter] = [rss(pid), await heapUsed(node)]
      for (const ws of sockets) ws.terminate()
      const MiB = 2 ** 20
      return [
        { name: 'connections', value: count, unit: 'sockets', notes: `open-file limit ${openFileLimit()}` },
        { name: 'RSS per connection', value: (rssAfter - rssBefore) / count, unit: 'bytes' },
        { name: 'heap per connection', value: (heapAfter - heapBefore) / count, unit: 'bytes', reference: 'RSS per connection' },
        { name: 'RSS baseline', value: rssBefore / MiB, unit: 'MiB', notes: 'after 100 connections opened and closed' },
        { name: `RSS, ${count} connections`, value: rssAfter / MiB, unit: 'MiB', reference: 'RSS baseline' },
      ] satisfies Figure[]
    } finally {
      await node.server.stop()
      await dropDatabases()
    }
  },
}

function oneNode(engine: Engine): MeasuredScenario {
  return {
    name: `im-messages-${engine}`,
    group: 'im',
    description: `messages end-to-end with persistence, one node, ${engine}: ${PAIRS} senders x ${PER_SENDER} messages`,
    skip: () => unavailable(engine),
    measure: async () => {
      const node = await start(await freshDb(engine))
      try {
        return messageFigures(await messages(node, node), engine)
      } finally {
        await node.server.stop()
        await dropDatabases()
      }
    },
  }
}

const nodes: MeasuredScenario = {
  name: 'im-messages-nodes',
  group: 'im',
  description: `messages end-to-end, PostgreSQL, senders on one node and receivers on another (through Redis): ${PAIRS} senders x ${PER_SENDER} messages`,
  skip: async () => (await unavailable('postgres')) ?? (await redisUnavailable()),
  measure: async () => {
    const db = await freshDb('postgres')
    const env = { PLINTH_REDIS: `redis://127.0.0.1:6379/14?prefix=plinth-bench-im-${process.pid}:` }
    const a = await start(db, env)
    let b: Node | undefined
    try {
      b = await start(db, env, false)
      return messageFigures(await messages(a, b), 'two nodes')
    } finally {
      await b?.server.stop()
      await a.server.stop()
      await dropDatabases()
    }
  },
}

export default [idle, oneNode('sqlite'), oneNode('postgres'), nodes]
