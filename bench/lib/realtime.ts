/**
 * What the realtime scenarios share: a `plinth serve` node with the bench superuser, raw SSE
 * streams (plain `http`, no SDK, so the client side stays light), and the fan-out timing.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { adminOn, QUIET, upsertSuperuser, type Admin } from './seed.ts'
import { startPlinth } from './servers.ts'
import type { RunningServer } from './types.ts'

/** A running node and its superuser. */
export interface Node {
  server: RunningServer
  admin: Admin
}

/**
 * `plinth serve` on `dbUrl` (logs at warn), with the bench superuser signed in. A second node on
 * the same database passes `upsert: false`: upserting again would revoke the first one's token.
 */
export async function startNode(dbUrl: string, env: Record<string, string> = {}, upsert = true): Promise<Node> {
  if (upsert) upsertSuperuser(dbUrl)
  const server = await startPlinth({ PLINTH_DB: dbUrl, ...QUIET, ...env })
  try {
    return { server, admin: await adminOn(server.url) }
  } catch (err) {
    await server.stop()
    throw err
  }
}

/** A process's resident memory in bytes (Linux `/proc`). */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`bench: no VmRSS for process ${pid}`)
  return Number(m[1]) * 1024
}

/** The node's V8 heap in use, in bytes, from its own metrics (`plinth_nodejs_heap_size_used_bytes`). */
export async function heapUsed(node: Node): Promise<number> {
  const res = await fetch(`${node.server.url}/api/metrics`, { headers: { authorization: node.admin.token } })
  const m = /^plinth_nodejs_heap_size_used_bytes (\S+)$/m.exec(await res.text())
  if (!m) throw new Error('bench: /api/metrics has no plinth_nodejs_heap_size_used_bytes')
  return Number(m[1])
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Why Redis cannot be used here, or undefined. */
export function redisUnavailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(6379, '127.0.0.1', () => {
      socket.end()
      resolve(undefined)
    })
    socket.on('error', () => resolve('Redis is not reachable on 127.0.0.1:6379'))
  })
}

/** One open stream: its client id, and when each event after PB_CONNECT arrived. */
export interface Stream {
  clientId: string
  received: number[]
  close(): void
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })

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

/** Opens `n` streams, 250 at a time. */
export async function openMany(base: string, n: number): Promise<Stream[]> {
  const out: Stream[] = []
  for (let i = 0; i < n; i += 250) out.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => openStream(base)))))
  return out
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export interface FanOut {
  p50: number
  p99: number
}

/**
 * Opens `subscribers` streams on `subscribeOn`, each subscribed to `collection/*` with its own
 * `x_user` header option (so each is its own rule check: a stand-in for as many signed-in owners
 * without as many password hashes), then creates `writes` records one after the other through
 * `writer` and times each from the create request's start (the commit is inside it) to the last
 * subscriber's receipt. Every write must reach every subscriber.
 */
export async function fanOut(o: { writer: Admin; subscribeOn: string; collection: string; subscribers: number; writes: number; body: (i: number) => object }): Promise<FanOut> {
  const streams = await openMany(o.subscribeOn, o.subscribers)
  try {
    for (let i = 0; i < streams.length; i += 250) {
      await Promise.all(
        streams.slice(i, i + 250).map(async (s, j) => {
          const topic = `${o.collection}/*?options=${encodeURIComponent(JSON.stringify({ headers: { x_user: `u${i + j}` } }))}`
          const res = await fetch(`${o.subscribeOn}/api/realtime`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientId: s.clientId, subscriptions: [topic] }) })
          if (res.status !== 204) throw new Error(`bench: subscribe answered ${res.status} ${await res.text()}`)
        }),
      )
    }
    const times: number[] = []
    for (let w = 0; w < o.writes; w++) {
      const t0 = performance.now()
      await o.writer.call('POST', `/api/collections/${o.collection}/records`, o.body(w))
      const deadline = Date.now() + 30_000
      while (streams.some((s) => s.received.length <= w)) {
        if (Date.now() > deadline) throw new Error(`bench: write ${w} did not reach every subscriber within 30 s`)
        await sleep(1)
      }
      times.push(Math.max(...streams.map((s) => s.received[w]!)) - t0)
    }
    times.sort((a, b) => a - b)
    return { p50: percentile(times, 50), p99: percentile(times, 99) }
  } finally {
    for (const s of streams) s.close()
    await sleep(500)
  }
}
