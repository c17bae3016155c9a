/**
 * Push end to end in one process: device registration under `/api/plinth/devices/push` (one user
 * many devices, a token moving between users), `POST /api/plinth/push` for superusers, the plan
 * and send jobs on the worker, delivery to a local APNs, a dead token deactivated, and the
 * RongCloud token endpoint's refusal when RongCloud is not configured.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { APNS_KEY_ID, APNS_TEAM, startApns, type ApnsServer } from '../helpers/apns-server.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import type { PushStatus } from '../../src/push/service.ts'

let dir: string
let apns: ApnsServer
let t: TestApp
const tokens: Record<string, string> = {}
const hex = (n: number) => n.toString(16).padStart(64, 'b')

async function user(email: string): Promise<{ id: string; token: string }> {
  const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'password-123', passwordConfirm: 'password-123' })) as { id: string }
  return { id: rec.id, token: await t.login('users', email, 'password-123') }
}

async function until(id: string, done: (s: PushStatus) => boolean): Promise<PushStatus> {
  for (let i = 0; i < 400; i++) {
    const s = await t.app.push.status(id)
    if (s && done(s)) return s
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`push ${id} did not finish: ${JSON.stringify(await t.app.push.status(id))}`)
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plinth-push-api-'))
  apns = await startApns(dir)
  const q = new URLSearchParams({ key: apns.keyFile, topic: 'com.example.app', endpoint: apns.url, ca: apns.cert.certFile })
  t = await startApp('sqlite', { push: `log://,apns://${APNS_KEY_ID}:${APNS_TEAM}@?${q}`, queue: 'sql://?pollMs=50' })
})
after(async () => {
  await t?.close()
  await apns.close()
  rmSync(dir, { recursive: true, force: true })
})

test('registration: signed-in only, validated, one user many devices, a token moves to its new user', async () => {
  const ann = await user('ann@example.com')
  const bob = await user('bob@example.com')
  tokens.ann = ann.token
  tokens.bob = bob.token
  assert.equal((await t.call('POST', '/api/plinth/devices/push', { body: { platform: 'ios', token: hex(1) } })).statusCode, 401)
  const bad = await t.call('POST', '/api/plinth/devices/push', { token: ann.token, body: { platform: 'windows', token: hex(1) } })
  assert.equal(bad.statusCode, 400)
  assert.deepEqual(Object.keys(bad.json<{ status: number; message: string; data: unknown }>()).sort(), ['data', 'message', 'status'])
  const reg = await t.call('POST', '/api/plinth/devices/push', { token: ann.token, body: { platform: 'ios', token: hex(1), topic: 'com.example.app', locale: 'en-US', appVersion: '1.2.0' } })
  assert.equal(reg.statusCode, 200, reg.body)
  const d1 = reg.json<{ id: string; active: boolean; locale: string }>()
  assert.equal(d1.active, true)
  assert.equal(d1.locale, 'en-US')
  await t.call('POST', '/api/plinth/devices/push', { token: ann.token, body: { platform: 'android', token: 'fcm-ann-1:APA91b' } })
  // The same token again (a new app version): still one row.
  await t.call('POST', '/api/plinth/devices/push', { token: ann.token, body: { platform: 'ios', token: hex(1), appVersion: '1.3.0' } })
  let list = (await t.call('GET', '/api/plinth/devices/push', { token: ann.token })).json<{ id: string; appVersion: string }[]>()
  assert.equal(list.length, 2)
  assert.equal(list.find((d) => d.id === d1.id)?.appVersion, '1.3.0')
  // Bob signs in on Ann's phone: the token is his now, not hers as well.
  const moved = await t.call('POST', '/api/plinth/devices/push', { token: bob.token, body: { platform: 'ios', token: hex(1) } })
  assert.equal(moved.json<{ id: string }>().id, d1.id)
  list = (await t.call('GET', '/api/plinth/devices/push', { token: ann.token })).json()
  assert.deepEqual(list.map((d) => d.id).includes(d1.id), false)
  assert.equal((await t.call('GET', '/api/plinth/devices/push', { token: bob.token })).json<unknown[]>().length, 1)
  // Removing: only one's own.
  assert.equal((await t.call('DELETE', `/api/plinth/devices/push/${d1.id}`, { token: ann.token })).statusCode, 404)
  assert.equal((await t.call('DELETE', `/api/plinth/devices/push/${d1.id}`, { token: bob.token })).statusCode, 204)
  // Deleting an account removes its devices.
  await t.call('POST', '/api/plinth/devices/push', { token: bob.token, body: { platform: 'ios', token: hex(2) } })
  const bobId = t.app.collections.getOrThrow('users').id
  await t.must('DELETE', `/api/collections/users/records/${bob.id}`)
  assert.equal((await t.app.push.devices.list({ collectionId: bobId, recordId: bob.id })).length, 0)
  // The signing-key routes beside it still answer as before.
  assert.equal((await t.call('GET', '/api/plinth/devices', { token: tokens.ann })).statusCode, 200)
})

test('POST /api/plinth/push: superusers only, validated, answers an id at once', async () => {
  assert.equal((await t.call('POST', '/api/plinth/push', { token: tokens.ann, body: { users: ['x'], notification: { body: 'hi' } } })).statusCode, 403)
  assert.equal((await t.call('POST', '/api/plinth/push', { body: { users: ['x'] } })).statusCode, 401)
  const both = await t.call('POST', '/api/plinth/push', { token: t.su, body: { users: ['x'], query: {} } })
  assert.equal(both.statusCode, 400)
  const badFilter = await t.call('POST', '/api/plinth/push', { token: t.su, body: { query: { filter: 'nope ~~ (' } } })
  assert.equal(badFilter.statusCode, 400)
  const notAuth = await t.call('POST', '/api/plinth/push', { token: t.su, body: { users: ['x'], collection: '_nothing' } })
  assert.equal(notAuth.statusCode, 400)
  const ok = await t.call('POST', '/api/plinth/push', { token: t.su, body: { users: ['x'], notification: { body: 'hi' } } })
  assert.equal(ok.statusCode, 200, ok.body)
  assert.match(ok.json<{ id: string }>().id, /^push_/)
  assert.equal((await t.call('GET', `/api/plinth/push/${ok.json<{ id: string }>().id}`, { token: t.su })).statusCode, 200)
  assert.equal((await t.call('GET', '/api/plinth/push/push_nothing', { token: t.su })).statusCode, 404)
})

test('the worker delivers: iOS to APNs, Android to the log engine; a dead token is deactivated', async () => {
  const cy = await user('cy@example.com')
  const dee = await user('dee@example.com')
  for (const [u, n] of [[cy, 10], [cy, 11], [dee, 12]] as const) {
    const r = await t.call('POST', '/api/plinth/devices/push', { token: u.token, body: { platform: 'ios', token: hex(n) } })
    assert.equal(r.statusCode, 200)
  }
  await t.call('POST', '/api/plinth/devices/push', { token: dee.token, body: { platform: 'android', token: 'fcm-dee-1:APA91b' } })
  apns.reply.set(hex(11), { status: 410, reason: 'Unregistered' })
  apns.seen.length = 0
  t.app.jobs.startWorker()
  const { id } = await t.app.push.send({ users: [cy.id, dee.id], notification: { title: 'New message', body: 'Hello' }, data: { convo: 'c1' }, collapseId: 'c1' })
  const s = await until(id, (x) => x.planned && x.counts.sent + x.counts.invalid === 4)
  assert.deepEqual(s.counts, { sent: 3, invalid: 1, failed: 0, retry: 0, unknown: 0 })
  assert.deepEqual(apns.seen.map((x) => x.token).sort(), [hex(10), hex(11), hex(12)])
  assert.ok(apns.seen.every((x) => x.headers['apns-collapse-id'] === 'c1' && JSON.parse(x.body).convo === 'c1'))
  const cyDevices = (await t.call('GET', '/api/plinth/devices/push', { token: cy.token })).json<{ token: string; active: boolean }[]>()
  assert.deepEqual(cyDevices.map((d) => [d.token, d.active]).sort(), [[hex(10), true], [hex(11), false]])
  // The deactivated token gets nothing from the next push; registering it again revives it.
  apns.seen.length = 0
  const second = await t.app.push.send({ query: { filter: `email = "cy@example.com"` }, notification: { body: 'again' } })
  await until(second.id, (x) => x.planned && x.counts.sent === 1)
  assert.deepEqual(apns.seen.map((x) => x.token), [hex(10)])
})

test('the RongCloud token endpoint: 401 for guests, 404 when RongCloud is not configured', async () => {
  assert.equal((await t.call('GET', '/api/plinth/rongcloud/token')).statusCode, 401)
  const r = await t.call('POST', '/api/plinth/rongcloud/token', { token: tokens.ann })
  assert.equal(r.statusCode, 404)
  assert.equal(r.json<{ message: string }>().message, 'RongCloud is not configured.')
})

test('the RongCloud token endpoint issues a token for the signed-in record through the server API', async () => {
  const { createServer } = await import('node:http')
  const { createHash } = await import('node:crypto')
  const forms: URLSearchParams[] = []
  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString('utf8')))
    req.on('end', () => {
      const h = req.headers as Record<string, string>
      const ok = h['app-key'] === 'appkey1' && h.signature === createHash('sha1').update('secret1' + h.nonce + h.timestamp).digest('hex')
      const form = new URLSearchParams(text)
      forms.push(form)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ok && req.url === '/user/getToken.json' ? { code: 200, userId: form.get('userId'), token: `rc:${form.get('userId')}` } : { code: 1004 }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const rcUrl = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`
  const rc = await startApp('sqlite', { push: `log://,rongcloud://appkey1:secret1@?endpoint=${encodeURIComponent(rcUrl)}` })
  try {
    const rec = (await rc.must('POST', '/api/collections/users/records', { email: 'rc@example.com', password: 'password-123', passwordConfirm: 'password-123', name: 'Rae' })) as { id: string }
    const token = await rc.login('users', 'rc@example.com', 'password-123')
    const r = await rc.call('GET', '/api/plinth/rongcloud/token', { token })
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(r.json(), { userId: rec.id, token: `rc:${rec.id}` })
    assert.equal(forms[0]?.get('name'), 'Rae')
  } finally {
    await rc.close()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

test('pushes older than 7 days and their per-device states are deleted by the __plinthPushCleanup__ cron', async () => {
  const db = t.app.sql.writer().db
  const old = Date.now() - 8 * 86_400_000
  await db.insertInto('_pushes').values([{ id: 'push_old', message: '{}', target: '{}', cursor: '', chunks: 0, planned: 1, created: old }]).execute()
  await db.insertInto('_push_sends').values([{ pushId: 'push_old', deviceId: 'p_x', state: 'sent', reason: '', updated: old }]).execute()
  const { id } = await t.app.push.send({ users: ['nobody'], notification: { body: 'fresh' } })
  assert.ok(await t.app.jobs.runCron('__plinthPushCleanup__'))
  assert.equal(await t.app.push.status('push_old'), undefined)
  assert.equal((await db.selectFrom('_push_sends').select('deviceId').where('pushId', '=', 'push_old').execute()).length, 0)
  assert.ok(await t.app.push.status(id))
})
