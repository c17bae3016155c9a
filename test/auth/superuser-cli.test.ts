/**
 * `plinth superuser ...` as a real child process on every engine, after the system migrations
 * (which create `_collections` and `_superusers`).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { verifyPassword } from '../../src/auth/password.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { runCli } from '../helpers/cli.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'


for (const { engine, skip } of await engines()) {
  describe(`plinth superuser: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine
    const cli = (...args: string[]) => runCli(['superuser', ...args], { PLINTH_DB: testDb.url, PLINTH_LOG_LEVEL: 'silent' })
    const find = async (email: string) =>
      (await db.db.selectFrom('_superusers').selectAll().where('email', '=', email).executeTakeFirst()) as Record<string, unknown> | undefined

    before(async () => {
      testDb = await createTestDb(engine)
    })
    after(async () => {
      await db?.close()
      await testDb?.drop()
    })

    test('create, then a duplicate create fails and names the field', async () => {
      const r = await cli('create', 'admin@example.com', 'admin-password-1')
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Successfully created new superuser "admin@example\.com"/)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
      const row = await find('admin@example.com')
      assert.ok(row)
      assert.equal(await verifyPassword('admin-password-1', String(row.password)), true)
      const dup = await cli('create', 'admin@example.com', 'admin-password-2')
      assert.equal(dup.code, 1)
      assert.match(dup.stderr, /email: Value must be unique/)
    })

    test('upsert sets the password and rotates the tokenKey; update does the same', async () => {
      const before = await find('admin@example.com')
      const r = await cli('upsert', 'admin@example.com', 'admin-password-3')
      assert.equal(r.code, 0, r.stderr)
      const after = await find('admin@example.com')
      assert.equal(await verifyPassword('admin-password-3', String(after?.password)), true)
      assert.notEqual(after?.tokenKey, before?.tokenKey)
      assert.equal((await cli('upsert', 'second@example.com', 'second-password-1')).code, 0)
      assert.equal((await cli('update', 'second@example.com', 'second-password-2')).code, 0)
      assert.equal(await verifyPassword('second-password-2', String((await find('second@example.com'))?.password)), true)
      const missing = await cli('update', 'ghost@example.com', 'whatever-123')
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /doesn't exist/)
    })

    test('delete: one at a time, never the last; bad input exits 1 or 2 with a message', async () => {
      assert.equal((await cli('delete', 'second@example.com')).code, 0)
      assert.equal(await find('second@example.com'), undefined)
      const last = await cli('delete', 'admin@example.com')
      assert.equal(last.code, 1)
      assert.match(last.stderr, /only existing superuser/)
      assert.match((await cli('delete', 'ghost@example.com')).stdout, /missing or already deleted/)
      const badEmail = await cli('create', 'not-an-email', 'admin-password-1')
      assert.equal(badEmail.code, 1)
      assert.match(badEmail.stderr, /email: Must be a valid email address/)
      assert.equal((await cli('create', 'x@example.com')).code, 2)
      assert.equal((await cli('frobnicate')).code, 2)
    })
  })
}
