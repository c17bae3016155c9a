/** Collections and rows the filter tests run over, created through the real CollectionStore. */
import assert from 'node:assert/strict'
import { parseDbUrl } from '../../src/config/urls.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { prepareRecord, rowToRecord } from '../../src/records/fields/index.ts'
import type { Collection } from '../../src/records/model.ts'
import type { AuthInfo, RequestInfo } from '../../src/records/record.ts'
import type { FilterScope } from '../../src/records/filter/index.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, type EngineName, type TestDb } from '../helpers/engines.ts'

export const id = (prefix: string, n: number) => `${prefix}${String(n).padStart(15 - prefix.length, '0')}`
export const P = [1, 2, 3, 4].map((n) => id('post', n)) as [string, string, string, string]
export const U = [1, 2, 3].map((n) => id('user', n)) as [string, string, string]

export interface Fixture {
  testDb: TestDb
  db: SqlEngine
  store: CollectionStore
  posts: Collection
  close(): Promise<void>
  scope(opts?: { auth?: string; body?: Record<string, unknown>; query?: Record<string, string>; allowHidden?: boolean }): FilterScope
}

export async function openFixture(engine: EngineName): Promise<Fixture> {
  const testDb = await createTestDb(engine)
  const db = await openSql(parseDbUrl(testDb.url, 'db'))
  await migrate(db, systemMigrations(db.dialect))
  const store = await CollectionStore.open(db)
  const ctx = { capabilities: db.capabilities, isSuperuser: true }
  const insert = async (c: Collection, input: Record<string, unknown>) => {
    const { values, errors } = await prepareRecord(c, input, undefined, ctx)
    assert.deepEqual(errors, {})
    await db.db.insertInto(c.name).values(values).execute()
  }
  // Every collection is listable: the semantics tests read across relations as a guest would.
  const users = await store.update('users', { listRule: '', viewRule: '' })
  const names = ['Ann', 'Bob', 'cat']
  for (const [i, uid] of U.entries()) {
    await insert(users, { id: uid, email: `u${i}@example.com`, password: 'secret123', passwordConfirm: 'secret123', name: names[i] })
  }
  const posts = await store.create({
    name: 'posts',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'views', type: 'number' },
      { name: 'published', type: 'bool' },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
      { name: 'author', type: 'relation', collectionId: users.id, maxSelect: 1 },
      { name: 'editors', type: 'relation', collectionId: users.id, maxSelect: 5 },
      { name: 'meta', type: 'json' },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'created', type: 'autodate', onCreate: true },
    ],
  })
  const comments = await store.create({
    name: 'comments',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'post', type: 'relation', collectionId: posts.id, maxSelect: 1 },
      { name: 'message', type: 'text' },
      { name: 'author', type: 'relation', collectionId: users.id, maxSelect: 1 },
    ],
  })
  await insert(posts, { id: P[0], title: 'Hello World', views: 10, published: true, tags: ['a', 'b'], author: U[0], editors: [U[0], U[1]], meta: { n: 1, s: 'x' }, secret: 's1' })
  await insert(posts, { id: P[1], title: 'hello again', views: 5, published: false, tags: ['a'], author: U[1], editors: [U[1]], meta: { n: 2 } })
  await insert(posts, { id: P[2], title: 'Other 100%', views: 0, published: true, tags: [], author: U[0], editors: [] })
  await insert(posts, { id: P[3], title: "it's_quoted", views: 20, published: false, tags: ['b', 'c'], author: U[2], editors: [U[2], U[0]] })
  await insert(comments, { post: P[0], message: 'first', author: U[1] })
  await insert(comments, { post: P[0], message: 'second', author: U[2] })
  await insert(comments, { post: P[1], message: 'third', author: U[0] })

  const authOf = async (uid: string): Promise<AuthInfo> => {
    const row = await db.db.selectFrom('users').selectAll().where('id', '=', uid).executeTakeFirstOrThrow()
    return { collection: users, record: rowToRecord(users, row), isSuperuser: false }
  }
  const authCache = new Map<string, AuthInfo>()
  for (const uid of U) authCache.set(uid, await authOf(uid))

  return {
    testDb,
    db,
    store,
    posts: store.getOrThrow('posts'),
    close: async () => {
      await db.close()
      await testDb.drop()
    },
    scope: (opts = {}) => {
      const request: RequestInfo = {
        auth: opts.auth ? authCache.get(opts.auth)! : null,
        method: 'GET',
        headers: { x_token: 'abc' },
        query: opts.query ?? {},
        body: opts.body ?? {},
        context: 'default',
      }
      return { collection: store.getOrThrow('posts'), registry: store, capabilities: db.capabilities, request, allowHidden: opts.allowHidden ?? false }
    },
  }
}
