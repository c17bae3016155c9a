/**
 * A push survives its worker: 3,000 devices in 6 chunks, a `plinth worker` process killed
 * (SIGKILL) in the middle of sending, a second worker finishing the job once the leases run out.
 * The local APNs counts what it received per token: no device gets the push twice, every device
 * is sent or reported unknown (claimed by the dead worker, maybe delivered), and the unknown ones
 * are at most what was in flight. Also: a device left `retry` by a 503 is the only one sent again
 * when the queue reruns its chunk.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { PUSH_DEVICES_TABLE } from '../../src/sql/migrations/0013-push.ts'
import { deviceId } from '../../src/push/devices.ts'
import { WINDOW } from '../../src/push/send-chunk.ts'
import type { PushStatus } from '../../src/push/service.ts'
import { APNS_KEY_ID, APNS_TEAM, startApns, type ApnsServer } from '../helpers/apns-server.ts'
import { collect, startCli } from '../helpers/cli.ts'

const DEVICES = 3000
let dir: string
let apns: ApnsServer
let app: Plinth
let env: Record<string, string>
const hex = (n: number) => 'c' + n.toString(16).padStart(63, '0')

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plinth-push-resume-'))
  apns = await startApns(dir)
  const q = new URLSearchParams({ key: apns.keyFile, topic: 'com.example.app', endpoint: apns.url, ca: apns.cert.certFile })
  env = {
    PLINTH_DIR: dir,
    PLINTH_PUSH: `apns://${APNS_KEY_ID}:${APNS_TEAM}@?${q}`,
    PLINTH_QUEUE: 'sql://?pollMs=50&leaseMs=1500',
    PLINTH_LOG_LEVEL: 'warn',
    PLINTH_SHUTDOWN_TIMEOUT: '100',
  }
  app = await createPlinth({ config: { cwd: dir, env, overrides: { logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
  const users = app.collections.getOrThrow('users')
  const now = Date.now()
  const rows = Array.from({ length: DEVICES }, (_, i) => ({
    id: deviceId('ios', hex(i)), collectionId: users.id, recordId: `u${String(i).padStart(14, '0')}`, platform: 'ios', token: hex(i),
    topic: '', locale: 'en', appVersion: '1.0', active: 1, created: now, updated: now,
  }))
  for (let i = 0; i < rows.length; i += 200) await app.sql.writer().db.insertInto(PUSH_DEVICES_TABLE).values(rows.slice(i, i + 200)).execute()
})
after(async () => {
  await app?.stop()
  await apns?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function until(id: string, done: (s: PushStatus) => boolean, what: string): Promise<PushStatus> {
  for (let i = 0; i < 2400; i++) {
    const s = await app.push.status(id)
    if (s && done(s)) return s
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`push ${id}: ${what} did not happen: ${JSON.stringify(await app.push.status(id))}`)
}

test('a worker killed mid-send: the next one finishes, no device gets the push twice', async (t) => {
  apns.delayMs = 3
  apns.seen.length = 0
  const userIds = Array.from({ length: DEVICES }, (_, i) => `u${String(i).padStart(14, '0')}`)
  const { id } = await app.push.send({ users: userIds, notification: { title: 'Sale', body: 'Today only' } })
  const first = startCli(['worker'], env, dir)
  const firstDone = collect(first)
  // Kill it once it is well into the sending, but not done.
  for (let i = 0; i < 1200 && apns.count < 800; i++) await new Promise((r) => setTimeout(r, 25))
  const atKill = apns.count
  first.kill('SIGKILL')
  const r = await firstDone
  assert.equal(r.signal, 'SIGKILL', r.stderr)
  assert.ok(atKill >= 800 && atKill < DEVICES, `killed mid-run (APNs had ${atKill} of ${DEVICES})`)
  const second = startCli(['worker'], env, dir)
  const secondDone = collect(second)
  try {
    await until(id, (x) => x.planned && x.chunks === DEVICES / 500 && x.counts.sent + x.counts.unknown === DEVICES, 'finishing on the second worker')
    // Every chunk job finished (a window in flight also counts as unknown until it is recorded).
    for (let i = 0; i < 1200; i++) {
      const c = await app.jobs.counts()
      const busy = ['plinth.push.plan', 'plinth.push.send'].reduce((n, name) => n + (c[name]?.waiting ?? 0) + (c[name]?.active ?? 0) + (c[name]?.delayed ?? 0), 0)
      if (!busy) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const s = (await app.push.status(id))!
    assert.equal(s.counts.sent + s.counts.unknown, DEVICES)
    t.diagnostic(`killed at ${atKill} APNs requests; then sent ${s.counts.sent}, unknown ${s.counts.unknown}, APNs saw ${apns.seen.length} requests for ${new Set(apns.seen.map((p) => p.token)).size} tokens`)
    const perToken = new Map<string, number>()
    for (const p of apns.seen) perToken.set(p.token, (perToken.get(p.token) ?? 0) + 1)
    const twice = [...perToken].filter(([, n]) => n > 1)
    assert.deepEqual(twice, [], 'no token received the push twice')
    assert.equal(s.counts.retry + s.counts.failed + s.counts.invalid, 0)
    // The unknown ones are those claimed by the dead worker: at most two windows per running chunk.
    assert.ok(s.counts.unknown <= 2 * 4 * WINDOW, `unknown ${s.counts.unknown}`)
    assert.ok(perToken.size >= s.counts.sent && perToken.size <= DEVICES)
  } finally {
    second.kill('SIGTERM')
    await secondDone
  }
})

test('a device left to retry (503 past the engine retries) is the only one sent again when the chunk reruns', async () => {
  apns.delayMs = 0
  apns.seen.length = 0
  // Device 5 answers 503 four times (the first try and the engine's three retries), then 200.
  let tries = 0
  apns.reply.set(hex(5), () => (++tries <= 4 ? { status: 503, reason: 'ServiceUnavailable' } : { status: 200 }))
  const userIds = Array.from({ length: 10 }, (_, i) => `u${String(i).padStart(14, '0')}`)
  app.jobs.startWorker()
  const { id } = await app.push.send({ users: userIds, notification: { body: 'retry me' } })
  const s = await until(id, (x) => x.counts.sent === 10, 'the rerun chunk delivering device 5')
  assert.deepEqual(s.counts, { sent: 10, invalid: 0, failed: 0, retry: 0, unknown: 0 })
  const counts = new Map<string, number>()
  for (const p of apns.seen) counts.set(p.token, (counts.get(p.token) ?? 0) + 1)
  assert.equal(counts.get(hex(5)), 5)
  for (let i = 0; i < 10; i++) if (i !== 5) assert.equal(counts.get(hex(i)), 1, `device ${i} once`)
})
