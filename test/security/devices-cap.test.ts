/**
 * The device-key cap (MAX_DEVICES_PER_RECORD) under concurrent registrations, on every engine:
 * each key takes a slot unique per record, so registrations racing for the last free ones cannot
 * all win. And the `0015-devices-slot` migration gives keys registered before it their slots.
 */
import assert from 'node:assert/strict'
import type { webcrypto } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { Migration } from 'kysely'
import { parseDbUrl } from '../../src/config/urls.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { MAX_DEVICES_PER_RECORD } from '../../src/security/signatures/devices.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { DEVICES_TABLE } from '../../src/sql/migrations/0009-keys-devices.ts'
import { devicesSlotMigration } from '../../src/sql/migrations/0015-devices-slot.ts'
import { openSql } from '../../src/sql/open.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { createTestDb, engines } from '../helpers/engines.ts'

async function ed25519Jwk(): Promise<webcrypto.JsonWebKey> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  return crypto.subtle.exportKey('jwk', pair.publicKey)
}

for (const { engine, skip } of await engines()) {
  describe(`device keys cap: ${engine}`, { skip }, () => {
    let t: TestApp
    let token: string
    before(async () => {
      t = await startApp(engine)
      const created = await t.call('POST', '/api/collections/users/records', { body: { email: 'a@example.com', password: 'password-123', passwordConfirm: 'password-123' } })
      assert.equal(created.statusCode, 200, created.body)
      token = await t.login('users', 'a@example.com', 'password-123')
    })
    after(() => t?.close())

    test('registrations racing past the cap: exactly the cap is kept; a removed key frees its slot', async () => {
      const keys = await Promise.all(Array.from({ length: MAX_DEVICES_PER_RECORD + 10 }, () => ed25519Jwk()))
      const answers = await Promise.all(keys.map((publicKey) => t.call('POST', '/api/plinth/devices', { token, body: { alg: 'ed25519', publicKey } })))
      const codes = answers.map((r) => r.statusCode).sort()
      assert.deepEqual(codes, [...Array(MAX_DEVICES_PER_RECORD).fill(200), ...Array(10).fill(400)], answers.filter((r) => r.statusCode !== 200 && r.statusCode !== 400).map((r) => r.body).join('\n'))
      const listed = (await t.call('GET', '/api/plinth/devices', { token })).json<{ id: string }[]>()
      assert.equal(listed.length, MAX_DEVICES_PER_RECORD)
      assert.equal((await t.call('DELETE', `/api/plinth/devices/${listed[3]!.id}`, { token })).statusCode, 204)
      assert.equal((await t.call('POST', '/api/plinth/devices', { token, body: { alg: 'ed25519', publicKey: await ed25519Jwk() } })).statusCode, 200)
      assert.equal((await t.call('POST', '/api/plinth/devices', { token, body: { alg: 'ed25519', publicKey: await ed25519Jwk() } })).statusCode, 400)
    })
  })

  describe(`0015-devices-slot migration: ${engine}`, { skip }, () => {
    test('keys registered before it get slots per record, in the order they were registered', async () => {
      const testDb = await createTestDb(engine)
      const db = await openSql(parseDbUrl(testDb.url, 'db'))
      try {
        const all = systemMigrations(db.dialect)
        const before15: Record<string, Migration> = Object.fromEntries(Object.entries(all).filter(([name]) => name < '0015'))
        await migrate(db, before15)
        const row = (id: string, recordId: string, created: number) => ({ id, collectionId: 'c1', recordId, name: '', alg: 'ed25519', publicKey: '{}', created })
        await db.db.insertInto(DEVICES_TABLE).values([row('d_b', 'r1', 2), row('d_a', 'r1', 1), row('d_c', 'r2', 5), row('d_d', 'r1', 3)]).execute()
        await migrate(db, all)
        const slots = await db.db.selectFrom(DEVICES_TABLE).select(['id', 'slot']).orderBy('id').execute()
        assert.deepEqual(slots.map((r) => [r.id, Number(r.slot)]), [['d_a', 0], ['d_b', 1], ['d_c', 0], ['d_d', 2]])
        await assert.rejects(db.db.insertInto(DEVICES_TABLE).values({ ...row('d_e', 'r1', 9), slot: 1 }).execute(), 'a taken slot is refused')
        // Down drops the column and the index (each engine its own way), and up gives the slots again.
        const migration = devicesSlotMigration(db.dialect)
        await migration.down!(db.db)
        await db.db.insertInto(DEVICES_TABLE).values(row('d_e', 'r1', 9)).execute()
        await migration.up(db.db)
        const again = await db.db.selectFrom(DEVICES_TABLE).select(['id', 'slot']).where('recordId', '=', 'r1').orderBy('id').execute()
        assert.deepEqual(again.map((r) => [r.id, Number(r.slot)]), [['d_a', 0], ['d_b', 1], ['d_d', 2], ['d_e', 3]])
      } finally {
        await db.close()
        await testDb.drop()
      }
    })
  })
}
