/**
 * `/api/collections` as PocketBase serves it: scenario table through app.inject(), then the
 * PocketBase JS SDK against a listening server. Runs on every SQL engine.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import PocketBase from 'pocketbase'
import { collectionsRoutes } from '../../src/api/collections.ts'
import { installErrorHandling } from '../../src/api/error-handler.ts'
import { installJsonBodyParser } from '../../src/api/json-body.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

const SU = { authorization: 'su-token' }
const USER = { authorization: 'user-token' }

interface Scenario {
  name: string
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'
  url: string
  headers?: Record<string, string>
  body?: unknown
  status: number
  /** Paths (dot-separated) and the values expected there. */
  expect?: Record<string, unknown>
  notContains?: string[]
}

function at(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj)
}

for (const { engine, skip } of await engines()) {
  describe(`collections api: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let db: SqlEngine
    let http: FastifyInstance

    before(async () => {
      testDb = await createTestDb(engine)
      db = await openSql(parseDbUrl(testDb.url, 'db'))
      await migrate(db, systemMigrations(db.dialect))
      const store = await CollectionStore.open(db)
      http = Fastify()
      installErrorHandling(http)
      installJsonBodyParser(http)
      await http.register(collectionsRoutes, {
        store,
        isSuperuser: (req) => (req.headers.authorization === SU.authorization ? true : req.headers.authorization === USER.authorization ? false : null),
      })
    })
    after(async () => {
      await http?.close()
      await db?.close()
      await testDb?.drop()
    })

    const scenarios: Scenario[] = [
      { name: 'guests get 401', method: 'GET', url: '/api/collections', status: 401 },
      { name: 'a bad token gets 401', method: 'GET', url: '/api/collections', headers: { authorization: 'junk' }, status: 401 },
      { name: 'auth is checked before the query is validated', method: 'GET', url: '/api/collections?page=0', status: 401 },
      { name: 'non-superusers get 403', method: 'GET', url: '/api/collections', headers: USER, status: 403 },
      { name: 'list', method: 'GET', url: '/api/collections?sort=-name', headers: SU, status: 200, expect: { totalItems: 10, 'items.0.name': 'users', 'items.1.name': '_superusers', 'items.2.name': '_otps', 'items.5.name': '_imMembers', 'items.9.name': '_authOrigins', page: 1, perPage: 30 }, notContains: ['"secret"'] },
      { name: 'list filtered', method: 'GET', url: `/api/collections?filter=${encodeURIComponent("name~'super' && type='auth'")}`, headers: SU, status: 200, expect: { totalItems: 1, 'items.0.name': '_superusers' } },
      { name: 'bad filter', method: 'GET', url: `/api/collections?filter=${encodeURIComponent('nope=1')}`, headers: SU, status: 400 },
      { name: 'view by name', method: 'GET', url: '/api/collections/users', headers: SU, status: 200, expect: { id: '_pb_users_auth_', 'authToken.duration': 432000, 'passwordAuth.identityFields.0': 'email' }, notContains: ['"secret"'] },
      { name: 'view missing', method: 'GET', url: '/api/collections/nope', headers: SU, status: 404 },
      {
        name: 'create with nested field errors', method: 'POST', url: '/api/collections', headers: SU, status: 400,
        body: { name: 'posts', fields: [{ name: 'title', type: 'text' }, { name: 'title', type: 'text' }] },
        expect: { status: 400, message: 'Failed to create collection.', 'data.fields.2.name.code': 'validation_duplicated_field_name' },
      },
      {
        name: 'create', method: 'POST', url: '/api/collections', headers: SU, status: 200,
        body: { name: 'posts', listRule: '', fields: [{ name: 'title', type: 'text' }], indexes: ['CREATE UNIQUE INDEX idx_title ON posts (title)'] },
        expect: { name: 'posts', type: 'base', 'fields.1.name': 'title', listRule: '', viewRule: null },
      },
      { name: 'update', method: 'PATCH', url: '/api/collections/posts', headers: SU, body: { name: 'articles' }, status: 200, expect: { name: 'articles', 'fields.1.name': 'title' } },
      { name: 'update error', method: 'PATCH', url: '/api/collections/articles', headers: SU, body: { name: '_superusers' }, status: 400, expect: { 'data.name.code': 'validation_collection_name_exists' } },
      { name: 'truncate', method: 'DELETE', url: '/api/collections/articles/truncate', headers: SU, status: 204 },
      { name: 'system collections cannot be deleted', method: 'DELETE', url: '/api/collections/_superusers', headers: SU, status: 400 },
      { name: 'delete', method: 'DELETE', url: '/api/collections/articles', headers: SU, status: 204 },
      { name: 'deleted', method: 'GET', url: '/api/collections/articles', headers: SU, status: 404 },
      { name: 'scaffolds', method: 'GET', url: '/api/collections/meta/scaffolds', headers: SU, status: 200, expect: { 'auth.id': '', 'auth.fields.1.name': 'password', 'base.fields.0.name': 'id', 'view.type': 'view' } },
      { name: 'scaffolds need a superuser', method: 'GET', url: '/api/collections/meta/scaffolds', headers: USER, status: 403 },
      { name: 'import needs collections', method: 'PUT', url: '/api/collections/import', headers: SU, body: { collections: [] }, status: 400, expect: { 'data.collections.code': 'validation_required' } },
      { name: 'import', method: 'PUT', url: '/api/collections/import', headers: SU, body: { collections: [{ name: 'imported', fields: [{ name: 'n', type: 'number' }] }] }, status: 204 },
      { name: 'imported', method: 'GET', url: '/api/collections/imported', headers: SU, status: 200, expect: { 'fields.1.type': 'number' } },
    ]

    for (const s of scenarios) {
      test(s.name, async () => {
        const res = await http.inject({ method: s.method, url: s.url, headers: s.headers, payload: s.body as object | undefined })
        assert.equal(res.statusCode, s.status, res.body)
        const json: unknown = res.body ? JSON.parse(res.body) : undefined
        for (const [path, value] of Object.entries(s.expect ?? {})) assert.deepEqual(at(json, path), value, `${path} in ${res.body.slice(0, 400)}`)
        for (const text of s.notContains ?? []) assert.ok(!res.body.includes(text), `must not contain ${text}`)
      })
    }

    test('the PocketBase JS SDK works against it', async () => {
      const url = await http.listen({ port: 0, host: '127.0.0.1' })
      const pb = new PocketBase(url)
      pb.autoCancellation(false)
      pb.authStore.save(SU.authorization, null)
      const created = await pb.collections.create({ name: 'sdk_items', type: 'base', fields: [{ name: 'title', type: 'text' }] })
      assert.equal(created.name, 'sdk_items')
      const all = await pb.collections.getFullList({ sort: 'name' })
      assert.ok(all.some((c) => c.name === 'sdk_items'))
      const one = await pb.collections.getOne('sdk_items')
      assert.equal(one.id, created.id)
      const updated = await pb.collections.update(created.id, { listRule: '' })
      assert.equal(updated.listRule, '')
      const scaffolds = await pb.collections.getScaffolds()
      assert.equal(scaffolds.auth?.type, 'auth')
      await pb.collections.truncate('sdk_items')
      await pb.collections.delete('sdk_items')
      await assert.rejects(pb.collections.getOne('sdk_items'), (e: { status?: number }) => e.status === 404)
      pb.authStore.clear()
      await assert.rejects(pb.collections.getFullList(), (e: { status?: number }) => e.status === 401)
    })
  })
}
