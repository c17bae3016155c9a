/**
 * A collection change that fails halfway leaves the table and its stored definition consistent,
 * on every engine: SQLite and PostgreSQL roll the one transaction back; MariaDB (DDL commits
 * statement by statement) undoes the steps it made, and what a crash (or a failed undo) leaves is
 * settled when the store next opens. Failures are injected at each step through `failStep`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { sql, type KyselyPlugin, type RootOperationNode } from 'kysely'
import { createPlinth } from '../../src/app.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { createLogger } from '../../src/log.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { JOURNAL_TABLE } from '../../src/records/collections/schema-journal.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { ROWID_COLUMN } from '../../src/records/columns.ts'
import type { Collection } from '../../src/records/model.ts'
import { SqlUniqueViolationError } from '../../src/sql/errors.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type EngineName, type TestDb } from '../helpers/engines.ts'

/** The index names the engine lists for a table (test-side knowledge of each engine's catalogue). */
async function liveIndexes(engine: EngineName, db: SqlEngine, table: string): Promise<Set<string>> {
  const q =
    engine === 'sqlite' ? sql<{ name: string }>`select name from pragma_index_list(${table})`
    : engine === 'postgres' ? sql<{ name: string }>`select indexname as name from pg_indexes where tablename = ${table}`
    : sql<{ name: string }>`select distinct index_name as name from information_schema.statistics where table_schema = database() and table_name = ${table}`
  return new Set((await q.execute(db.db)).rows.map((r) => r.name))
}

async function liveColumns(db: SqlEngine, table: string): Promise<string[] | undefined> {
  return (await db.db.introspection.getTables()).find((t) => t.name === table)?.columns.map((c) => c.name)
}

const indexName = (raw: string) => /index\s+(\w+)/i.exec(raw)![1]!

/**
 * The live table of the collection stored under `name` matches its definition: one column per
 * field and nothing else but hidden columns (@rowid, MariaDB's partial-index columns, and, when
 * `leftovers`, columns a clean-up has yet to drop); its indexes, and none of `other`'s.
 */
async function assertConsistent(engine: EngineName, db: SqlEngine, c: Collection, other: Collection, leftovers = false): Promise<void> {
  const cols = await liveColumns(db, c.name)
  assert.ok(cols, `table ${c.name} exists`)
  if (other.name !== c.name) assert.equal(await liveColumns(db, other.name), undefined, `table ${other.name} is gone`)
  const hidden = (col: string) => col === ROWID_COLUMN || col.startsWith('_pidx_') || (leftovers && col.startsWith('_plinth_prev_'))
  assert.deepEqual(cols.filter((col) => !hidden(col)).sort(), c.fields.map((f) => f.name).sort())
  const indexes = await liveIndexes(engine, db, c.name)
  for (const raw of c.indexes) assert.ok(indexes.has(indexName(raw)), `index ${indexName(raw)} exists: ${[...indexes].join(', ')}`)
  for (const raw of other.indexes) if (!c.indexes.some((x) => indexName(x) === indexName(raw))) assert.ok(!indexes.has(indexName(raw)), `index ${indexName(raw)} is gone`)
}

interface Setup {
  testDb: TestDb
  db: SqlEngine
  store: CollectionStore
  prev: Collection
  input: Record<string, unknown>
  logs: { message: string; detail: Record<string, unknown> }[]
}

/** A collection with data, two indexes (one partial), and the change to make to it; `failing` is read at each step. */
async function setup(engine: EngineName, failing: ReadonlySet<string>): Promise<Setup> {
  const testDb = await createTestDb(engine)
  const db = await openSql(parseDbUrl(testDb.url, 'db'))
  await migrate(db, systemMigrations(db.dialect))
  const logs: Setup['logs'] = []
  const store = await CollectionStore.open(db, {
    failStep: (step) => {
      if (failing.has(step)) throw new Error(`injected failure at ${step}`)
    },
    log: (message, detail) => logs.push({ message, detail }),
  })
  const prev = await store.create({
    name: 'docs',
    listRule: '',
    viewRule: '',
    createRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'old', type: 'text' },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
      { name: 'n', type: 'number' },
    ],
    indexes: ['CREATE UNIQUE INDEX idx_docs_title ON docs (title)', 'CREATE INDEX idx_docs_n ON docs (n) WHERE n > 0'],
  })
  await db.db.insertInto('docs').values([
    { id: 'r00000000000001', title: 'one', old: 'x', tags: 'a', n: 1 },
    { id: 'r00000000000002', title: 'two', old: 'y', tags: 'b', n: 0 },
  ]).execute()
  // Renamed table, a renamed field, a removed one, a converted one (single -> multi), a new one,
  // and indexes that change with them.
  const fields = prev.fields
    .filter((f) => f.name !== 'old')
    .map((f) => (f.name === 'title' ? { ...f, name: 'heading' } : f.name === 'tags' ? { ...f, maxSelect: 3 } : f))
  const input = {
    name: 'papers',
    fields: [...fields, { name: 'extra', type: 'text' }],
    indexes: ['CREATE UNIQUE INDEX idx_papers_heading ON papers (heading)', 'CREATE UNIQUE INDEX idx_papers_n ON papers (n) WHERE n > 0'],
  }
  return { testDb, db, store, prev, input, logs }
}

