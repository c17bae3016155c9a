/**
 * Bounded database work: a statement past `statementTimeout` is cancelled and answers 503
 * `timeout`; with every connection busy (SQLite: the write lock taken by another process), a
 * request waits at most `poolTimeout` and answers 503 `unavailable` instead of hanging. No SQL
 * text or driver message reaches the client. On every SQL engine.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { sql } from 'kysely'
import Database from 'better-sqlite3'
import { createPlinth, type Plinth } from '../../src/app.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createLogger } from '../../src/log.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { Writable } from 'node:stream'

const quiet = () => createLogger({ logLevel: 'silent' }, new Writable({ write: (_c, _e, done) => done() }))

async function makeApp(url: string, overrides: ConfigInput): Promise<Plinth> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-limits-'))
  return createPlinth({ config: { env: {}, cwd: dir, overrides: { dir, db: url, ...overrides } }, logger: quiet() })
}

/** A superuser's token for `app`, through its own sign-in. */
async function superuserToken(app: Plinth): Promise<string> {
  const superusers = app.collections.getOrThrow('_superusers')
  assert.ok(isAuthCollection(superusers))
  await createSuperuser(app.records, 'limits@example.com', 'limits-pass-1')
  const res = await app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'limits@example.com', password: 'limits-pass-1' } })
  return (res.json() as { token: string }).token
}

/** Polls until `check` holds: waits for a state, not for a time. */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20))
}

