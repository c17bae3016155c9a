/**
 * PocketBase's hourly cleanups of `_otps` and `_mfas` (src/auth/auth-cleanup.ts): rows past their
 * collection's duration are deleted, live ones are kept, run as `POST /api/crons/{id}` runs them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MFAS, OTPS } from '../../src/records/collections/auth-system.ts'
import { systemRequest } from '../../src/records/record.ts'
import { toDbDate } from '../../src/records/model.ts'
import { engines } from '../helpers/engines.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

for (const { engine, skip } of await engines(['sqlite', 'postgres'])) {
  describe(`auth cleanup crons: ${engine}`, { skip }, () => {
    let t: TestApp
    let users: string
    let userId: string
    before(async () => {
      t = await startApp(engine)
      users = t.app.collections.get('users')!.id
      const user = await t.app.records.create('users', { email: 'c@example.com', password: 'password-123', passwordConfirm: 'password-123' }, systemRequest())
      userId = String(user.id)
    })
    after(() => t?.close())

    /** A row of `table` for the user, its `created` moved `ageSeconds` into the past. */
    const row = async (table: string, data: Record<string, unknown>, ageSeconds: number): Promise<string> => {
      const created = await t.app.records.create(table, { collectionRef: users, recordRef: userId, ...data }, systemRequest())
      const id = String(created.id)
      await t.app.sql.writer().db.updateTable(table).set({ created: toDbDate(new Date(Date.now() - ageSeconds * 1000)) }).where('id', '=', id).execute()
      return id
    }
    const ids = async (table: string) => (await t.app.sql.writer().db.selectFrom(table).select('id').execute()).map((r) => String(r.id)).sort()

    test('__pbOTPCleanup__ deletes codes older than the longer of otp.duration and phoneAuth.duration', async () => {
      const c = t.app.collections.get('users') as unknown as { otp: { duration: number }; phoneAuth: { duration: number } }
      const longest = Math.max(c.otp.duration, c.phoneAuth.duration)
      const stale = await row(OTPS, { password: 'code-1', sentTo: 'c@example.com' }, longest + 60)
      const live = await row(OTPS, { password: 'code-2', sentTo: 'c@example.com' }, longest - 60)
      assert.deepEqual(await ids(OTPS), [stale, live].sort())
      assert.equal(await t.app.jobs.runCron('__pbOTPCleanup__'), true)
      assert.deepEqual(await ids(OTPS), [live])
    })

    test('__pbMFACleanup__ deletes first factors older than mfa.duration', async () => {
      const c = t.app.collections.get('users') as unknown as { mfa: { duration: number } }
      const stale = await row(MFAS, { method: 'password' }, c.mfa.duration + 60)
      const live = await row(MFAS, { method: 'password' }, c.mfa.duration - 60)
      assert.deepEqual(await ids(MFAS), [stale, live].sort())
      assert.equal(await t.app.jobs.runCron('__pbMFACleanup__'), true)
      assert.deepEqual(await ids(MFAS), [live])
    })
  })
}
