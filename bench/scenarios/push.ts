/**
 * Push (#16): sends per second to a local APNs (HTTP/2 over TLS, JWT checked on every request,
 * in a process of its own: bench/servers/apns.ts) for 100,000 registered iOS devices, through
 * `app.push.send` as app code calls it: one send, planned into 200 chunk jobs of 500 devices on the
 * SQLite job queue, run by this process's worker (4 chunks at once, 64 requests in flight per
 * chunk, one HTTP/2 session), with the per-device state written before and after each window.
 * The reference is a bare HTTP/2 client in the same process sending the same 100,000 requests
 * to the same server with the same 256 requests in flight and no queue, state or database.
 * Also reported: how long `send` took to answer (it must not grow with the audience), and the
 * peak RSS of this process above its level before the send.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:http2'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { importPKCS8, SignJWT } from 'jose'
import { loadConfig } from '../../src/config/load.ts'
import { openCore } from '../../src/core.ts'
import { createLogger } from '../../src/log.ts'
import { deviceId } from '../../src/push/devices.ts'
import { PUSH_DEVICES_TABLE } from '../../src/sql/migrations/0013-push.ts'
import { APNS_KEY_ID, APNS_TEAM } from '../../test/helpers/apns-server.ts'
import { ROOT } from '../lib/servers.ts'
import type { Figure, MeasuredScenario } from '../lib/types.ts'

const DEVICES = Number(process.env.BENCH_PUSH_DEVICES ?? 100_000)
const IN_FLIGHT = 256
const hex = (n: number) => 'd' + n.toString(16).padStart(63, '0')
const userId = (n: number) => `u${String(n).padStart(14, '0')}`

interface Apns {
  url: string
  keyFile: string
  certFile: string
  stop(): Promise<number>
}

async function startApnsProcess(): Promise<Apns> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'servers', 'apns.ts')], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT })
  const lines = createInterface({ input: child.stdout })
  const it = lines[Symbol.asyncIterator]()
  const first = await it.next()
  if (first.done) throw new Error('apns stand-in exited before listening')
  const info = JSON.parse(first.value) as { url: string; keyFile: string; certFile: string }
  return {
    ...info,
    async stop() {
      child.kill('SIGTERM')
      const last = await it.next()
      return last.done ? -1 : (JSON.parse(last.value) as { count: number }).count
    },
  }
}

/** The reference: the same requests from a bare HTTP/2 session, IN_FLIGHT at once. */
async function bare(apns: Apns): Promise<number> {
  const key = await importPKCS8(readFileSync(apns.keyFile, 'utf8'), 'ES256')
  const jwt = await new SignJWT({ iss: APNS_TEAM, iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', kid: APNS_KEY_ID }).sign(key)
  const session = connect(apns.url, { ca: readFileSync(apns.certFile, 'utf8') })
  const body = JSON.stringify({ aps: { alert: { title: 'Sale', body: 'Today only' } } })
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': `/3/device/${hex(i)}`, authorization: `bearer ${jwt}`, 'apns-topic': 'com.example.app', 'apns-push-type': 'alert', 'apns-priority': '10', 'content-type': 'application/json' })
      req.on('response', (h) => (h[':status'] === 200 ? undefined : reject(new Error(`HTTP ${h[':status']}`))))
      req.resume()
      req.on('end', resolve)
      req.on('error', reject)
      req.end(body)
    })
  const start = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < DEVICES) await one(next++)
  }))
  const perSec = DEVICES / ((performance.now() - start) / 1000)
  session.close()
  return perSec
}

async function plinth(apns: Apns): Promise<{ perSec: number; answerMs: number; peakMiB: number; baseMiB: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-push-'))
  const q = new URLSearchParams({ key: apns.keyFile, topic: 'com.example.app', endpoint: apns.url, ca: apns.certFile })
  const config = loadConfig({ cwd: dir, env: {}, overrides: { dir, logLevel: 'warn', queue: 'sql://?pollMs=20', push: `apns://${APNS_KEY_ID}:${APNS_TEAM}@?${q}` } })
  const core = await openCore(config, { logger: createLogger({ logLevel: 'warn' }) })
  try {
    const users = core.collections.getOrThrow('users')
    const now = Date.now()
    const db = core.sql.writer().db
    for (let i = 0; i < DEVICES; i += 500) {
      const rows = []
      for (let j = i; j < Math.min(i + 500, DEVICES); j++) {
        rows.push({ id: deviceId('ios', hex(j)), collectionId: users.id, recordId: userId(j), platform: 'ios', token: hex(j), topic: '', locale: 'en', appVersion: '1.0', active: 1, created: now, updated: now })
      }
      await db.insertInto(PUSH_DEVICES_TABLE).values(rows).execute()
    }
    const ids = Array.from({ length: DEVICES }, (_, i) => userId(i))
    global.gc?.()
    const baseMiB = process.memoryUsage().rss / 2 ** 20
    let peak = baseMiB
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss / 2 ** 20)), 50)
    core.jobs.startWorker()
    const start = performance.now()
    const { id } = await core.push.send({ users: ids, notification: { title: 'Sale', body: 'Today only' } })
    const answerMs = performance.now() - start
    for (;;) {
      const s = await core.push.status(id)
      if (s && s.planned && s.counts.sent + s.counts.failed + s.counts.invalid >= DEVICES) break
      // Seldom: the status is a count over the per-device rows, and SQLite runs it on this thread.
      await new Promise((r) => setTimeout(r, 1000))
    }
    const perSec = DEVICES / ((performance.now() - start) / 1000)
    clearInterval(sampler)
    return { perSec, answerMs, peakMiB: peak, baseMiB }
  } finally {
    await core.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const scenario: MeasuredScenario = {
  name: 'push-apns',
  description: `push.send to ${DEVICES} iOS devices through the job queue (SQLite) to a local HTTP/2 APNs; bare HTTP/2 client as reference`,
  async measure(): Promise<Figure[]> {
    const apns = await startApnsProcess()
    try {
      const ref = await bare(apns)
      const p = await plinth(apns)
      const received = await apns.stop()
      const notes = `${DEVICES} devices; APNs stand-in received ${received} requests in all (reference + Plinth)`
      return [
        { name: 'bare HTTP/2 client', value: Math.round(ref), unit: 'sends/s', notes: `${IN_FLIGHT} in flight, one session, no queue or state` },
        { name: 'Plinth push.send → APNs', value: Math.round(p.perSec), unit: 'sends/s', reference: 'bare HTTP/2 client', notes },
        { name: 'push.send answered in', value: Math.round(p.answerMs * 10) / 10, unit: 'ms', notes: 'stores the push and enqueues the plan job' },
        { name: 'peak RSS above start', value: Math.round(p.peakMiB - p.baseMiB), unit: 'MiB', notes: `start ${Math.round(p.baseMiB)} MiB, peak ${Math.round(p.peakMiB)} MiB` },
      ]
    } finally {
      await apns.stop().catch(() => -1)
    }
  },
}

export default scenario