for (const { engine, skip } of await engines()) {
  describe(`database limits: ${engine}`, { skip }, () => {
    let testDb: TestDb
    before(async () => {
      testDb = await createTestDb(engine)
    })
    after(() => testDb?.drop())

    test('a statement past statementTimeout is cancelled and answers 503 timeout', async (t) => {
      if (engine === 'sqlite') return t.skip('SQLite stops only statements that call its statement guard (relation hops: tested below); see src/sql/sqlite/engine.ts')
      const app = await makeApp(testDb.url, { statementTimeout: 200 })
      try {
        // 10 minutes if nothing cuts it: a pass cannot be luck under the runner's 120 s timeout.
        const sleep = engine === 'postgres' ? sql`select pg_sleep(600)` : sql`select sleep(600)`
        app.http.get('/api/test/slow', async () => {
          await sleep.execute(app.sql.reader().db)
          return { done: true }
        })
        const res = await app.http.inject({ method: 'GET', url: '/api/test/slow' })
        assert.equal(res.statusCode, 503, res.body)
        assert.equal(res.headers['x-plinth-error'], 'timeout')
        assert.deepEqual(res.json(), { status: 503, message: 'The request took too long to process.', data: {} })
        // The connection is usable again: the cancelled statement did not poison the pool.
        const ok = await sql<{ one: number }>`select 1 as one`.execute(app.sql.reader().db)
        assert.equal(Number(ok.rows[0]!.one), 1)
      } finally {
        await app.stop()
      }
    })

    test('a filter whose relation hops would run for an hour is cut at statementTimeout: 503, on every engine', async () => {
      const app = await makeApp(testDb.url, { statementTimeout: 1000 })
      try {
        await app.collections.create({ name: 'wide', listRule: '', fields: [{ name: 't', type: 'text' }, { name: 'u', type: 'text' }] })
        // 3,000 rows; every main row joins 3,000 x 3,000 pairs that never match: hours of LIKE work.
        const rows = Array.from({ length: 3000 }, (_, i) => ({ id: `w${String(i).padStart(14, '0')}`, t: `x${i}`, u: `y${i}` }))
        for (let i = 0; i < rows.length; i += 500) await app.sql.writer().db.insertInto('wide').values(rows.slice(i, i + 500)).execute()
        const su = await superuserToken(app)
        const filter = encodeURIComponent('@collection.wide:a.t ?~ @collection.wide:b.u')
        const res = await app.http.inject({ url: `/api/collections/wide/records?filter=${filter}`, headers: { authorization: su } })
        assert.equal(res.statusCode, 503, res.body)
        assert.equal(res.headers['x-plinth-error'], 'timeout')
        // The engine serves the next request normally.
        const next = await app.http.inject({ url: '/api/collections/wide/records?perPage=1', headers: { authorization: su } })
        assert.equal(next.statusCode, 200, next.body)
      } finally {
        await app.stop()
      }
    })

    test('a collection schema change (an index over many rows) is not cut by statementTimeout', async (t) => {
      if (engine === 'sqlite') return t.skip("DDL never calls SQLite's statement guard: nothing to lift")
      const app = await makeApp(testDb.url, { statementTimeout: 100 })
      try {
        const big = await app.collections.create({ name: 'big_rows', fields: [{ name: 'n', type: 'number' }] })
        // 2 million rows, written with the limit lifted: an index over them takes seconds on either engine.
        const rows = engine === 'postgres'
          ? sql`insert into big_rows (id, n) select 'r' || lpad(g::text, 14, '0'), g % 1000 from generate_series(1, 2000000) g`
          : sql`insert into big_rows (id, n) select concat('r', lpad(seq, 14, '0')), seq % 1000 from seq_1_to_2000000`
        await app.sql.primary.withoutStatementTimeout((db) => rows.execute(db))
        const updated = await app.collections.update(big.id, { indexes: ['CREATE INDEX idx_big_rows_n ON big_rows (n)'] })
        assert.deepEqual(updated.indexes, ['CREATE INDEX idx_big_rows_n ON big_rows (n)'])
        // Requests still run under the limit afterwards.
        const slow = engine === 'postgres' ? sql`select pg_sleep(600)` : sql`select sleep(600)`
        await assert.rejects(slow.execute(app.sql.reader().db), (e: Error) => e.name === 'SqlTimeoutError')
      } finally {
        await app.stop()
      }
    })

    test('with every connection busy another request answers 503 unavailable within poolTimeout', async () => {
      const app = await makeApp(testDb.url, { poolSize: 2, poolTimeout: 300, statementTimeout: 0 })
      app.http.get('/api/test/one', async () => {
        await sql`select 1`.execute(app.sql.reader().db)
        return { ok: true }
      })
      app.http.post('/api/test/write', async () => {
        const now = new Date().toISOString()
        await app.sql.writer().db.insertInto('_params').values({ id: `w${Math.random()}`, value: '1', created: now, updated: now }).execute()
        return { ok: true }
      })
      let holder: SqlEngine | undefined
      let sqliteHolder: Database.Database | undefined
      try {
        if (engine === 'sqlite') {
          // Another process holds SQLite's write lock.
          sqliteHolder = new Database((parseDbUrl(testDb.url, 'db') as { file: string }).file)
          sqliteHolder.exec('begin immediate')
          const res = await app.http.inject({ method: 'POST', url: '/api/test/write' })
          assert.equal(res.statusCode, 503, res.body)
          assert.equal(res.headers['x-plinth-error'], 'unavailable')
          assert.deepEqual(res.json(), { status: 503, message: 'The service is temporarily unavailable.', data: {} })
          sqliteHolder.exec('rollback')
          assert.equal((await app.http.inject({ method: 'POST', url: '/api/test/write' })).statusCode, 200)
          return
        }
        // Requests that hold their connection until the test lets go of a lock.
        holder = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 0, poolTimeout: 5000, poolSize: 1 } })
        const hold = holder
        const [lock, unlock, wait] =
          engine === 'postgres'
            ? [sql`select pg_advisory_lock(4242)`, sql`select pg_advisory_unlock(4242)`, sql`select pg_advisory_xact_lock(4242)`]
            : [sql`select get_lock('plinth_limits', 600)`, sql`select release_lock('plinth_limits')`, sql`select get_lock('plinth_limits', 600), release_lock('plinth_limits')`]
        app.http.get('/api/test/wait', async () => {
          await wait.execute(app.sql.reader().db)
          return { ok: true }
        })
        const held = await hold.db.connection().execute(async (conn) => {
          await lock.execute(conn)
          try {
            const waiting = [0, 1].map(() => app.http.inject({ method: 'GET', url: '/api/test/wait' }))
            await until(() => {
              const s = app.sql.reader().poolStats()
              return s.total === 2 && s.idle === 0
            })
            const res = await app.http.inject({ method: 'GET', url: '/api/test/one' })
            assert.equal(res.statusCode, 503, res.body)
            assert.equal(res.headers['x-plinth-error'], 'unavailable')
            assert.deepEqual(res.json(), { status: 503, message: 'The service is temporarily unavailable.', data: {} })
            return waiting
          } finally {
            await unlock.execute(conn)
          }
        })
        for (const res of await Promise.all(held)) assert.equal(res.statusCode, 200, res.body)
        assert.equal((await app.http.inject({ method: 'GET', url: '/api/test/one' })).statusCode, 200)
      } finally {
        sqliteHolder?.close()
        await holder?.close()
        await app.stop()
      }
    })
  })
}
