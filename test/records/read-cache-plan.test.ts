/**
 * Which collections a cached read depends on (records/read-cache-plan.ts): the tables its SQL
 * names, a view's sources (through views of views), and what is never cached.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Collection } from '../../src/records/model.ts'
import { ReadPlans } from '../../src/records/read-cache-plan.ts'
import type { CollectionRegistry } from '../../src/records/registry.ts'

const c = (id: string, name: string, extra: Partial<Collection> = {}) => ({ id, name, type: 'base', system: false, fields: [], ...extra }) as unknown as Collection
let all: Collection[] = [
  c('p1', 'posts'),
  c('u1', 'users', { type: 'auth', fields: [{ name: 'password', type: 'password' }, { name: 'pin', type: 'password' }] as Collection['fields'] }),
  c('t1', 'tags'),
  c('v1', 'post_titles', { type: 'view', viewQuery: 'SELECT id, title FROM posts' }),
  c('v2', 'titles_upper', { type: 'view', viewQuery: 'select id, upper(title) as t from post_titles' }),
  c('s1', '_superusers', { type: 'auth', system: true }),
]
const registry = { all: () => all, get: () => undefined, getOrThrow: () => { throw new Error('no') }, reload: async () => {} } as unknown as CollectionRegistry
const plans = new ReadPlans(registry)

test('the tables a statement names, quoted either way, case aside', () => {
  assert.deepEqual(plans.plan('select * from "posts" where "posts"."id" = $1')?.ids, ['p1'])
  assert.deepEqual(plans.plan('select * from `posts` inner join `Users` on `posts`.`owner` = `Users`.`id` where ?')?.ids, ['p1', 'u1'])
  // A rule's relation hop or @collection join names its table the same way.
  assert.deepEqual(plans.plan('select * from "posts" where exists (select 1 from "tags" where "tags"."id" = "posts"."tag")')?.ids, ['p1', 't1'])
})

test('tokenKey and password fields are never stored', () => {
  assert.deepEqual([...plans.plan('select * from "users" where "id" = $1')!.secret].sort(), ['password', 'pin', 'tokenKey'])
})

test('a view depends on its sources, through views of views', () => {
  assert.deepEqual(plans.plan('select * from "post_titles"')?.ids, ['p1', 'v1'])
  assert.deepEqual(plans.plan('select * from "titles_upper"')?.ids, ['p1', 'v1', 'v2'])
})

test('never cached: system collections, no collection at all, random order', () => {
  assert.equal(plans.plan('select * from "_superusers" where "id" = $1'), undefined)
  assert.equal(plans.plan('select * from "posts" where exists (select 1 from "_superusers")'), undefined)
  assert.equal(plans.plan('select 1'), undefined)
  assert.equal(plans.plan('select * from "posts" order by random()'), undefined)
  assert.equal(plans.plan('select * from `posts` order by rand()'), undefined)
})

test('a new schema snapshot is planned again', () => {
  assert.deepEqual(plans.plan('select * from "tags"')?.ids, ['t1'])
  all = all.map((x) => (x.name === 'tags' ? c('t2', 'tags') : x))
  assert.deepEqual(plans.plan('select * from "tags"')?.ids, ['t2'])
})
