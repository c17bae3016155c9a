/**
 * PocketBase's JS SDK against listening Plinth nodes, on SQLite, PostgreSQL and MariaDB:
 * `pb.settings.getAll/update/testEmail` (through a real SMTP server the settings point at) and
 * `pb.logs.getList/getOne/getStats`; then two nodes on one database and one Redis: a rate limit
 * saved on node A is enforced by node B.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { SMTPServer } from 'smtp-server'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import type { Settings } from '../../src/settings/settings-model.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { adminRedis, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort } from '../helpers/redis.ts'

interface Mail { from: string; to: string[]; user?: string; helo: string; data: string }

async function smtpServer(): Promise<{ port: number; received: Mail[]; authMethods: string[]; close(): Promise<void> }> {
  const received: Mail[] = []
  const authMethods: string[] = []
  const server = new SMTPServer({
    authOptional: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      authMethods.push(auth.method)
      if (auth.username === 'mailer' && auth.password === 'smtp-pw') cb(null, { user: auth.username })
      else cb(new Error('bad credentials'))
    },
    onData(stream, session, cb) {
      let data = ''
      stream.on('data', (c: Buffer) => (data += c.toString()))
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined, helo: session.hostNameAppearsAs, data })
        cb()
      })
    },
    logger: false,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.server.address() as AddressInfo).port, received, authMethods, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

/** A listening node on `db` with a signed-in superuser client (`overrides` on top of quiet defaults). */
async function node(db: string, overrides: Record<string, unknown> = {}): Promise<{ app: Plinth; url: string; pb: PocketBase; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-admin-sdk-'))
  const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { db, dir, http: '127.0.0.1:0', logLevel: 'silent', ...overrides } }, logger: createLogger({ logLevel: 'silent' }) })
  const url = await app.start()
  if (!(await app.records.list('_superusers', {}, { auth: null, system: true, method: '', headers: {}, query: {}, body: {}, context: 'system' })).totalItems) {
    await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  }
  const pb = new PocketBase(url)
  pb.autoCancellation(false)
  await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
  return {
    app, url, pb,
    async close() {
      await app.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

for (const { engine, skip } of await engines()) {
  describe(`admin API with the PocketBase SDK: ${engine}`, { skip }, () => {
    let db: TestDb
    let n: Awaited<ReturnType<typeof node>>
    let smtp: Awaited<ReturnType<typeof smtpServer>>
    before(async () => {
      db = await createTestDb(engine)
      smtp = await smtpServer()
      n = await node(db.url, { rateLimits: { enabled: false } })
    })
    after(async () => {
      await n?.close()
      await smtp?.close()
      await db?.drop()
    })

    test('settings: getAll, update, testEmail through the SMTP server the settings name', async () => {
      const s = await n.pb.settings.getAll()
      assert.equal(s.meta.appName, 'Plinth')
      assert.equal(s.smtp.enabled, false)
      const updated = await n.pb.settings.update({
        meta: { appName: 'SDK App', appURL: 'https://sdk.example.com', senderName: 'SDK', senderAddress: 'sdk@example.com' },
        smtp: { enabled: true, host: '127.0.0.1', port: smtp.port, username: 'mailer', password: 'smtp-pw', tls: false },
      })
      assert.equal(updated.meta.appName, 'SDK App')
      assert.equal(updated.smtp.host, '127.0.0.1')
      assert.equal(updated.smtp.password, undefined)

      await n.pb.settings.testEmail('_superusers', 'to@example.com', 'verification')
      const mail = smtp.received.at(-1)!
      assert.deepEqual([mail.from, mail.to, mail.user], ['sdk@example.com', ['to@example.com'], 'mailer'])
      assert.match(mail.data, /Verify your SDK App email/)
      assert.match(mail.data.replace(/=\r\n/g, ''), /https:\/\/sdk\.example\.com\/_\/#\/auth\/confirm-verification\//)
      await n.pb.settings.testEmail('users', 'to@example.com', 'otp')
      assert.match(smtp.received.at(-1)!.data, /123456/)
      await n.pb.settings.testEmail('users', 'to@example.com', 'login-alert')
      assert.match(smtp.received.at(-1)!.data, /TEST_USER_AGENT/)
      assert.equal(smtp.authMethods.at(-1), 'PLAIN')
      await n.pb.settings.update({ smtp: { authMethod: 'LOGIN', localName: 'mail.plinth.test' } })
      await n.pb.settings.testEmail('users', 'to@example.com', 'email-change')
      assert.equal(smtp.authMethods.at(-1), 'LOGIN')
      assert.equal(smtp.received.at(-1)!.helo, 'mail.plinth.test')

      await assert.rejects(n.pb.settings.testEmail('_superusers', 'to@example.com', 'nope'), (err: ClientResponseError) => {
        assert.equal(err.status, 400)
        assert.equal((err.response.data as Record<string, { code: string }>).template!.code, 'validation_in_invalid')
        return true
      })
      // A mailer that cannot send: 400 with the mailer's reason, for the superuser to fix.
      await n.pb.settings.update({ smtp: { port: await unusedPort() } })
      await assert.rejects(n.pb.settings.testEmail('_superusers', 'to@example.com', 'password-reset'), (err: ClientResponseError) => {
        assert.equal(err.status, 400)
        assert.match(err.message, /Failed to send the test email/)
        return true
      })
      await n.pb.settings.update({ smtp: { port: smtp.port } })

      // The auth flows' mails (the plinth.mail job) go through the same settings.
      n.app.jobs.startWorker()
      await n.pb.collection('users').create({ email: 'v@example.com', password: 'user-password-1', passwordConfirm: 'user-password-1' })
      const before = smtp.received.length
      await n.pb.collection('users').requestVerification('v@example.com')
      for (let i = 0; i < 200 && smtp.received.length === before; i++) await new Promise((r) => setTimeout(r, 50))
      assert.deepEqual(smtp.received.at(-1)?.to, ['v@example.com'])
      assert.equal(smtp.received.at(-1)?.from, 'sdk@example.com')
    })

    test('logs: getList with filter and sort, getOne, getStats', async () => {
      await fetch(`${n.url}/api/health?sdk=1`)
      await fetch(`${n.url}/api/collections/nope/records`)
      await n.app.requestLogs.writer.flush()
      const list = await n.pb.logs.getList(1, 50, { filter: 'data.url ~ "sdk=1"', sort: '-created' })
      assert.equal(list.items.length, 1)
      const entry = list.items[0]!
      assert.equal(entry.message, 'GET /api/health?sdk=1')
      assert.equal(entry.data.status, 200)
      assert.deepEqual(await n.pb.logs.getOne(entry.id), entry)
      const errors = await n.pb.logs.getList(1, 50, { filter: 'level >= 8' })
      assert.ok(errors.items.some((l) => l.data.status === 404))
      const stats = await n.pb.logs.getStats({ filter: 'data.status = 404' })
      assert.ok(stats.length >= 1 && stats.every((s) => /:00:00\.000Z$/.test(s.date)))
      await assert.rejects(n.pb.logs.getOne('missing-id'), (err: ClientResponseError) => err.status === 404)
      const guest = new PocketBase(n.url)
      await assert.rejects(guest.logs.getList(), (err: ClientResponseError) => err.status === 401)
      await assert.rejects(guest.settings.getAll(), (err: ClientResponseError) => err.status === 401)
    })
  })
}

const redisWhy = await redisSkip()
for (const { engine, skip } of await engines(['postgres', 'mysql'])) {
  describe(`two nodes: settings saved on A apply on B: ${engine}`, { skip: skip || redisWhy }, () => {
    let db: TestDb
    let a: Awaited<ReturnType<typeof node>>
    let b: Awaited<ReturnType<typeof node>>
    const prefix = testPrefix()
    before(async () => {
      db = await createTestDb(engine)
      const redis = `${REDIS_TEST_URL}?prefix=${encodeURIComponent(prefix)}`
      // One master key for the cluster: the settings' secrets are sealed with it.
      const keys = { masterKey: randomBytes(32).toString('base64') }
      a = await node(db.url, { redis, keys })
      b = await node(db.url, { redis, keys })
    })
    after(async () => {
      await a?.close()
      await b?.close()
      await db?.drop()
      const admin = await adminRedis()
      await deleteKeys(admin, prefix)
      await admin.quit()
    })

    test('a rate limit rule saved on A is enforced by B; B answers the new settings', async () => {
      const applied = new Promise<void>((resolve) => {
        b.app.settings.onChange((s: Readonly<Settings>) => {
          if (s.rateLimits.rules.some((r) => r.label === 'GET /api/health')) resolve()
        })
      })
      const rules = [...(await a.pb.settings.getAll()).rateLimits.rules, { label: 'GET /api/health', audience: '@guest', maxRequests: 2, duration: 60 }]
      await a.pb.settings.update({ rateLimits: { enabled: true, rules }, meta: { appName: 'Cluster' }, smtp: { username: 'u', password: 'cluster-pw' } })
      await applied
      assert.equal(b.app.settings.current.smtp.password, 'cluster-pw', 'B opens the secret A sealed')
      const statuses: number[] = []
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${b.url}/api/health`)).status)
      assert.deepEqual(statuses, [200, 200, 429])
      assert.equal((await b.pb.settings.getAll()).meta.appName, 'Cluster')
    })

    test('two superusers saving different sections at once on A and B both keep their change', async () => {
      for (let i = 0; i < 5; i++) {
        await Promise.all([a.pb.settings.update({ meta: { appName: `A${i}` } }), b.pb.settings.update({ logs: { maxDays: 10 + i } })])
        // What is stored (A may not have heard B's message yet: the bus delivers it a moment later).
        await a.app.settings.reload()
        const fromA = await a.pb.settings.getAll()
        assert.deepEqual([fromA.meta.appName, fromA.logs.maxDays], [`A${i}`, 10 + i])
      }
    })
  })
}
