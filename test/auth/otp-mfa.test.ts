/**
 * OTP, MFA, login alerts and impersonation against a listening Plinth on every engine: the
 * PocketBase JS SDK for the flows an app runs, `inject` scenarios for what an attacker tries.
 * No worker runs, so built-in mails stay in the queue, where the tests read them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { MAIL_JOB } from '../../src/auth/mail-queue.ts'
import { createLogger } from '../../src/log.ts'
import type { MailMessage } from '../../src/mail/mail.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

interface Res {
  status: number
  body: Record<string, unknown>
}

for (const { engine, skip } of await engines()) {
  describe(`OTP, MFA, alerts, impersonation: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let dir: string
    let app: Plinth
    let url: string
    let su: string

    const call = async (method: string, u: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> => {
      const res = await app.http.inject({ method: method as 'POST', url: u, headers, ...(body === undefined ? {} : { payload: body as object }) })
      return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {} }
    }
    const patchUsers = async (options: Record<string, unknown>) => {
      const res = await call('PATCH', '/api/collections/users', options, { authorization: su })
      assert.equal(res.status, 200, JSON.stringify(res.body))
    }
    /** The queued built-in mails to `to`, oldest first. */
    const mailsTo = async (to: string): Promise<MailMessage[]> => {
      const jobs = await app.jobs.list(MAIL_JOB, 'waiting', 1000)
      return jobs
        .sort((a, b) => a.created - b.created)
        .map((j) => j.data as MailMessage)
        .filter((m) => m.to[0]?.address === to)
    }
    const lastCode = async (to: string): Promise<string> => {
      const mails = await mailsTo(to)
      const code = /<strong>(\d+)<\/strong>/.exec(mails.at(-1)?.html ?? '')?.[1]
      assert.ok(code, `no OTP mail to ${to}`)
      return code
    }
    const newUser = async (email: string, verified = false): Promise<string> => {
      const res = await call('POST', '/api/collections/users/records', { email, password: 'password-123', passwordConfirm: 'password-123', verified }, { authorization: su })
      assert.equal(res.status, 200, JSON.stringify(res.body))
      return String(res.body.id)
    }

    before(async () => {
      testDb = await createTestDb(engine)
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-otp-'))
      app = await createPlinth({
        config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent' } },
        logger: createLogger({ logLevel: 'silent' }),
      })
      url = await app.start()
      await createSuperuser(app.records, 'root@example.com', 'root-password-1')
      const login = await call('POST', '/api/collections/_superusers/auth-with-password', { identity: 'root@example.com', password: 'root-password-1' })
      su = String(login.body.token)
      await patchUsers({ otp: { enabled: true, length: 6 } })
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('auth-methods reports OTP and MFA as configured', async () => {
      const res = await call('GET', '/api/collections/users/auth-methods')
      assert.deepEqual(res.body.otp, { enabled: true, duration: 180 })
      assert.deepEqual(res.body.mfa, { enabled: false, duration: 0 })
      const closed = await call('POST', '/api/collections/_superusers/request-otp', { email: 'root@example.com' })
      assert.equal(closed.status, 403)
    })

    test('SDK: requestOTP + authWithOTP; the code verifies the address and replaces the password', async () => {
      const id = await newUser('otp@example.com')
      const pb = new PocketBase(url)
      const { otpId } = await pb.collection('users').requestOTP('otp@example.com')
      assert.match(otpId, /^[a-z0-9]{15}$/)
      const mail = (await mailsTo('otp@example.com')).at(-1)!
      assert.equal(mail.subject, 'OTP for Plinth')
      const auth = await pb.collection('users').authWithOTP(otpId, await lastCode('otp@example.com'))
      assert.equal(auth.record.id, id)
      assert.equal(auth.record.verified, true)
      assert.equal(pb.authStore.isValid, true)
      // PocketBase's guard against pre-registered accounts: the old password no longer works.
      const old = await call('POST', '/api/collections/users/auth-with-password', { identity: 'otp@example.com', password: 'password-123' })
      assert.equal(old.status, 400)
    })

    test('an unknown address gets the same answer and no mail', async () => {
      await newUser('known@example.com', true)
      const known = await call('POST', '/api/collections/users/request-otp', { email: 'known@example.com' })
      const unknown = await call('POST', '/api/collections/users/request-otp', { email: 'nobody@example.com' })
      assert.equal(unknown.status, known.status)
      assert.deepEqual(Object.keys(unknown.body), Object.keys(known.body))
      assert.match(String(unknown.body.otpId), /^[a-z0-9]{15}$/)
      assert.equal((await mailsTo('nobody@example.com')).length, 0)
      const tried = await call('POST', '/api/collections/users/auth-with-otp', { otpId: unknown.body.otpId, password: '123456' })
      assert.deepEqual([tried.status, tried.body.message], [400, 'Invalid or expired OTP'])
    })

    test('a used code cannot be replayed; an expired one is refused', async () => {
      await newUser('replay@example.com', true)
      const { body } = await call('POST', '/api/collections/users/request-otp', { email: 'replay@example.com' })
      const code = await lastCode('replay@example.com')
      assert.equal((await call('POST', '/api/collections/users/auth-with-otp', { otpId: body.otpId, password: code })).status, 200)
      const again = await call('POST', '/api/collections/users/auth-with-otp', { otpId: body.otpId, password: code })
      assert.deepEqual([again.status, again.body.message], [400, 'Invalid or expired OTP'])

      const fresh = await call('POST', '/api/collections/users/request-otp', { email: 'replay@example.com' })
      const freshCode = await lastCode('replay@example.com')
      await app.sql.primary.db.updateTable('_otps').set({ created: '2000-01-01 00:00:00.000Z' }).where('id', '=', String(fresh.body.otpId)).execute()
      const late = await call('POST', '/api/collections/users/auth-with-otp', { otpId: fresh.body.otpId, password: freshCode })
      assert.deepEqual([late.status, late.body.message], [400, 'Invalid or expired OTP'])
    })

    test('wrong codes are bounded per record: then 429, even for the right one', async () => {
      await newUser('guess@example.com', true)
      const { body } = await call('POST', '/api/collections/users/request-otp', { email: 'guess@example.com' })
      const code = await lastCode('guess@example.com')
      const wrong = code === '000000' ? '111111' : '000000'
      for (let i = 0; i < 5; i++) assert.equal((await call('POST', '/api/collections/users/auth-with-otp', { otpId: body.otpId, password: wrong })).status, 400)
      const locked = await call('POST', '/api/collections/users/auth-with-otp', { otpId: body.otpId, password: code })
      assert.deepEqual([locked.status, locked.body.message], [429, 'Too many attempts, please try again later with a new OTP.'])
      // Stored hashed: the code itself is nowhere in the table.
      const rows = await app.sql.primary.db.selectFrom('_otps').select('password').execute()
      assert.ok(rows.every((r) => !String(r.password).includes(code)))
    })

    test('the codes are hidden from their owner through the records API', async () => {
      const pb = new PocketBase(url)
      await newUser('owner@example.com', true)
      await pb.collection('users').requestOTP('owner@example.com')
      await pb.collection('users').authWithPassword('owner@example.com', 'password-123')
      const mine = await pb.collection('_otps').getFullList()
      assert.equal(mine.length, 1)
      assert.equal(mine[0]!.password, undefined)
      assert.equal(mine[0]!.sentTo, undefined)
    })

    test('login alerts: a new fingerprint after the first sign-in mails the owner once', async () => {
      await newUser('alert@example.com', true)
      const login = (agent: string) => call('POST', '/api/collections/users/auth-with-password', { identity: 'alert@example.com', password: 'password-123' }, { 'user-agent': agent })
      assert.equal((await login('agent-a')).status, 200)
      assert.equal((await mailsTo('alert@example.com')).length, 0, 'the first sign-in is not alerted')
      assert.equal((await login('agent-b')).status, 200)
      assert.equal((await login('agent-b')).status, 200)
      const mails = await mailsTo('alert@example.com')
      assert.equal(mails.length, 1)
      assert.equal(mails[0]!.subject, 'Login from a new location')
      assert.match(mails[0]!.html, /agent-b/)
      const origins = await app.sql.primary.db.selectFrom('_authOrigins').select('fingerprint').execute()
      assert.equal(origins.filter((o) => /^[0-9a-f]{32}$/.test(String(o.fingerprint))).length, origins.length)
    })

    test('SDK: MFA answers 401 with mfaId after the password, then OTP completes it', async () => {
      await patchUsers({ mfa: { enabled: true, duration: 600 } })
      try {
        await newUser('mfa@example.com', true)
        const pb = new PocketBase(url)
        const first = await pb.collection('users').authWithPassword('mfa@example.com', 'password-123').then(
          () => assert.fail('signed in with one factor'),
          (err: ClientResponseError) => err,
        )
        assert.equal(first.status, 401)
        const mfaId = String(first.response.mfaId)
        assert.match(mfaId, /^[a-z0-9]{15}$/)
        assert.equal(pb.authStore.isValid, false)
        // The same method twice is not two factors.
        const twice = await call('POST', '/api/collections/users/auth-with-password', { identity: 'mfa@example.com', password: 'password-123', mfaId })
        assert.deepEqual([twice.status, twice.body.message], [400, 'A different authentication method is required.'])
        const { otpId } = await pb.collection('users').requestOTP('mfa@example.com')
        const auth = await pb.collection('users').authWithOTP(otpId, await lastCode('mfa@example.com'), { mfaId })
        assert.equal(auth.record.email, 'mfa@example.com')
        // With MFA on, an OTP sign-in keeps the password.
        const reuse = await call('POST', '/api/collections/users/auth-with-password', { identity: 'mfa@example.com', password: 'password-123', mfaId })
        assert.deepEqual([reuse.status, reuse.body.message], [400, 'Invalid or expired MFA session.'])
        // mfa.rule picks whom it applies to.
        await patchUsers({ mfa: { enabled: true, duration: 600, rule: "email = 'someone-else@example.com'" } })
        assert.equal((await call('POST', '/api/collections/users/auth-with-password', { identity: 'mfa@example.com', password: 'password-123' })).status, 200)
      } finally {
        await patchUsers({ mfa: { enabled: false, rule: '' } })
      }
    })

    test('SDK: impersonate gives superusers a token auth-refresh does not renew; others get 403', async () => {
      const id = await newUser('imp@example.com', true)
      const admin = new PocketBase(url)
      await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
      const as = await admin.collection('users').impersonate(id, 3600)
      assert.equal(as.authStore.record?.id, id)
      const token = as.authStore.token
      const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { refreshable: boolean; exp: number }
      assert.equal(payload.refreshable, false)
      assert.ok(payload.exp <= Date.now() / 1000 + 3601)
      const refreshed = await as.collection('users').authRefresh()
      assert.equal(refreshed.token, token)
      const user = await call('POST', `/api/collections/users/impersonate/${id}`, {}, { authorization: token })
      assert.equal(user.status, 403)
      assert.equal((await call('POST', `/api/collections/users/impersonate/${id}`, {})).status, 403)
      assert.equal((await call('POST', '/api/collections/users/impersonate/nope', {}, { authorization: su })).status, 404)
      assert.equal((await call('POST', `/api/collections/users/impersonate/${id}`, { duration: -1 }, { authorization: su })).status, 400)
    })
  })
}
