/**
 * Field values on every SQL engine: API input -> prepareRecord -> a real table -> rowToRecord,
 * PocketBase's validation codes, modifiers, autodate, ids, passwords.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { verifyPassword } from '../../src/auth/index.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { prepareRecord, rowToRecord, type PrepareContext, type UploadedFile } from '../../src/records/fields/index.ts'
import type { Collection } from '../../src/records/model.ts'
import type { RecordJson } from '../../src/records/record.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

const DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/

for (const { engine, skip } of await engines()) {
  describe(`field values: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine
    let store: CollectionStore
    let kitchen: Collection
    let ctx: PrepareContext
    const guest = () => ({ ...ctx, isSuperuser: false })

    before(async () => {
      testDb = await createTestDb(engine)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
      await migrate(db, systemMigrations(db.dialect))
      store = await CollectionStore.open(db)
      ctx = { capabilities: db.capabilities, isSuperuser: true }
      const target = await store.create({ name: 'targets' })
      kitchen = await store.create({
        name: 'kitchen',
        fields: [
          { name: 'title', type: 'text', min: 2, max: 10, pattern: '^[a-z ]+$' },
          { name: 'price', type: 'number', min: 0, max: 100 },
          { name: 'count', type: 'number', onlyInt: true },
          { name: 'active', type: 'bool' },
          { name: 'mail', type: 'email', onlyDomains: ['example.com'] },
          { name: 'site', type: 'url' },
          { name: 'body', type: 'editor', maxSize: 20 },
          { name: 'when', type: 'date', min: '2000-01-01 00:00:00.000Z' },
          { name: 'kind', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
          { name: 'tags', type: 'select', values: ['x', 'y', 'z'], maxSelect: 2 },
          { name: 'meta', type: 'json', maxSize: 100 },
          { name: 'ref', type: 'relation', collectionId: target.id, maxSelect: 1 },
          { name: 'refs', type: 'relation', collectionId: target.id, maxSelect: 5, minSelect: 0 },
          { name: 'doc', type: 'file', maxSelect: 1, maxSize: 1000, mimeTypes: ['text/plain'] },
          { name: 'pics', type: 'file', maxSelect: 3 },
          { name: 'secret', type: 'text', hidden: true },
          { name: 'created', type: 'autodate', onCreate: true },
          { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
        ],
      })
    })
    after(async () => {
      await db?.close()
      await testDb?.drop()
    })

    async function insert(c: Collection, input: Record<string, unknown>, c2 = ctx): Promise<RecordJson> {
      const { values, errors } = await prepareRecord(c, input, undefined, c2)
      assert.deepEqual(errors, {})
      await db.db.insertInto(c.name).values(values).execute()
      return read(c, String(values.id))
    }
    async function read(c: Collection, id: string): Promise<RecordJson> {
      return rowToRecord(c, await db.db.selectFrom(c.name).selectAll().where('id', '=', id).executeTakeFirstOrThrow())
    }
    async function update(c: Collection, existing: RecordJson, input: Record<string, unknown>, c2 = ctx): Promise<RecordJson> {
      const { values, errors } = await prepareRecord(c, input, existing, c2)
      assert.deepEqual(errors, {})
      if (Object.keys(values).length) await db.db.updateTable(c.name).set(values).where('id', '=', existing.id).execute()
      return read(c, existing.id)
    }

    test('every field type round-trips through the table in its API form', async () => {
      const upload: UploadedFile = { name: 'notes_abc.txt', originalName: 'notes.txt', size: 10, mimeType: 'text/plain', body: Buffer.from('0123456789') }
      const rec = await insert(kitchen, {
        title: 'hello', price: '12.5', count: 3, active: 'true', mail: 'kim@example.com', site: 'https://example.com/a',
        body: '<p>hi</p>', when: '2024-01-02T03:04:05Z', kind: 'b', tags: ['x', 'z', 'x'], meta: { a: [1, 2] },
        ref: 'r1', refs: '["r1","r2"]', doc: upload, pics: [], secret: 's3', ignored: 'nope',
      })
      assert.match(rec.id, /^[a-z0-9]{15}$/)
      assert.equal(rec.collectionId, kitchen.id)
      assert.equal(rec.collectionName, 'kitchen')
      assert.equal(rec.title, 'hello')
      assert.equal(rec.price, 12.5)
      assert.equal(rec.count, 3)
      assert.equal(rec.active, true)
      assert.equal(rec.mail, 'kim@example.com')
      assert.equal(rec.site, 'https://example.com/a')
      assert.equal(rec.body, '<p>hi</p>')
      assert.equal(rec.when, '2024-01-02 03:04:05.000Z')
      assert.equal(rec.kind, 'b')
      assert.deepEqual(rec.tags, ['x', 'z'])
      assert.deepEqual(rec.meta, { a: [1, 2] })
      assert.equal(rec.ref, 'r1')
      assert.deepEqual(rec.refs, ['r1', 'r2'])
      assert.equal(rec.doc, 'notes_abc.txt')
      assert.deepEqual(rec.pics, [])
      assert.equal(rec.secret, 's3')
      assert.ok(!('ignored' in rec))
      assert.match(String(rec.created), DATE)
      assert.equal(rec.created, rec.updated)

      // Empty values in their stored empty form.
      const empty = await insert(kitchen, {})
      assert.deepEqual(
        [empty.title, empty.price, empty.active, empty.when, empty.kind, empty.tags, empty.meta, empty.ref, empty.refs, empty.doc, empty.pics],
        ['', 0, false, '', '', [], null, '', [], '', []],
      )
    })

    test('updates write only what changed, apply modifiers and renew the update date', async () => {
      const inserted = await insert(kitchen, { title: 'abc', price: 10, tags: ['x'], refs: ['r1'], pics: [], count: 1 })
      // An update date in the past, so the renewed one is later without waiting on the clock.
      await db.db.updateTable(kitchen.name).set({ updated: '2000-01-01 00:00:00.000Z' }).where('id', '=', inserted.id).execute()
      const rec = await read(kitchen, inserted.id)
      const next = await update(kitchen, rec, { 'price+': 5, 'count-': 3, '+tags': 'y', 'refs+': ['r2', 'r3'], 'refs-': 'r1' })
      assert.equal(next.price, 15)
      assert.equal(next.count, -2)
      assert.deepEqual(next.tags, ['y', 'x'])
      assert.deepEqual(next.refs, ['r2', 'r3'])
      assert.equal(next.title, 'abc', 'untouched')
      assert.equal(next.created, rec.created)
      assert.ok(String(next.updated) > String(rec.updated))
      // Existing file names stay valid, unknown ones are rejected, removal by name works.
      const withPics = await update(kitchen, next, { pics: [{ name: 'a.png', originalName: 'a.png', size: 1, mimeType: 'image/png', body: Buffer.alloc(1) }, { name: 'b.png', originalName: 'b.png', size: 1, mimeType: 'image/png', body: Buffer.alloc(1) }] })
      assert.deepEqual(withPics.pics, ['a.png', 'b.png'])
      const fewer = await update(kitchen, withPics, { 'pics-': 'a.png' })
      assert.deepEqual(fewer.pics, ['b.png'])
      const bad = await prepareRecord(kitchen, { 'pics+': 'forged.png' }, fewer, ctx)
      assert.equal(bad.errors.pics?.code, 'validation_invalid_file')
      // The id cannot change.
      const moved = await prepareRecord(kitchen, { id: 'otherid12345678' }, fewer, ctx)
      assert.equal(moved.errors.id?.code, 'validation_pk_change')
    })

    test('invalid values get PocketBase\'s codes', async () => {
      const cases: [Record<string, unknown>, string, string][] = [
        [{ title: 'a' }, 'title', 'validation_min_text_constraint'],
        [{ title: 'abcdefghijk' }, 'title', 'validation_max_text_constraint'],
        [{ title: 'ABC' }, 'title', 'validation_invalid_format'],
        [{ price: -1 }, 'price', 'validation_min_number_constraint'],
        [{ price: 101 }, 'price', 'validation_max_number_constraint'],
        [{ count: 1.5 }, 'count', 'validation_only_int_constraint'],
        [{ mail: 'nope' }, 'mail', 'validation_is_email'],
        [{ mail: 'kim@other.com' }, 'mail', 'validation_email_domain_not_allowed'],
        [{ site: 'not a url' }, 'site', 'validation_invalid_url'],
        [{ body: 'x'.repeat(21) }, 'body', 'validation_content_size_limit'],
        [{ when: '1999-12-31 00:00:00Z' }, 'when', 'validation_min_greater_equal_than_required'],
        [{ kind: 'd' }, 'kind', 'validation_invalid_value'],
        [{ tags: ['x', 'y', 'z'] }, 'tags', 'validation_too_many_values'],
        [{ tags: ['q'] }, 'tags', 'validation_invalid_value'],
        [{ meta: 'x'.repeat(200) }, 'meta', 'validation_json_size_limit'],
        [{ doc: { name: 'big.txt', originalName: 'big.txt', size: 5000, mimeType: 'text/plain', body: Buffer.alloc(5000) } }, 'doc', 'validation_file_size_limit'],
        [{ doc: { name: 'a.exe', originalName: 'a.exe', size: 5, mimeType: 'application/x-msdownload', body: Buffer.alloc(5) } }, 'doc', 'validation_invalid_mime_type'],
        [{ pics: ['not-mine.png'] }, 'pics', 'validation_invalid_file'],
        [{ id: 'Bad Id!' }, 'id', 'validation_min_text_constraint'],
        [{ id: 'UPPERCASE123456' }, 'id', 'validation_invalid_format'],
      ]
      for (const [input, field, code] of cases) {
        const { errors } = await prepareRecord(kitchen, input, undefined, ctx)
        assert.equal(errors[field]?.code, code, `${JSON.stringify(input)} -> ${JSON.stringify(errors)}`)
      }
      const required = await store.create({ name: 'needs', fields: [{ name: 't', type: 'text', required: true }, { name: 'n', type: 'number', required: true }, { name: 'j', type: 'json', required: true }, { name: 's', type: 'select', values: ['a'], required: true }] })
      const { errors } = await prepareRecord(required, { j: [] }, undefined, ctx)
      assert.deepEqual(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, v.code])), { t: 'validation_required', n: 'validation_required', j: 'validation_required', s: 'validation_required' })
    })

    test('ids: generated, or given and validated; prototype keys are ignored', async () => {
      const given = await insert(kitchen, { id: 'abcdefghij12345' })
      assert.equal(given.id, 'abcdefghij12345')
      const input = JSON.parse('{"__proto__": {"title": "zz"}, "constructor": {"x": 1}, "title": "ok"}') as Record<string, unknown>
      const { values, errors } = await prepareRecord(kitchen, input, undefined, ctx)
      assert.deepEqual(errors, {})
      assert.equal(values.title, 'ok')
      assert.equal(({} as Record<string, unknown>).title, undefined)
    })

    test('hidden fields are set only by superusers', async () => {
      const rec = await insert(kitchen, { title: 'abc', secret: 'mine' }, guest())
      assert.equal(rec.secret, '')
      const su = await update(kitchen, rec, { secret: 'set' })
      assert.equal(su.secret, 'set')
    })

    test('json values keep their JSON type', async () => {
      for (const [input, expected] of [[42, 42], [true, true], ['plain text', 'plain text'], ['[1,2]', [1, 2]], [[], []], [null, null]] as const) {
        const rec = await insert(kitchen, { meta: input })
        assert.deepEqual(rec.meta, expected, JSON.stringify(input))
      }
    })

    test('a JSON string that looks like JSON stays a string', async () => {
      await insert(kitchen, { meta: { probe: true } })
      // Every engine hands JSON columns over as text; the field layer parses them.
      const probe = await db.db.selectFrom('kitchen').select('meta').where('meta', 'is not', null).limit(1).executeTakeFirstOrThrow()
      assert.equal(typeof probe.meta, 'string')
      const rec = await insert(kitchen, { meta: '"123"' })
      assert.equal(rec.meta, '123')
    })

    test('auth records: password hashing, passwordConfirm, tokenKey, manager-only fields', async () => {
      const users = store.getOrThrow('users')
      const missing = await prepareRecord(users, { email: 'a@b.co', password: 'secret123' }, undefined, guest())
      assert.equal(missing.errors.passwordConfirm?.code, 'validation_required')
      const mismatch = await prepareRecord(users, { email: 'a@b.co', password: 'secret123', passwordConfirm: 'other' }, undefined, guest())
      assert.equal(mismatch.errors.passwordConfirm?.code, 'validation_values_mismatch')
      const short = await prepareRecord(users, { email: 'a@b.co', password: 'short', passwordConfirm: 'short' }, undefined, guest())
      assert.equal(short.errors.password?.code, 'validation_min_text_constraint')
      const verified = await prepareRecord(users, { email: 'a@b.co', password: 'secret123', passwordConfirm: 'secret123', verified: true }, undefined, guest())
      assert.equal(verified.errors.verified?.code, 'validation_values_mismatch')

      const rec = await insert(users, { email: 'kim@example.com', password: 'secret123', passwordConfirm: 'secret123', name: 'Kim', tokenKey: 'forged' }, guest())
      assert.notEqual(rec.password, 'secret123')
      assert.ok(await verifyPassword('secret123', String(rec.password)))
      assert.match(String(rec.tokenKey), /^[a-zA-Z0-9]{50}$/)
      assert.equal(rec.verified, false)
      assert.equal(rec.emailVisibility, false)

      const noPassword = await prepareRecord(users, { passwordConfirm: 'x', oldPassword: 'secret123' }, rec, guest())
      assert.equal(noPassword.errors.password?.code, 'validation_required')
      const noOld = await prepareRecord(users, { password: 'newpass123', passwordConfirm: 'newpass123' }, rec, guest())
      assert.equal(noOld.errors.oldPassword?.code, 'validation_required')
      const wrongOld = await prepareRecord(users, { password: 'newpass123', passwordConfirm: 'newpass123', oldPassword: 'nope' }, rec, guest())
      assert.equal(wrongOld.errors.oldPassword?.code, 'validation_invalid_old_password')
      const email = await prepareRecord(users, { email: 'new@example.com' }, rec, guest())
      assert.equal(email.errors.email?.code, 'validation_values_mismatch')

      const changed = await update(users, rec, { password: 'newpass123', passwordConfirm: 'newpass123', oldPassword: 'secret123' }, guest())
      assert.ok(await verifyPassword('newpass123', String(changed.password)))
      assert.notEqual(changed.tokenKey, rec.tokenKey, 'a new password signs every session out')
      const named = await update(users, changed, { name: 'Kim Lee' }, guest())
      assert.equal(named.password, changed.password)
      assert.equal(named.tokenKey, changed.tokenKey)
    })
  })
}
