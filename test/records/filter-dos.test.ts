/**
 * Denial-of-service bounds of the filter language on every SQL engine: `~` never backtracks in
 * JavaScript, and a filter or sort is bounded in expressions, table aliases and relation hops.
 * NB: no timing thresholds: the hostile inputs here would take the old code minutes, so finishing
 * within the runner's timeout is the proof.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ApiError } from '../../src/errors.ts'
import { compileFilter, compileSort } from '../../src/records/filter/index.ts'
import { likeMatch, likePieces } from '../../src/records/filter/like.ts'
import { engines } from '../helpers/engines.ts'
import { openFixture, P, type Fixture } from './filter-fixture.ts'

const isFilterError = (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter' && e.status === 400

describe('like matcher', () => {
  test('agrees with LIKE on small cases', () => {
    const cases: [string, string, boolean][] = [
      ['Hello World', 'hello', true],
      ['Hello World', 'HELLO%', true],
      ['Hello World', '%world', true],
      ['Hello World', 'h%o%d', true],
      ['Hello World', 'h%o%x', false],
      ['abc', 'a_c%', true],
      ['abc', '_b_%', true],
      ['abc', '_b%_c', false],
      ['aaa', '%a%a%a%', true],
      ['aa', '%a%a%a%', false],
      ['100%', '100\\%', true],
      ['1000', '100\\%', false],
      ['a_b', 'a\\_b', true],
      ['axb', 'a\\_b', false],
      ['', '', true],
    ]
    for (const [text, pattern, expected] of cases) assert.equal(likeMatch(text, likePieces(pattern)), expected, `${text} ~ ${pattern}`)
  })
})

for (const { engine, skip } of await engines()) {
  describe(`filter dos: ${engine}`, { skip }, () => {
    let fx: Fixture
    before(async () => {
      fx = await openFixture(engine)
    })
    after(async () => fx?.close())

    async function rows(filter: string, opts: Parameters<Fixture['scope']>[0] = {}): Promise<string[]> {
      const found = await fx.db.db.selectFrom('posts').select('id').where(compileFilter(filter, fx.scope(opts))).execute()
      return found.map((r) => String(r.id)).sort()
    }

    test('a constant ~ with many wildcards folds without backtracking (literal in the filter)', async () => {
      // 1700 a's against `%a` x 850 then `b`: a backtracking regex tries C(1700, 850) splits.
      const filter = `'${'a'.repeat(1700)}' ~ '${'%a'.repeat(850)}%b'`
      assert.ok(filter.length <= 3500)
      assert.deepEqual(await rows(filter), [])
      assert.deepEqual(await rows(`'${'a'.repeat(1700)}' ~ '${'%a'.repeat(850)}%'`), [...P].sort())
    })

    test('a constant ~ with many wildcards folds without backtracking (request values)', async () => {
      const query = { a: 'a'.repeat(30_000), b: `${'%a'.repeat(5000)}%b` }
      assert.deepEqual(await rows('@request.query.a ~ @request.query.b', { query }), [])
      assert.deepEqual(await rows('@request.query.a !~ @request.query.b', { query }), [...P].sort())
    })

    test('a constant ~ whose cost is quadratic is refused, not run', () => {
      // One long segment of `_`-separated characters defeats any skip-ahead: text x pattern steps.
      const query = { a: 'a'.repeat(300_000), b: `%${'a_'.repeat(100_000)}b%` }
      assert.throws(() => compileFilter('@request.query.a ~ @request.query.b', fx.scope({ query })), isFilterError)
    })

    test('a ~ pattern sent to SQL is at most 50000 bytes (SQLite\'s own limit) on every engine', async () => {
      assert.deepEqual(await rows('title ~ @request.query.q', { query: { q: 'x'.repeat(49_000) } }), [])
      assert.throws(() => compileFilter('title ~ @request.query.q', fx.scope({ query: { q: 'x'.repeat(50_001) } })), isFilterError)
    })

    test('a filter holds at most 200 expressions (PocketBase DefaultFilterExprLimit)', async () => {
      const many = (n: number) => Array.from({ length: n }, () => 'views>=0').join('&&')
      assert.deepEqual(await rows(many(200)), [...P].sort())
      assert.throws(() => compileFilter(many(201), fx.scope()), isFilterError)
      assert.throws(() => compileFilter(`(${many(150)})||(${many(51)})`, fx.scope()), isFilterError)
    })

    test('a filter creates at most 100 table aliases', async () => {
      const lookups = (n: number) => Array.from({ length: n }, () => "author.name!='x'").join('||')
      assert.deepEqual(await rows(lookups(100)), [...P].sort())
      assert.throws(() => compileFilter(lookups(101), fx.scope()), isFilterError)
      // Each multi-value comparison scans its items once, however it is rendered.
      assert.deepEqual(await rows(Array.from({ length: 100 }, () => "tags!='x'").join('&&')), [...P].sort())
    })

    test('a path has at most 6 relation hops, in filters and sorts', async () => {
      const hop = 'comments_via_post.post.'
      const six = `${hop.repeat(3)}title`
      assert.deepEqual(await rows(`${six} ?= 'x'`), [])
      assert.throws(() => compileFilter(`${hop.repeat(3)}comments_via_post.message ?= 'x'`, fx.scope()), isFilterError)
      const nodes = await fx.store.create({ name: 'nodes', listRule: '', fields: [{ name: 'label', type: 'text' }] })
      await fx.store.update(nodes.id, { fields: [...nodes.fields, { name: 'parent', type: 'relation', collectionId: nodes.id, maxSelect: 1 }] })
      const scope = { ...fx.scope(), collection: fx.store.getOrThrow('nodes') }
      const sortBy = (hops: number) => compileSort(`${'parent.'.repeat(hops)}label`, scope).reduce((qb, o) => qb.orderBy(o), fx.db.db.selectFrom('nodes').select('id')).execute()
      assert.deepEqual(await sortBy(6), [])
      assert.throws(() => compileSort(`${'parent.'.repeat(7)}label`, scope), isFilterError)
      assert.throws(() => compileFilter(`${'parent.'.repeat(7)}label = ''`, scope), isFilterError)
    })

    test('a sort has at most 8 fields of at most 255 characters', () => {
      assert.equal(compileSort(Array.from({ length: 8 }, () => 'title').join(','), fx.scope()).length, 8)
      assert.throws(() => compileSort(Array.from({ length: 9 }, () => 'title').join(','), fx.scope()), isFilterError)
      assert.throws(() => compileSort(`${'x'.repeat(256)}`, fx.scope()), isFilterError)
    })
  })
}
