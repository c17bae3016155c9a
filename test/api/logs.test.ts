/**
 * `/api/logs` through `app.http.inject()` on every engine: request logs written in batches off the
 * request path, read back with PocketBase's list (filter, sort, paging), view and hourly stats;
 * the `logs` settings (logIP, logAuthId, minLevel, maxDays) and the retention cleanup; where the
 * logs live (`auxiliary.db` beside SQLite data, or `logs.url`).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { openSql } from '../../src/sql/open.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

interface Log { id: string; created: string; level: number; message: string; data: Record<string, unknown> }
interface List { page: number; perPage: number; totalItems: number; totalPages: number; items: Log[] }

for (const { engine, skip } of await engines()) {
  describe(`logs API: ${engine}`, { skip }, () => {
    let t: TestApp
    let user: string
    const list = async (query: string): Promise<List> => (await t.must('GET', `/api/logs?${query}`)) as List
    before(async () => {
      t = await startApp(engine)
      await t.must('POST', '/api/collections/users/records', { email: 'u@example.com', password: 'user-password-1', passwordConfirm: 'user-password-1' })
      user = await t.login('users', 'u@example.com', 'user-password-1')
    })
    after(async () => {
      await t?.close()
    })

    test('each answered request is one entry, PocketBase-shaped, written by the batch writer', async () => {
      assert.equal(t.app.requestLogs.where, engine === 'sqlite' ? 'auxiliary.db' : 'db', 'a cluster without logs.url logs into its database')
      await t.call('GET', '/api/health', { headers: { 'user-agent': 'probe/1', referer: 'https://ref.example.com/' } })
      await t.call('GET', '/api/collections/nope/records?x=%20y')
      await t.call('GET', '/api/collections/users/records', { token: user })
      await t.app.requestLogs.writer.flush()
      const all = await list('perPage=100&sort=-@rowid')
      const health = all.items.find((l) => l.message === 'GET /api/health')
      assert.ok(health, JSON.stringify(all.items.map((l) => l.message)))
      assert.deepEqual(Object.keys(health).sort(), ['created', 'data', 'id', 'level', 'message'])
      assert.match(health.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.equal(health.level, 0)
      assert.equal(health.data.type, 'request')
      assert.equal(health.data.status, 200)
      assert.equal(health.data.userAgent, 'probe/1')
      assert.equal(health.data.referer, 'https://ref.example.com/')
      assert.equal(health.data.auth, '')
      assert.equal(typeof health.data.execTime, 'number')
      assert.equal(health.data.userIP, '127.0.0.1', 'logIP is on by default')
      const missing = all.items.find((l) => l.message === 'GET /api/collections/nope/records?x= y')
      assert.ok(missing, 'the message has the URL decoded, as PocketBase')
      assert.equal(missing.level, 8)
      assert.equal(missing.data.status, 404)
      assert.equal(typeof missing.data.error, 'string')
      const byUser = all.items.find((l) => l.message === 'GET /api/collections/users/records')
      assert.equal(byUser?.data.auth, 'users')
      assert.equal(byUser?.data.authId, undefined, 'logAuthId is off by default')
      // Successful reads of the logs are not logged.
      assert.ok(!all.items.some((l) => l.message.startsWith('GET /api/logs')))
      // Newest first with -@rowid.
      assert.ok(all.items[0]!.created >= all.items.at(-1)!.created)
    })

    test('many entries are written in batches of 200 and a remainder', async () => {
      for (let i = 0; i < 450; i++) t.app.requestLogs.add({ level: 4, message: 'bulk', data: { type: 'bulk', i } })
      await t.app.requestLogs.writer.flush()
      const bulk = await list(`perPage=1&filter=${encodeURIComponent('message = "bulk" && data.i >= 0')}`)
      assert.equal(bulk.totalItems, 450)
      assert.equal(t.app.requestLogs.writer.dropped, 0)
    })

    test('filter, sort and paging in PocketBase syntax; bounded; bad input is a 400', async () => {
      const errors = await list(`filter=${encodeURIComponent('data.status >= 400 && level = 8')}`)
      assert.ok(errors.totalItems >= 1)
      assert.ok(errors.items.every((l) => Number(l.data.status) >= 400 && l.level === 8))
      const like = await list(`filter=${encodeURIComponent('message ~ "health" && data.auth = ""')}&sort=created`)
      assert.ok(like.items.length >= 1 && like.items.every((l) => l.message.includes('health')))
      const page = await list('perPage=1&page=2&skipTotal=1')
      assert.deepEqual([page.page, page.perPage, page.totalItems, page.totalPages, page.items.length], [2, 1, -1, -1, 1])
      assert.equal((await list('perPage=5000')).perPage, 1000)
      for (const q of [`filter=${encodeURIComponent('nope = 1')}`, `filter=${encodeURIComponent('@request.auth.id != ""')}`, `filter=${'a'.repeat(4000)}`, 'sort=@random', 'perPage=abc', 'skipTotal=maybe']) {
        const res = await t.call('GET', `/api/logs?${q}`, { token: t.su })
        assert.equal(res.statusCode, 400, `${q}: ${res.body}`)
      }
      const bad = await t.call('GET', `/api/logs/stats?filter=${encodeURIComponent('(((')}`, { token: t.su })
      assert.equal(bad.statusCode, 400)
    })

    test('one entry by id; 404 for an unknown id', async () => {
      const [first] = (await list('perPage=1')).items
      const one = (await t.must('GET', `/api/logs/${first!.id}`)) as Log
      assert.deepEqual(one, first)
      const res = await t.call('GET', '/api/logs/nope123', { token: t.su })
      assert.equal(res.statusCode, 404)
    })

    test('stats: totals per hour, filtered', async () => {
      const total = (await list('perPage=1')).totalItems
      const stats = (await t.must('GET', '/api/logs/stats')) as { total: number; date: string }[]
      assert.ok(stats.length >= 1)
      for (const s of stats) assert.match(s.date, /^\d{4}-\d\d-\d\d \d\d:00:00\.000Z$/)
      // Requests made since the list above are logged too: at least as many.
      assert.ok(stats.reduce((n, s) => n + s.total, 0) >= total)
      const filtered = (await t.must('GET', `/api/logs/stats?filter=${encodeURIComponent('data.status = 404')}`)) as { total: number }[]
      assert.equal(filtered.reduce((n, s) => n + s.total, 0), (await list(`filter=${encodeURIComponent('data.status = 404')}`)).totalItems)
    })

    test('logs settings: logIP, logAuthId, minLevel, maxDays; retention cleanup', async () => {
      await t.must('PATCH', '/api/settings', { logs: { logIP: false, logAuthId: true } })
      await t.call('GET', '/api/collections/users/records?mark=1', { token: user })
      await t.app.requestLogs.writer.flush()
      const [marked] = (await list(`filter=${encodeURIComponent('data.url ~ "mark=1"')}`)).items
      assert.equal(marked?.data.userIP, undefined)
      assert.equal(typeof marked?.data.authId, 'string')

      await t.must('PATCH', '/api/settings', { logs: { logIP: true, logAuthId: false, minLevel: 8 } })
      await t.call('GET', '/api/health?mark=2')
      await t.call('GET', '/api/collections/nope/records?mark=3')
      await t.must('PATCH', '/api/settings', { logs: { maxDays: 0, minLevel: 0 } })
      await t.call('GET', '/api/health?mark=4')
      await t.must('PATCH', '/api/settings', { logs: { maxDays: 5 } })
      await t.app.requestLogs.writer.flush()
      const urls = (await list(`perPage=1000&filter=${encodeURIComponent('data.url ~ "mark="')}`)).items.map((l) => l.data.url)
      assert.ok(!urls.includes('/api/health?mark=2'), 'below minLevel: not written')
      assert.ok(urls.includes('/api/collections/nope/records?mark=3'), 'an error is at minLevel 8')
      assert.ok(!urls.includes('/api/health?mark=4'), 'maxDays 0: nothing written')

      const before = (await list('perPage=1')).totalItems
      const crons = (await t.must('GET', '/api/crons')) as { id: string; expression: string }[]
      assert.deepEqual(crons.find((c) => c.id === '__plinthLogsCleanup__'), { id: '__plinthLogsCleanup__', expression: '11 3 * * *' })
      await t.must('POST', '/api/crons/__plinthLogsCleanup__')
      assert.ok((await list('perPage=1')).totalItems >= before, 'nothing younger than maxDays is deleted')
      await t.app.requestLogs.writer.flush()
      await t.app.requestLogs.cleanup(Date.now() + 6 * 86_400_000)
      const left = await list(`filter=${encodeURIComponent('created < @now')}`)
      assert.equal(left.totalItems, 0, 'entries older than maxDays are deleted')
    })
  })
}

const [pgCase] = await engines(['postgres'])

describe('where logs live', () => {
  const cleanups: (() => Promise<void>)[] = []
  after(async () => {
    for (const c of cleanups.reverse()) await c()
  })
  async function start(overrides: Record<string, unknown>): Promise<{ app: Plinth; dir: string }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-logs-'))
    const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent', ...overrides } }, logger: createLogger({ logLevel: 'silent' }) })
    cleanups.push(async () => {
      await app.stop()
      rmSync(dir, { recursive: true, force: true })
    })
    return { app, dir }
  }

  test('SQLite data: auxiliary.db in the data folder, not the main database', async () => {
    const { app, dir } = await start({})
    assert.ok(existsSync(path.join(dir, 'auxiliary.db')))
    await app.http.inject({ method: 'GET', url: '/api/health' })
    await app.requestLogs.writer.flush()
    assert.equal(app.requestLogs.where, 'auxiliary.db')
    const main = await app.sql.writer().db.introspection.getTables()
    assert.ok(!main.some((tb) => tb.name === '_logs'))
  })

  {
    test('logs.url: a database of their own (PostgreSQL beside SQLite data)', { skip: pgCase!.skip }, async () => {
      const logsDb: TestDb = await createTestDb('postgres')
      cleanups.push(() => logsDb.drop())
      const { app } = await start({ logs: { url: logsDb.url } })
      assert.equal(app.requestLogs.where, 'logs.url')
      await app.http.inject({ method: 'GET', url: '/api/health?where=url' })
      await app.requestLogs.writer.flush()
      const engineThere = await openSql(parseDbUrl(logsDb.url, 'test'))
      try {
        const rows = await engineThere.db.selectFrom('_logs').select(['message']).execute()
        assert.ok(rows.some((r) => r.message === 'GET /api/health?where=url'))
      } finally {
        await engineThere.close()
      }
    })
  }
})
