/**
 * Phone sign-in in the schema: '0011-users-phone' on a database whose `users` predates it (on every
 * engine), and the `phoneAuth` checks of collection create/update.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseDbUrl } from '../../src/config/urls.ts'
import { ApiError } from '../../src/errors.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { contractRecordTable, liveColumns, syncRecordTable } from '../../src/records/collections/schema-sync.ts'
import { collectionToRow, rowToCollection, type CollectionRow } from '../../src/records/collections/serialize.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { usersPhoneMigration } from '../../src/records/collections/users-phone.ts'
import { isAuthCollection, type AuthCollection } from '../../src/records/model.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

for (const { engine, skip } of await engines()) {
  describe(`phone sign-in schema: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine
    before(async () => {
      testDb = await createTestDb(engine)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
      await migrate(db, systemMigrations(db.dialect))
    })
    after(async () => {
      await db?.close()
      await testDb?.drop()
    })

    const readUsers = async () => rowToCollection((await db.db.selectFrom('_collections').selectAll().where('name', '=', 'users').executeTakeFirstOrThrow()) as CollectionRow) as AuthCollection

    test("'0011-users-phone' adds the field, its index and phoneAuth to an older users, once", async () => {
      // Bring users back to PocketBase's shape, as a database made before the migration has it.
      const now = await readUsers()
      const old = structuredClone(now)
      old.fields = old.fields.filter((f) => f.name !== 'phone')
      old.indexes = old.indexes.filter((i) => !i.includes('phone'))
      old.phoneAuth = { enabled: false, allowSignUp: false, duration: 300, length: 6 }
      for (const f of old.fields) if (f.type === 'email') f.required = true
      await syncRecordTable(db.db, db.dialect, old, now)
      await contractRecordTable(db.db, old, now)
      const { id, ...row } = collectionToRow(old)
      await db.db.updateTable('_collections').set(row).where('id', '=', id).execute()
      assert.ok(!(await liveColumns(db.db, 'users'))!.has('phone'))

      await usersPhoneMigration(db.dialect).up(db.db)
      const users = await readUsers()
      assert.ok(users.fields.some((f) => f.name === 'phone' && f.type === 'text'))
      assert.ok(users.indexes.some((i) => /UNIQUE INDEX .* \(`phone`\) WHERE `phone` != ''/.test(i)))
      assert.deepEqual(users.phoneAuth, { enabled: true, allowSignUp: true, duration: 300, length: 6 })
      assert.equal(users.fields.find((f) => f.type === 'email')?.required, false)
      assert.ok((await liveColumns(db.db, 'users'))!.has('phone'))
      await usersPhoneMigration(db.dialect).up(db.db)
      assert.deepEqual(await readUsers(), users, 'a second run changes nothing')
    })

    test('phoneAuth is checked on create and update like the other auth options', async () => {
      const store = await CollectionStore.open(db)
      const fails = async (input: Record<string, unknown>, path: string[]) => {
        try {
          await store.create(input)
        } catch (err) {
          assert.ok(err instanceof ApiError, String(err))
          let node: unknown = err.data
          for (const k of path) node = (node as Record<string, unknown>)[k]
          assert.ok(node, `${path.join('.')} in ${JSON.stringify(err.data)}`)
          return
        }
        assert.fail('accepted')
      }
      await fails({ name: 'members', type: 'auth', phoneAuth: { enabled: true } }, ['phoneAuth', 'enabled'])
      const phone = { name: 'phone', type: 'text' }
      await fails({ name: 'members', type: 'auth', fields: [phone], phoneAuth: { enabled: true } }, ['phoneAuth', 'enabled'])
      await fails({ name: 'members', type: 'auth', fields: [phone], phoneAuth: { enabled: true, length: 3 } }, ['phoneAuth', 'length'])
      await fails({ name: 'members', type: 'auth', fields: [phone], phoneAuth: { enabled: true, duration: 30 } }, ['phoneAuth', 'duration'])
      const ok = await store.create({ name: 'members', type: 'auth', fields: [phone], indexes: ['CREATE UNIQUE INDEX idx_members_phone ON members (phone)'], phoneAuth: { enabled: true, length: 8 } })
      assert.ok(isAuthCollection(ok))
      assert.deepEqual(ok.phoneAuth, { enabled: true, allowSignUp: false, duration: 300, length: 8 })
    })
  })
}
