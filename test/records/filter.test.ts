/**
 * The filter language on every SQL engine: each operator and modifier returns the rows it should,
 * through relations, back-relations, @collection and @request; bad filters are 400s.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ApiError } from '../../src/errors.ts'
import { compileFilter, compileSort, TRUE } from '../../src/records/filter/index.ts'
import { engines } from '../helpers/engines.ts'
import { openFixture, P, U, type Fixture } from './filter-fixture.ts'

const [p1, p2, p3, p4] = P
const [u1] = U

for (const { engine, skip } of await engines()) {
  describe(`filter: ${engine}`, { skip }, () => {
    let fx: Fixture
    before(async () => {
      fx = await openFixture(engine)
    })
    after(async () => fx?.close())

    async function rows(filter: string, opts: Parameters<Fixture['scope']>[0] = {}): Promise<string[]> {
      const where = compileFilter(filter, fx.scope(opts))
      const found = await fx.db.db.selectFrom('posts').select('id').where(where).execute()
      return found.map((r) => String(r.id)).sort()
    }

    const cases: [string, string[]][] = [
      ["title = 'hello again'", [p2]],
      ["title != 'hello again'", [p1, p3, p4]],
      // `=` is case-sensitive on every engine (MySQL tables use a binary collation).
      ["title = 'HELLO AGAIN'", []],
      ["title ~ 'HELLO'", [p1, p2]],
      ["title !~ 'hello'", [p3, p4]],
      ["title ~ 's_q'", [p4]],
      ["title ~ 'Oth%'", [p3]],
      ['title = "x\' OR 1=1 --"', []],
      ["title:lower = 'hello world'", [p1]],
      ['views > 5', [p1, p4]],
      ['views >= 5 && published = true', [p1]],
      ["views = '10'", [p1]],
      ['views < 5 || views > 15', [p3, p4]],
      ['(views < 5 || views > 15) && published = false', [p4]],
      ['published = false', [p2, p4]],
      // Found by the cross-engine property: booleans read as 'true'/'false', compared byte-wise everywhere.
      ["published <= 'Hello World'", []],
      ["published > 'false'", [p1, p3]],
      ['published != true', [p2, p4]],
      ["tags ?= 'a'", [p1, p2]],
      ["tags = 'a'", [p2]],
      ["tags ?!= 'a'", [p1, p3, p4]],
      ["tags = ''", [p3]],
      ['tags:length = 2', [p1, p4]],
      ["author = 'user00000000001'", [p1, p3]],
      ["author.name = 'Ann'", [p1, p3]],
      ["author.name ~ 'b'", [p2]],
      ["editors.name ?= 'Bob'", [p1, p2]],
      ["editors.name = 'Bob'", [p2]],
      ['editors:length > 1', [p1, p4]],
      ["comments_via_post.message ?= 'second'", [p1]],
      ["comments_via_post.author.name ?= 'Ann'", [p2]],
      ['comments_via_post:length = 2', [p1]],
      ['meta.n = 2', [p2]],
      ["meta.s = 'x'", [p1]],
      ['meta = null', [p3, p4]],
      ['@collection.comments.post ?= id', [p1, p2]],
      // Plain operators on @collection need every row to match (PocketBase's multi-match), `?=` any.
      ["@collection.comments.message = 'third' && id = 'post00000000002'", []],
      ["@collection.comments.message ?= 'third' && id = 'post00000000002'", [p2]],
      ['created >= @yesterday && created <= @tomorrow', [p1, p2, p3, p4]],
      ['created > @tomorrow', []],
      ['1 = 1', [p1, p2, p3, p4]],
      ["'a' = 'b'", []],
      ['// only a comment', [p1, p2, p3, p4]],
    ]
    for (const [filter, expected] of cases) {
      test(`${filter}`, async () => {
        assert.deepEqual(await rows(filter), expected.sort())
      })
    }

    test('@request.auth: the owner sees their rows, a guest none', async () => {
      assert.deepEqual(await rows('author = @request.auth.id', { auth: u1 }), [p1, p3])
      assert.deepEqual(await rows('author = @request.auth.id'), [])
      assert.deepEqual(await rows("@request.auth.id != ''"), [])
      assert.deepEqual(await rows("@request.auth.id != ''", { auth: u1 }), [p1, p2, p3, p4])
      assert.deepEqual(await rows("@request.auth.name = 'Ann' && views > 5", { auth: u1 }), [p1, p4])
      assert.deepEqual(await rows('editors ?= @request.auth.id', { auth: u1 }), [p1, p4])
    })

    test("a relation's .id is the stored value: the same rows as the field, with no subquery", async () => {
      const rule = { auth: u1, allowHidden: true }
      assert.deepEqual(await rows('author.id = @request.auth.id', rule), await rows('author = @request.auth.id', rule))
      assert.deepEqual(await rows('author.id = @request.auth.id', rule), [p1, p3])
      assert.deepEqual(await rows('editors.id ?= @request.auth.id', rule), [p1, p4])
      assert.deepEqual(await rows("editors.id = 'user00000000002'", rule), [p2])
      assert.deepEqual(await rows("author.id != 'user00000000001'", rule), [p2, p4])
      const compiled = fx.db.db.selectFrom('posts').select('id').where(compileFilter('author.id = @request.auth.id', fx.scope(rule))).compile()
      assert.doesNotMatch(compiled.sql.slice(compiled.sql.indexOf(' where ')), /select/i, compiled.sql)
    })

    test('constant parts fold away: a signed-in caller under `@request.auth.id != \'\'` gets no condition at all', async () => {
      const rule = { auth: u1, allowHidden: true }
      assert.equal(compileFilter("@request.auth.id != ''", fx.scope(rule)), TRUE)
      assert.equal(compileFilter("@request.auth.id != '' || title = 'x'", fx.scope(rule)), TRUE)
      const sqlOf = (f: string, o = rule) => fx.db.db.selectFrom('posts').select('id').where(compileFilter(f, fx.scope(o))).compile().sql
      assert.doesNotMatch(sqlOf("views > 5 && @request.auth.id != ''"), /1=1/)
      assert.deepEqual(await rows("views > 5 && @request.auth.id != ''", rule), await rows('views > 5'))
      assert.deepEqual(await rows("views > 5 && @request.auth.id != ''", { allowHidden: true }), [])
      assert.deepEqual(await rows("views > 5 || @request.auth.id != ''", { allowHidden: true }), [p1, p4])
    })

    test('@request.body, query and headers are values, never SQL', async () => {
      assert.deepEqual(await rows('@request.body.title:isset = true', { body: { title: 'x' } }), [p1, p2, p3, p4])
      assert.deepEqual(await rows('@request.body.title:isset = true'), [])
      assert.deepEqual(await rows('title = @request.query.t', { query: { t: 'Hello World' } }), [p1])
      assert.deepEqual(await rows("@request.headers.x_token = 'abc'"), [p1, p2, p3, p4])
      assert.deepEqual(await rows('title = @request.body.t', { body: { t: "' OR 1=1 --" } }), [])
    })

    test('hidden fields: refused in client filters, allowed in rules', async () => {
      assert.throws(() => compileFilter("secret = 's1'", fx.scope()), (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter')
      assert.deepEqual(await rows("secret = 's1'", { allowHidden: true }), [p1])
      assert.throws(() => compileFilter("author.password = 'x'", fx.scope()), (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter')
    })

    test('bad filters are invalid_filter errors without SQL in the message', () => {
      for (const bad of ['title =', "title = 'x' &&", '(title = 1', 'nope = 1', 'title === 1', "title = 'unterminated", '@request.nope = 1', 'author.nope = 1', 'title:bogus = 1', 'x_via_y.z = 1']) {
        assert.throws(
          () => compileFilter(bad, fx.scope()),
          (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter' && e.status === 400 && !/select|from/i.test(e.message),
          bad,
        )
      }
    })

    test('sort: fields, descending, relations, @random', async () => {
      const order = async (s: string) =>
        (await compileSort(s, fx.scope()).reduce((qb, o) => qb.orderBy(o), fx.db.db.selectFrom('posts').select('id')).execute()).map((r) => String(r.id))
      assert.deepEqual(await order('-views'), [p4, p1, p2, p3])
      assert.deepEqual(await order('author.name,-views'), [p1, p3, p2, p4])
      assert.equal((await order('@random')).length, 4)
      assert.throws(() => compileSort('secret', fx.scope()), (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter')
    })
  })
}
