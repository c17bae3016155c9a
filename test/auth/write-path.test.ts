/**
 * Auth writes go through the records service on every engine: the confirm endpoints and the
 * superuser functions fire the same hooks and commit events as any record write (as the server:
 * `request.system`), and the installer removal is a hook that runs in the superuser create's
 * own unit of work.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { rowBool, rowString } from '../../src/auth/records.ts'
import { createSuperuser, deleteSuperuser, INSTALLER_EMAIL, installLink, upsertSuperuser } from '../../src/auth/superusers.ts'
import { ApiError } from '../../src/errors.ts'
import type { MailMessage } from '../../src/mail/mail.ts'
import type { RecordChange } from '../../src/records/unit-of-work.ts'
import { engines } from '../helpers/engines.ts'
import { insertAuthRecord, startHarness, type Harness } from './harness.ts'

const base = '/api/collections'

function tokenIn(mail: MailMessage, path: string): string {
  const m = new RegExp(`/_/#/auth/${path}/([A-Za-z0-9._-]+)`).exec(mail.text ?? '')
  assert.ok(m, `no ${path} link in: ${mail.text}`)
  return m[1]!
}

for (const { engine, skip } of await engines()) {
  describe(`auth write path: ${engine}`, { skip }, () => {
    let h: Harness
    const commits: RecordChange[][] = []
    const updates: string[] = []
    const post = (url: string, payload: Record<string, unknown>, token?: string) =>
      h.http.inject({ method: 'POST', url: `${base}${url}`, payload, headers: token ? { authorization: token } : {} })
    const row = async (c: string, id: string) => (await h.engine.db.selectFrom(c).selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as Record<string, unknown>
    const brief = (c: RecordChange) => `${c.action} ${c.collection.name} ${String(c.record.email)}${c.request.system ? ' (system)' : ''}`

    before(async () => {
      h = await startHarness(engine)
      h.records.onCommit((changes) => void commits.push([...changes]))
      h.records.hooks.onRecordAfterUpdateSuccess((e) => void updates.push(`${e.collection.name} ${String(e.record.email)} verified=${String(e.record.verified)}`))
    })
    after(async () => h?.close())

    test('confirm-verification, -password-reset and -email-change are record updates: hooks and events fire, rules as before', async () => {
      const id = await insertAuthRecord(h, h.users, { email: 'carol@example.com', password: 'carol-password-1' })
      const keyBefore = rowString(await row('users', id), 'tokenKey')

      let mailed = h.mail.next()
      assert.equal((await post('/users/request-verification', { email: 'carol@example.com' })).statusCode, 204)
      commits.length = 0
      updates.length = 0
      assert.equal((await post('/users/confirm-verification', { token: tokenIn(await mailed, 'confirm-verification') })).statusCode, 204)
      assert.deepEqual(commits.map((c) => c.map(brief)), [['update users carol@example.com (system)']])
      assert.deepEqual(updates, ['users carol@example.com verified=true'])
      assert.equal(rowString(await row('users', id), 'tokenKey'), keyBefore, 'verifying alone keeps the sessions')

      mailed = h.mail.next()
      assert.equal((await post('/users/request-password-reset', { email: 'carol@example.com' })).statusCode, 204)
      const reset = tokenIn(await mailed, 'confirm-password-reset')
      commits.length = 0
      // The form's own length rule answers first, exactly as before.
      const short = await post('/users/confirm-password-reset', { token: reset, password: 'short', passwordConfirm: 'short' })
      assert.equal((short.json() as { data: Record<string, { code: string }> }).data.password?.code, 'validation_length_out_of_range')
      assert.equal((await post('/users/confirm-password-reset', { token: reset, password: 'carol-password-2', passwordConfirm: 'carol-password-2' })).statusCode, 204)
      assert.deepEqual(commits.map((c) => c.map(brief)), [['update users carol@example.com (system)']])
      const afterReset = rowString(await row('users', id), 'tokenKey')
      assert.notEqual(afterReset, keyBefore, 'a new password rotates the tokenKey')

      const login = await post('/users/auth-with-password', { identity: 'carol@example.com', password: 'carol-password-2' })
      assert.equal(login.statusCode, 200, login.body)
      const session = (login.json() as { token: string }).token
      assert.equal((await post('/users/request-email-change', { newEmail: 'carol2@example.com' }, session)).statusCode, 204)
      commits.length = 0
      const change = await post('/users/confirm-email-change', { token: tokenIn(h.mail.sent.at(-1)!, 'confirm-email-change'), password: 'carol-password-2' })
      assert.equal(change.statusCode, 204, change.body)
      assert.deepEqual(commits.map((c) => c.map(brief)), [['update users carol2@example.com (system)']])
      const moved = await row('users', id)
      assert.equal(rowBool(moved, 'verified'), true)
      assert.notEqual(rowString(moved, 'tokenKey'), afterReset, 'a new email rotates the tokenKey')
    })

    test('superusers: the installer is removed in the same commit as the first real superuser', async () => {
      const url = await installLink({ records: h.records, baseUrl: 'http://127.0.0.1:8090', log: { warn: () => {} } })
      assert.ok(url)
      commits.length = 0
      const id = await createSuperuser(h.records, 'first@example.com', 'first-password-1')
      assert.deepEqual(commits.map((c) => c.map(brief)), [['create _superusers first@example.com (system)', `delete _superusers ${INSTALLER_EMAIL} (system)`]])
      assert.equal(rowBool(await row('_superusers', id), 'verified'), true)

      commits.length = 0
      assert.equal(await upsertSuperuser(h.records, 'first@example.com', 'first-password-2'), 'updated')
      assert.deepEqual(commits.map((c) => c.map(brief)), [['update _superusers first@example.com (system)']])
      assert.equal(await deleteSuperuser(h.records, 'first@example.com').catch((e: ApiError) => e.message), "You can't delete the only existing superuser")
    })

    test('a failing superuser write fires no event and leaves nothing behind', async () => {
      h.records.hooks.onRecordCreate(async (e, next) => {
        await next()
        if (e.data.email === 'refused@example.com') throw new ApiError('bad_request', 'Not this one.')
      }, '_superusers')
      commits.length = 0
      await assert.rejects(createSuperuser(h.records, 'refused@example.com', 'refused-password-1'), /Not this one/)
      assert.deepEqual(commits, [])
      assert.equal(await h.engine.db.selectFrom('_superusers').select('id').where('email', '=', 'refused@example.com').executeTakeFirst(), undefined)
    })
  })
}
