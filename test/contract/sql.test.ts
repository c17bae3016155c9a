/**
 * The SQL port's contract: every engine (SQLite, PostgreSQL, MariaDB) must pass the same tests.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sql } from 'kysely'
import { parseDbUrl } from '../../src/config/urls.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { SqlTimeoutError } from '../../src/sql/errors.ts'
import { StartupError } from '../../src/config/errors.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { runCli } from '../helpers/cli.ts'

for (const { engine, skip } of await engines()) {
  describe(`sql port: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine

    before(async () => {
      testDb = await createTestDb(engine)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
    })
    after(async () => {
      await db?.close()
      await testDb?.drop()
    })

    test('answers ping and names itself', async () => {
      await db.ping()
      assert.equal(db.name, engine)
      assert.equal(db.role, 'primary')
    })

    test('two nodes migrating at once apply each migration exactly once', async () => {
      // Two real processes, as two API nodes starting together would be.
      const runs = await Promise.all([runCli(['migrate'], { PLINTH_DB: testDb.url }), runCli(['migrate'], { PLINTH_DB: testDb.url })])
      for (const r of runs) assert.equal(r.code, 0, r.stderr)
      const names = Object.keys(systemMigrations(db.dialect))
      const applied = runs.map((r) => r.stdout.trim())
      assert.equal(applied.filter((a) => a === 'nothing to apply').length, 1, applied.join(' | '))
      assert.ok(applied.includes(`applied: ${names.join(', ')}`), applied.join(' | '))
      const rows = await db.db.selectFrom('_plinth_migrations').select('name').execute()
      assert.deepEqual(rows.map((r) => r.name).sort(), names.sort())
      assert.deepEqual((await migrate(db, systemMigrations(db.dialect))).applied, [])
    })

    test('a failing migration stops start-up, names itself and applies nothing after it', async () => {
      const broken = {
        ...systemMigrations(db.dialect),
        '9000-broken': { up: async (k: SqlEngine['db']) => void (await sql`select * from no_such_table`.execute(k)) },
        '9001-after': { up: async (k: SqlEngine['db']) => void (await k.schema.createTable('t_after').addColumn('id', 'integer').execute()) },
      }
      await assert.rejects(migrate(db, broken), /migration 9000-broken failed/)
      const rows = await db.db.selectFrom('_plinth_migrations').select('name').execute()
      assert.ok(!rows.some((r) => r.name === '9001-after'))
    })

    test('text round-trips unchanged, including non-ASCII and quotes', async () => {
      const value = `{"emoji":"🚀","quote":"it's \\"quoted\\"","han":"汉字"}`
      const now = new Date().toISOString()
      await db.db.insertInto('_params').values({ id: 'roundtrip', value, created: now, updated: now }).execute()
      const row = await db.db.selectFrom('_params').selectAll().where('id', '=', 'roundtrip').executeTakeFirstOrThrow()
      assert.equal(row.value, value)
      assert.equal(row.created, now)
    })

    test('a failed transaction leaves nothing behind', async () => {
      const now = new Date().toISOString()
      await assert.rejects(
        db.db.transaction().execute(async (trx) => {
          await trx.insertInto('_params').values({ id: 'tx1', value: '1', created: now, updated: now }).execute()
          await trx.insertInto('_params').values({ id: 'tx1', value: '2', created: now, updated: now }).execute()
        }),
        (err: Error) => /unique|duplicate/i.test(err.message),
      )
      const rows = await db.db.selectFrom('_params').select('id').where('id', '=', 'tx1').execute()
      assert.equal(rows.length, 0)
    })

    test('RETURNING works where the engine says it does', async (t) => {
      const now = new Date().toISOString()
      const insert = db.db.insertInto('_params').values({ id: 'ret', value: 'x', created: now, updated: now })
      // An engine that does not claim RETURNING may still have it (MariaDB has it for INSERT).
      if (!db.capabilities.returning) return t.skip('the engine does not claim RETURNING')
      const rows = await insert.returning(['id', 'value']).execute()
      assert.deepEqual(rows, [{ id: 'ret', value: 'x' }])
    })

    test('the declared upsert form updates an existing row', async () => {
      const now = new Date().toISOString()
      const upsert = (value: string) => {
        const q = db.db.insertInto('_params').values({ id: 'up', value, created: now, updated: now })
        return db.capabilities.upsert === 'on-conflict'
          ? q.onConflict((oc) => oc.column('id').doUpdateSet({ value })).execute()
          : q.onDuplicateKeyUpdate({ value }).execute()
      }
      await upsert('first')
      await upsert('second')
      const rows = await db.db.selectFrom('_params').select('value').where('id', '=', 'up').execute()
      assert.deepEqual(rows, [{ value: 'second' }])
    })

    test('reports pool use', async () => {
      const s = db.poolStats()
      assert.ok(s.total >= 1, `expected an open connection, got ${JSON.stringify(s)}`)
      assert.ok(s.idle >= 0 && s.idle <= s.total)
      assert.equal(s.waiting, 0)
    })

    test('ping fails once closed', async () => {
      const other = await openSql(parseDbUrl(testDb.url, 'db'))
      await other.close()
      await assert.rejects(other.ping(), /engine is closed/)
    })

    // A statement that would run for 10 minutes: a pass cannot be luck.
    const slow = engine === 'postgres' ? sql`select pg_sleep(600)` : sql`select sleep(600)`
    const briefly = engine === 'postgres' ? sql`select pg_sleep(0.5)` : sql`select sleep(0.5)`

    test('a statement past statementTimeout throws SqlTimeoutError', async (t) => {
      if (db.capabilities.statementGuard !== undefined) return t.skip('the engine cannot cancel a statement from outside; its statement guard is tested below')
      const bounded = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 100, poolTimeout: 5000, poolSize: 2 } })
      try {
        await assert.rejects(slow.execute(bounded.db), (err) => err instanceof SqlTimeoutError)
        // Migrations run with the limit lifted, and it is back afterwards on the same pool.
        await bounded.withoutStatementTimeout((k) => briefly.execute(k))
        await assert.rejects(slow.execute(bounded.db), (err) => err instanceof SqlTimeoutError)
      } finally {
        await bounded.close()
      }
    })

    test('an engine with a statement guard stops a statement that calls it once statementTimeout has passed', async (t) => {
      const guard = db.capabilities.statementGuard
      if (guard === undefined) return t.skip('the server enforces statementTimeout itself (above)')
      const bounded = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 100, poolTimeout: 5000, poolSize: 2 } })
      try {
        // Counts forever unless the guard stops it.
        const endless = sql`with recursive c(x) as (select 1 union all select x + 1 from c where ${sql.raw(guard)}) select count(*) as n from c`
        await assert.rejects(endless.execute(bounded.db), (err) => err instanceof SqlTimeoutError)
        // Lifted, a bounded version of the same statement runs to its end; then the limit is back.
        const bounded10k = sql`with recursive c(x) as (select 1 union all select x + 1 from c where ${sql.raw(guard)} and x < 10000) select count(*) as n from c`
        const rows = await bounded.withoutStatementTimeout((k) => bounded10k.execute(k))
        assert.equal(Number((rows.rows[0] as { n: number }).n), 10000)
        await assert.rejects(endless.execute(bounded.db), (err) => err instanceof SqlTimeoutError)
      } finally {
        await bounded.close()
      }
    })

    test('opening a database that does not exist is a StartupError that says how to create it', async (t) => {
      if (!db.capabilities.concurrentConnections) return t.skip('SQLite creates its file')
      const u = new URL(testDb.url)
      u.pathname = '/plinth_no_such_db'
      await assert.rejects(
        openSql(parseDbUrl(u.toString(), 'db')),
        (err) => err instanceof StartupError && /database "plinth_no_such_db" does not exist.*create it with: (createdb|mysql) /.test(err.message),
      )
    })
  })
}
