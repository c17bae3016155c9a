/**
 * `/api/settings` through `app.http.inject()` on every engine: PocketBase's shape, who may call
 * it, per-field 400s, values fixed by the configuration (`@locked`, read-only), secrets never sent
 * back, and changes that apply at once on this node (rate limits, batch, app URL in mails).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { checkResponse, startApp, type ApiScenario, type TestApp } from '../helpers/app.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

for (const { engine, skip } of await engines()) {
  describe(`settings API: ${engine}`, { skip }, () => {
    let t: TestApp
    let user: string
    before(async () => {
      t = await startApp(engine)
      await t.must('POST', '/api/collections/users/records', { email: 'u@example.com', password: 'user-password-1', passwordConfirm: 'user-password-1' })
      user = await t.login('users', 'u@example.com', 'user-password-1')
    })
    after(async () => {
      await t?.close()
    })

    test('only superusers: guests 401, other records 403', async () => {
      const scenarios: ApiScenario[] = [
        { name: 'guest get', method: 'GET', url: '/api/settings', expectedStatus: 401, expectedContent: ['"data":{}'] },
        { name: 'user get', method: 'GET', url: '/api/settings', headers: { authorization: user }, expectedStatus: 403 },
        { name: 'guest patch', method: 'PATCH', url: '/api/settings', body: { meta: { appName: 'x' } }, expectedStatus: 401 },
        { name: 'user patch', method: 'PATCH', url: '/api/settings', headers: { authorization: user }, body: { meta: { appName: 'x' } }, expectedStatus: 403 },
        { name: 'user test email', method: 'POST', url: '/api/settings/test/email', headers: { authorization: user }, body: { email: 'a@b.c', template: 'otp' }, expectedStatus: 403 },
        { name: 'guest logs', method: 'GET', url: '/api/logs', expectedStatus: 401 },
        { name: 'user logs', method: 'GET', url: '/api/logs', headers: { authorization: user }, expectedStatus: 403 },
        { name: 'user stats', method: 'GET', url: '/api/logs/stats', headers: { authorization: user }, expectedStatus: 403 },
        { name: 'user log', method: 'GET', url: '/api/logs/abc', headers: { authorization: user }, expectedStatus: 403 },
      ]
      for (const s of scenarios) {
        const res = await t.call(s.method, s.url, { headers: s.headers, body: s.body })
        checkResponse(s, res)
      }
    })

    test('GET: PocketBase shape, configuration defaults, no secrets', async () => {
      const s = (await t.must('GET', '/api/settings')) as Record<string, Record<string, unknown>>
      assert.deepEqual(Object.keys(s).sort(), ['@locked', 'backups', 'batch', 'logs', 'meta', 'rateLimits', 's3', 'smtp', 'trustedProxy'])
      assert.deepEqual(Object.keys(s.meta!).sort(), ['appName', 'appURL', 'hideControls', 'senderAddress', 'senderName'])
      assert.deepEqual(s.logs, { maxDays: 5, minLevel: 0, logIP: true, logAuthId: false })
      assert.deepEqual(s.batch, { enabled: true, maxRequests: 50, timeout: 30, maxBodySize: 0 })
      assert.equal(s.smtp!.enabled, false)
      assert.ok(!('password' in s.smtp!), 'smtp.password is never sent')
      assert.ok(!('secret' in s.s3!), 's3.secret is never sent')
      assert.ok(!('secret' in (s.backups!.s3 as object)), 'backups.s3.secret is never sent')
      // startApp passes rateLimits.enabled as a flag: fixed by the configuration, the rules are not.
      assert.equal((s['@locked'] as Record<string, string>)['rateLimits.enabled'], 'flag')
      assert.equal((s['@locked'] as Record<string, string>)['rateLimits.rules'], undefined)
      assert.equal((s['@locked'] as Record<string, string>)['s3.bucket'], 'config files')
    })

    test('PATCH: merges, saves, answers the new settings; secrets kept but not sent', async () => {
      const res = await t.call('PATCH', '/api/settings', { token: t.su, body: { meta: { appName: 'Acme', appURL: 'https://acme.example.com' }, smtp: { username: 'mailer', password: 's3cret' }, unknownKey: 1 } })
      checkResponse({ expectedStatus: 200, expectedContent: ['"appName":"Acme"', '"username":"mailer"'], notExpectedContent: ['s3cret', 'unknownKey'] }, res)
      const again = (await t.must('GET', '/api/settings')) as { meta: { appName: string; senderAddress: string } }
      assert.equal(again.meta.appName, 'Acme')
      assert.equal(again.meta.senderAddress, 'support@example.com', 'untouched values stay')
      assert.equal(t.app.settings.current.smtp.password, 's3cret', 'the secret is kept')
      const row = await t.app.sql.writer().db.selectFrom('_params').select('value').where('id', '=', 'settings').executeTakeFirstOrThrow()
      assert.ok(!String(row.value).includes('s3cret') && String(row.value).includes('"password":"sealed:'), 'sealed at rest with the master key')
      // A round trip of what GET gave (secret absent) keeps the secret.
      await t.must('PATCH', '/api/settings', again)
      assert.equal(t.app.settings.current.smtp.password, 's3cret')
    })

    test('PATCH: PocketBase-shaped 400s per field, nothing saved', async () => {
      const bad = await t.call('PATCH', '/api/settings', {
        token: t.su,
        body: { meta: { appName: '', appURL: 'not a url', senderAddress: 'nope' }, smtp: { enabled: true, host: '' }, rateLimits: { rules: [{ label: '/api/', maxRequests: 0, duration: 1 }, { label: '/api/', maxRequests: 1, duration: 1 }] } },
      })
      assert.equal(bad.statusCode, 400, bad.body)
      const body = bad.json<{ status: number; message: string; data: Record<string, Record<string, { code: string }>> }>()
      assert.equal(body.message, 'An error occurred while saving the new settings.')
      assert.equal(body.data.meta!.appName!.code, 'validation_required')
      assert.equal(body.data.meta!.appURL!.code, 'validation_is_url')
      assert.equal(body.data.meta!.senderAddress!.code, 'validation_is_email')
      assert.equal(body.data.smtp!.host!.code, 'validation_required')
      const rules = body.data.rateLimits!.rules as unknown as Record<string, Record<string, { code: string }>>
      assert.equal(rules['0']!.maxRequests!.code, 'validation_required')
      assert.equal(rules['1']!.label!.code, 'validation_conflicting_rate_limit_rule')
      const typed = await t.call('PATCH', '/api/settings', { token: t.su, body: { logs: { maxDays: 'ten' } } })
      assert.equal(typed.statusCode, 400)
      assert.equal(typed.json<{ data: { logs: { maxDays: { code: string } } } }>().data.logs.maxDays.code, 'validation_invalid_value')
      const s = (await t.must('GET', '/api/settings')) as { meta: { appName: string }; logs: { maxDays: number } }
      assert.equal(s.meta.appName, 'Acme')
      assert.equal(s.logs.maxDays, 5)
    })

    test('rate limits and batch settings apply at once', async () => {
      // rateLimits.enabled is fixed off by the test flags: rules can be saved, counting stays off.
      const locked = await t.call('PATCH', '/api/settings', { token: t.su, body: { rateLimits: { enabled: true } } })
      assert.equal(locked.statusCode, 400)
      assert.ok(locked.json<{ data: { rateLimits: { enabled: { message: string } } } }>().data.rateLimits.enabled.message.includes('flag'))
      const saved = (await t.must('PATCH', '/api/settings', { rateLimits: { rules: [{ label: '/api/', maxRequests: 100, duration: 10 }] } })) as { rateLimits: { rules: unknown[] } }
      assert.deepEqual(saved.rateLimits.rules, [{ label: '/api/', maxRequests: 100, duration: 10, audience: '' }])
      await t.must('PATCH', '/api/settings', { batch: { enabled: false } })
      const off = await t.call('POST', '/api/batch', { token: t.su, body: { requests: [{ method: 'DELETE', url: '/api/collections/users/records/x' }] } })
      assert.equal(off.statusCode, 403, off.body)
      await t.must('PATCH', '/api/settings', { batch: { enabled: true, maxRequests: 1 } })
      const two = await t.call('POST', '/api/batch', { token: t.su, body: { requests: [{ method: 'DELETE', url: '/api/collections/users/records/x' }, { method: 'DELETE', url: '/api/collections/users/records/y' }] } })
      assert.equal(two.statusCode, 400, two.body)
      await t.must('PATCH', '/api/settings', { batch: { maxRequests: 50, timeout: 1 } })
      // No sub-request starts after `timeout`: the slow first one uses it up, the batch rolls back.
      await t.must('POST', '/api/collections', { name: `slow_${engine}`, type: 'base', createRule: '', fields: [{ name: 'n', type: 'number' }] })
      t.app.hooks.onRecordCreate(async (e, next) => {
        if (e.data.n === 1) await new Promise((r) => setTimeout(r, 1100))
        await next()
      }, `slow_${engine}`)
      const url = `/api/collections/slow_${engine}/records`
      const slow = await t.call('POST', '/api/batch', { token: t.su, body: { requests: [{ method: 'POST', url, body: { n: 1 } }, { method: 'POST', url, body: { n: 2 } }] } })
      assert.equal(slow.statusCode, 400, slow.body)
      assert.match(slow.body, /"requests":\{"1":/)
      assert.equal(((await t.must('GET', url)) as { totalItems: number }).totalItems, 0)
      await t.must('PATCH', '/api/settings', { batch: { timeout: 3 } })
    })
  })
}

describe('settings fixed by the configuration (environment, file)', () => {
  let app: Plinth
  let dir: string
  let db: TestDb
  let su: string
  before(async () => {
    db = await createTestDb('sqlite')
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-settings-'))
    const env = {
      PLINTH_MAIL: 'smtp://mailer:env-secret@127.0.0.1:2525?from=Ops%20%3Cops%40example.com%3E',
      PLINTH_PUBLIC_URL: 'https://api.example.com',
      PLINTH_TRUSTED_PROXY_HEADERS: 'X-Real-IP',
    }
    app = await createPlinth({ config: { cwd: dir, env, overrides: { db: db.url, dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
    await createSuperuser(app.records, 'root@example.com', 'root-password-1')
    const res = await app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'root@example.com', password: 'root-password-1' } })
    su = res.json<{ token: string }>().token
  })
  after(async () => {
    await app?.stop()
    await db?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('locked values are reported with their source, never their secret, and cannot be changed', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/api/settings', headers: { authorization: su } })
    assert.equal(res.statusCode, 200)
    assert.ok(!res.body.includes('env-secret'), 'the password from the environment is never sent')
    const s = res.json<{ '@locked': Record<string, string>; smtp: Record<string, unknown>; meta: Record<string, unknown>; trustedProxy: { headers: string[] } }>()
    assert.equal(s['@locked']['smtp.host'], 'env PLINTH_MAIL')
    assert.equal(s['@locked']['smtp.password'], 'env PLINTH_MAIL')
    assert.equal(s['@locked']['meta.appURL'], 'env PLINTH_PUBLIC_URL')
    assert.equal(s['@locked']['meta.senderAddress'], 'env PLINTH_MAIL')
    assert.equal(s['@locked']['trustedProxy.headers'], 'env PLINTH_TRUSTED_PROXY_HEADERS')
    assert.deepEqual([s.smtp.enabled, s.smtp.host, s.smtp.port, s.smtp.username], [true, '127.0.0.1', 2525, 'mailer'])
    assert.deepEqual([s.meta.appURL, s.meta.senderName, s.meta.senderAddress], ['https://api.example.com', 'Ops', 'ops@example.com'])
    assert.deepEqual(s.trustedProxy.headers, ['X-Real-IP'])

    // A form round trip (locked values sent back unchanged) is fine; changing one is a 400 naming it.
    const { '@locked': _, ...roundTrip } = s
    const ok = await app.http.inject({ method: 'PATCH', url: '/api/settings', headers: { authorization: su }, payload: { ...roundTrip, meta: { ...s.meta, appName: 'Ops' } } })
    assert.equal(ok.statusCode, 200, ok.body)
    const bad = await app.http.inject({ method: 'PATCH', url: '/api/settings', headers: { authorization: su }, payload: { smtp: { host: 'evil.example.com', password: 'x' }, meta: { appURL: 'https://evil.example.com' } } })
    assert.equal(bad.statusCode, 400)
    const data = bad.json<{ data: { smtp: Record<string, { message: string }>; meta: Record<string, { message: string }> } }>().data
    assert.deepEqual(Object.keys(data.smtp).sort(), ['host', 'password'])
    assert.match(data.meta.appURL!.message, /env PLINTH_PUBLIC_URL/)
    const after = await app.http.inject({ method: 'GET', url: '/api/settings', headers: { authorization: su } })
    assert.equal(after.json<{ meta: { appURL: string; appName: string } }>().meta.appURL, 'https://api.example.com')
    assert.equal(after.json<{ meta: { appName: string } }>().meta.appName, 'Ops')
  })
})

describe('trusted proxy headers follow the settings', () => {
  let t: TestApp
  before(async () => {
    t = await startApp('sqlite', { trustProxy: true })
  })
  after(async () => {
    await t?.close()
  })

  test('a PATCH of trustedProxy changes which header gives the client address, at once', async () => {
    const ipOf = async (mark: string): Promise<unknown> => {
      await t.call('GET', `/api/health?ip=${mark}`, { headers: { 'x-real-ip': '203.0.113.7', 'x-forwarded-for': '198.51.100.9' } })
      await t.app.requestLogs.writer.flush()
      const list = (await t.must('GET', `/api/logs?filter=${encodeURIComponent(`data.url = "/api/health?ip=${mark}"`)}`)) as { items: { data: { userIP: unknown } }[] }
      return list.items[0]?.data.userIP
    }
    assert.equal(await ipOf('a'), '198.51.100.9', 'X-Forwarded-For by default')
    await t.must('PATCH', '/api/settings', { trustedProxy: { headers: ['X-Real-IP'] } })
    assert.equal(await ipOf('b'), '203.0.113.7')
  })
})
