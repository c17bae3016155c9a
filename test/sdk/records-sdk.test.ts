/**
 * PocketBase's own JS SDK against a listening Plinth (createPlinth + start) on every engine:
 * superuser auth, collections with schema changes that keep data, record CRUD, filters,
 * expand and back-relations, fields, pagination totals; and an owner-only rules matrix.
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
        config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent' } },
        logger: createLogger({ logLevel: 'silent' }),
      })
      url = await app.start()
      const superusers = app.collections.getOrThrow('_superusers')
      assert.ok(isAuthCollection(superusers))
      await createSuperuser(app.sql.writer().db, superusers, 'root@example.com', 'root-password-1')
      su = admin()
      await su.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('collections and records: CRUD, schema change keeps data, filters, expand, fields, pages', async () => {
      const tags = await su.collections.create({ name: 'tags', type: 'base', fields: [{ name: 'label', type: 'text', required: true }], listRule: '', viewRule: '' })
      const posts = await su.collections.create({
        name: 'posts',
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
        name: 'comments',
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [
          { name: 'post', type: 'relation', collectionId: posts.id, maxSelect: 1, cascadeDelete: true },
          { name: 'message', type: 'text' },
        ],
      })
      const t1 = await su.collection('tags').create({ label: 'news' })
      const t2 = await su.collection('tags').create({ label: 'tech' })
      const created = []
      for (let i = 0; i < 35; i++) {
        created.push(await su.collection('posts').create({ title: `post ${i}`, views: i, tags: i % 2 ? [t1.id, t2.id] : [t1.id], body: `<p>Hello <b>world</b> number ${i}</p>` }))
      }
      const p0 = created[0]!
      await su.collection('comments').create({ post: p0.id, message: 'first!' })

      // pages and totals
      const page2 = await su.collection('posts').getList(2, 10, { sort: '-views' })
      assert.equal(page2.totalItems, 35)
      assert.equal(page2.totalPages, 4)
      assert.deepEqual(page2.items.map((r) => r.views), [24, 23, 22, 21, 20, 19, 18, 17, 16, 15])
      const skipped = await su.collection('posts').getList(1, 5, { skipTotal: true })
      assert.equal(skipped.totalItems, -1)
      assert.equal((await su.collection('posts').getFullList({ batch: 10 })).length, 35)

      // filters through the SDK's own parameter binding
      const hot = await su.collection('posts').getList(1, 50, { filter: su.filter('views >= {:min} && tags.label ?= {:label}', { min: 30, label: 'tech' }) })
      assert.deepEqual(hot.items.map((r) => r.views).sort((a, b) => a - b), [31, 33])
      assert.equal((await su.collection('posts').getFirstListItem(su.filter('title = {:t}', { t: 'post 7' }))).views, 7)

      // expand, back-relations and fields with excerpt
      const view = await su.collection('posts').getOne(p0.id, { expand: 'tags,comments_via_post', fields: 'id,title,body:excerpt(11,true),expand.tags.label,expand.comments_via_post.message' })
      assert.deepEqual(view, { id: p0.id, title: 'post 0', body: 'Hello world...', expand: { tags: [{ label: 'news' }], comments_via_post: [{ message: 'first!' }] } })

      // update and validation errors in PocketBase's shape
      const updated = await su.collection('posts').update(p0.id, { 'views+': 5, title: 'renamed' })
      assert.equal(updated.views, 5)
      assert.equal(updated.title, 'renamed')
      const bad = await su.collection('posts').create({ views: 1 }).catch((e: ClientResponseError) => e)
      assert.ok(bad instanceof ClientResponseError)
      assert.equal(bad.status, 400)
      assert.equal((bad.response.data as Record<string, { code: string }>).title?.code, 'validation_required')
      const badRel = await su.collection('posts').create({ title: 'x', tags: ['nosuchtagid0001'] }).catch((e: ClientResponseError) => e)
      assert.equal((badRel as ClientResponseError).status, 400)

      // schema change: add and rename fields; other columns keep their data
      const current = await su.collections.getOne('posts')
      await su.collections.update('posts', {
        fields: [...current.fields.map((f: { name: string }) => (f.name === 'views' ? { ...f, name: 'hits' } : f)), { name: 'summary', type: 'text' }],
      })
      const after = await su.collection('posts').getOne(created[3]!.id)
      assert.equal(after.hits, 3)
      assert.equal(after.title, 'post 3')
      assert.equal(after.summary, '')
      assert.equal(after.views, undefined)

      // delete cascades to comments
      await su.collection('posts').delete(p0.id)
      assert.equal(await status(su.collection('posts').getOne(p0.id)), 404)
      assert.equal((await su.collection('comments').getList(1, 10)).totalItems, 0)

      // bad filter, oversized page
      assert.equal(await status(su.collection('posts').getList(1, 10, { filter: 'title = ' })), 400)
      // perPage over 1000 is clamped to 1000, as PocketBase does (it used to be a 400 here).
      assert.equal((await su.collection('posts').getList(1, 5000)).perPage, 1000)
      assert.equal(await status(su.collection('nope').getList(1, 10)), 404)
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

    test('rules matrix: owner-only notes, two users and a guest, every endpoint (no BOLA)', async () => {
      const ownerRule = 'owner = @request.auth.id'
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
      const users: PocketBase[] = []
      for (const name of ['alice', 'bob']) {
        const pb = admin()
        await pb.collection('users').create({ email: `${name}@example.com`, password: 'password-123', passwordConfirm: 'password-123' })
        await pb.collection('users').authWithPassword(`${name}@example.com`, 'password-123')
        users.push(pb)
      }
      const [alice, bob] = users as [PocketBase, PocketBase]
      const guest = admin()
      const aliceId = alice.authStore.record!.id
      const bobId = bob.authStore.record!.id

      const note = await alice.collection('notes').create({ text: 'secret', owner: aliceId })
      // Creating a note that claims another owner fails the create rule, and nothing is kept.
      assert.equal(await status(bob.collection('notes').create({ text: 'forged', owner: aliceId })), 400)
      assert.equal(await status(guest.collection('notes').create({ text: 'anon', owner: aliceId })), 400)
      assert.equal((await su.collection('notes').getList(1, 10)).totalItems, 1)

      assert.equal((await alice.collection('notes').getList(1, 10)).totalItems, 1)
      assert.equal((await bob.collection('notes').getList(1, 10)).totalItems, 0)
      assert.equal((await guest.collection('notes').getList(1, 10)).totalItems, 0)
      assert.equal((await alice.collection('notes').getOne(note.id)).text, 'secret')
      assert.equal(await status(bob.collection('notes').getOne(note.id)), 404)
      assert.equal(await status(guest.collection('notes').getOne(note.id)), 404)
      assert.equal(await status(bob.collection('notes').update(note.id, { text: 'pwned' })), 404)
      assert.equal(await status(guest.collection('notes').update(note.id, { text: 'pwned' })), 404)
      assert.equal(await status(bob.collection('notes').delete(note.id)), 404)
      assert.equal(await status(guest.collection('notes').delete(note.id)), 404)
      // A filter cannot widen what the rule shows.
      assert.equal((await bob.collection('notes').getList(1, 10, { filter: `owner = "${aliceId}" || id != ""` })).totalItems, 0)
      assert.equal((await su.collection('notes').getOne(note.id)).text, 'secret')

      // Users see their own email; others see it only with emailVisibility.
      assert.equal((await alice.collection('users').getOne(aliceId)).email, 'alice@example.com')
      assert.equal(await status(alice.collection('users').getOne(bobId)), 404)
      const moved = await alice.collection('notes').update(note.id, { text: 'still mine' })
      assert.equal(moved.text, 'still mine')
      await alice.collection('notes').delete(note.id)
      assert.equal((await su.collection('notes').getList(1, 10)).totalItems, 0)
    })
  })
}
