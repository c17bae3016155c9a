/**
 * Where the records API used to differ from PocketBase, on every engine through app.http.inject():
 * pagination parsing, expand depth and unique back-relations, `fields` on auth responses, field
 * error params, view collections, `/api/health` for superusers.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { engines } from '../helpers/engines.ts'
import { startRecordsApp, type RecordsApp } from './records-app.ts'

for (const { engine, skip } of await engines()) {
  describe(`records API as PocketBase: ${engine}`, { skip }, () => {
    let t: RecordsApp
    before(async () => {
      t = await startRecordsApp(engine)
    })
    after(async () => {
      await t?.close()
    })

    test('pagination: parsed as PocketBase (strconv.Atoi), normalized, never a 500', async () => {
      await t.collection({ name: 'pages', type: 'base', listRule: '', fields: [{ name: 'n', type: 'number' }] })
      for (let i = 0; i < 3; i++) assert.equal((await t.call('POST', '/api/collections/pages/records', { token: t.su, body: { n: i } })).status, 200)
      const BAD = 'Something went wrong while processing your request.'
      // [query, status, page, perPage, items]
      const table: [string, number, number?, number?, number?][] = [
        ['', 200, 1, 30, 3],
        ['page=1&perPage=2', 200, 1, 2, 2],
        ['page=2&perPage=2', 200, 2, 2, 1],
        ['page=%2B2&perPage=%2B2', 200, 2, 2, 1],
        ['page=+2', 400], // '+' is a space in a query string: Atoi(' 2') fails in PocketBase too
        ['page=0', 200, 1, 30, 3],
        ['page=-5', 200, 1, 30, 3],
        ['perPage=0', 200, 1, 30, 3],
        ['perPage=-1', 200, 1, 30, 3],
        ['perPage=5000', 200, 1, 1000, 3],
        ['perPage=9223372036854775807', 200, 1, 1000, 3],
        ['page=9223372036854775807', 200, Number('9223372036854775807'), 30, 0],
        ['page=4611686018427387904&perPage=1000', 200, 4611686018427387904, 1000, 0],
        ['page=9007199254740&perPage=1000', 200, 9007199254740, 1000, 0],
        ['page=1e300', 400],
        ['perPage=1e300', 400],
        ['page=9223372036854775808', 400],
        ['page=1.5', 400],
        ['page=abc', 400],
        ['perPage=NaN', 400],
        ['page=%201', 400],
        ['skipTotal=yes', 400],
        ['skipTotal=T', 200, 1, 30, 3],
      ]
      for (const [query, status, page, perPage, items] of table) {
        const res = await t.call('GET', `/api/collections/pages/records?${query}`, { token: t.su })
        assert.equal(res.status, status, `${query}: ${res.raw}`)
        if (status === 400) {
          assert.deepEqual(res.body, { status: 400, message: BAD, data: {} }, query)
          continue
        }
        assert.equal(res.body.page, page, query)
        assert.equal(res.body.perPage, perPage, query)
        assert.equal((res.body.items as unknown[]).length, items, query)
      }
      const skipped = await t.call('GET', '/api/collections/pages/records?skipTotal=T', { token: t.su })
      assert.equal(skipped.body.totalItems, -1)
    })
  })
}
