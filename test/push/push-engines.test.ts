/**
 * The push tables on every SQL engine: the device upsert (ON CONFLICT on SQLite and PostgreSQL,
 * ON DUPLICATE KEY on MariaDB) moving a token between users, the per-device states, the status
 * counts and deactivation, with the log and a local APNs as engines; and the plan and send jobs on
 * BullMQ as well as on the SQL queue.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { PushStatus } from '../../src/push/service.ts'
import { APNS_KEY_ID, APNS_TEAM, startApns, type ApnsServer } from '../helpers/apns-server.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { engines, type EngineName } from '../helpers/engines.ts'
import { adminRedis, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix } from '../helpers/redis.ts'

const hex = (n: number) => 'e' + n.toString(16).padStart(63, '0')

const prefix = testPrefix()
const bull = new URL(REDIS_TEST_URL)
bull.searchParams.set('prefix', prefix)
const cases: { name: string; engine: EngineName; skip: string | false; queue: string }[] = [
  ...(await engines()).map((e) => ({ name: `${e.engine}, SQL queue`, ...e, queue: 'sql://?pollMs=50' })),
  { name: 'sqlite, BullMQ queue', engine: 'sqlite', skip: (await redisSkip()) ?? false, queue: bull.toString() },
]
after(async () => {
  if (cases.at(-1)!.skip) return
  const admin = await adminRedis()
  await deleteKeys(admin, prefix)
  await admin.quit()
})

for (const { name, engine, skip, queue } of cases) {
  describe(`push on ${name}`, { skip }, () => {
    let dir: string
    let apns: ApnsServer
    let t: TestApp
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-push-eng-'))
      apns = await startApns(dir)
      const q = new URLSearchParams({ key: apns.keyFile, topic: 'com.example.app', endpoint: apns.url, ca: apns.cert.certFile })
      t = await startApp(engine, { push: `log://,apns://${APNS_KEY_ID}:${APNS_TEAM}@?${q}`, queue })
    })
    after(async () => {
      await t?.close()
      await apns?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    test('register, move, send, deactivate, count', async () => {
      const ids: string[] = []
      const tokens: string[] = []
      for (const email of ['a@example.com', 'b@example.com']) {
        const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'password-123', passwordConfirm: 'password-123' })) as { id: string }
        ids.push(rec.id)
        tokens.push(await t.login('users', email, 'password-123'))
      }
      const reg = async (who: number, n: number) => {
        const r = await t.call('POST', '/api/plinth/devices/push', { token: tokens[who], body: { platform: 'ios', token: hex(n), locale: 'de-DE' } })
        assert.equal(r.statusCode, 200, r.body)
        return r.json<{ id: string }>().id
      }
      const d1 = await reg(0, 1)
      await reg(0, 2)
      await reg(0, 1)
      assert.equal((await t.call('GET', '/api/plinth/devices/push', { token: tokens[0] })).json<unknown[]>().length, 2)
      assert.equal(await reg(1, 1), d1, 'the token moved')
      assert.equal((await t.call('GET', '/api/plinth/devices/push', { token: tokens[0] })).json<unknown[]>().length, 1)
      await reg(1, 3)
      apns.reply.set(hex(3), { status: 400, reason: 'BadDeviceToken' })
      t.app.jobs.startWorker()
      const { id } = await t.app.push.send({ query: { filter: '' }, notification: { body: 'everyone' } })
      let s: PushStatus | undefined
      for (let i = 0; i < 400; i++) {
        s = await t.app.push.status(id)
        if (s?.planned && s.counts.sent + s.counts.invalid === 3) break
        await new Promise((r) => setTimeout(r, 25))
      }
      assert.deepEqual(s?.counts, { sent: 2, invalid: 1, failed: 0, retry: 0, unknown: 0 })
      assert.deepEqual(apns.seen.map((x) => x.token).sort(), [hex(1), hex(2), hex(3)])
      const bobs = (await t.call('GET', '/api/plinth/devices/push', { token: tokens[1] })).json<{ token: string; active: boolean }[]>()
      assert.deepEqual(bobs.map((d) => [d.token, d.active]).sort(), [[hex(1), true], [hex(3), false]])
    })
  })
}
