/**
 * Kept statements (src/records/statements.ts): a list's filter compiles differently per caller,
 * so the same filter text sent by different callers, in any order, must answer each one as if
 * it were compiled for them alone; so must a record changed between two identical requests.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startApp, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'

for (const { engine, skip } of await engines()) {
  describe(`kept statements: ${engine}`, { skip }, () => {
    let t: TestApp
    const tokens: Record<string, string> = {}
    let secretId = ''
    before(async () => {
      t = await startApp(engine)
      const ids: Record<string, string> = {}
      for (const name of ['ann', 'bob']) {
        ids[name] = ((await t.must('POST', '/api/collections/users/records', { email: `${name}@example.com`, password: 'pass-word-123', passwordConfirm: 'pass-word-123' })) as { id: string }).id
        tokens[name] = await t.login('users', `${name}@example.com`, 'pass-word-123')
      }
      const secrets = (await t.must('POST', '/api/collections', {
        name: 'secrets',
        listRule: 'owner = @request.auth.id',
        viewRule: 'owner = @request.auth.id',
        fields: [{ name: 'title', type: 'text' }, { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 }],
      })) as { id: string }
      await t.must('POST', '/api/collections', {
        name: 'posts',
        listRule: '',
        viewRule: '',
        fields: [{ name: 'secret', type: 'relation', collectionId: secrets.id, maxSelect: 1 }, { name: 'code', type: 'text', hidden: true }],
      })
      secretId = ((await t.must('POST', '/api/collections/secrets/records', { title: 'x', owner: ids.ann })) as { id: string }).id
      await t.must('POST', '/api/collections/posts/records', { secret: secretId, code: 'k' })
    })
    after(() => t?.close())

    const list = async (filter: string, token?: string) => {
      const res = await t.call('GET', `/api/collections/posts/records?filter=${encodeURIComponent(filter)}`, { token })
      return { status: res.statusCode, items: res.statusCode === 200 ? res.json<{ items: unknown[] }>().items.length : -1 }
    }

    test('one filter through a relation, several callers in turn: each sees what its rules allow', async () => {
      for (let round = 0; round < 3; round++) {
        assert.deepEqual(await list("secret.title = 'x'", tokens.ann), { status: 200, items: 1 }, 'ann owns the secret')
        assert.deepEqual(await list("secret.title = 'x'", tokens.bob), { status: 200, items: 0 }, 'bob cannot list it')
        assert.deepEqual(await list("secret.title = 'x'"), { status: 200, items: 0 }, 'a guest cannot list it')
      }
    })

    test('a hidden field in a filter: superusers match on it, others never do', async () => {
      for (let round = 0; round < 2; round++) {
        assert.deepEqual(await list("code = 'k'", t.su), { status: 200, items: 1 })
        const guest = await list("code = 'k'")
        assert.notEqual(guest.items, 1, JSON.stringify(guest))
        const ann = await list("code = 'k'", tokens.ann)
        assert.notEqual(ann.items, 1, JSON.stringify(ann))
      }
    })

    test('the data under a kept statement changes between two identical requests', async () => {
      assert.deepEqual(await list("secret.title = 'x'", tokens.ann), { status: 200, items: 1 })
      await t.must('PATCH', `/api/collections/secrets/records/${secretId}`, { title: 'y' })
      assert.deepEqual(await list("secret.title = 'x'", tokens.ann), { status: 200, items: 0 })
      await t.must('PATCH', `/api/collections/secrets/records/${secretId}`, { title: 'x' })
      assert.deepEqual(await list("secret.title = 'x'", tokens.ann), { status: 200, items: 1 })
    })

    test('a rule reading a header is compiled for each request: the same caller and filter, different headers', async () => {
      await t.must('POST', '/api/collections', { name: 'by_header', listRule: "@request.headers.x_app = 'ios'", fields: [{ name: 'n', type: 'number' }] })
      await t.must('POST', '/api/collections/by_header/records', { n: 1 })
      const count = async (app?: string) => {
        const res = await t.call('GET', '/api/collections/by_header/records?filter=n%20%3D%201', { token: tokens.ann, headers: app ? { 'x-app': app } : {} })
        return res.json<{ items: unknown[] }>().items.length
      }
      for (let round = 0; round < 2; round++) {
        assert.equal(await count('ios'), 1)
        assert.equal(await count('web'), 0)
        assert.equal(await count(), 0)
      }
    })

    test('pages of one kept list statement', async () => {
      for (let i = 0; i < 5; i++) await t.must('POST', '/api/collections/posts/records', { code: `p${i}` })
      const page = async (n: number) =>
        (await t.call('GET', `/api/collections/posts/records?perPage=2&page=${n}&filter=${encodeURIComponent("id != ''")}`, { token: tokens.bob })).json<{ items: { id: string }[]; totalItems: number }>()
      const seen = new Set<string>()
      for (let n = 1; n <= 3; n++) {
        const p = await page(n)
        assert.equal(p.totalItems, 6)
        for (const item of p.items) seen.add(item.id)
      }
      assert.equal(seen.size, 6)
    })
  })
}
