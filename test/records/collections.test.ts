/**
 * Collections on every SQL engine: the bootstrap, schema changes on the real tables (keeping
 * data), indexes enforced by the database, views, validation errors, import.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDbUrl } from '../../src/config/urls.ts'
import { ApiError } from '../../src/errors.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { ROWID_COLUMN } from '../../src/records/columns.ts'
import { isAuthCollection, type Collection } from '../../src/records/model.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { isUniqueViolation } from '../helpers/sql-errors.ts'

const now = () => new Date().toISOString().replace('T', ' ')

async function rejectsWith(p: Promise<unknown>, path: string[], code: string): Promise<ApiError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`)
    let node: unknown = err.data
    for (const k of path) node = (node as Record<string, unknown> | undefined)?.[k]
    assert.equal((node as { code?: string } | undefined)?.code, code, `at ${path.join('.')}: ${JSON.stringify(err.data)}`)
    return err
  }
  assert.fail(`expected a rejection with ${code} at ${path.join('.')}`)
}

for (const { engine, skip } of await engines()) {
  describe(`collections: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine
    let store: CollectionStore

    before(async () => {
      testDb = await createTestDb(engine)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
      await migrate(db, systemMigrations(db.dialect))
      store = await CollectionStore.open(db)
    })
    after(async () => {
      await db?.close()
      await testDb?.drop()
    })

    const tableExists = async (name: string) => (await db.db.introspection.getTables()).some((t) => t.name === name)
    // The hidden @rowid column of PostgreSQL and MariaDB tables is not a field's column.
    const columns = async (name: string) =>
      (await db.db.introspection.getTables()).find((t) => t.name === name)?.columns.map((c) => c.name).filter((c) => c !== ROWID_COLUMN) ?? []

    test('the bootstrap creates _superusers and users as PocketBase does, with their tables', async () => {
      const su = store.getOrThrow('_superusers')
      const users = store.getOrThrow('users')
      assert.equal(users.id, '_pb_users_auth_')
      assert.equal(su.system, true)
      assert.equal(users.system, false)
      assert.ok(isAuthCollection(su) && isAuthCollection(users))
      assert.deepEqual(users.fields.map((f) => f.name), ['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified', 'phone', 'name', 'avatar', 'created', 'updated'], 'PocketBase\'s fields, and Plinth\'s phone')
      assert.equal(users.listRule, 'id = @request.auth.id')
      assert.equal(users.createRule, '')
      assert.equal(su.listRule, null)
      assert.ok(users.fields.find((f) => f.name === 'password')?.hidden)
      assert.ok(users.fields.find((f) => f.name === 'tokenKey')?.hidden)
      // Fresh random secrets per collection and per token kind.
      assert.equal(users.authToken.secret.length, 50)
      assert.notEqual(users.authToken.secret, su.authToken.secret)
      assert.notEqual(users.authToken.secret, users.fileToken.secret)
      assert.equal(su.authToken.duration, 86400)
      assert.equal(store.get('USERS')?.id, users.id, 'names match case-insensitively')
      assert.ok(await tableExists('users'))
      assert.ok(await tableExists('_superusers'))
      assert.ok((await columns('users')).includes('avatar'))
    })

    test('the email index is unique but lets several records have no email', async () => {
      const row = (id: string, email: string) => ({ id, email, password: 'x', tokenKey: 'tk' + id, phone: '', name: '', avatar: '', created: now(), updated: now() })
      await db.db.insertInto('users').values(row('a00000000000001', '')).execute()
      await db.db.insertInto('users').values(row('a00000000000002', '')).execute()
      await db.db.insertInto('users').values(row('a00000000000003', 'x@example.com')).execute()
      await assert.rejects(db.db.insertInto('users').values(row('a00000000000004', 'x@example.com')).execute(), isUniqueViolation)
      await db.db.deleteFrom('users').execute()
    })

    test('create, add, rename and remove fields keep the other columns\' data', async () => {
      const c = await store.create({
        name: 'posts',
        fields: [
          { name: 'title', type: 'text', required: true },
          { name: 'views', type: 'number' },
          { name: 'draft', type: 'bool' },
          { name: 'meta', type: 'json' },
        ],
      })
      assert.equal(c.type, 'base')
      assert.match(c.id, /^pbc_\d+$/)
      assert.deepEqual(c.fields.map((f) => f.name), ['id', 'title', 'views', 'draft', 'meta'])
      assert.deepEqual((await columns('posts')).sort(), ['draft', 'id', 'meta', 'title', 'views'])
      await db.db.insertInto('posts').values([
        { id: 'p1', title: 'one', views: 10, draft: 1, meta: '{"a":1}' },
        { id: 'p2', title: 'two', views: 20, draft: 0, meta: null },
      ]).execute()

      // Add a field, rename one (matched by id), remove one, in one update.
      const fields = c.fields.filter((f) => f.name !== 'draft').map((f) => (f.name === 'title' ? { ...f, name: 'headline' } : f))
      const next = await store.update('posts', { fields: [...fields, { name: 'tags', type: 'select', values: ['a', 'b'], maxSelect: 2 }] })
      assert.deepEqual(next.fields.map((f) => f.name), ['id', 'headline', 'views', 'meta', 'tags'])
      assert.deepEqual((await columns('posts')).sort(), ['headline', 'id', 'meta', 'tags', 'views'])
      const rows = await db.db.selectFrom('posts').select(['id', 'headline', 'views', 'tags']).orderBy('id').execute()
      assert.deepEqual(rows.map((r) => [r.id, r.headline, Number(r.views)]), [['p1', 'one', 10], ['p2', 'two', 20]])
      // The new column got its default on existing rows.
      for (const r of rows) assert.deepEqual(typeof r.tags === 'string' ? JSON.parse(r.tags) : r.tags, [])

      // Swapping two names in one update: each column keeps following its field id.
      const swapped = next.fields.map((f) => (f.name === 'headline' ? { ...f, name: 'views' } : f.name === 'views' ? { ...f, name: 'headline' } : f))
      const after = await store.update('posts', { fields: swapped })
      assert.equal(after.fields.find((f) => f.name === 'views')?.type, 'text')
      const swappedRows = await db.db.selectFrom('posts').select(['id', 'headline', 'views']).orderBy('id').execute()
      assert.deepEqual(swappedRows.map((r) => [r.id, r.views, Number(r.headline)]), [['p1', 'one', 10], ['p2', 'two', 20]])
      await store.update('posts', { fields: next.fields })
    })

    test('a single <-> multi change converts the stored values', async () => {
      const c = await store.create({ name: 'labels', fields: [{ name: 'kind', type: 'select', values: ['x', 'y', 'z'], maxSelect: 1 }] })
      await db.db.insertInto('labels').values([{ id: 'l1', kind: 'y' }, { id: 'l2', kind: '' }]).execute()
      const multi = c.fields.map((f) => (f.name === 'kind' ? { ...f, maxSelect: 3 } : f))
      await store.update('labels', { fields: multi })
      const read = async () => (await db.db.selectFrom('labels').select(['id', 'kind']).orderBy('id').execute()).map((r) => [r.id, typeof r.kind === 'string' ? JSON.parse(r.kind) : r.kind])
      assert.deepEqual(await read(), [['l1', ['y']], ['l2', []]])
      await db.db.updateTable('labels').set({ kind: '["x","z"]' }).where('id', '=', 'l1').execute()
      await store.update('labels', { fields: c.fields })
      const back = await db.db.selectFrom('labels').select(['id', 'kind']).orderBy('id').execute()
      assert.deepEqual(back.map((r) => [r.id, r.kind]), [['l1', 'z'], ['l2', '']])
    })

    test('indexes are created by the database, unique ones enforced, and replaced on change', async () => {
      const c = await store.create({
        name: 'accounts',
        fields: [{ name: 'handle', type: 'text' }, { name: 'score', type: 'number' }],
        indexes: ['CREATE UNIQUE INDEX `idx_handle` ON `whatever` (`handle`)', 'CREATE INDEX idx_score ON accounts (score DESC)'],
      })
      // The table name in a definition is normalized to the collection's.
      assert.match(c.indexes[0]!, /ON `accounts`/)
      await db.db.insertInto('accounts').values({ id: 'a1', handle: 'kim', score: 1 }).execute()
      await assert.rejects(db.db.insertInto('accounts').values({ id: 'a2', handle: 'kim', score: 2 }).execute(), isUniqueViolation)
      // Dropping the unique index lets duplicates in.
      await store.update('accounts', { indexes: ['CREATE INDEX idx_score ON accounts (score)'] })
      await db.db.insertInto('accounts').values({ id: 'a2', handle: 'kim', score: 2 }).execute()
      // A unique index the data violates fails the change and leaves the definition as it was.
      await rejectsWith(store.update('accounts', { indexes: ['CREATE UNIQUE INDEX idx_handle ON accounts (handle)'] }), ['indexes', '0'], 'validation_invalid_index_expression')
      assert.deepEqual(store.getOrThrow('accounts').indexes, ['CREATE INDEX idx_score ON accounts (score)'])
      await rejectsWith(store.update('accounts', { indexes: ['CREATE INDEX nope ON accounts (missing)'] }), ['indexes', '0'], 'validation_invalid_index_expression')
      await rejectsWith(store.update('accounts', { indexes: ['DROP TABLE accounts'] }), ['indexes', '0'], 'validation_invalid_index_expression')
      await rejectsWith(store.update('accounts', { indexes: ['CREATE INDEX idx_tokenKey__pb_users_auth_ ON accounts (score)'] }), ['indexes', '0'], 'validation_existing_index_name')
    })

    test('renaming a collection renames its table and keeps rows and indexes', async () => {
      await store.create({ name: 'old_name', fields: [{ name: 'code', type: 'text' }], indexes: ['CREATE UNIQUE INDEX idx_code ON old_name (code)'] })
      await db.db.insertInto('old_name').values({ id: 'r1', code: 'c1' }).execute()
      const renamed = await store.update('old_name', { name: 'New_Name' })
      assert.equal(renamed.name, 'New_Name')
      assert.ok(!(await tableExists('old_name')))
      const rows = await db.db.selectFrom('New_Name').select(['id', 'code']).execute()
      assert.deepEqual(rows, [{ id: 'r1', code: 'c1' }])
      await assert.rejects(db.db.insertInto('New_Name').values({ id: 'r2', code: 'c1' }).execute(), isUniqueViolation)
      // A case-only rename works on every engine.
      await store.update('New_Name', { name: 'new_name' })
      assert.deepEqual(await db.db.selectFrom('new_name').select('code').execute(), [{ code: 'c1' }])
    })

    test('relations, references and deletes', async () => {
      const authors = await store.create({ name: 'authors', fields: [{ name: 'name', type: 'text' }] })
      await rejectsWith(store.create({ name: 'books', fields: [{ name: 'author', type: 'relation', collectionId: 'nope', maxSelect: 1 }] }), ['fields', '1', 'collectionId'], 'validation_field_relation_missing_collection')
      await store.create({ name: 'books', fields: [{ name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 }] })
      await assert.rejects(store.delete('authors'), (e: unknown) => e instanceof ApiError && e.status === 400 && /books/.test(e.message))
      await store.delete('books')
      assert.ok(!(await tableExists('books')))
      assert.equal(store.get('books'), undefined)
      await assert.rejects(store.delete('_superusers'), (e: unknown) => e instanceof ApiError && e.status === 400)
      assert.ok(await tableExists('_superusers'))
    })

    test('view collections create a real view with inferred fields', async () => {
      await store.create({ name: 'items', fields: [{ name: 'title', type: 'text', max: 50 }, { name: 'qty', type: 'number' }, { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 }] })
      await db.db.insertInto('items').values([{ id: 'i1', title: 'apple', qty: 3, owner: '' }, { id: 'i2', title: 'pear', qty: 5, owner: '' }]).execute()
      const v = await store.create({ name: 'item_view', type: 'view', listRule: '', viewQuery: 'SELECT i.id, i.title AS label, i.qty, i.owner, i.id AS item, (i.qty * 2) AS doubled FROM items i WHERE i.qty > 3;' })
      const byName = Object.fromEntries(v.fields.map((f) => [f.name, f]))
      assert.deepEqual(v.fields.map((f) => f.name), ['id', 'label', 'qty', 'owner', 'item', 'doubled'])
      assert.equal(byName.id?.type, 'text')
      assert.equal(byName.label?.type, 'text')
      assert.equal(byName.label?.type === 'text' && byName.label.max, 50)
      assert.equal(byName.qty?.type, 'number')
      assert.equal(byName.owner?.type, 'relation')
      assert.equal(byName.item?.type === 'relation' && byName.item.collectionId, store.getOrThrow('items').id)
      assert.equal(byName.doubled?.type, 'json')
      const rows = await db.db.selectFrom('item_view').select(['id', 'label']).execute()
      assert.deepEqual(rows, [{ id: 'i2', label: 'pear' }])
      await rejectsWith(store.create({ name: 'bad_view', type: 'view', viewQuery: 'DELETE FROM items' }), ['viewQuery'], 'validation_invalid_view_query')
      await rejectsWith(store.create({ name: 'bad_view', type: 'view', viewQuery: 'SELECT id FROM items; DROP TABLE items' }), ['viewQuery'], 'validation_invalid_view_query')
      await rejectsWith(store.create({ name: 'bad_view', type: 'view', viewQuery: 'SELECT title FROM items' }), ['viewQuery'], 'validation_invalid_view_query')
      await rejectsWith(store.create({ name: 'bad_view', type: 'view', viewQuery: 'SELECT id, nope FROM items' }), ['viewQuery'], 'validation_invalid_view_query')
      await rejectsWith(store.create({ name: 'bad_view', type: 'view', viewQuery: 'SELECT id FROM items', createRule: '' }), ['createRule'], 'validation_nil')
      assert.equal(store.get('bad_view'), undefined)
      // Tables and fields a view uses cannot be removed, renamed or converted under it, on any engine.
      const items = store.getOrThrow('items')
      await assert.rejects(store.update('items', { fields: items.fields.filter((f) => f.name !== 'title') }), (e: unknown) => e instanceof ApiError && e.status === 400 && /item_view/.test(e.message))
      await assert.rejects(store.update('items', { name: 'goods' }), (e: unknown) => e instanceof ApiError && e.status === 400)
      await assert.rejects(store.delete('items'), (e: unknown) => e instanceof ApiError && e.status === 400 && /item_view/.test(e.message))
      assert.deepEqual(store.getOrThrow('items').fields.map((f) => f.name), items.fields.map((f) => f.name))
      // Other changes to the table leave the view working.
      await store.update('items', { fields: [...items.fields, { name: 'extra', type: 'bool' }] })
      assert.deepEqual(await db.db.selectFrom('item_view').select(['id', 'label']).execute(), [{ id: 'i2', label: 'pear' }])
      // Changing the query (and name) replaces the view.
      const changed = await store.update('item_view', { name: 'item_view2', viewQuery: 'SELECT id, qty FROM items' })
      assert.deepEqual(changed.fields.map((f) => f.name), ['id', 'qty'])
      assert.ok(!(await tableExists('item_view')))
      assert.equal((await db.db.selectFrom('item_view2').selectAll().execute()).length, 2)
      await store.delete('item_view2')
      assert.ok(!(await tableExists('item_view2')))
    })

    test('definitions are validated with PocketBase\'s codes, nested like its JSON', async () => {
      await rejectsWith(store.create({ name: 'bad name!' }), ['name'], 'validation_match_invalid')
      await rejectsWith(store.create({ name: '' }), ['name'], 'validation_required')
      await rejectsWith(store.create({ name: 'Users' }), ['name'], 'validation_collection_name_exists')
      await rejectsWith(store.create({ name: '_params' }), ['name'], 'validation_collection_name_invalid')
      await rejectsWith(store.create({ name: 'dup', fields: [{ name: 'a', type: 'text' }, { name: 'A', type: 'bool' }] }), ['fields', '2', 'name'], 'validation_duplicated_field_name')
      await rejectsWith(store.create({ name: 'dup', fields: [{ name: 'x', type: 'nope' }] }), ['fields', '0', 'type'], 'validation_unknown_field_type')
      await rejectsWith(store.create({ name: 'dup', fields: [{ name: 's', type: 'select', values: [] }] }), ['fields', '1', 'values'], 'validation_required')
      await rejectsWith(store.create({ name: 'dup', fields: [{ name: 'expand', type: 'text' }] }), ['fields', '1', 'name'], 'validation_not_in_invalid')
      await rejectsWith(store.create({ name: 'dup', fields: [{ name: 't', type: 'text', pattern: '(' }] }), ['fields', '1', 'pattern'], 'validation_invalid_regex')
      await rejectsWith(store.create({ name: 'dup', type: 'auth', fields: [{ name: 'passwordConfirm', type: 'text' }] }), ['fields', '1', 'name'], 'validation_reserved_field_name')
      const users = store.getOrThrow('users')
      await rejectsWith(store.update('users', { fields: users.fields.map((f) => (f.name === 'email' ? { ...f, name: 'mail' } : f)) }), ['fields'], 'validation_system_field_change')
      // Leaving a system field out brings it back (as PocketBase's initDefaultFields does).
      const kept = await store.update('users', { fields: users.fields.filter((f) => f.name !== 'verified') })
      assert.equal(kept.fields.find((f) => f.name === 'verified')?.id, users.fields.find((f) => f.name === 'verified')?.id)
      await rejectsWith(store.update('users', { system: true }), ['system'], 'validation_collection_system_flag_change')
      await rejectsWith(store.update('users', { type: 'base' }), ['type'], 'validation_collection_type_change')
      await rejectsWith(store.update('_superusers', { name: 'admins' }), ['name'], 'validation_collection_system_name_change')
      await rejectsWith(store.update('_superusers', { listRule: '' }), ['listRule'], 'validation_collection_system_rule_change')
      const typed = await store.create({ name: 'typed', fields: [{ name: 'title', type: 'text' }, { name: 'views', type: 'number' }] })
      await rejectsWith(store.update('typed', { fields: typed.fields.map((f) => (f.name === 'views' ? { ...f, type: 'text' } : f)) }), ['fields', '2'], 'validation_field_type_change')
      assert.equal(store.get('dup'), undefined, 'nothing was created')
      assert.ok(!(await tableExists('dup')))
    })

    test('rules go through the validateRule hook', async () => {
      const seen: string[] = []
      store.validateRule = (_c, rule) => {
        seen.push(rule)
        if (rule.includes('@bad')) throw new Error('unknown identifier')
      }
      try {
        await rejectsWith(store.create({ name: 'ruled', listRule: '@bad = 1' }), ['listRule'], 'validation_invalid_rule')
        const c = await store.create({ name: 'ruled', listRule: 'id != ""', viewRule: null })
        assert.equal(c.listRule, 'id != ""')
        assert.equal(c.viewRule, null)
        assert.ok(seen.includes('id != ""'))
      } finally {
        store.validateRule = undefined
      }
    })

    test('auth collections get system fields, options and a new auth secret when the auth rule changes', async () => {
      const c = await store.create({ name: 'members', type: 'auth', authToken: { duration: 3600 } })
      assert.ok(isAuthCollection(c))
      assert.equal(c.authToken.duration, 3600)
      assert.deepEqual(c.fields.map((f) => f.name), ['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified'])
      assert.equal(c.indexes.length, 2)
      const secret = c.authToken.secret
      const same = await store.update('members', { authToken: { duration: 7200, secret: '' } })
      assert.ok(isAuthCollection(same) && same.authToken.secret === secret && same.authToken.duration === 7200)
      const changed = await store.update('members', { authRule: 'verified = true' })
      assert.ok(isAuthCollection(changed) && changed.authToken.secret !== secret)
      // The required unique indexes come back when left out.
      const reindexed = await store.update('members', { indexes: [] })
      assert.deepEqual(reindexed.indexes, c.indexes)
      await rejectsWith(store.update('members', { indexes: [...c.indexes, 'CREATE INDEX x1 ON members (email)', 'CREATE INDEX x1 ON members (verified)'] }), ['indexes', '3'], 'validation_duplicated_index_name')
    })

    test('import creates, updates and (with deleteMissing) deletes', async () => {
      // Its own database: deleteMissing removes every collection the list leaves out.
      const ownDb = await createTestDb(engine)
      const own = await openSql(parseDbUrl(ownDb.url, 'db'))
      try {
        await migrate(own, systemMigrations(own.dialect))
        const imports = await CollectionStore.open(own)
        await imports.create({ name: 'authors', fields: [{ name: 'name', type: 'text' }] })
        await imports.create({ name: 'posts', fields: [{ name: 'title', type: 'text' }] })
        const exported = JSON.parse(JSON.stringify(imports.all())) as Collection[]
        const keep = exported.filter((c) => c.system || c.name === 'users' || c.name === 'authors')
        const authors = keep.find((c) => c.name === 'authors')!
        authors.fields.push({ name: 'bio', type: 'editor' } as never)
        // A field re-submitted without its id keeps its column and data.
        for (const f of authors.fields) if (f.name === 'name') f.id = ''
        await own.db.insertInto('authors').values({ id: 'au1', name: 'Ann' }).execute()
        const list: unknown[] = [
          ...keep,
          { name: 'imp_a', type: 'base', fields: [{ name: 'x', type: 'text' }] },
          { name: 'imp_b', type: 'base', fields: [{ name: 'a', type: 'relation', collectionId: authors.id, maxSelect: 1 }] },
        ]
        await imports.import(list, true)
        const after = imports.all().map((c) => c.name).sort()
        assert.deepEqual(after, ['_authOrigins', '_externalAuths', '_imBlocks', '_imConversations', '_imMembers', '_imMessages', '_mfas', '_otps', '_superusers', 'authors', 'imp_a', 'imp_b', 'users'].sort())
        const tables = (await own.db.introspection.getTables()).map((t) => t.name)
        assert.ok(!tables.includes('posts'))
        const authorColumns = (await own.db.introspection.getTables()).find((t) => t.name === 'authors')?.columns.map((c) => c.name) ?? []
        assert.ok(authorColumns.includes('bio'))
        assert.deepEqual(await own.db.selectFrom('authors').select(['id', 'name', 'bio']).execute(), [{ id: 'au1', name: 'Ann', bio: '' }])
        await rejectsWith(imports.import([{ name: 'imp_c', fields: [{ name: 'r', type: 'relation', collectionId: 'missing' }] }], false), ['collections'], 'validation_collections_import_failure')
        assert.equal(imports.get('imp_c'), undefined)
      } finally {
        await own.close()
        await ownDb.drop()
      }
    })

    test('another store on the same database sees the changes after reload()', async () => {
      const other = await CollectionStore.open(db)
      await store.create({ name: 'shared_one' })
      assert.equal(other.get('shared_one'), undefined)
      await other.reload()
      assert.ok(other.get('shared_one'))
    })

    test('truncate deletes the rows and keeps the table', async () => {
      await store.create({ name: 'to_truncate' })
      await db.db.insertInto('to_truncate').values({ id: 's1' }).execute()
      await store.truncate('to_truncate')
      assert.equal((await db.db.selectFrom('to_truncate').selectAll().execute()).length, 0)
      assert.ok(await tableExists('to_truncate'))
    })
  })
}
