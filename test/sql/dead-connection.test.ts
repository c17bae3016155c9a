/**
 * Connection pools on the server engines: sized by `poolSize`, and a connection the server killed
 * (PostgreSQL `pg_terminate_backend`, MariaDB `KILL`) is replaced, so the next statement succeeds
 * instead of failing on the dead socket. Through the engine (both its paths: the query builder and
 * the direct `query`) and through a running app's records API.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CompiledQuery, sql } from 'kysely'
import { parseDbUrl } from '../../src/config/urls.ts'
import { SqlUnavailableError } from '../../src/sql/errors.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { startApp } from '../helpers/app.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { waitFor } from './replica-nodes.ts'

const statements = {
  postgres: { self: 'select pg_backend_pid() as id', kill: (id: number) => `select pg_terminate_backend(${id})`, others: (db: string) => `select pid as id from pg_stat_activity where datname = '${db}' and pid <> pg_backend_pid()` },
  mysql: { self: 'select connection_id() as id', kill: (id: number) => `kill ${id}`, others: (db: string) => `select id from information_schema.processlist where db = '${db}' and id <> connection_id()` },
} as const

for (const { engine, skip } of await engines(['postgres', 'mysql'])) {
  const s = statements[engine as 'postgres' | 'mysql']
  describe(`dead connections: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let admin: SqlEngine
    before(async () => {
      testDb = await createTestDb(engine)
      admin = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 0, poolTimeout: 5000, poolSize: 1 } })
    })
    after(async () => {
      await admin?.close()
      await testDb?.drop()
    })
    const idOf = async (e: SqlEngine) => Number((await e.query<{ id: unknown }>(CompiledQuery.raw(s.self)))[0]!.id)
    const kill = async (id: number) => {
      await admin.query(CompiledQuery.raw(s.kill(id)))
      // The server has closed it once it is gone from the process list (a state, not a time).
      for (;;) {
        const left = await admin.query<{ id: unknown }>(CompiledQuery.raw(s.others(new URL(testDb.url).pathname.slice(1))))
        if (!left.some((r) => Number(r.id) === id)) return
        await new Promise((r) => setTimeout(r, 20))
      }
    }

    test('poolSize bounds the pool; a killed connection is replaced and the next statement succeeds', async () => {
      const e = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 0, poolTimeout: 5000, poolSize: 2 } })
      try {
        // Four statements that each hold their connection for a while: never more than two connections.
        const hold = engine === 'postgres' ? 'select pg_sleep(0.2), pg_backend_pid() as id' : 'select sleep(0.2), connection_id() as id'
        const ids = await Promise.all([1, 2, 3, 4].map(async () => Number((await e.query<{ id: unknown }>(CompiledQuery.raw(hold)))[0]!.id)))
        assert.equal(new Set(ids).size, 2, `connections used: ${ids.join(',')}`)
        assert.ok(e.poolStats().total <= 2)
        for (let round = 0; round < 3; round++) {
          const before = await idOf(e)
          await kill(before)
          // Both paths: the direct query, then the query builder.
          const after = await idOf(e)
          assert.notEqual(after, before)
          const rows = await sql<{ one: number }>`select 1 as one`.execute(e.db)
          assert.equal(Number(rows.rows[0]!.one), 1)
        }
      } finally {
        await e.close()
      }
    })

    test('a transaction whose connection is killed under it fails as unavailable, though its rollback meets the dead connection', async () => {
      const e = await openSql(parseDbUrl(testDb.url, 'db'), { limits: { statementTimeout: 0, poolTimeout: 5000, poolSize: 1 } })
      try {
        // The statement after the kill finds the socket closed; the driver then refuses the
        // rollback on that connection with its own words (mysql2: "Can't add new command when
        // connection is in closed state"), and that error, not the first, is what a caller sees.
        const failure = await e.db
          .transaction()
          .execute(async (trx) => {
            await kill(Number((await sql.raw<{ id: unknown }>(s.self).execute(trx)).rows[0]!.id))
            await sql`select 1`.execute(trx)
          })
          .then(() => undefined, (err: unknown) => err)
        assert.ok(failure instanceof SqlUnavailableError, `the transaction's failure is ${String(failure)}`)
        assert.equal(Number((await sql<{ one: number }>`select 1 as one`.execute(e.db)).rows[0]!.one), 1) // and the pool recovers
      } finally {
        await e.close()
      }
    })

    test('through the API: a record read after its connections were killed answers 200', async () => {
      const t = await startApp(engine, { poolSize: 1 })
      try {
        await t.must('POST', '/api/collections', { name: 'pool_notes', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'title', type: 'text' }] })
        const { id } = (await t.must('POST', '/api/collections/pool_notes/records', { title: 'kept' })) as { id: string }
        for (let round = 0; round < 3; round++) {
          const dbName = new URL(t.app.config.db).pathname.slice(1)
          const victims = await admin.query<{ id: unknown }>(CompiledQuery.raw(s.others(dbName)))
          for (const v of victims) await kill(Number(v.id))
          const res = await t.call('GET', `/api/collections/pool_notes/records/${id}`)
          assert.equal(res.statusCode, 200, res.body)
          assert.equal(res.json<{ title: string }>().title, 'kept')
        }
        // A write is never sent twice: on a connection killed under it, it may answer 503 (and the
        // router then holds writes until its immediate re-probe finds the primary answering); writes
        // then succeed again without a restart.
        const dbName = new URL(t.app.config.db).pathname.slice(1)
        for (const v of await admin.query<{ id: unknown }>(CompiledQuery.raw(s.others(dbName)))) await kill(Number(v.id))
        const first = await t.call('PATCH', `/api/collections/pool_notes/records/${id}`, { token: t.su, body: { title: 'w1' } })
        assert.ok(first.statusCode === 200 || first.statusCode === 503, first.body)
        await waitFor('writes succeed again', async () => (await t.call('PATCH', `/api/collections/pool_notes/records/${id}`, { token: t.su, body: { title: 'w2' } })).statusCode === 200)
        const read = await t.call('GET', `/api/collections/pool_notes/records/${id}`)
        assert.equal(read.json<{ title: string }>().title, 'w2')
      } finally {
        await t.close()
      }
    })
  })
}
