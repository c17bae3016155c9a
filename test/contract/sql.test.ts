/**
 * The SQL port's contract: every engine (SQLite, PostgreSQL, MariaDB) must pass the same tests.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sql, type RawBuilder } from 'kysely'
import { parseDbUrl } from '../../src/config/urls.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { SqlTimeoutError, SqlUniqueViolationError } from '../../src/sql/errors.ts'
import { ROWID_COLUMN, type DatePiece, type IndexSpec, type StorageKind } from '../../src/sql/dialect.ts'
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

    test('query(): a compiled read gives the rows Kysely gives, and is observed', async () => {
      const seen: boolean[] = []
      const observed = await openSql(parseDbUrl(testDb.url, 'db'), { onQuery: (_ms, failed) => seen.push(failed) })
      try {
        const now = new Date().toISOString()
        await observed.db.insertInto('_params').values({ id: 'q1', value: 'one', created: now, updated: now }).execute()
        const built = observed.db.selectFrom('_params').select(['id', 'value']).where('id', '=', 'q1')
        seen.length = 0
        assert.deepEqual(await observed.query(built.compile()), await built.execute())
        assert.deepEqual(seen, [false, false])
        await assert.rejects(observed.query(sql`select * from no_such_table`.compile(observed.db)))
        assert.deepEqual(seen.slice(2), [true])
      } finally {
        await observed.close()
      }
    })

    test('query(): a read never sees the uncommitted writes of a transaction open meanwhile', async () => {
      const now = new Date().toISOString()
      const read = db.db.selectFrom('_params').select('id').where('id', '=', 'q-dirty').compile()
      let during: Promise<unknown[]> | undefined
      await assert.rejects(
        db.db.transaction().execute(async (trx) => {
          await trx.insertInto('_params').values({ id: 'q-dirty', value: 'x', created: now, updated: now }).execute()
          during = db.query(read) // SQLite: one connection, so it must wait for the transaction
          throw new Error('roll back')
        }),
        /roll back/,
      )
      assert.deepEqual(await during, [])
    })

    test('query(): a statement past statementTimeout throws SqlTimeoutError', async () => {
      const bounded = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 100, poolTimeout: 5000, poolSize: 2 } })
      try {
        const guard = bounded.capabilities.statementGuard
        const statement = guard === undefined ? slow : sql`with recursive c(x) as (select 1 union all select x + 1 from c where ${sql.raw(guard)}) select count(*) as n from c`
        await assert.rejects(bounded.query(statement.compile(bounded.db)), (err) => err instanceof SqlTimeoutError)
      } finally {
        await bounded.close()
      }
    })

    // ---- the dialect ----

    /** One value computed by the engine. */
    const value = async (expr: RawBuilder<unknown>): Promise<unknown> => (await sql<{ v: unknown }>`select ${expr} as v`.execute(db.db)).rows[0]!.v

    test('dialect: JSON fragments read paths and arrays alike', async () => {
      const d = db.dialect
      const doc = sql`${'{"a":{"b":[1,"x",true,null,{"c":2}]}}'}`
      assert.equal(String(await value(d.jsonExtract(doc, ['a', 'b', '0']))), '1')
      assert.equal(await value(d.jsonExtract(doc, ['a', 'b', '1'])), 'x')
      assert.equal(await value(d.jsonExtract(doc, ['a', 'b', '2'])), 'true')
      assert.equal(await value(d.jsonExtract(doc, ['a', 'b', '3'])), null)
      assert.equal(await value(d.jsonExtract(doc, ['missing'])), null)
      assert.deepEqual(JSON.parse(String(await value(d.jsonExtract(doc, ['a', 'b', '4'])))), { c: 2 })
      const list = sql`${'["a","b","a"]'}`
      assert.equal(Number(await value(d.arrayLength(list))), 3)
      const items = d.arrayElements(list, 'items')
      const rows = (await sql<{ v: string }>`select ${items.v} as v from ${items.from}`.execute(db.db)).rows
      assert.deepEqual(rows.map((r) => r.v).sort(), ['a', 'a', 'b'])
    })

    test('dialect: text, numbers and LIKE compare alike', async () => {
      const d = db.dialect
      const yes = (cond: RawBuilder<unknown>) => value(sql`case when ${cond} then 1 else 0 end`).then(Number)
      // A bound parameter of text type on every engine.
      const text = (v: string) => d.asText(sql`${v}`)
      assert.equal(Number(await value(d.asNumber(text('12.5')))), 12.5)
      assert.equal(Number(await value(d.asNumber(text('abc')))), 0)
      assert.equal(await value(d.asNumber(sql`null`)), null)
      assert.equal(await value(d.asText(sql`42`)), '42')
      // Byte by byte: trailing spaces count, and upper case sorts before lower case.
      assert.equal(await yes(sql`${d.exactText(text('x'))} = ${d.exactText(text('x '))}`), 0)
      assert.equal(await yes(sql`${d.exactText(text('B'))} < ${d.exactText(text('a'))}`), 1)
      assert.equal(await yes(sql`${text('a%b')} like ${text('a\\%b')} escape ${d.likeEscape}`), 1)
      assert.equal(await yes(sql`${text('axb')} like ${text('a\\%b')} escape ${d.likeEscape}`), 0)
      assert.equal(typeof Number(await value(d.random())), 'number')
    })

    test('dialect: strftime gives SQLite\'s text', async () => {
      const d = db.dialect
      const f = (raw: string, pieces: DatePiece[]) => ({ raw, pieces })
      const full = f('%Y-%m-%d %H:%M:%f', [{ spec: 'Y' }, { lit: '-' }, { spec: 'm' }, { lit: '-' }, { spec: 'd' }, { lit: ' ' }, { spec: 'H' }, { lit: ':' }, { spec: 'M' }, { lit: ':' }, { spec: 'f' }])
      const none = { raw: [], parsed: [] }
      assert.equal(await value(d.strftime(sql`${'2024-02-29 13:45:30.123Z'}`, full, none)), '2024-02-29 13:45:30.123')
      const day = f('%Y-%m-%d', [{ spec: 'Y' }, { lit: '-' }, { spec: 'm' }, { lit: '-' }, { spec: 'd' }])
      const mods = { raw: ['start of month', '+1 days'], parsed: [{ start: 'month' as const }, { add: 1, unit: 'day' as const }] }
      assert.equal(await value(d.strftime(sql`${'2024-02-29 13:45:30.123Z'}`, day, mods)), '2024-02-02')
      assert.equal(await value(d.strftime(sql`${'2024-03-01'}`, f('%s', [{ spec: 's' }]), none)), '1709251200')
      assert.equal(await value(d.strftime(sql`${'not a date'}`, day, none)), null)
    })

    const kinds: StorageKind[] = ['text', 'number', 'bool', 'json', 'json-array', 'geo-point']
    const makeTable = async (name: string) => {
      const d = db.dialect
      let t = db.db.schema.createTable(name).addColumn('id', d.column('primary-key').type, d.column('primary-key').build)
      for (const k of kinds) t = t.addColumn(`c_${k.replace('-', '_')}`, d.column(k).type, d.column(k).build)
      t = t.addColumn('doc', d.bigText)
      if (d.rowidColumn) t = t.addColumn(ROWID_COLUMN, d.rowidColumn.type, d.rowidColumn.build)
      if (d.tableOptions) t = t.modifyEnd(d.tableOptions)
      await t.execute()
    }
    const columnsOf = async (name: string) => (await db.db.introspection.getTables()).find((t) => t.name === name)?.columns.map((c) => c.name).sort()

    test('dialect: a column per storage kind, with its default', async () => {
      await makeTable('t_kinds')
      await db.db.insertInto('t_kinds').values({ id: 'k1' }).execute()
      const row = await db.db.selectFrom('t_kinds').selectAll().executeTakeFirstOrThrow()
      assert.equal(row.c_text, '')
      assert.equal(Number(row.c_number), 0)
      assert.equal(Number(row.c_bool), 0)
      assert.equal(row.c_json, null)
      assert.deepEqual(JSON.parse(String(row.c_json_array)), [])
      assert.deepEqual(JSON.parse(String(row.c_geo_point)), { lon: 0, lat: 0 })
      // @rowid: an implicit rowid or the dialect's column, in insertion order.
      await db.db.insertInto('t_kinds').values({ id: 'a0' }).execute()
      const order = await sql<{ id: string }>`select id from t_kinds order by ${sql.ref(ROWID_COLUMN)}`.execute(db.db)
      assert.deepEqual(order.rows.map((r) => r.id), ['k1', 'a0'])
    })

    test('dialect: a duplicate key is a SqlUniqueViolationError holding the driver error', async () => {
      await db.db.insertInto('t_kinds').values({ id: 'dup' }).execute()
      await assert.rejects(db.db.insertInto('t_kinds').values({ id: 'dup' }).execute(), (e) => e instanceof SqlUniqueViolationError && e.cause instanceof Error)
    })

    test('dialect: indexes from a description, partial ones included, dropped without a trace', async () => {
      await makeTable('t_idx')
      const before = await columnsOf('t_idx')
      const unique: IndexSpec = { name: 'idx_t_idx_text', table: 't_idx', unique: true, columns: [{ name: 'c_text', kind: 'text', collate: '', sort: 'DESC' }], where: [] }
      const partial: IndexSpec = {
        name: 'idx_t_idx_partial',
        table: 't_idx',
        unique: true,
        columns: [{ name: 'c_json_array', kind: 'json-array', collate: '', sort: '' }, { name: 'c_number', kind: 'number', collate: '', sort: '' }],
        where: [{ column: 'c_number', op: '>', value: 0 }, { column: 'c_text', op: '=', value: 'on' }],
      }
      await db.dialect.createIndex(db.db, unique)
      await db.db.insertInto('t_idx').values({ id: 'u1', c_text: 'same' }).execute()
      await assert.rejects(db.db.insertInto('t_idx').values({ id: 'u2', c_text: 'same' }).execute(), (e) => e instanceof SqlUniqueViolationError)
      await db.dialect.dropIndex(db.db, unique)
      await db.db.insertInto('t_idx').values({ id: 'u2', c_text: 'same' }).execute()
      await db.dialect.dropIndex(db.db, unique) // not there: nothing to do

      await db.dialect.createIndex(db.db, partial)
      // Outside the WHERE, equal values do not collide; inside it they do.
      await db.db.insertInto('t_idx').values([{ id: 'p1', c_number: 0, c_text: 'on' }, { id: 'p2', c_number: 0, c_text: 'on' }, { id: 'p3', c_number: 5, c_text: 'off' }, { id: 'p4', c_number: 5, c_text: 'off' }]).execute()
      await db.db.insertInto('t_idx').values({ id: 'p5', c_number: 5, c_text: 'on' }).execute()
      await assert.rejects(db.db.insertInto('t_idx').values({ id: 'p6', c_number: 5, c_text: 'on' }).execute(), (e) => e instanceof SqlUniqueViolationError)
      await db.db.insertInto('t_idx').values({ id: 'p6', c_number: 6, c_text: 'on' }).execute()
      await db.dialect.dropIndex(db.db, partial)
      await db.db.insertInto('t_idx').values({ id: 'p7', c_number: 5, c_text: 'on' }).execute()
      assert.deepEqual(await columnsOf('t_idx'), before)
      // Made again after being dropped: nothing left behind stands in the way.
      await db.db.deleteFrom('t_idx').where('id', '=', 'p7').execute()
      await db.dialect.createIndex(db.db, partial)
      await db.dialect.dropIndex(db.db, partial)
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