/** A fresh start on the same database (migrations, store, HTTP API): the records API works on the collection. */
async function assertWorksAfterRestart(url: string, name: string, expected: { unique: string; values: Record<string, unknown>[] }): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-journal-'))
  const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { db: url, dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
  try {
    const list = await app.http.inject({ method: 'GET', url: `/api/collections/${name}/records?sort=id` })
    assert.equal(list.statusCode, 200, list.body)
    const items = list.json<{ items: Record<string, unknown>[] }>().items
    assert.deepEqual(items.map((it) => Object.fromEntries(Object.keys(expected.values[0]!).map((k) => [k, it[k]]))), expected.values)
    const created = await app.http.inject({ method: 'POST', url: `/api/collections/${name}/records`, payload: { [expected.unique]: 'three', n: 7 } })
    assert.equal(created.statusCode, 200, created.body)
    // The unique index is in the table itself, not only in the definition.
    await assert.rejects(app.sql.writer().db.insertInto(name).values({ id: 'r00000000000009', [expected.unique]: 'one' }).execute(), (e) => e instanceof SqlUniqueViolationError)
  } finally {
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Whether a statement changes the schema. */
function isDdl(node: RootOperationNode): boolean {
  if (['AlterTableNode', 'CreateTableNode', 'DropTableNode', 'CreateIndexNode', 'DropIndexNode', 'CreateViewNode', 'DropViewNode'].includes(node.kind)) return true
  return node.kind === 'RawNode' && /^\s*(create|alter|drop)\b/i.test(node.sqlFragments[0] ?? '')
}

/** The engine, with its schema-change connection failing its `n`th DDL statement once `armed` (then never again). */
function failingNthDdl(engine: SqlEngine, n: number): { engine: SqlEngine; arm(): void; reached(): boolean } {
  let armed = false
  let seen = 0
  const plugin: KyselyPlugin = {
    transformQuery({ node }) {
      if (armed && isDdl(node) && ++seen === n) {
        armed = false
        throw new Error(`injected failure at DDL statement ${n}`)
      }
      return node
    },
    transformResult: async ({ result }) => result,
  }
  return {
    engine: { ...engine, withoutStatementTimeout: (fn) => engine.withoutStatementTimeout((k) => fn(k.withPlugin(plugin))) },
    arm: () => void (armed = true),
    reached: () => seen >= n,
  }
}

const before = { unique: 'title', values: [{ title: 'one', old: 'x', tags: 'a' }, { title: 'two', old: 'y', tags: 'b' }] }
const after = { unique: 'heading', values: [{ heading: 'one', extra: '', tags: ['a'] }, { heading: 'two', extra: '', tags: ['b'] }] }

for (const { engine, skip } of await engines()) {
  describe(`collection changes that fail halfway: ${engine}`, { skip }, () => {
    for (const step of ['indexes-dropped', 'renamed', 'moved', 'placed', 'indexed']) {
      test(`a failure at "${step}" is undone: table and definition agree, now and after a restart`, async () => {
        const failing = new Set<string>()
        const s = await setup(engine, failing)
        failing.add(step)
        try {
          await assert.rejects(s.store.update('docs', s.input), (e: Error) => e.cause instanceof Error && /injected failure/.test(e.cause.message))
          const stored = s.store.getOrThrow('docs')
          assert.deepEqual(stored, s.prev)
          assert.equal(s.store.get('papers'), undefined)
          await assertConsistent(engine, s.db, stored, { ...s.prev, name: 'papers', indexes: s.input.indexes as string[] })
          assert.deepEqual(await s.db.db.selectFrom(JOURNAL_TABLE).selectAll().execute(), [])
          await s.db.close()
          await assertWorksAfterRestart(s.testDb.url, 'docs', before)
        } finally {
          await s.db.close()
          await s.testDb.drop()
        }
      })
    }

    test('a failure at any one DDL statement of the change leaves table and definition agreeing', async () => {
      for (let n = 1; ; n++) {
        const testDb = await createTestDb(engine)
        const db = await openSql(parseDbUrl(testDb.url, 'db'))
        try {
          await migrate(db, systemMigrations(db.dialect))
          const f = failingNthDdl(db, n)
          const store = await CollectionStore.open(f.engine)
          const prev = await store.create({ name: 'docs', fields: [{ name: 'title', type: 'text' }, { name: 'old', type: 'text' }, { name: 'tags', type: 'select', values: ['a', 'b'], maxSelect: 1 }, { name: 'n', type: 'number' }], indexes: ['CREATE UNIQUE INDEX idx_docs_title ON docs (title)', 'CREATE INDEX idx_docs_n ON docs (n) WHERE n > 0'] })
          await db.db.insertInto('docs').values({ id: 'r00000000000001', title: 'one', old: 'x', tags: 'a', n: 1 }).execute()
          const fields = prev.fields.filter((x) => x.name !== 'old').map((x) => (x.name === 'title' ? { ...x, name: 'heading' } : x.name === 'tags' ? { ...x, maxSelect: 2 } : x))
          const input = { name: 'papers', fields: [...fields, { name: 'extra', type: 'text' }], indexes: ['CREATE UNIQUE INDEX idx_papers_heading ON papers (heading)', 'CREATE UNIQUE INDEX idx_papers_n ON papers (n) WHERE n > 0'] }
          f.arm()
          const result = await store.update('docs', input).then(
            (next) => ({ next }),
            (err: Error) => ({ err }),
          )
          if ('next' in result) {
            await assertConsistent(engine, db, result.next, prev, true)
            if (!f.reached()) {
              // Past the last DDL statement: every one has been failed in turn.
              assert.ok(n > 5, `only ${n - 1} DDL statements`)
              return
            }
            // A failed clean-up (journaled engines only): the change is in force, the next start finishes it.
            assert.equal(db.dialect.transactionalDdl, false, `statement ${n} failed but the change went through`)
            const reopened = await CollectionStore.open(db)
            await assertConsistent(engine, db, reopened.getOrThrow('papers'), prev)
            continue
          }
          assert.deepEqual(store.getOrThrow('docs'), prev)
          await assertConsistent(engine, db, prev, { ...prev, name: 'papers', indexes: input.indexes })
          const row = await db.db.selectFrom('docs').selectAll().executeTakeFirstOrThrow()
          assert.deepEqual([row.title, row.old, row.tags, Number(row.n)], ['one', 'x', 'a', 1], `statement ${n}`)
        } finally {
          await db.close()
          await testDb.drop()
        }
      }
    })

    test('a failed clean-up keeps the change, and the next start finishes it', async () => {
      const failing = new Set<string>()
      const s = await setup(engine, failing)
      failing.add('clean-up')
      try {
        const transactional = s.db.dialect.transactionalDdl
        // In one transaction the clean-up fails the whole change; journaled, the change is already in force.
        if (transactional) await assert.rejects(s.store.update('docs', s.input))
        else await s.store.update('docs', s.input)
        const stored = s.store.get('papers') ?? s.store.getOrThrow('docs')
        await assertConsistent(engine, s.db, stored, transactional ? { ...s.prev, name: 'papers', indexes: s.input.indexes as string[] } : s.prev, true)
        await s.db.close()
        const db = await openSql(parseDbUrl(s.testDb.url, 'db'))
        try {
          const logs: string[] = []
          const store = await CollectionStore.open(db, { log: (m) => logs.push(m) })
          const c = store.getOrThrow(transactional ? 'docs' : 'papers')
          await assertConsistent(engine, db, c, transactional ? { ...s.prev, name: 'papers', indexes: s.input.indexes as string[] } : s.prev)
          assert.equal(logs.length, transactional ? 0 : 1, logs.join('\n'))
          if (!transactional) assert.match(logs[0]!, /change of collection papers was completed/)
        } finally {
          await db.close()
        }
        await assertWorksAfterRestart(s.testDb.url, transactional ? 'docs' : 'papers', transactional ? before : after)
      } finally {
        await s.db.close()
        await s.testDb.drop()
      }
    })

    test('a change whose undo fails too (as after a crash) is undone when the store next opens', async () => {
      const failing = new Set<string>()
      const s = await setup(engine, failing)
      failing.add('placed').add('undo')
      try {
        await assert.rejects(s.store.update('docs', s.input))
        assert.deepEqual(s.store.getOrThrow('docs'), s.prev)
        const journaled = await s.db.db.selectFrom(JOURNAL_TABLE).select(['id', 'step']).execute()
        assert.deepEqual(journaled, s.db.dialect.transactionalDdl ? [] : [{ id: s.prev.id, step: 'placed' }])
        await s.db.close()
        const db = await openSql(parseDbUrl(s.testDb.url, 'db'))
        try {
          const logs: string[] = []
          const store = await CollectionStore.open(db, { log: (m) => logs.push(m) })
          assert.deepEqual(store.getOrThrow('docs'), s.prev)
          await assertConsistent(engine, db, s.prev, { ...s.prev, name: 'papers', indexes: s.input.indexes as string[] })
          assert.equal(logs.length, s.db.dialect.transactionalDdl ? 0 : 1, logs.join('\n'))
          assert.deepEqual(await db.db.selectFrom(JOURNAL_TABLE).selectAll().execute(), [])
          // And the change itself goes through now.
          const next = await store.update('docs', s.input)
          await assertConsistent(engine, db, next, s.prev)
        } finally {
          await db.close()
        }
        await assertWorksAfterRestart(s.testDb.url, 'papers', after)
      } finally {
        await s.db.close()
        await s.testDb.drop()
      }
    })
  })
}
