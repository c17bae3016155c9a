/**
 * Record reads served from the cache port (`cacheRecords`): rules still apply per caller (a
 * cached entry never reaches a caller whose rule excludes the record), and a write, a rule change,
 * a write to a view's source and a write to an expanded relation are all seen by the next read.
 * On every SQL engine, with the in-process cache and counters.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RecordReadCache } from '../../src/records/read-cache.ts'
import { engines } from '../helpers/engines.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

for (const { engine, skip } of await engines()) {
  describe(`records cache: ${engine}`, { skip }, () => {
    let t: TestApp
    let stats: RecordReadCache['stats']
    const users: { id: string; token: string }[] = []
    let postId = ''
    let tagId = ''
    before(async () => {
      t = await startApp(engine, { cacheRecords: true })
      stats = (t.app.records.readCache as RecordReadCache).stats
      for (const n of [1, 2]) {
        const u = (await t.must('POST', '/api/collections/users/records', { email: `u${n}@example.com`, password: 'pass-12345678', passwordConfirm: 'pass-12345678' })) as { id: string }
        users.push({ id: u.id, token: await t.login('users', `u${n}@example.com`, 'pass-12345678') })
      }
      await t.must('POST', '/api/collections', { name: 'tags', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'name', type: 'text' }] })
      const tags = t.app.collections.getOrThrow('tags')
      await t.must('POST', '/api/collections', {
        name: 'posts', type: 'base', listRule: 'owner = @request.auth.id', viewRule: 'owner = @request.auth.id', updateRule: 'owner = @request.auth.id',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: t.app.collections.getOrThrow('users').id, maxSelect: 1 },
          { name: 'tag', type: 'relation', collectionId: tags.id, maxSelect: 1 },
        ],
      })
      await t.must('POST', '/api/collections', { name: 'post_titles', type: 'view', listRule: '', viewRule: '', viewQuery: 'SELECT id, title FROM posts' })
      tagId = ((await t.must('POST', '/api/collections/tags/records', { name: 'red' })) as { id: string }).id
      postId = ((await t.must('POST', '/api/collections/posts/records', { title: 'first', owner: users[0]!.id, tag: tagId })) as { id: string }).id
    })
    after(() => t?.close())

    const view = (token: string | undefined, query = '') => t.call('GET', `/api/collections/posts/records/${postId}${query}`, { token })
    const list = (token: string | undefined) => t.call('GET', '/api/collections/posts/records', { token })

    test('a cached view or list never reaches a caller the rule excludes', async () => {
      const [owner, other] = users
      const hits = stats.hits
      for (let i = 0; i < 3; i++) {
        assert.equal((await view(owner!.token)).statusCode, 200)
        assert.equal((await list(owner!.token)).json<{ items: unknown[] }>().items.length, 1)
        assert.equal((await view(other!.token)).statusCode, 404)
        assert.equal((await view(undefined)).statusCode, 404)
        assert.deepEqual((await list(other!.token)).json<{ items: unknown[] }>().items, [])
        assert.deepEqual((await list(undefined)).json<{ items: unknown[] }>().items, [])
      }
      assert.ok(stats.hits > hits, 'repeated reads are served from the cache')
      const metrics = await t.call('GET', '/api/metrics', { token: t.su })
      assert.equal(metrics.statusCode, 200, metrics.body)
      const m = /plinth_records_cache_reads_total\{result="hit"\} (\d+)/.exec(metrics.body)
      assert.ok(m && Number(m[1]) >= stats.hits - 1, metrics.body.slice(0, 200))
    })

    test('a write is seen by the next read, over and over', async () => {
      const owner = users[0]!
      for (let i = 0; i < 20; i++) {
        assert.equal((await view(owner.token)).statusCode, 200) // cached now
        const res = await t.call('PATCH', `/api/collections/posts/records/${postId}`, { token: owner.token, body: { title: `title ${i}` } })
        assert.equal(res.statusCode, 200, res.body)
        assert.equal((await view(owner.token)).json<{ title: string }>().title, `title ${i}`)
        const items = (await list(owner.token)).json<{ items: { title: string }[] }>().items
        assert.equal(items[0]?.title, `title ${i}`)
      }
    })

    test('a rule change applies at once, both ways', async () => {
      const other = users[1]!
      assert.equal((await view(other.token)).statusCode, 404)
      await t.must('PATCH', '/api/collections/posts', { viewRule: '', listRule: '' })
      assert.equal((await view(other.token)).statusCode, 200)
      assert.equal((await list(other.token)).json<{ items: unknown[] }>().items.length, 1)
      await t.must('PATCH', '/api/collections/posts', { viewRule: 'owner = @request.auth.id', listRule: 'owner = @request.auth.id' })
      assert.equal((await view(other.token)).statusCode, 404)
      assert.deepEqual((await list(other.token)).json<{ items: unknown[] }>().items, [])
    })

    test('a write to an expanded relation and to a view source is seen at once', async () => {
      const owner = users[0]!
      for (const name of ['green', 'blue']) {
        await view(owner.token, '?expand=tag')
        await t.call('GET', '/api/collections/post_titles/records')
        await t.must('PATCH', `/api/collections/tags/records/${tagId}`, { name })
        await t.must('PATCH', `/api/collections/posts/records/${postId}`, { title: `about ${name}` })
        const expanded = (await view(owner.token, '?expand=tag')).json<{ expand: { tag: { name: string } } }>()
        assert.equal(expanded.expand.tag.name, name)
        const titles = (await t.call('GET', '/api/collections/post_titles/records')).json<{ items: { title: string }[] }>().items
        assert.deepEqual(titles.map((x) => x.title), [`about ${name}`])
      }
    })

    test('no password hash or tokenKey is stored in the cache; the owner still reads their record', async () => {
      const stored: string[] = []
      const cache = t.app.cache
      const set = cache.set.bind(cache)
      cache.set = (key, value, ttl) => {
        stored.push(String(value))
        return set(key, value, ttl)
      }
      try {
        const owner = users[0]!
        for (let i = 0; i < 2; i++) {
          const res = await t.call('GET', `/api/collections/users/records/${owner.id}`, { token: owner.token })
          assert.equal(res.statusCode, 200, res.body)
          assert.equal(res.json<{ email: string }>().email, 'u1@example.com')
        }
        await t.call('GET', '/api/collections/users/records', { token: owner.token })
        assert.ok(stored.some((v) => v.includes(owner.id)), 'the user rows were cached')
        for (const v of stored) assert.ok(!v.includes('"password"') && !v.includes('"tokenKey"') && !v.includes('$2'), v)
      } finally {
        cache.set = set
      }
    })

    test('a delete is seen at once', async () => {
      const owner = users[0]!
      assert.equal((await view(owner.token)).statusCode, 200)
      await t.must('DELETE', `/api/collections/posts/records/${postId}`)
      assert.equal((await view(owner.token)).statusCode, 404)
      assert.deepEqual((await list(owner.token)).json<{ items: unknown[] }>().items, [])
    })
  })
}
