/**
 * Kept list statements are bounded in all, whatever the number of callers and filter texts: a
 * crowd of signed-up users each sending new filters cannot make the server keep more.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CompiledQuery } from 'kysely'
import type { Collection } from '../../src/records/model.ts'
import type { AuthInfo, RequestInfo } from '../../src/records/record.ts'
import type { CollectionRegistry } from '../../src/records/registry.ts'
import { keptListCount, listStatements, SLOT } from '../../src/records/statements.ts'

test('list statements are kept up to a bound in all, least recently used out first', () => {
  const posts = Object.freeze({ id: 'p1', name: 'posts', type: 'base', fields: Object.freeze([]), indexes: Object.freeze([]), listRule: '', viewRule: '', createRule: null, updateRule: null, deleteRule: null }) as unknown as Collection
  const registry: CollectionRegistry = { get: () => posts, getOrThrow: () => posts, all: () => [posts], reload: async () => {} }
  let builds = 0
  const build = () => {
    builds++
    const raw = (params: unknown[]) => ({ compile: () => ({ ...CompiledQuery.raw('select 1', params) }) })
    return { rows: raw([SLOT.limit, SLOT.offset]), count: raw([]) }
  }
  const caller = (i: number): RequestInfo => {
    const auth = Object.freeze({ collection: posts, record: Object.freeze({ id: `u${i}`, collectionId: 'u', collectionName: 'users' }), isSuperuser: false }) as AuthInfo
    return { auth, method: 'GET', headers: {}, query: {}, body: {}, context: 'default' }
  }
  const first = caller(0)
  assert.ok(listStatements(posts, { kind: 'allow' }, first, { filter: 'a = 1' }, registry, build))
  assert.ok(listStatements(posts, { kind: 'allow' }, first, { filter: 'a = 1' }, registry, build))
  assert.equal(builds, 1, 'the second request of the same caller and filter is served from what was kept')
  for (let i = 1; i <= 200; i++) for (let f = 0; f < 50; f++) listStatements(posts, { kind: 'allow' }, caller(i), { filter: `a = ${f}` }, registry, build)
  assert.ok(keptListCount() <= 2000, `kept ${keptListCount()}`)
  assert.equal(builds, 1 + 200 * 50)
  listStatements(posts, { kind: 'allow' }, first, { filter: 'a = 1' }, registry, build)
  assert.equal(builds, 2 + 200 * 50, 'the oldest went first')
})
