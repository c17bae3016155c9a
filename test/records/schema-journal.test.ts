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
import { after as afterAll, before as beforeAll, describe, test } from 'node:test'
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

type Logs = { message: string; detail: Record<string, unknown> }[]

/** A store on `db` whose schema changes fail at the steps `failing` holds when they run. */
function openStore(db: SqlEngine, failing: ReadonlySet<string> = new Set(), logs: Logs = []): Promise<CollectionStore> {
  return CollectionStore.open(db, {
    failStep: (step) => {
      if (failing.has(step)) throw new Error(`injected failure at ${step}`)
    },
    log: (message, detail) => logs.push({ message, detail }),
  })
}

interface Case {
  prev: Collection
  input: { name: string; fields: unknown[]; indexes: string[] }
  /** `prev` renamed with the new indexes: what must not be there when the change is undone. */
  undone: Collection
}

/**
 * A collection `docs_<sfx>` with data and two indexes (one partial), and the change to make to it:
 * a renamed table, a renamed field, a removed one, a converted one (single -> multi), a new one,
 * and indexes that change with them.
 */
async function makeCase(db: SqlEngine, store: CollectionStore, sfx: string): Promise<Case> {
  const prev = await store.create({
    name: `docs_${sfx}`,
    listRule: '',
    viewRule: '',
    createRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'old', type: 'text' },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
      { name: 'n', type: 'number' },
    ],
    indexes: [`CREATE UNIQUE INDEX idx_docs_${sfx}_title ON docs_${sfx} (title)`, `CREATE INDEX idx_docs_${sfx}_n ON docs_${sfx} (n) WHERE n > 0`],
  })
  await db.db.insertInto(prev.name).values([
    { id: 'r00000000000001', title: 'one', old: 'x', tags: 'a', n: 1 },
    { id: 'r00000000000002', title: 'two', old: 'y', tags: 'b', n: 0 },
  ]).execute()
  const fields = prev.fields
    .filter((f) => f.name !== 'old')
    .map((f) => (f.name === 'title' ? { ...f, name: 'heading' } : f.name === 'tags' ? { ...f, maxSelect: 3 } : f))
  const name = `papers_${sfx}`
  const input = {
    name,
    fields: [...fields, { name: 'extra', type: 'text' }],
    indexes: [`CREATE UNIQUE INDEX idx_papers_${sfx}_heading ON ${name} (heading)`, `CREATE UNIQUE INDEX idx_papers_${sfx}_n ON ${name} (n) WHERE n > 0`],
  }
  return { prev, input, undone: { ...prev, name, indexes: input.indexes } }
}

/** What the records API must show of a collection after a restart. */
interface Expected {
  name: string
  unique: string
  values: Record<string, unknown>[]
}
const before = (name: string): Expected => ({ name, unique: 'title', values: [{ title: 'one', old: 'x', tags: 'a' }, { title: 'two', old: 'y', tags: 'b' }] })
const after = (name: string): Expected => ({ name, unique: 'heading', values: [{ heading: 'one', extra: '', tags: ['a'] }, { heading: 'two', extra: '', tags: ['b'] }] })

