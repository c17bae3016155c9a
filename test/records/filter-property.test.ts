/**
 * Properties of the filter compiler, checked with fast-check:
 * 1. no value ever reaches SQL text: the SQL of a filter does not depend on the values in it;
 * 2. SQLite, PostgreSQL and MariaDB return the same rows for the same random filter.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { compileFilter } from '../../src/records/filter/index.ts'
import { likePieces, renderLike } from '../../src/records/filter/like.ts'
import { engines, type EngineName } from '../helpers/engines.ts'
import { openFixture, type Fixture } from './filter-fixture.ts'

// PocketBase's quoting: only a quote is escaped (`\"`); other backslashes stay as written, so a
// value cannot end in a backslash.
const quote = (v: string) => `"${v.replaceAll('"', '\\"')}"`
// PostgreSQL text cannot hold NUL; everything else goes, quotes, %, _, backslashes and SQL included.
const anyText = fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !s.includes('\0') && !s.endsWith('\\'))
const nasty = fc.oneof(anyText, fc.constantFrom("' OR 1=1 --", '"; DROP TABLE posts; --', '%_\\x', "it's", '\\"', '汉字 🚀', 'select * from users'))

const available = (await engines()).filter((e) => !e.skip).map((e) => e.engine)

describe('filter properties', () => {
  const fixtures = new Map<EngineName, Fixture>()
  before(async () => {
    for (const engine of available) fixtures.set(engine, await openFixture(engine))
  })
  after(async () => {
    for (const fx of fixtures.values()) await fx.close()
  })

  // Comparisons between constants are folded to (1=1) or (1=0): one bit about the constants, never
  // their text. Apart from that, the SQL must be the same whatever the values are.
  const unfold = (text: string) => text.replaceAll('(1=0)', '(1=1)')

  test('the SQL text of a filter never contains its values (they are parameters)', () => {
    const shapes = [
      (v: string) => `title = ${quote(v)}`,
      (v: string) => `title ~ ${quote(v)} || author.name !~ ${quote(v)}`,
      (v: string) => `tags ?= ${quote(v)} && comments_via_post.message = ${quote(v)}`,
      (v: string) => `meta.s = ${quote(v)} || @collection.comments.message ?= ${quote(v)}`,
      () => 'title = @request.body.v && @request.query.v != title',
    ]
    for (const fx of fixtures.values()) {
      const sqlOf = (filter: string, v: string) =>
        fx.db.db.selectFrom('posts').select('id').where(compileFilter(filter, fx.scope({ body: { v }, query: { v } }))).compile()
      for (const shape of shapes) {
        const reference = unfold(sqlOf(shape('zz'), 'zz').sql)
        fc.assert(
          fc.property(nasty, (v) => {
            const compiled = sqlOf(shape(v), v)
            assert.equal(unfold(compiled.sql), reference)
            // ...and the value itself travels as a parameter (as a LIKE pattern for `~`).
            const escaped = renderLike(likePieces(v))
            const params = compiled.parameters.filter((p): p is string => typeof p === 'string')
            assert.ok(params.some((p) => p.includes(v) || p.includes(escaped)), `value ${JSON.stringify(v)} not among the parameters`)
          }),
          { numRuns: 150 },
        )
      }
    }
  })

  test('every engine returns the same rows for the same random filter', { skip: available.length < 2 && 'needs two engines' }, async () => {
    const value = fc.oneof(
      fc.constantFrom("'Hello World'", "'hello'", "'a'", "'b'", "''", "'Ann'", "'Bob'", "'first'", "'x'", 'null', 'true', 'false'),
      fc.integer({ min: -5, max: 25 }).map(String),
    )
    const field = fc.constantFrom('title', 'views', 'published', 'tags', 'author.name', 'editors.name', 'comments_via_post.message', 'meta.s', 'tags:length', 'title:lower', 'id')
    const op = fc.constantFrom('=', '!=', '>', '>=', '<', '<=', '~', '!~', '?=', '?!=', '?~', '?>')
    const compare = fc.tuple(field, op, value).map(([f, o, v]) => `${f} ${o} ${v}`)
    const filter = fc.letrec<{ expr: string }>((tie) => ({
      expr: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        compare,
        fc.tuple(tie('expr'), fc.constantFrom('&&', '||'), tie('expr')).map(([a, j, b]) => `(${a} ${j} ${b})`),
      ),
    })).expr
    await fc.assert(
      fc.asyncProperty(filter, async (f) => {
        const results = new Map<string, string>()
        for (const [engine, fx] of fixtures) {
          const rows = await fx.db.db.selectFrom('posts').select('id').where(compileFilter(f, fx.scope())).execute()
          results.set(engine, rows.map((r) => String(r.id)).sort().join(','))
        }
        const distinct = new Set(results.values())
        assert.equal(distinct.size, 1, `${f}: ${JSON.stringify(Object.fromEntries(results))}`)
      }),
      { numRuns: 120 },
    )
  })
})
