/**
 * Compiled collections: what depends only on the schema is computed once per collection per
 * schema version, the store swaps a whole snapshot on change (the old one stays as it was), and
 * every change stores a new schema version on every engine.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDbUrl } from '../../src/config/urls.ts'
import { ApiError } from '../../src/errors.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { compiledOf } from '../../src/records/compiled.ts'
import { rowToRecord } from '../../src/records/fields/index.ts'
import { parseCached } from '../../src/records/filter/index.ts'
import { GUEST_REQUEST, type RequestInfo } from '../../src/records/record.ts'
import { ruleAccess } from '../../src/records/records-rules.ts'
import { stripRecord } from '../../src/records/records-visibility.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

async function openStore(engine: 'sqlite' | 'postgres' | 'mysql'): Promise<{ testDb: TestDb; db: SqlEngine; store: CollectionStore }> {
  const testDb = await createTestDb(engine)
  const db = await openSql(parseDbUrl(testDb.url, 'db'))
  await migrate(db, systemMigrations(db.dialect))
  return { testDb, db, store: await CollectionStore.open(db) }
}

describe('compiled collections', () => {
  let testDb: TestDb
  let db: SqlEngine
  let store: CollectionStore

  before(async () => {
    ;({ testDb, db, store } = await openStore('sqlite'))
    await store.create({
      name: 'notes',
      listRule: 'owner = @request.auth.id || public = true',
      viewRule: '',
      createRule: null,
      fields: [
        { name: 'title', type: 'text' },
        { name: 'secret', type: 'text', hidden: true },
        { name: 'public', type: 'bool' },
        { name: 'score', type: 'number' },
        { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      ],
    })
  })
  after(async () => {
    await db?.close()
    await testDb?.drop()
  })

  test('a collection is compiled once: parsed rules, hidden fields, response keys, relations, decoder', () => {
    const notes = store.getOrThrow('notes')
    const compiled = compiledOf(notes)
    assert.equal(compiledOf(notes), compiled, 'the same object on every call for one schema version')
    assert.equal(store.snapshot.compiled('NOTES'), compiled, 'the snapshot holds the same compiled form, by name or id')
    assert.equal(store.snapshot.compiled(notes.id), compiled)

    assert.equal(compiled.rules.list.kind, 'expr')
    assert.equal(compiled.rules.view.kind, 'allow')
    assert.equal(compiled.rules.create.kind, 'deny')
    assert.equal(compiled.rules.manage.kind, 'deny', 'a base collection has no manage rule')
    const list = compiled.rules.list
    assert.ok(list.kind === 'expr' && list.tree?.kind === 'or')
    assert.ok(Object.isFrozen(list.tree), 'a shared tree cannot be changed by one request')
    assert.equal(compiled.ruleByText(notes.listRule!), list)

    assert.deepEqual([...compiled.hidden], ['secret'])
    assert.deepEqual(compiled.responseKeys, ['collectionId', 'collectionName', 'id', 'title', 'secret', 'public', 'score', 'owner'])
    assert.equal(compiled.relations.get('owner')?.collectionId, '_pb_users_auth_')

    const row = { id: 'n1', title: 't', secret: 's', public: 1, score: '4.5', owner: null }
    const record = compiled.decode(row)
    assert.deepEqual(record, { collectionId: notes.id, collectionName: 'notes', id: 'n1', title: 't', secret: 's', public: true, score: 4.5, owner: '' })
    assert.deepEqual(rowToRecord(notes, row), record, 'rowToRecord uses the same decoder')
    assert.deepEqual(Object.keys(stripRecord(notes, record, { showHidden: false, showEmail: false })), ['collectionId', 'collectionName', 'id', 'title', 'public', 'score', 'owner'])
  })

  test('a change swaps in a new snapshot; the old one, held by a request in flight, is unchanged', async () => {
    const old = store.snapshot
    const oldNotes = old.getOrThrow('notes')
    const oldCompiled = old.compiled('notes')!
    const oldList = [...old.collections]

    const fields = oldNotes.fields.map((f) => (f.name === 'secret' ? { ...f, hidden: false } : f))
    await store.update('notes', { listRule: 'public = true', fields: [...fields, { name: 'extra', type: 'text', hidden: true }] })

    const now = store.snapshot
    assert.notEqual(now, old)
    assert.notEqual(now.version, old.version)
    assert.equal(store.version, now.version)
    // The old snapshot answers exactly as before, for every lookup.
    assert.ok(Object.isFrozen(old) && Object.isFrozen(old.collections))
    assert.deepEqual(old.collections, oldList)
    assert.equal(old.getOrThrow('notes'), oldNotes)
    assert.equal(old.compiled('notes'), oldCompiled)
    assert.equal(oldNotes.listRule, 'owner = @request.auth.id || public = true')
    assert.deepEqual([...oldCompiled.hidden], ['secret'])
    assert.equal(compiledOf(oldNotes), oldCompiled, 'the old definition keeps its compiled form')
    // The new one is compiled from the new definition.
    const compiled = now.compiled('notes')!
    assert.notEqual(compiled, oldCompiled)
    assert.equal(store.get('notes'), compiled.collection)
    assert.deepEqual([...compiled.hidden], ['extra'])
    assert.ok(compiled.rules.list.kind === 'expr' && compiled.rules.list.text === 'public = true')
    assert.ok(compiled.responseKeys.includes('extra'))
    // Collections that did not change are compiled afresh too, but from equal definitions.
    assert.deepEqual(now.getOrThrow('users'), old.getOrThrow('users'))
  })

  test('a deleted collection is gone from the new snapshot, not from the old one', async () => {
    await store.create({ name: 'scratch' })
    const old = store.snapshot
    await store.delete('scratch')
    assert.ok(old.get('scratch'))
    assert.equal(store.get('scratch'), undefined)
    assert.throws(() => store.snapshot.getOrThrow('scratch'), (err) => err instanceof ApiError && err.status === 404)
  })

  test('a stored rule that no longer parses loads, and fails the requests that use it as before', async () => {
    await store.create({ name: 'broken', listRule: 'id != ""' })
    await db.db.updateTable('_collections').set({ listRule: 'id = (' }).where('name', '=', 'broken').execute()
    await store.reload()
    const broken = store.getOrThrow('broken')
    const rule = compiledOf(broken).rules.list
    assert.ok(rule.kind === 'expr' && rule.error instanceof ApiError)
    const deps = { registry: store, capabilities: db.capabilities }
    for (let i = 0; i < 2; i++) {
      assert.throws(() => ruleAccess(broken.listRule, broken, GUEST_REQUEST, deps), (err) => err instanceof ApiError && err.status === 400)
    }
    assert.deepEqual(ruleAccess(broken.listRule, broken, { ...GUEST_REQUEST, auth: { isSuperuser: true } as RequestInfo['auth'] }, deps), { kind: 'allow' })
    await store.delete('broken')
  })

  test('an unfrozen collection (being edited) is compiled afresh each time', () => {
    const draft = structuredClone(store.getOrThrow('notes'))
    const first = compiledOf(draft)
    assert.notEqual(compiledOf(draft), first)
    draft.fields.push({ ...draft.fields[1]!, id: 'x', name: 'late', hidden: true })
    assert.ok(compiledOf(draft).hidden.has('late'))
  })

  test('the parse cache shares frozen trees by text and never caches an error', () => {
    const a = parseCached('title = "x" && score > 1')
    assert.equal(parseCached('title = "x" && score > 1'), a)
    assert.ok(Object.isFrozen(a))
    assert.equal(parseCached(''), undefined)
    const errors = [0, 1].map(() => {
      try {
        parseCached('title = (')
      } catch (err) {
        return err
      }
      return undefined
    })
    assert.ok(errors[0] instanceof ApiError && errors[1] instanceof ApiError)
    assert.notEqual(errors[0], errors[1], 'each failure is its own error')
  })
})

for (const { engine, skip } of await engines()) {
  describe(`schema version: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine
    let store: CollectionStore
    before(async () => void ({ testDb, db, store } = await openStore(engine)))
    after(async () => {
      await db?.close()
      await testDb?.drop()
    })

    test('each committed change stores a new version with it; a failed change and a truncate do not', async () => {
      const seen = [store.version]
      const told: string[] = []
      const stop = store.addChangeListener((v) => told.push(v))
      await store.create({ name: 'things', fields: [{ name: 'title', type: 'text' }] })
      seen.push(store.version)
      await store.update('things', { listRule: '' })
      seen.push(store.version)
      await assert.rejects(store.update('things', { type: 'auth' }))
      assert.equal(store.version, seen.at(-1), 'a rejected change keeps the version')
      await store.truncate('things')
      assert.equal(store.version, seen.at(-1), 'a truncate is no schema change')
      await store.delete('things')
      seen.push(store.version)
      stop()
      await store.create({ name: 'unheard' })
      assert.equal(new Set(seen).size, seen.length, `every change a new version: ${seen.join(', ')}`)
      assert.equal(await store.storedVersion(), store.version, 'the loaded version is the stored one')
      // Listeners hear the version after each committed call (the truncate too, with no new version).
      assert.deepEqual(told, [seen[1], seen[2], seen[2], seen[3]])
    })
  })
}
