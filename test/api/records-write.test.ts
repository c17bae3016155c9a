/**
 * The records write path on every engine, through app.http.inject(): big id arrays, modifiers
 * judged by the rules like the plain field, cascade delete of multi relations, deep JSON, NUL bytes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { engines } from '../helpers/engines.ts'
import { fakeId, multipart, startRecordsApp, type RecordsApp } from './records-app.ts'

const N = 100_000

for (const { engine, skip } of await engines()) {
  describe(`records write path: ${engine}`, { skip }, () => {
    let t: RecordsApp
    before(async () => {
      t = await startRecordsApp(engine)
    })
    after(async () => {
      await t?.close()
    })

    test('arrays of 100k ids or values: one linear pass, refused by maxSelect before any lookup', async () => {
      const tags = await t.collection({ name: 'btags', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'label', type: 'text' }] })
      await t.collection({
        name: 'bposts',
        type: 'base',
        fields: [
          { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 },
          { name: 'labels', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
          { name: 'many', type: 'relation', collectionId: tags.id, maxSelect: 999999 },
        ],
      })
      const tag = await t.call('POST', '/api/collections/btags/records', { token: t.su, body: { label: 'x' } })
      const ids = Array.from({ length: N }, (_, i) => fakeId(i))
      const cases: [string, Record<string, unknown>, string, unknown][] = [
        ['relation', { tags: ids }, 'tags', { maxSelect: 5 }],
        ['relation append', { 'tags+': ids }, 'tags', { maxSelect: 5 }],
        ['relation prepend', { '+tags': ids }, 'tags', { maxSelect: 5 }],
        ['select', { labels: ids }, 'labels', { maxSelect: 3 }],
      ]
      for (const [name, body, field, params] of cases) {
        const res = await t.call('POST', '/api/collections/bposts/records', { token: t.su, body })
        assert.equal(res.status, 400, name)
        assert.equal(res.body.message, 'Failed to create record.', name)
        assert.deepEqual(res.body.data?.[field], { code: 'validation_too_many_values', message: `Select no more than ${(params as { maxSelect: number }).maxSelect}.`, params }, name)
      }
      // A field allowing that many still de-duplicates in one pass; the lookup then reports the missing ids.
      const big = await t.call('POST', '/api/collections/bposts/records', { token: t.su, body: { many: [...ids, ...ids] } })
      assert.equal(big.status, 400)
      assert.equal(big.body.data?.many?.code, 'validation_missing_rel_records')
      // 100k copies of one id are one id, as in PocketBase.
      const same = await t.call('POST', '/api/collections/bposts/records', { token: t.su, body: { tags: Array(N).fill(tag.body.id) } })
      assert.equal(same.status, 200, same.raw)
      assert.deepEqual(same.body.tags, [tag.body.id])
      const removed = await t.call('PATCH', `/api/collections/bposts/records/${String(same.body.id)}`, { token: t.su, body: { 'tags-': ids } })
      assert.equal(removed.status, 200, removed.raw)
      assert.deepEqual(removed.body.tags, [tag.body.id])
    })

    test('modifiers are judged by the rules exactly like the plain field', async () => {
      const alice = await t.user('alice@example.com')
      const bob = await t.user('bob@example.com')
      await t.collection({
        name: 'profiles',
        type: 'base',
        listRule: '',
        viewRule: '',
        createRule: '@request.auth.id != "" && @request.body.role != "admin" && @request.body.owner = @request.auth.id',
        updateRule: 'owner = @request.auth.id && (@request.body.owner:isset = false || @request.body.owner = @request.auth.id) && @request.body.role:isset = false',
        fields: [
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'role', type: 'select', values: ['user', 'admin'], maxSelect: 1 },
          { name: 'score', type: 'number' },
          { name: 'note', type: 'text' },
        ],
      })
      const url = '/api/collections/profiles/records'
      // The rule refuses role "admin" whichever key sets it.
      for (const key of ['role', 'role+', '+role']) {
        const res = await t.call('POST', url, { token: alice.token, body: { owner: alice.id, [key]: 'admin' } })
        assert.equal(res.status, 400, key)
        assert.equal(res.body.message, 'Failed to create record.', key)
      }
      // Someone else's id as owner fails in every form.
      for (const key of ['owner', 'owner+', '+owner']) {
        const res = await t.call('POST', url, { token: alice.token, body: { [key]: bob.id } })
        assert.equal(res.status, 400, key)
      }
      const ok = await t.call('POST', url, { token: alice.token, body: { 'owner+': alice.id, 'role+': 'user' } })
      assert.equal(ok.status, 200, ok.raw)
      assert.equal(ok.body.owner, alice.id)
      const id = String(ok.body.id)
      // Update: stealing (giving away) the record or changing role through a modifier is refused.
      for (const body of [{ owner: bob.id }, { 'owner+': bob.id }, { 'role+': 'admin' }, { '+role': 'admin' }, { 'role-': 'user' }]) {
        const res = await t.call('PATCH', `${url}/${id}`, { token: alice.token, body })
        assert.equal(res.status, 404, JSON.stringify(body))
      }
      const still = await t.call('GET', `${url}/${id}`, { token: alice.token })
      assert.equal(still.body.owner, alice.id)
      assert.equal(still.body.role, 'user')
      // Fields the rule does not restrict still update, modifiers included.
      const upd = await t.call('PATCH', `${url}/${id}`, { token: alice.token, body: { 'score+': 3, note: 'hi' } })
      assert.equal(upd.status, 200, upd.raw)
      assert.equal(upd.body.score, 3)
    })

    test('hidden fields cannot be set by guests through any key, `:autogenerate` included', async () => {
      await t.collection({ name: 'hid', type: 'base', createRule: '', fields: [{ name: 'secret', type: 'text', hidden: true }, { name: 'tags', type: 'select', values: ['a'], maxSelect: 1, hidden: true }] })
      const res = await t.call('POST', '/api/collections/hid/records', { body: { 'secret:autogenerate': 'mine', '+tags': 'a', 'tags+': 'a' } })
      assert.equal(res.status, 200, res.raw)
      const seen = await t.call('GET', `/api/collections/hid/records/${String(res.body.id)}`, { token: t.su })
      assert.equal(seen.body.secret, '')
      assert.equal(seen.body.tags, '')
    })

    test('a caller the create rule refuses learns nothing from other records (unique, relations)', async () => {
      const alice = await t.user('carol@example.com')
      const bob = await t.user('dave@example.com')
      const refs = await t.collection({ name: 'urefs', type: 'base', fields: [{ name: 'x', type: 'text' }] })
      await t.collection({
        name: 'members',
        type: 'base',
        createRule: 'owner = @request.auth.id && @request.body.code != "" && code = @request.body.code && @request.body.other != "x"',
        fields: [
          { name: 'code', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'refs', type: 'relation', collectionId: refs.id, maxSelect: 5 },
          { name: 'flag', type: 'bool' },
          { name: 'n', type: 'number' },
          { name: 'meta', type: 'json' },
        ],
        indexes: ['CREATE UNIQUE INDEX idx_members_code ON members (code)'],
      })
      const url = '/api/collections/members/records'
      assert.equal((await t.call('POST', url, { token: t.su, body: { code: 'SECRET1' } })).status, 200)
      const refused = { status: 400, message: 'Failed to create record.', data: {} }
      const probes: [string | undefined, Record<string, unknown>][] = [
        [undefined, { code: 'SECRET1', owner: bob.id }],
        [alice.token, { code: 'SECRET1', owner: bob.id, flag: true, n: 2, meta: { a: [1] } }],
        [alice.token, { code: 'new1', owner: bob.id, refs: ['nosuchrecord001'], n: 1 }],
        // Input errors too (PocketBase checks the rule first): NUL, bad number, too-deep JSON.
        [alice.token, { code: 'x\u0000', owner: bob.id, n: 'abc', meta: JSON.parse('['.repeat(70) + ']'.repeat(70)) as unknown }],
      ]
      for (const [token, body] of probes) {
        const res = await t.call('POST', url, { token, body })
        assert.deepEqual(res.body, refused, JSON.stringify(body))
      }
      // A caller the rule lets in gets the real errors.
      const dup = await t.call('POST', url, { token: alice.token, body: { code: 'SECRET1', owner: alice.id, flag: true, meta: { a: 1 } } })
      assert.equal(dup.body.data?.code?.code, 'validation_not_unique', dup.raw)
      const missing = await t.call('POST', url, { token: alice.token, body: { code: 'new2', owner: alice.id, refs: ['nosuchrecord001'] } })
      assert.equal(missing.body.data?.refs?.code, 'validation_missing_rel_records', missing.raw)
      const nul = await t.call('POST', url, { token: alice.token, body: { code: 'x\u0000', owner: alice.id, other: 'y\u0000' } })
      // NUL values reach the rule as null (PostgreSQL cannot bind them): a 400, never a 500.
      assert.equal(nul.status, 400, nul.raw)
    })

    test('under a create rule, relations are checked by the rule read: found, missing, many ids, and before uniqueness', async () => {
      const alice = await t.user('erin@example.com')
      const tags = await t.collection({ name: 'rtags', type: 'base', fields: [{ name: 'x', type: 'text' }] })
      const tagIds: string[] = []
      for (let start = 0; start < 120; start += 40) {
        const made = await t.call('POST', '/api/batch', {
          token: t.su,
          body: { requests: Array.from({ length: 40 }, (_, i) => ({ method: 'POST', url: '/api/collections/rtags/records', body: { x: `t${start + i}` } })) },
        })
        assert.equal(made.status, 200, made.raw)
        tagIds.push(...(made.body as unknown as { body: { id: string } }[]).map((r) => r.body.id))
      }
      await t.collection({
        name: 'rnotes',
        type: 'base',
        createRule: 'owner = @request.auth.id',
        listRule: 'owner = @request.auth.id',
        fields: [
          { name: 'code', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 500 },
        ],
        indexes: ['CREATE UNIQUE INDEX idx_rnotes_code ON rnotes (code)'],
      })
      const url = '/api/collections/rnotes/records'
      const post = (body: Record<string, unknown>) => t.call('POST', url, { token: alice.token, body })
      // Existing ids, one repeated: created, with each id once.
      const ok = await post({ code: 'a', owner: alice.id, tags: [tagIds[0], tagIds[1], tagIds[0]] })
      assert.equal(ok.status, 200, ok.raw)
      assert.deepEqual(ok.body.tags, [tagIds[0], tagIds[1]])
      // One missing id among existing ones: the field error, and nothing was written.
      const missing = await post({ code: 'b', owner: alice.id, tags: [tagIds[2], 'nosuchrecord001'] })
      assert.equal(missing.status, 400, missing.raw)
      assert.deepEqual(Object.keys(missing.body.data ?? {}), ['tags'])
      assert.equal(missing.body.data?.tags?.code, 'validation_missing_rel_records')
      // The same past the ids counted inside the rule read (they are then looked up on their own).
      const many = await post({ code: 'c', owner: alice.id, tags: [...tagIds.slice(0, 110), 'nosuchrecord002'] })
      assert.equal(many.body.data?.tags?.code, 'validation_missing_rel_records', many.raw)
      const manyOk = await post({ code: 'd', owner: alice.id, tags: tagIds.slice(0, 110) })
      assert.equal(manyOk.status, 200, manyOk.raw)
      // A taken code and a missing relation: the relation is reported, as when nothing else is wrong.
      const both = await post({ code: 'a', owner: alice.id, tags: ['nosuchrecord001'] })
      assert.deepEqual(Object.keys(both.body.data ?? {}), ['tags'], both.raw)
      const dup = await post({ code: 'a', owner: alice.id, tags: [tagIds[3]] })
      assert.equal(dup.body.data?.code?.code, 'validation_not_unique', dup.raw)
      // Refused by the rule and missing a relation: the plain refusal.
      const refused = await post({ code: 'e', owner: 'nosuchuser0001', tags: [tagIds[4]] })
      assert.deepEqual(refused.body, { status: 400, message: 'Failed to create record.', data: {} })
      const list = await t.call('GET', `${url}?sort=code`, { token: alice.token })
      assert.deepEqual((list.body.items as { code: string }[]).map((r) => r.code), ['a', 'd'])
    })

    test('a create rule is judged on the inserted row, in memory or in SQL, with the same answers', async () => {
      const alice = await t.user('fay@example.com')
      const bob = await t.user('gus@example.com')
      // The first two are decided in memory on the returned row; the others need SQL (the body, a relation path).
      const rules = [
        'owner = @request.auth.id',
        'owner = @request.auth.id && title != "x"',
        '@request.body.title != "x" && owner = @request.auth.id',
        'owner.email = @request.auth.email && title != "x"',
      ]
      for (const [i, rule] of rules.entries()) {
        const name = `judged${i}`
        await t.collection({
          name,
          type: 'base',
          createRule: rule,
          fields: [
            { name: 'title', type: 'text' },
            { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          ],
        })
        const url = `/api/collections/${name}/records`
        const cases: [string | undefined, Record<string, unknown>, number][] = [
          [alice.token, { title: 'mine', owner: alice.id }, 200],
          [alice.token, { title: 'for bob', owner: bob.id }, 400],
          [alice.token, { title: 'x', owner: alice.id }, i === 0 ? 200 : 400],
          [undefined, { title: 'guest', owner: alice.id }, 400],
          [bob.token, { title: 'bob', owner: bob.id }, 200],
        ]
        for (const [token, body, status] of cases) {
          const res = await t.call('POST', url, { token, body })
          assert.equal(res.status, status, `${rule}: ${JSON.stringify(body)}: ${res.raw}`)
          if (status === 400) assert.deepEqual(res.body, { status: 400, message: 'Failed to create record.', data: {} }, rule)
        }
        // Refused creates left nothing behind.
        const all = await t.call('GET', `${url}?sort=title`, { token: t.su })
        assert.deepEqual((all.body.items as { title: string }[]).map((r) => r.title), i === 0 ? ['bob', 'mine', 'x'] : ['bob', 'mine'], rule)
      }
    })

    test('@request.body holds the resolved value under the plain name', async () => {
      await t.collection({
        name: 'counters',
        type: 'base',
        createRule: '@request.body.n = 5 && @request.body.tags:length = 2',
        fields: [
          { name: 'n', type: 'number' },
          { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        ],
      })
      const guest = await t.call('POST', '/api/collections/counters/records', { body: { n: 2, 'n+': 3, tags: 'a', 'tags+': ['b', 'a'] } })
      assert.equal(guest.status, 200, guest.raw)
      const no = await t.call('POST', '/api/collections/counters/records', { body: { 'n+': 4, tags: ['a', 'b'] } })
      assert.equal(no.status, 400)
    })

    test('cascade delete removes the id; deletes the referencing record only when it was the last', async () => {
      const ctags = await t.collection({ name: 'ctags', type: 'base', fields: [{ name: 'label', type: 'text' }] })
      await t.collection({
        name: 'cposts',
        type: 'base',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'tags', type: 'relation', collectionId: ctags.id, maxSelect: 10, cascadeDelete: true },
        ],
      })
      await t.collection({
        name: 'cnotes',
        type: 'base',
        fields: [{ name: 'tag', type: 'relation', collectionId: ctags.id, maxSelect: 1, required: true }],
      })
      const mk = async (c: string, body: Record<string, unknown>) => {
        const res = await t.call('POST', `/api/collections/${c}/records`, { token: t.su, body })
        assert.equal(res.status, 200, res.raw)
        return String(res.body.id)
      }
      const t1 = await mk('ctags', { label: 'one' })
      const t2 = await mk('ctags', { label: 'two' })
      const both = await mk('cposts', { title: 'both', tags: [t1, t2] })
      const only1 = await mk('cposts', { title: 'only one', tags: [t1] })
      const del = await t.call('DELETE', `/api/collections/ctags/records/${t1}`, { token: t.su })
      assert.equal(del.status, 204, del.raw)
      const kept = await t.call('GET', `/api/collections/cposts/records/${both}`, { token: t.su })
      assert.equal(kept.status, 200)
      assert.deepEqual(kept.body.tags, [t2])
      assert.equal((await t.call('GET', `/api/collections/cposts/records/${only1}`, { token: t.su })).status, 404)

      // A required, non-cascade reference refuses the delete, and nothing changes.
      await mk('cnotes', { tag: t2 })
      const refused = await t.call('DELETE', `/api/collections/ctags/records/${t2}`, { token: t.su })
      assert.equal(refused.status, 400)
      assert.equal(refused.body.message, 'Failed to delete record. Make sure that the record is not part of a required relation reference.')
      assert.equal((await t.call('GET', `/api/collections/ctags/records/${t2}`, { token: t.su })).status, 200)
      assert.deepEqual((await t.call('GET', `/api/collections/cposts/records/${both}`, { token: t.su })).body.tags, [t2])
    })

    test('JSON nested deeper than 64 levels is refused with 400 and never stored', async () => {
      await t.collection({ name: 'docs', type: 'base', listRule: '', fields: [{ name: 'data', type: 'json' }, { name: 'title', type: 'text' }] })
      const url = '/api/collections/docs/records'
      const nest = (n: number) => '['.repeat(n) + ']'.repeat(n)
      const deepBody = `{"data":${nest(100_000)}}`
      const r1 = await t.call('POST', url, { token: t.su, payload: deepBody })
      assert.equal(r1.status, 400, r1.raw)
      const form = multipart([['@jsonPayload', deepBody]])
      const r2 = await t.call('POST', url, { token: t.su, ...form })
      assert.equal(r2.status, 400, r2.raw)
      const field = multipart([['data', nest(100_000)]])
      const r3 = await t.call('POST', url, { token: t.su, ...field })
      assert.equal(r3.status, 400, r3.raw)
      assert.equal(r3.body.data?.data?.code, 'validation_invalid_json')
      // The limit is on the value: 64 levels are stored, 65 are not (MariaDB's JSON columns: 31).
      const limit = Math.min(64, t.app.sql.writer().capabilities.maxJsonDepth ?? 64)
      const r4 = await t.call('POST', url, { token: t.su, payload: `{"data":${nest(limit + 1)}}` })
      assert.equal(r4.status, 400, r4.raw)
      assert.deepEqual(r4.body.data?.data, { code: 'validation_invalid_json', message: `JSON values may nest at most ${limit} levels.`, params: { maxDepth: limit } })
      const r5 = await t.call('POST', url, { token: t.su, payload: `{"data":${nest(limit)}}` })
      assert.equal(r5.status, 200, r5.raw)
      const list = await t.call('GET', url, { token: t.su })
      assert.equal(list.status, 200)
      assert.equal(list.body.totalItems, 1)
      // Batch bodies go through the same parser.
      const batch = await t.call('POST', '/api/batch', { token: t.su, payload: `{"requests":[{"method":"POST","url":"${url}","body":{"data":${nest(100_000)}}}]}` })
      assert.equal(batch.status, 400)
      assert.equal((await t.call('GET', url, { token: t.su })).body.totalItems, 1)
    })

    test('NUL bytes are a 400 on the field on every engine', async () => {
      const target = await t.collection({ name: 'ntarget', type: 'base', fields: [{ name: 'x', type: 'text' }] })
      await t.collection({
        name: 'nuls',
        type: 'base',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'mail', type: 'email' },
          { name: 'site', type: 'url' },
          { name: 'content', type: 'editor' },
          { name: 'data', type: 'json' },
          { name: 'pick', type: 'select', values: ['a'], maxSelect: 1 },
          { name: 'rel', type: 'relation', collectionId: target.id, maxSelect: 3 },
        ],
      })
      const url = '/api/collections/nuls/records'
      const cases: [string, unknown][] = [
        ['title', 'a\u0000b'],
        ['mail', 'a\u0000@example.com'],
        ['site', 'https://example.com/\u0000'],
        ['content', '<p>\u0000</p>'],
        ['data', { k: 'v\u0000' }],
        ['data', { 'k\u0000': 1 }],
        ['pick', 'a\u0000'],
        ['rel', ['abc\u0000def']],
      ]
      for (const [name, value] of cases) {
        const res = await t.call('POST', url, { token: t.su, body: { [name]: value } })
        assert.equal(res.status, 400, `${name}: ${res.raw}`)
        assert.equal(res.body.data?.[name]?.code, name === 'pick' ? 'validation_invalid_value' : 'validation_invalid_value', name)
      }
      const ok = await t.call('POST', url, { token: t.su, body: { title: 'fine', data: { k: '\\u0000 as text' } } })
      assert.equal(ok.status, 200, ok.raw)
      const batch = await t.call('POST', '/api/batch', { token: t.su, body: { requests: [{ method: 'PUT', url, body: { id: 'abc\u0000def', title: 'x' } }] } })
      assert.equal(batch.status, 400, batch.raw)
      const sub = (batch.body.data as unknown as { requests: Record<string, { response: { status: number; data: Record<string, { code: string }> } }> }).requests['0']
      assert.equal(sub?.response.status, 400)
      assert.equal(sub?.response.data.id?.code, 'validation_invalid_value')
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const res = await t.call(method, `${url}/abc%00def`, { token: t.su, ...(method === 'PATCH' ? { body: { title: 'x' } } : {}) })
        assert.equal(res.status, 404, `${method} ${res.raw}`)
      }
    })
  })
}
