/**
 * PocketBase's own JS SDK against a listening Plinth (createPlinth + start) on every engine:
 * superuser auth, collections with schema changes that keep data, record CRUD, filters,
 * expand and back-relations, fields, pagination totals; and owner-only rules. Each test makes
 * its own collections, so any one runs alone (`--test-name-pattern`).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { NO_RATE_LIMITS } from '../helpers/app.ts'

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 200
  } catch (err) {
    if (err instanceof ClientResponseError) return err.status
    throw err
  }
}

for (const { engine, skip } of await engines()) {
  describe(`PocketBase SDK against Plinth: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let dir: string
    let app: Plinth
    let url: string
    const admin = () => {
      const pb = new PocketBase(url)
      pb.autoCancellation(false)
      return pb
    }
    let su: PocketBase

    before(async () => {
      testDb = await createTestDb(engine)
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-sdk-'))
      app = await createPlinth({
        config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent', rateLimits: NO_RATE_LIMITS } },
        logger: createLogger({ logLevel: 'silent' }),
      })
      url = await app.start()
      const superusers = app.collections.getOrThrow('_superusers')
      assert.ok(isAuthCollection(superusers))
      await createSuperuser(app.records, 'root@example.com', 'root-password-1')
      su = admin()
      await su.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    /**
     * Its own tags/posts/comments collections (names prefixed): 2 tags, 35 posts `post N` with
     * views N, tags news (+ tech on odd N), an HTML body, and one comment on post 0.
     */
    async function blog(prefix: string) {
      const tags = await su.collections.create({ name: `${prefix}_tags`, type: 'base', fields: [{ name: 'label', type: 'text', required: true }], listRule: '', viewRule: '' })
      const posts = await su.collections.create({
        name: `${prefix}_posts`,
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [
          { name: 'title', type: 'text', required: true },
          { name: 'views', type: 'number' },
          { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 },
          { name: 'body', type: 'editor' },
          { name: 'created', type: 'autodate', onCreate: true },
        ],
      })
      await su.collections.create({
        name: `${prefix}_comments`,
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [
          { name: 'post', type: 'relation', collectionId: posts.id, maxSelect: 1, cascadeDelete: true },
          { name: 'message', type: 'text' },
        ],
      })
      const t1 = await su.collection(`${prefix}_tags`).create({ label: 'news' })
      const t2 = await su.collection(`${prefix}_tags`).create({ label: 'tech' })
      const batch = su.createBatch()
      for (let i = 0; i < 35; i++) {
        batch.collection(`${prefix}_posts`).create({ title: `post ${i}`, views: i, tags: i % 2 ? [t1.id, t2.id] : [t1.id], body: `<p>Hello <b>world</b> number ${i}</p>` })
      }
      const created = (await batch.send()).map((r) => r.body as { id: string })
      const p0 = created[0]!
      await su.collection(`${prefix}_comments`).create({ post: p0.id, message: 'first!' })
      return { posts: su.collection(`${prefix}_posts`), comments: su.collection(`${prefix}_comments`), created, p0 }
    }

    test('pages and totals', async () => {
      const { posts } = await blog('pages')
      const page2 = await posts.getList(2, 10, { sort: '-views' })
      assert.equal(page2.totalItems, 35)
      assert.equal(page2.totalPages, 4)
      assert.deepEqual(page2.items.map((r) => r.views), [24, 23, 22, 21, 20, 19, 18, 17, 16, 15])
      const skipped = await posts.getList(1, 5, { skipTotal: true })
      assert.equal(skipped.totalItems, -1)
      assert.equal((await posts.getFullList({ batch: 10 })).length, 35)
    })

    test('filters through the SDK\'s own parameter binding', async () => {
      const { posts } = await blog('filters')
      const hot = await posts.getList(1, 50, { filter: su.filter('views >= {:min} && tags.label ?= {:label}', { min: 30, label: 'tech' }) })
      assert.deepEqual(hot.items.map((r) => r.views).sort((a, b) => a - b), [31, 33])
      assert.equal((await posts.getFirstListItem(su.filter('title = {:t}', { t: 'post 7' }))).views, 7)
    })

    test('expand, back-relations and fields with excerpt', async () => {
      const { posts, p0 } = await blog('expand')
      const view = await posts.getOne(p0.id, { expand: 'tags,expand_comments_via_post', fields: 'id,title,body:excerpt(11,true),expand.tags.label,expand.expand_comments_via_post.message' })
      assert.deepEqual(view, { id: p0.id, title: 'post 0', body: 'Hello world...', expand: { tags: [{ label: 'news' }], expand_comments_via_post: [{ message: 'first!' }] } })
    })

    test('update with a modifier; validation errors in PocketBase\'s shape', async () => {
      const { posts, p0 } = await blog('update')
      const updated = await posts.update(p0.id, { 'views+': 5, title: 'renamed' })
      assert.equal(updated.views, 5)
      assert.equal(updated.title, 'renamed')
      const bad = await posts.create({ views: 1 }).catch((e: ClientResponseError) => e)
      assert.ok(bad instanceof ClientResponseError)
      assert.equal(bad.status, 400)
      assert.equal((bad.response.data as Record<string, { code: string }>).title?.code, 'validation_required')
      const badRel = await posts.create({ title: 'x', tags: ['nosuchtagid0001'] }).catch((e: ClientResponseError) => e)
      assert.ok(badRel instanceof ClientResponseError)
      assert.equal(badRel.status, 400)
      assert.equal((badRel.response.data as Record<string, { code: string }>).tags?.code, 'validation_missing_rel_records')
    })

    test('schema change: added and renamed fields keep the other columns\' data', async () => {
      const { posts, created } = await blog('schema')
      const current = await su.collections.getOne('schema_posts')
      await su.collections.update('schema_posts', {
        fields: [...current.fields.map((f: { name: string }) => (f.name === 'views' ? { ...f, name: 'hits' } : f)), { name: 'summary', type: 'text' }],
      })
      const after = await posts.getOne(created[3]!.id)
      assert.equal(after.hits, 3)
      assert.equal(after.title, 'post 3')
      assert.equal(after.summary, '')
      assert.equal(after.views, undefined)
    })

    test('delete cascades to records that point at it with cascadeDelete', async () => {
      const { posts, comments, p0 } = await blog('cascade')
      assert.equal((await comments.getList(1, 10)).totalItems, 1)
      await posts.delete(p0.id)
      assert.equal(await status(posts.getOne(p0.id)), 404)
      assert.equal((await comments.getList(1, 10)).totalItems, 0)
    })

    test('a bad filter is 400 and an unknown collection 404', async () => {
      const { posts } = await blog('errors')
      assert.equal(await status(posts.getList(1, 10, { filter: 'title = ' })), 400)
      assert.equal(await status(su.collection('nope').getList(1, 10)), 404)
    })

    test('an oversized page clamps to 1000, as PocketBase does', async () => {
      const { posts } = await blog('clamp')
      const page = await posts.getList(1, 5000)
      assert.equal(page.perPage, 1000)
      assert.equal(page.items.length, 35)
    })

    test('batch: all requests in one transaction, all or none', async () => {
      await su.collections.create({
        name: 'items',
        type: 'base',
        listRule: '',
        fields: [
          { name: 'name', type: 'text', required: true },
          { name: 'qty', type: 'number' },
        ],
        indexes: ['CREATE UNIQUE INDEX idx_items_name ON items (name)'],
      })
      const keep = await su.collection('items').create({ name: 'keep', qty: 1 })
      const ok = su.createBatch()
      ok.collection('items').create({ name: 'a', qty: 1 })
      ok.collection('items').update(keep.id, { 'qty+': 2 })
      ok.collection('items').upsert({ id: 'upsertitem00001', name: 'up', qty: 7 })
      const results = await ok.send()
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200])
      assert.equal((await su.collection('items').getOne(keep.id)).qty, 3)
      assert.equal((await su.collection('items').getOne('upsertitem00001')).qty, 7)

      const bad = su.createBatch()
      bad.collection('items').create({ name: 'b' })
      bad.collection('items').delete(keep.id)
      bad.collection('items').create({ name: 'a' }) // duplicate of a unique name: fails
      const err = await bad.send().catch((e: ClientResponseError) => e)
      assert.ok(err instanceof ClientResponseError)
      assert.equal(err.status, 400)
      const failed = (err.response.data as { requests: Record<string, { response: { data: Record<string, { code: string }> } }> }).requests['2']
      assert.equal(failed?.response.data.name?.code, 'validation_not_unique')
      // Nothing of the failed batch was kept.
      const names = (await su.collection('items').getFullList()).map((r) => r.name).sort()
      assert.deepEqual(names, ['a', 'keep', 'up'])
    })

    describe('owner-only notes through the SDK: two users and a guest (no BOLA)', () => {
      const ownerRule = 'owner = @request.auth.id'
      let alice: PocketBase
      let bob: PocketBase
      let guest: PocketBase
      let aliceId: string
      let bobId: string
      let note: { id: string }

      before(async () => {
        await su.collections.create({
          name: 'notes',
          type: 'base',
          listRule: ownerRule,
          viewRule: ownerRule,
          createRule: `@request.auth.id != "" && owner = @request.auth.id`,
          updateRule: ownerRule,
          deleteRule: ownerRule,
          fields: [
            { name: 'text', type: 'text' },
            { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
          ],
        })
        const signIn = async (name: string) => {
          const pb = admin()
          await pb.collection('users').create({ email: `${name}@example.com`, password: 'password-123', passwordConfirm: 'password-123' })
          await pb.collection('users').authWithPassword(`${name}@example.com`, 'password-123')
          return pb
        }
        alice = await signIn('alice')
        bob = await signIn('bob')
        guest = admin()
        aliceId = alice.authStore.record!.id
        bobId = bob.authStore.record!.id
        note = await alice.collection('notes').create({ text: 'secret', owner: aliceId })
      })

      test('a note claiming another owner fails the create rule and nothing is kept', async () => {
        assert.equal(await status(bob.collection('notes').create({ text: 'forged', owner: aliceId })), 400)
        assert.equal(await status(guest.collection('notes').create({ text: 'anon', owner: aliceId })), 400)
        assert.equal((await su.collection('notes').getList(1, 10, { filter: 'text = "forged" || text = "anon"' })).totalItems, 0)
      })

      test('lists show each caller only their own notes; a filter cannot widen them', async () => {
        assert.deepEqual((await alice.collection('notes').getFullList()).map((r) => r.id), [note.id])
        assert.equal((await bob.collection('notes').getList(1, 10)).totalItems, 0)
        assert.equal((await guest.collection('notes').getList(1, 10)).totalItems, 0)
        assert.equal((await bob.collection('notes').getList(1, 10, { filter: `owner = "${aliceId}" || id != ""` })).totalItems, 0)
      })

      test('view: the owner and superusers see it, others get 404', async () => {
        assert.equal((await alice.collection('notes').getOne(note.id)).text, 'secret')
        assert.equal((await su.collection('notes').getOne(note.id)).text, 'secret')
        assert.equal(await status(bob.collection('notes').getOne(note.id)), 404)
        assert.equal(await status(guest.collection('notes').getOne(note.id)), 404)
      })

      test('update and delete by others are 404 and change nothing', async () => {
        assert.equal(await status(bob.collection('notes').update(note.id, { text: 'pwned' })), 404)
        assert.equal(await status(guest.collection('notes').update(note.id, { text: 'pwned' })), 404)
        assert.equal(await status(bob.collection('notes').delete(note.id)), 404)
        assert.equal(await status(guest.collection('notes').delete(note.id)), 404)
        assert.equal((await su.collection('notes').getOne(note.id)).text, 'secret')
      })

      test('users see their own email; another user is not visible under the default rules', async () => {
        assert.equal((await alice.collection('users').getOne(aliceId)).email, 'alice@example.com')
        assert.equal(await status(alice.collection('users').getOne(bobId)), 404)
      })

      test('the owner updates and deletes their own note', async () => {
        const own = await alice.collection('notes').create({ text: 'mine', owner: aliceId })
        assert.equal((await alice.collection('notes').update(own.id, { text: 'still mine' })).text, 'still mine')
        await alice.collection('notes').delete(own.id)
        assert.equal(await status(su.collection('notes').getOne(own.id)), 404)
      })
    })
  })
}
