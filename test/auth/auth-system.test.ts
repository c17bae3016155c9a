/**
 * '0007-auth-system': PocketBase's `_otps`, `_mfas`, `_externalAuths` and `_authOrigins` are real
 * system collections on every engine, with PocketBase's fields, indexes and owner rules.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { engines } from '../helpers/engines.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

interface Coll {
  id: string
  name: string
  system: boolean
  type: string
  fields: { name: string; type: string; system: boolean; hidden: boolean; required?: boolean }[]
  indexes: string[]
  listRule: string | null
  viewRule: string | null
  createRule: string | null
  deleteRule: string | null
}

const OWNER = "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId"

for (const { engine, skip } of await engines()) {
  describe(`auth system collections: ${engine}`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startApp(engine)
    })
    after(() => t?.close())

    test('the four collections exist as PocketBase defines them', async () => {
      const expected: Record<string, { fields: string[]; indexes: number; deletable: boolean }> = {
        _otps: { fields: ['id', 'collectionRef', 'recordRef', 'password', 'sentTo', 'created', 'updated'], indexes: 1, deletable: false },
        _mfas: { fields: ['id', 'collectionRef', 'recordRef', 'method', 'created', 'updated'], indexes: 1, deletable: false },
        _externalAuths: { fields: ['id', 'collectionRef', 'recordRef', 'provider', 'providerId', 'created', 'updated'], indexes: 2, deletable: true },
        _authOrigins: { fields: ['id', 'collectionRef', 'recordRef', 'fingerprint', 'created', 'updated'], indexes: 1, deletable: true },
      }
      for (const [name, want] of Object.entries(expected)) {
        const c = (await t.must('GET', `/api/collections/${name}`)) as Coll
        assert.equal(c.type, 'base')
        assert.equal(c.system, true)
        assert.equal(c.id.startsWith('pbc_'), true)
        assert.deepEqual(c.fields.map((f) => f.name), want.fields)
        assert.ok(c.fields.every((f) => f.system))
        assert.equal(c.indexes.length, want.indexes)
        assert.equal(c.listRule, OWNER)
        assert.equal(c.viewRule, OWNER)
        assert.equal(c.createRule, null)
        assert.equal(c.deleteRule, want.deletable ? OWNER : null)
      }
      const otps = (await t.must('GET', '/api/collections/_otps')) as Coll
      assert.deepEqual(otps.fields.filter((f) => f.hidden).map((f) => f.name), ['password', 'sentTo'])
    })

    test('the unique index holds and owners see only their own rows', async () => {
      const user = (await t.must('POST', '/api/collections/users/records', { email: 'a@example.com', password: 'password-123', passwordConfirm: 'password-123' })) as { id: string; collectionId: string }
      const row = { collectionRef: user.collectionId, recordRef: user.id, fingerprint: 'f1' }
      await t.must('POST', '/api/collections/_authOrigins/records', row)
      const dup = await t.call('POST', '/api/collections/_authOrigins/records', { token: t.su, body: row })
      assert.equal(dup.statusCode, 400)
      await t.must('POST', '/api/collections/_authOrigins/records', { ...row, recordRef: 'someoneelse1234' })
      const token = await t.login('users', 'a@example.com', 'password-123')
      // The sign-in itself recorded its origin too (login alerts are on by default).
      const mine = (await t.call('GET', '/api/collections/_authOrigins/records', { token })).json<{ items: { recordRef: string; fingerprint: string }[] }>()
      assert.equal(mine.items.length, 2)
      assert.ok(mine.items.every((r) => r.recordRef === user.id))
      assert.ok(mine.items.some((r) => r.fingerprint === 'f1'))
      const create = await t.call('POST', '/api/collections/_authOrigins/records', { token, body: { ...row, fingerprint: 'f2' } })
      assert.equal(create.statusCode, 403)
    })
  })
}