/** A fresh start on the same database (migrations, store, HTTP API): the records API works on each collection. */
async function assertWorksAfterRestart(url: string, collections: Expected[]): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-journal-'))
  const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { db: url, dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
  try {
    for (const expected of collections) {
      const { name } = expected
      const list = await app.http.inject({ method: 'GET', url: `/api/collections/${name}/records?sort=id` })
      assert.equal(list.statusCode, 200, `${name}: ${list.body}`)
      const items = list.json<{ items: Record<string, unknown>[] }>().items
      assert.deepEqual(items.map((it) => Object.fromEntries(Object.keys(expected.values[0]!).map((k) => [k, it[k]]))), expected.values, name)
      const created = await app.http.inject({ method: 'POST', url: `/api/collections/${name}/records`, payload: { [expected.unique]: 'three', n: 7 } })
      assert.equal(created.statusCode, 200, `${name}: ${created.body}`)
      // The unique index is in the table itself, not only in the definition.
      await assert.rejects(app.sql.writer().db.insertInto(name).values({ id: 'r00000000000009', [expected.unique]: 'one' }).execute(), (e) => e instanceof SqlUniqueViolationError)
    }
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

for (const { engine, skip } of await engines()) {
  describe(`collection changes that fail halfway: ${engine}`, { skip }, () => {
    // One database for the whole suite; each test works on collections of its own.
    let testDb: TestDb
    let db: SqlEngine
    const restart: Expected[] = []
    beforeAll(async () => {
      testDb = await createTestDb(engine)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
      await migrate(db, systemMigrations(db.dialect))
    })
    afterAll(async () => {
      await db?.close()
      await testDb?.drop()
    })
    const journal = () => db.db.selectFrom(JOURNAL_TABLE).select(['id', 'step']).execute()

    for (const [i, step] of ['indexes-dropped', 'renamed', 'moved', 'placed', 'indexed'].entries()) {
      test(`a failure at "${step}" is undone: table and definition agree, now and after the store reopens`, async () => {
        const failing = new Set<string>()
        const store = await openStore(db, failing)
        const c = await makeCase(db, store, `p${i}`)
        failing.add(step)
        await assert.rejects(store.update(c.prev.name, c.input), (e: Error) => e.cause instanceof Error && /injected failure/.test(e.cause.message))
        assert.deepEqual(store.getOrThrow(c.prev.name), c.prev)
        assert.equal(store.get(c.input.name), undefined)
        await assertConsistent(engine, db, c.prev, c.undone)
        assert.deepEqual(await journal(), [])
        const reopened = await openStore(db)
        assert.deepEqual(reopened.getOrThrow(c.prev.name), c.prev)
        await assertConsistent(engine, db, c.prev, c.undone)
        restart.push(before(c.prev.name))
      })
    }

    test('a failure at any one DDL statement of the change leaves table and definition agreeing', async () => {
      for (let n = 1; ; n++) {
        const f = failingNthDdl(db, n)
        const store = await openStore(f.engine)
        const c = await makeCase(db, store, `s${n}`)
        f.arm()
        const result = await store.update(c.prev.name, c.input).then(
          (next) => ({ next }),
          (err: Error) => ({ err }),
        )
        if ('next' in result) {
          await assertConsistent(engine, db, result.next, c.prev, true)
          if (!f.reached()) {
            // Past the last DDL statement: every one has been failed in turn.
            assert.ok(n > 5, `only ${n - 1} DDL statements`)
            return
          }
          // A failed clean-up (journaled engines only): the change is in force, the next start finishes it.
          assert.equal(db.dialect.transactionalDdl, false, `statement ${n} failed but the change went through`)
          const reopened = await openStore(db)
          await assertConsistent(engine, db, reopened.getOrThrow(c.input.name), c.prev)
          continue
        }
        assert.deepEqual(store.getOrThrow(c.prev.name), c.prev)
        await assertConsistent(engine, db, c.prev, c.undone)
        const row = await db.db.selectFrom(c.prev.name).selectAll().where('id', '=', 'r00000000000001').executeTakeFirstOrThrow()
        assert.deepEqual([row.title, row.old, row.tags, Number(row.n)], ['one', 'x', 'a', 1], `statement ${n}`)
      }
    })

    test('a failed clean-up keeps the change, and the next start finishes it', async () => {
      const failing = new Set<string>()
      const store = await openStore(db, failing)
      const c = await makeCase(db, store, 'cleanup')
      failing.add('clean-up')
      const transactional = db.dialect.transactionalDdl
      // In one transaction the clean-up fails the whole change; journaled, the change is already in force.
      if (transactional) await assert.rejects(store.update(c.prev.name, c.input))
      else await store.update(c.prev.name, c.input)
      const stored = transactional ? store.getOrThrow(c.prev.name) : store.getOrThrow(c.input.name)
      await assertConsistent(engine, db, stored, transactional ? c.undone : c.prev, true)
      const logs: Logs = []
      const reopened = await openStore(db, new Set(), logs)
      await assertConsistent(engine, db, reopened.getOrThrow(stored.name), transactional ? c.undone : c.prev)
      assert.deepEqual(logs.map((l) => l.message), transactional ? [] : [`an interrupted change of collection ${c.input.name} was completed`])
      assert.deepEqual(await journal(), [])
      restart.push(transactional ? before(c.prev.name) : after(c.input.name))
    })

    test('a change whose undo fails too (as after a crash) is undone when the store next opens', async () => {
      const failing = new Set<string>()
      const store = await openStore(db, failing)
      const c = await makeCase(db, store, 'crash')
      failing.add('placed').add('undo')
      await assert.rejects(store.update(c.prev.name, c.input))
      assert.deepEqual(store.getOrThrow(c.prev.name), c.prev)
      assert.deepEqual(await journal(), db.dialect.transactionalDdl ? [] : [{ id: c.prev.id, step: 'placed' }])
      const logs: Logs = []
      const reopened = await openStore(db, new Set(), logs)
      assert.deepEqual(reopened.getOrThrow(c.prev.name), c.prev)
      await assertConsistent(engine, db, c.prev, c.undone)
      assert.deepEqual(logs.map((l) => l.message), db.dialect.transactionalDdl ? [] : [`an interrupted change of collection ${c.input.name} was undone`])
      assert.deepEqual(await journal(), [])
      // And the change itself goes through now.
      const next = await reopened.update(c.prev.name, c.input)
      await assertConsistent(engine, db, next, c.prev)
      restart.push(after(c.input.name))
    })

    test('after all that, a restart serves every collection through the records API', async () => {
      assert.equal(restart.length, 7)
      await assertWorksAfterRestart(testDb.url, restart)
    })
  })
}
