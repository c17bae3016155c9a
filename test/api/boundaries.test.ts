/**
 * Every place the records API parses input, at its edges, as PocketBase answers
 * (tools/search/provider.go, tools/search/filter.go, core/record_query_expand.go, apis/batch.go,
 * core/field_text.go): page/perPage, skipTotal, filter length and expression caps, sort caps,
 * relation hops, expand depth, batch size, JSON, multipart and `@jsonPayload` bodies.
 * Never a 500. One app per engine.
 *
 * PocketBase's numbers: perPage default 30, over 1000 clamps to 1000, < 1 becomes 30; page < 1
 * becomes 1; a page/perPage that is not an integer is 400; filter at most 3500 characters and 200
 * expressions; at most 8 sort fields of at most 255 characters; relation paths at most 6 hops;
 * expand stops silently after 6 levels and ignores unknown fields; a batch holds at most 50
 * requests (its default setting); text fields hold at most 5000 characters by default.
 */
import { after, before, describe, test } from 'node:test'
import { checkResponse, multipart, startApp, type ApiScenario, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'

const items = '/api/collections/items/records'
const q = (s: string) => encodeURIComponent(s)
const CHAIN = 9 // records lvl0 -> lvl1 -> ... -> lvl8 through `parent`
const chainId = (i: number) => `lvl${String(i).padStart(12, '0')}`

/** A filter of exactly `n` characters: `title != "xxx..."`. */
function filterOfLength(n: number): string {
  const head = 'title != "'
  return `${head}${'x'.repeat(n - head.length - 1)}"`
}
/** `n` expressions joined by `&&`. */
const expressions = (n: number) => Array.from({ length: n }, (_, i) => `views != ${i}`).join('&&')
const parents = (n: number) => Array.from({ length: n }, () => 'parent').join('.')

const createRequests = (n: number, prefix: string) => ({
  requests: Array.from({ length: n }, (_, i) => ({ method: 'POST', url: items, body: { title: `${prefix}${i}` } })),
})

const rows: ApiScenario[] = [
  // --- page / perPage / skipTotal
  { name: 'no paging: page 1, perPage 30', method: 'GET', url: items, expectedStatus: 200, expectedContent: ['"page":1', '"perPage":30'] },
  { name: 'page=0 is page 1', method: 'GET', url: `${items}?page=0`, expectedStatus: 200, expectedContent: ['"page":1'] },
  { name: 'page=-1 is page 1', method: 'GET', url: `${items}?page=-1`, expectedStatus: 200, expectedContent: ['"page":1'] },
  { name: 'page=1e300 is 400', method: 'GET', url: `${items}?page=1e300`, expectedStatus: 400 },
  { name: 'page=abc is 400', method: 'GET', url: `${items}?page=abc`, expectedStatus: 400 },
  { name: 'page=1.5 is 400', method: 'GET', url: `${items}?page=1.5`, expectedStatus: 400 },
  { name: 'page past the end: empty items', method: 'GET', url: `${items}?page=1000000000`, expectedStatus: 200, expectedContent: ['"page":1000000000', '"items":[]'] },
  { name: 'perPage=0 is 30', method: 'GET', url: `${items}?perPage=0`, expectedStatus: 200, expectedContent: ['"perPage":30'] },
  { name: 'perPage=-1 is 30', method: 'GET', url: `${items}?perPage=-1`, expectedStatus: 200, expectedContent: ['"perPage":30'] },
  { name: 'perPage=1000 is allowed', method: 'GET', url: `${items}?perPage=1000`, expectedStatus: 200, expectedContent: ['"perPage":1000'] },
  { name: 'perPage=1001 clamps to 1000', method: 'GET', url: `${items}?perPage=1001`, expectedStatus: 200, expectedContent: ['"perPage":1000'] },
  { name: 'perPage=5000 clamps to 1000', method: 'GET', url: `${items}?perPage=5000`, expectedStatus: 200, expectedContent: ['"perPage":1000'] },
  { name: 'perPage=1e300 is 400', method: 'GET', url: `${items}?perPage=1e300`, expectedStatus: 400 },
  { name: 'perPage=abc is 400', method: 'GET', url: `${items}?perPage=abc`, expectedStatus: 400 },
  { name: 'perPage past int64 is 400', method: 'GET', url: `${items}?perPage=99999999999999999999`, expectedStatus: 400 },
  { name: 'skipTotal=1', method: 'GET', url: `${items}?skipTotal=1`, expectedStatus: 200, expectedContent: ['"totalItems":-1', '"totalPages":-1'] },
  { name: 'skipTotal=t (Go ParseBool)', method: 'GET', url: `${items}?skipTotal=t`, expectedStatus: 200, expectedContent: ['"totalItems":-1'] },
  { name: 'skipTotal=abc is 400', method: 'GET', url: `${items}?skipTotal=abc`, expectedStatus: 400 },

  // --- filter caps
  { name: 'filter of 3500 characters', method: 'GET', url: `${items}?filter=${q(filterOfLength(3500))}`, expectedStatus: 200 },
  { name: 'filter of 3501 characters is 400', method: 'GET', url: `${items}?filter=${q(filterOfLength(3501))}`, expectedStatus: 400 },
  { name: '200 filter expressions', method: 'GET', url: `${items}?filter=${q(expressions(200))}`, expectedStatus: 200 },
  { name: '201 filter expressions is 400', method: 'GET', url: `${items}?filter=${q(expressions(201))}`, expectedStatus: 400 },
  { name: '30 nested parentheses', method: 'GET', url: `${items}?filter=${q(`${'('.repeat(30)}id != ""${')'.repeat(30)}`)}`, expectedStatus: 200 },
  // Plinth caps nesting (at 32) where PocketBase's parser has no cap: a bound on recursion, never a 500.
  { name: '1500 nested parentheses is 400 (Plinth caps nesting)', method: 'GET', url: `${items}?filter=${q(`${'('.repeat(1500)}id != ""${')'.repeat(1500)}`)}`, expectedStatus: 400 },
  { name: 'unbalanced parentheses is 400', method: 'GET', url: `${items}?filter=${q('((id != ""')}`, expectedStatus: 400 },
  { name: '6 relation hops in a filter', method: 'GET', url: `${items}?filter=${q(`${parents(6)}.title = "lvl6"`)}`, expectedStatus: 200, expectedContent: ['"totalItems":1', chainId(0)] },
  { name: '7 relation hops in a filter is 400', method: 'GET', url: `${items}?filter=${q(`${parents(7)}.title = "lvl7"`)}`, expectedStatus: 400 },

  // --- sort caps
  { name: '8 sort fields', method: 'GET', url: `${items}?sort=${q('title,-views,id,created,-title,views,-id,-created')}`, expectedStatus: 200 },
  { name: '9 sort fields is 400', method: 'GET', url: `${items}?sort=${q('title,-views,id,created,-title,views,-id,-created,title')}`, expectedStatus: 400 },
  { name: 'a sort field over 255 characters is 400', method: 'GET', url: `${items}?sort=${'a'.repeat(256)}`, expectedStatus: 400 },
  { name: 'sort by an unknown field is 400', method: 'GET', url: `${items}?sort=nope`, expectedStatus: 400 },

  // --- expand depth and unknown expands
  { name: 'expand 6 levels', method: 'GET', url: `${items}/${chainId(0)}?expand=${parents(6)}`, expectedStatus: 200, expectedContent: ['"title":"lvl6"'], notExpectedContent: ['"title":"lvl7"'] },
  { name: 'expand past 6 levels stops at 6 (no error)', method: 'GET', url: `${items}/${chainId(0)}?expand=${parents(8)}`, expectedStatus: 200, expectedContent: ['"title":"lvl6"'], notExpectedContent: ['"title":"lvl7"'] },
  { name: 'expand of an unknown field is ignored', method: 'GET', url: `${items}/${chainId(0)}?expand=nope`, expectedStatus: 200, expectedContent: [chainId(0)] },
  { name: 'expand of a non-relation field is ignored', method: 'GET', url: `${items}?expand=title`, expectedStatus: 200 },

  // --- JSON bodies
  { name: 'a JSON array body is 400', method: 'POST', url: items, headers: { 'content-type': 'application/json' }, body: '[]', expectedStatus: 400 },
  { name: 'malformed JSON is 400', method: 'POST', url: items, headers: { 'content-type': 'application/json' }, body: '{"title":', expectedStatus: 400 },
  { name: 'a number past float64 is 400', method: 'POST', url: items, headers: { 'content-type': 'application/json' }, body: '{"title":"big","views":1e400}', expectedStatus: 400 },
  { name: 'a numeric string becomes a number', method: 'POST', url: items, body: { title: 'numeric string', views: '12' }, expectedStatus: 200, expectedContent: ['"views":12'] },
  { name: '__proto__ in a body is ignored', method: 'POST', url: items, headers: { 'content-type': 'application/json' }, body: '{"title":"proto","__proto__":{"views":5}}', expectedStatus: 200, expectedContent: ['"title":"proto"', '"views":0'] },
  { name: 'text of 5000 characters', method: 'POST', url: items, body: { title: 't'.repeat(5000) }, expectedStatus: 200 },
  { name: 'text of 5001 characters is 400', method: 'POST', url: items, body: { title: 't'.repeat(5001) }, expectedStatus: 400, expectedContent: ['validation_max_text_constraint'] },

  // --- batch
  { name: 'batch of 50 requests', method: 'POST', url: '/api/batch', body: createRequests(50, 'b50-'), expectedStatus: 200, expectedContent: ['b50-49'] },
  { name: 'batch of 51 requests is 400, nothing kept', method: 'POST', url: '/api/batch', body: createRequests(51, 'b51-'), expectedStatus: 400 },
  { name: 'empty batch is 400', method: 'POST', url: '/api/batch', body: { requests: [] }, expectedStatus: 400 },
  { name: 'batch without requests is 400', method: 'POST', url: '/api/batch', body: {}, expectedStatus: 400 },
  { name: 'batch of a GET is 400', method: 'POST', url: '/api/batch', body: { requests: [{ method: 'GET', url: items }] }, expectedStatus: 400 },
  { name: 'batch to another API is 400', method: 'POST', url: '/api/batch', body: { requests: [{ method: 'POST', url: '/api/collections', body: { name: 'x' } }] }, expectedStatus: 400 },
  { name: 'batch with a string body is 400', method: 'POST', url: '/api/batch', body: { requests: [{ method: 'POST', url: items, body: 'title' }] }, expectedStatus: 400 },
]

/** Rows whose body is multipart/form-data. */
const multipartRows: (Omit<ApiScenario, 'body' | 'headers'> & { parts: [string, string][] })[] = [
  { name: 'multipart fields', method: 'POST', url: items, parts: [['title', 'from form'], ['views', '7']], expectedStatus: 200, expectedContent: ['"title":"from form"', '"views":7'] },
  { name: 'multipart @jsonPayload', method: 'POST', url: items, parts: [['@jsonPayload', JSON.stringify({ title: 'from json', views: 3 })]], expectedStatus: 200, expectedContent: ['"title":"from json"', '"views":3'] },
  { name: 'multipart @jsonPayload that is not JSON is 400', method: 'POST', url: items, parts: [['@jsonPayload', '{nope']], expectedStatus: 400 },
  // PocketBase ignores a field of that name; Plinth's multipart parser refuses the body (a 400, never a 500).
  { name: 'multipart __proto__ field is refused (Plinth stricter)', method: 'POST', url: items, parts: [['title', 'form proto'], ['__proto__', 'x']], expectedStatus: 400 },
  { name: 'multipart batch through @jsonPayload', method: 'POST', url: '/api/batch', parts: [['@jsonPayload', JSON.stringify(createRequests(2, 'mp-'))]], expectedStatus: 200, expectedContent: ['mp-0', 'mp-1'] },
  { name: 'multipart batch over the cap is 400', method: 'POST', url: '/api/batch', parts: [['@jsonPayload', JSON.stringify(createRequests(51, 'mp51-'))]], expectedStatus: 400 },
]

for (const { engine, skip } of await engines()) {
  describe(`API input boundaries: ${engine}`, { skip }, () => {
    let t: TestApp

    before(async () => {
      t = await startApp(engine)
      await t.must('POST', '/api/collections', {
        name: 'items',
        listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [{ name: 'title', type: 'text' }, { name: 'views', type: 'number' }, { name: 'created', type: 'autodate', onCreate: true }],
      })
      const c = (await t.must('GET', '/api/collections/items')) as { id: string; fields: unknown[] }
      await t.must('PATCH', '/api/collections/items', { fields: [...c.fields, { name: 'parent', type: 'relation', collectionId: c.id, maxSelect: 1 }] })
      for (let i = CHAIN - 1; i >= 0; i--) {
        await t.must('POST', items, { id: chainId(i), title: `lvl${i}`, parent: i === CHAIN - 1 ? '' : chainId(i + 1) })
      }
    })
    after(async () => {
      await t?.close()
    })

    for (const row of rows) {
      test(row.name, async () => {
        checkResponse(row, await t.call(row.method, row.url, { body: row.body, headers: row.headers }))
      })
    }
    for (const row of multipartRows) {
      test(row.name, async () => {
        const { body, headers } = multipart(row.parts)
        checkResponse(row, await t.call(row.method, row.url, { body, headers }))
      })
    }
    test('NUL characters in a filter, a query value a rule reads, or a sign-in identity are never a 500', async () => {
      // PostgreSQL cannot take a NUL in text at all: 400 there; elsewhere the value simply matches nothing.
      await t.must('POST', '/api/collections', { name: 'by_query', listRule: '@request.query.t = title', fields: [{ name: 'title', type: 'text' }] })
      const calls = [
        t.call('GET', `${items}?filter=${q("title = 'lvl1\u0000x'")}`),
        t.call('GET', `${items}?filter=${q("title ~ 'lvl\u0000'")}`),
        t.call('GET', `/api/collections/by_query/records?t=${q('a\u0000b')}`),
        t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a\u0000b@example.com', password: 'pass\u0000word' } }),
      ]
      for (const res of await Promise.all(calls)) {
        if (res.statusCode === 200) checkResponse({ expectedStatus: 200, expectedContent: ['"totalItems":0'] }, res)
        else checkResponse({ expectedStatus: 400, expectedContent: ['"status":400'] }, res)
      }
    })
    test('a refused batch keeps nothing', async () => {
      const res = await t.call('GET', `${items}?filter=${q('title ~ "b51-%" || title ~ "mp51-%"')}`)
      checkResponse({ expectedStatus: 200, expectedContent: ['"totalItems":0'] }, res)
    })
  })
}
