/**
 * The record auth API through app.inject(), on every SQL engine: PocketBase's paths, bodies and
 * answers for auth-methods, auth-with-password, auth-refresh and the three mail flows.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { decodeJwt } from 'jose'
import { readUnverified } from '../../src/auth/index.ts'
import { rowBool, rowString } from '../../src/auth/records.ts'
import type { MailMessage } from '../../src/mail/mail.ts'
import { engines } from '../helpers/engines.ts'
import { insertAuthRecord, startHarness, type Harness } from './harness.ts'

const base = '/api/collections'
type Json = Record<string, unknown>

function tokenIn(mail: MailMessage, path: string): string {
  const m = new RegExp(`/_/#/auth/${path}/([A-Za-z0-9._-]+)`).exec(mail.text ?? '')
  assert.ok(m, `no ${path} link in: ${mail.text}`)
  return m[1]!
}

for (const { engine, skip } of await engines()) {
  describe(`record auth API: ${engine}`, { skip }, () => {
    let h: Harness
    let aliceId: string

    const post = (url: string, payload?: Json, token?: string) =>
      h.http.inject({ method: 'POST', url: `${base}${url}`, payload, headers: token ? { authorization: token } : {} })
    const login = async (email: string, password: string, collection = 'users') => {
      const res = await post(`/${collection}/auth-with-password`, { identity: email, password })
      return { res, body: res.json() as { token: string; record: Json } & Json }
    }
    const row = async (id: string) => (await h.engine.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as Json

    before(async () => {
      h = await startHarness(engine)
      aliceId = await insertAuthRecord(h, h.users, { email: 'alice@example.com', password: 'alice-password-1' })
      await insertAuthRecord(h, h.superusers, { email: 'root@example.com', password: 'root-password-1', verified: true })
    })
    after(async () => h?.close())

    test('auth-methods: password on with its identity fields, the rest off; 404 for unknown collections', async () => {
      const res = await h.http.inject({ method: 'GET', url: `${base}/users/auth-methods` })
      assert.equal(res.statusCode, 200)
      const body = res.json() as Json
      assert.deepEqual(body.password, { enabled: true, identityFields: ['email'] })
      assert.deepEqual(body.oauth2, { enabled: false, providers: [] })
      assert.equal(body.emailPassword, true)
      const missing = await h.http.inject({ method: 'GET', url: `${base}/nope/auth-methods` })
      assert.equal(missing.statusCode, 404)
      assert.equal((missing.json() as Json).message, 'Missing or invalid auth collection context.')
    })

    test('auth-with-password: {token, record}, hidden fields stripped, email shown', async () => {
      const { res, body } = await login('alice@example.com', 'alice-password-1')
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(body.record.id, aliceId)
      assert.equal(body.record.email, 'alice@example.com')
      assert.equal(body.record.collectionName, 'users')
      assert.ok(!('password' in body.record) && !('tokenKey' in body.record))
      const payload = decodeJwt(body.token)
      assert.equal(payload.type, 'auth')
      assert.equal(payload.id, aliceId)
      assert.equal(payload.collectionId, h.users.id)
      assert.equal(payload.refreshable, true)
    })

    test('bad credentials: one answer whether the email or the password was wrong', async () => {
      const wrongPassword = await login('alice@example.com', 'nope-nope-nope')
      const wrongEmail = await login('nobody@example.com', 'alice-password-1')
      for (const r of [wrongPassword, wrongEmail]) {
        assert.equal(r.res.statusCode, 400)
        assert.deepEqual(r.body, { status: 400, message: 'Failed to authenticate.', data: {} })
      }
      // Case-insensitive lookups never bypass the password.
      assert.equal((await login('ALICE@example.com', 'nope-nope-nope')).res.statusCode, 400)
    })

    test('body validation: PocketBase error shape; __proto__ and constructor keys are ignored', async () => {
      const res = await post('/users/auth-with-password', { password: '' })
      assert.equal(res.statusCode, 400)
      const body = res.json() as { data: Record<string, { code: string }> }
      assert.equal(body.data.identity?.code, 'validation_required')
      assert.equal(body.data.password?.code, 'validation_required')
      const bad = await post('/users/auth-with-password', { identity: 'alice@example.com', password: 'x', identityField: 'name' })
      assert.equal((bad.json() as { data: Record<string, { code: string }> }).data.identityField?.code, 'validation_in_invalid')
      const poisoned = await h.http.inject({
        method: 'POST',
        url: `${base}/users/auth-with-password`,
        headers: { 'content-type': 'application/json' },
        payload: '{"identity":"alice@example.com","password":"alice-password-1","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
      })
      assert.equal(poisoned.statusCode, 200, poisoned.body)
      assert.equal(({} as Json).admin, undefined)
    })

    test('authRule: null lets nobody in (but superusers), "" lets anyone in; passwordAuth off is 403', async () => {
      const original = { rule: h.users.authRule, enabled: h.users.passwordAuth.enabled }
      try {
        h.users.authRule = null
        const denied = await login('alice@example.com', 'alice-password-1')
        assert.equal(denied.res.statusCode, 403)
        assert.equal(denied.body.message, "The request doesn't satisfy the collection requirements to authenticate.")
        h.users.authRule = ''
        h.users.passwordAuth.enabled = false
        assert.equal((await login('alice@example.com', 'alice-password-1')).res.statusCode, 403)
      } finally {
        h.users.authRule = original.rule
        h.users.passwordAuth.enabled = original.enabled
      }
    })

    test('authRule expression: checked against the record after the credentials', async () => {
      const original = h.users.authRule
      try {
        h.users.authRule = 'verified = true'
        const carol = await insertAuthRecord(h, h.users, { email: 'carol@example.com', password: 'carol-password-1' })
        assert.equal((await login('carol@example.com', 'carol-password-1')).res.statusCode, 403)
        await h.engine.db.updateTable('users').set({ verified: 1 }).where('id', '=', carol).execute()
        assert.equal((await login('carol@example.com', 'carol-password-1')).res.statusCode, 200)
      } finally {
        h.users.authRule = original
      }
    })

    test('_superusers authenticate at their own collection path', async () => {
      const { res, body } = await login('root@example.com', 'root-password-1', '_superusers')
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(body.record.collectionName, '_superusers')
      assert.equal(decodeJwt(body.token).collectionId, h.superusers.id)
      // The SDK checks this id to tell superuser tokens apart.
      assert.equal(h.superusers.id, 'pbc_3142635823')
    })

    test('auth-refresh: a new token for a valid one (also with no body, as the SDK sends it); 401 without; 403 across collections', async () => {
      const { body } = await login('alice@example.com', 'alice-password-1')
      const res = await h.http.inject({
        method: 'POST',
        url: `${base}/users/auth-refresh`,
        headers: { authorization: `Bearer ${body.token}`, 'content-type': 'application/json' },
      })
      assert.equal(res.statusCode, 200, res.body)
      const refreshed = res.json() as { token: string; record: Json }
      assert.equal(refreshed.record.id, aliceId)
      assert.equal(readUnverified(refreshed.token)?.id, aliceId)
      assert.equal((await post('/users/auth-refresh')).statusCode, 401)
      assert.equal((await post('/users/auth-refresh', {}, 'garbage.token.here')).statusCode, 401)
      const root = await login('root@example.com', 'root-password-1', '_superusers')
      assert.equal((await post('/users/auth-refresh', {}, root.body.token)).statusCode, 403)
    })

    test('password reset: 204 always, a mail with a link, new password works, old tokens and the link die', async () => {
      const before = h.mail.sent.length
      assert.equal((await post('/users/request-password-reset', { email: 'nobody@example.com' })).statusCode, 204)
      const { body: session } = await login('alice@example.com', 'alice-password-1')
      const mailed = h.mail.next()
      assert.equal((await post('/users/request-password-reset', { email: 'alice@example.com' })).statusCode, 204)
      const mail = await mailed
      assert.equal(h.mail.sent.length, before + 1, 'no mail for an unknown address')
      assert.deepEqual(mail.to, [{ address: 'alice@example.com' }])
      const token = tokenIn(mail, 'confirm-password-reset')
      // A second request within the window sends nothing more.
      assert.equal((await post('/users/request-password-reset', { email: 'alice@example.com' })).statusCode, 204)

      const mismatch = await post('/users/confirm-password-reset', { token, password: 'new-password-22', passwordConfirm: 'other' })
      assert.equal((mismatch.json() as { data: Record<string, { code: string }> }).data.passwordConfirm?.code, 'validation_values_mismatch')
      const ok = await post('/users/confirm-password-reset', { token, password: 'new-password-22', passwordConfirm: 'new-password-22' })
      assert.equal(ok.statusCode, 204, ok.body)
      assert.equal(h.mail.sent.length, before + 1)

      assert.equal((await login('alice@example.com', 'alice-password-1')).res.statusCode, 400)
      assert.equal((await login('alice@example.com', 'new-password-22')).res.statusCode, 200)
      assert.equal((await post('/users/auth-refresh', {}, session.token)).statusCode, 401, 'tokens from before the change are revoked')
      const again = await post('/users/confirm-password-reset', { token, password: 'x-password-33', passwordConfirm: 'x-password-33' })
      assert.equal((again.json() as { data: Record<string, { code: string }> }).data.token?.code, 'validation_invalid_token')
      // The link proved control of the address: the account is now verified.
      assert.equal(rowBool(await row(aliceId), 'verified'), true)
    })

    test('verification: mail with link, confirm marks verified; superusers are refused', async () => {
      const bobId = await insertAuthRecord(h, h.users, { email: 'bob@example.com', password: 'bob-password-1' })
      const mailed = h.mail.next()
      assert.equal((await post('/users/request-verification', { email: 'bob@example.com' })).statusCode, 204)
      const token = tokenIn(await mailed, 'confirm-verification')
      assert.equal(readUnverified(token)?.email, 'bob@example.com')
      const res = await post('/users/confirm-verification', { token })
      assert.equal(res.statusCode, 204, res.body)
      assert.equal(rowBool(await row(bobId), 'verified'), true)
      assert.equal((await post('/_superusers/request-verification', { email: 'root@example.com' })).statusCode, 400)
      const invalid = await post('/users/confirm-verification', { token: 'not-a-token' })
      assert.equal(invalid.statusCode, 400)
      const wrongCollection = await post('/_superusers/confirm-verification', { token })
      assert.equal(wrongCollection.statusCode, 400)
    })

    test('email change: needs auth, mails the new address, confirm with password moves the email', async () => {
      const { body } = await login('alice@example.com', 'new-password-22')
      assert.equal((await post('/users/request-email-change', { newEmail: 'alice2@example.com' })).statusCode, 401)
      const taken = await post('/users/request-email-change', { newEmail: 'bob@example.com' }, body.token)
      assert.equal((taken.json() as { data: Record<string, { code: string }> }).data.newEmail?.code, 'validation_invalid_new_email')
      const res = await post('/users/request-email-change', { newEmail: 'alice2@example.com' }, body.token)
      assert.equal(res.statusCode, 204, res.body)
      const mail = h.mail.sent.at(-1)!
      assert.deepEqual(mail.to, [{ address: 'alice2@example.com' }])
      const token = tokenIn(mail, 'confirm-email-change')
      const wrongPw = await post('/users/confirm-email-change', { token, password: 'wrong-password' })
      assert.equal((wrongPw.json() as { data: Record<string, { code: string }> }).data.password?.code, 'validation_invalid_password')
      assert.equal((await post('/users/confirm-email-change', { token, password: 'new-password-22' })).statusCode, 204)
      assert.equal(rowString(await row(aliceId), 'email'), 'alice2@example.com')
      assert.equal((await login('alice2@example.com', 'new-password-22')).res.statusCode, 200)
      assert.equal((await post('/users/auth-refresh', {}, body.token)).statusCode, 401, 'an email change revokes older tokens')
    })
  })
}
