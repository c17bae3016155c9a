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

    test('expand: levels past the 6th are ignored (no 400); a unique back-relation is one object', async () => {
      const chain = await t.collection({ name: 'chain', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'label', type: 'text' }] })
      const cur = await t.call('GET', `/api/collections/${chain.id}`, { token: t.su })
      const fields = cur.body.fields as Record<string, unknown>[]
      const upd = await t.call('PATCH', `/api/collections/${chain.id}`, { token: t.su, body: { fields: [...fields, { name: 'parent', type: 'relation', collectionId: chain.id, maxSelect: 1 }] } })
      assert.equal(upd.status, 200, upd.raw)
      let parent = ''
      const ids: string[] = []
      for (let i = 0; i < 9; i++) {
        const res = await t.call('POST', '/api/collections/chain/records', { token: t.su, body: { label: `n${i}`, parent } })
        assert.equal(res.status, 200, res.raw)
        parent = String(res.body.id)
        ids.push(parent)
      }
      const path = Array(8).fill('parent').join('.')
      const res = await t.call('GET', `/api/collections/chain/records/${ids[8]}?expand=${path}`)
      assert.equal(res.status, 200, res.raw)
      let node = res.body as Record<string, unknown>
      let depth = 0
      while ((node.expand as Record<string, unknown> | undefined)?.parent) {
        node = (node.expand as Record<string, Record<string, unknown>>).parent!
        depth++
      }
      assert.equal(depth, 6)
      assert.equal(node.label, 'n2')
      // Spaces and stray dots are tolerated; unknown names expand nothing; a resolved relation leaves `expand: {}`.
      const loose = await t.call('GET', `/api/collections/chain/records/${ids[0]}?expand=${encodeURIComponent(' parent. ,nope-x,..')}`)
      assert.equal(loose.status, 200, loose.raw)
      assert.deepEqual(loose.body.expand, {})

      const people = await t.collection({ name: 'people', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'name', type: 'text' }] })
      await t.collection({
        name: 'passports',
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [{ name: 'person', type: 'relation', collectionId: people.id, maxSelect: 1 }, { name: 'no', type: 'text' }],
        indexes: ['CREATE UNIQUE INDEX idx_passports_person ON passports (person)'],
      })
      await t.collection({ name: 'visits', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'person', type: 'relation', collectionId: people.id, maxSelect: 1 }] })
      const ann = await t.call('POST', '/api/collections/people/records', { token: t.su, body: { name: 'ann' } })
      const annId = String(ann.body.id)
      assert.equal((await t.call('POST', '/api/collections/passports/records', { token: t.su, body: { person: annId, no: 'P1' } })).status, 200)
      for (let i = 0; i < 2; i++) assert.equal((await t.call('POST', '/api/collections/visits/records', { token: t.su, body: { person: annId } })).status, 200)
      const view = await t.call('GET', `/api/collections/people/records/${annId}?expand=passports_via_person,visits_via_person`)
      assert.equal(view.status, 200, view.raw)
      const expand = view.body.expand as Record<string, unknown>
      assert.ok(!Array.isArray(expand.passports_via_person), 'unique back-relation: one object')
      assert.equal((expand.passports_via_person as Record<string, unknown>).no, 'P1')
      assert.ok(Array.isArray(expand.visits_via_person))
      assert.equal((expand.visits_via_person as unknown[]).length, 2)
    })

    test('`fields` applies to auth responses', async () => {
      await t.user('fields@example.com')
      const url = (q: string) => `/api/collections/users/auth-with-password?${q}`
      const body = { identity: 'fields@example.com', password: 'password-123' }
      const onlyToken = await t.call('POST', url('fields=token'), { body })
      assert.equal(onlyToken.status, 200, onlyToken.raw)
      assert.deepEqual(Object.keys(onlyToken.body), ['token'])
      const email = await t.call('POST', url('fields=record.email'), { body })
      assert.deepEqual(email.body, { record: { email: 'fields@example.com' } })
      const both = await t.call('POST', url('fields=token,record.id'), { body })
      assert.deepEqual(Object.keys(both.body).sort(), ['record', 'token'])
      assert.deepEqual(Object.keys(both.body.record as object), ['id'])
      const refresh = await t.call('POST', '/api/collections/users/auth-refresh?fields=record.email', { token: String(onlyToken.body.token) })
      assert.deepEqual(refresh.body, { record: { email: 'fields@example.com' } })
    })

    test('field errors carry PocketBase params', async () => {
      await t.collection({
        name: 'params',
        type: 'base',
        fields: [
          { name: 'title', type: 'text', min: 3, max: 5 },
          { name: 'n', type: 'number', min: 1, max: 9 },
          { name: 'pick', type: 'select', values: ['a', 'b'], maxSelect: 1 },
          { name: 'many', type: 'select', values: ['a', 'b', 'c'], maxSelect: 2 },
          { name: 'day', type: 'date', min: '2024-01-01 00:00:00.000Z' },
        ],
      })
      const cases: [Record<string, unknown>, string, { code: string; message: string; params?: Record<string, unknown> }][] = [
        [{ title: 'ab' }, 'title', { code: 'validation_min_text_constraint', message: 'Must be at least 3 character(s).', params: { min: 3 } }],
        [{ title: 'abcdef' }, 'title', { code: 'validation_max_text_constraint', message: 'Must be no more than 5 character(s).', params: { max: 5 } }],
        [{ n: 0.5 }, 'n', { code: 'validation_min_number_constraint', message: 'Must be greater or equal than 1.', params: { min: 1 } }],
        [{ n: 10 }, 'n', { code: 'validation_max_number_constraint', message: 'Must be less or equal than 9.', params: { max: 9 } }],
        [{ pick: 'z' }, 'pick', { code: 'validation_invalid_value', message: 'Invalid value z.', params: { value: 'z' } }],
        [{ many: ['a', 'b', 'c'] }, 'many', { code: 'validation_too_many_values', message: 'Select no more than 2.', params: { maxSelect: 2 } }],
        [{ day: '2023-05-01' }, 'day', { code: 'validation_min_greater_equal_than_required', message: 'Must be no less than 2024-01-01 00:00:00.000Z.', params: { threshold: '2024-01-01 00:00:00.000Z' } }],
      ]
      for (const [body, field, expected] of cases) {
        const res = await t.call('POST', '/api/collections/params/records', { token: t.su, body })
        assert.equal(res.status, 400, JSON.stringify(body))
        assert.deepEqual(res.body.data?.[field], expected, JSON.stringify(body))
      }
      // Auth request bodies: ozzo-validation's Length error with {min, max}.
      const long = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'x'.repeat(300), password: 'p' } })
      assert.equal(long.status, 400)
      assert.deepEqual(long.body.data?.identity, { code: 'validation_length_out_of_range', message: 'The length must be between 1 and 255.', params: { min: 1, max: 255 } })
    })

    test('view collections answer writes with "Unsupported collection type."', async () => {
      await t.collection({ name: 'vsrc', type: 'base', listRule: '', fields: [{ name: 'title', type: 'text' }] })
      const src = await t.call('POST', '/api/collections/vsrc/records', { token: t.su, body: { title: 'x' } })
      await t.collection({ name: 'vview', type: 'view', listRule: '', viewRule: '', viewQuery: 'SELECT id, title FROM vsrc' })
      const url = '/api/collections/vview/records'
      const id = String(src.body.id)
      for (const [method, u, body] of [['POST', url, { title: 'y' }], ['PATCH', `${url}/${id}`, { title: 'y' }], ['DELETE', `${url}/${id}`, undefined], ['PATCH', `${url}/missing`, {}]] as const) {
        for (const token of [t.su, undefined]) {
          const res = await t.call(method, u, { token, body })
          assert.equal(res.status, 400, `${method} ${u}: ${res.raw}`)
          assert.deepEqual(res.body, { status: 400, message: 'Unsupported collection type.', data: {} })
        }
      }
      assert.equal((await t.call('GET', `${url}/${id}`)).status, 200)
    })

    test('/api/health: superusers also get canBackup, realIP, possibleProxyHeader', async () => {
      const guest = await t.call('GET', '/api/health')
      assert.deepEqual(guest.body, { code: 200, message: 'API is healthy.', data: {} })
      const su = await t.call('GET', '/api/health', { token: t.su })
      assert.equal(su.status, 200)
      const data = su.body.data as unknown as Record<string, unknown>
      assert.equal(data.canBackup, true)
      assert.equal(typeof data.realIP, 'string')
      assert.equal(data.possibleProxyHeader, '')
      const proxied = await t.app.http.inject({ url: '/api/health', headers: { authorization: t.su, 'x-forwarded-for': '203.0.113.9' } })
      assert.equal((proxied.json() as { data: Record<string, unknown> }).data.possibleProxyHeader, 'X-Forwarded-For')
    })
  })
}
