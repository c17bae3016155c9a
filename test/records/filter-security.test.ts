/**
 * What a filter, sort or rule may read, at the compiler, on every SQL engine: relations into
 * superuser-only collections are refused and others reach only the records the caller may list;
 * emails only where the caller may see them; secrets never; a guest's `@request.auth.*` never
 * matches an empty field; one `@collection` alias is one row; `@request.body` modifiers and paths.
 */
import assert from 'node:assert/strict'
import { sql } from 'kysely'
import { after, before, describe, test } from 'node:test'
import { ApiError } from '../../src/errors.ts'
import { compileFilter, compileSort, type FilterScope } from '../../src/records/filter/index.ts'
import { prepareRecord } from '../../src/records/fields/index.ts'
import type { Collection } from '../../src/records/model.ts'
import { engines } from '../helpers/engines.ts'
import { id, openFixture, U, type Fixture } from './filter-fixture.ts'

const [u1, u2, u3] = U
const I = [1, 2, 3, 4].map((n) => id('item', n)) as [string, string, string, string]
const [i1, i2, i3, i4] = I
const B = [1, 2, 3].map((n) => id('box', n)) as [string, string, string]

type Opts = Parameters<Fixture['scope']>[0] & { collection?: string }

const isFilterError = (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter' && e.status === 400

for (const { engine, skip } of await engines()) {
  describe(`filter security: ${engine}`, { skip }, () => {
    let fx: Fixture
    let items: Collection

    const scope = (opts: Opts = {}): FilterScope => {
      const base = fx.scope(opts)
      return { ...base, collection: fx.store.getOrThrow(opts.collection ?? 'items') }
    }
    async function rows(filter: string, opts: Opts = {}): Promise<string[]> {
      const s = scope(opts)
      const found = await fx.db.db.selectFrom(s.collection.name).select('id').where(compileFilter(filter, s)).execute()
      return found.map((r) => String(r.id)).sort()
    }
    async function order(sort: string, opts: Opts = {}): Promise<string[]> {
      const s = scope(opts)
      const found = await [...compileSort(sort, s), sql.ref(`${s.collection.name}.id`)].reduce((qb, o) => qb.orderBy(o), fx.db.db.selectFrom(s.collection.name).select('id')).execute()
      return found.map((r) => String(r.id))
    }

    before(async () => {
      fx = await openFixture(engine)
      const users = fx.store.getOrThrow('users')
      const insert = async (c: Collection, input: Record<string, unknown>) => {
        const { values, errors } = await prepareRecord(c, input, undefined, { capabilities: fx.db.capabilities, isSuperuser: true })
        assert.deepEqual(errors, {})
        await fx.db.db.insertInto(c.name).values(values).execute()
      }
      const vault = await fx.store.create({ name: 'vault', listRule: null, viewRule: null, fields: [{ name: 'code', type: 'text' }] })
      const boxes = await fx.store.create({
        name: 'boxes',
        listRule: 'owner = @request.auth.id',
        viewRule: 'owner = @request.auth.id',
        fields: [
          { name: 'label', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
        ],
      })
      items = await fx.store.create({
        name: 'items',
        listRule: '',
        viewRule: '',
        fields: [
          { name: 'name', type: 'text' },
          { name: 'vault', type: 'relation', collectionId: vault.id, maxSelect: 1 },
          { name: 'box', type: 'relation', collectionId: boxes.id, maxSelect: 1 },
          { name: 'boxes', type: 'relation', collectionId: boxes.id, maxSelect: 5 },
          { name: 'user', type: 'relation', collectionId: users.id, maxSelect: 1 },
          { name: 'created', type: 'autodate', onCreate: true },
        ],
      })
      const tags = await fx.store.create({
        name: 'tags',
        listRule: 'owner = @request.auth.id',
        fields: [
          { name: 'item', type: 'relation', collectionId: items.id, maxSelect: 1 },
          { name: 'word', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
        ],
      })
      await insert(vault, { id: 'vault0000000001', code: 'hunter2' })
      await insert(boxes, { id: B[0], label: 'gold', owner: u1 })
      await insert(boxes, { id: B[1], label: 'lead', owner: u2 })
      await insert(boxes, { id: B[2], label: 'tin', owner: u3 })
      await insert(items, { id: i1, name: 'a', vault: 'vault0000000001', box: B[0], boxes: [B[0], B[1]], user: u1 })
      await insert(items, { id: i2, name: 'b', box: B[1], boxes: [B[1]], user: u2 })
      await insert(items, { id: i3, name: 'c', box: B[2], boxes: [], user: u3 })
      await insert(items, { id: i4, name: 'd' })
      const docs = await fx.store.create({ name: 'docs', listRule: '', fields: [{ name: 'name', type: 'text' }] })
      const members = await fx.store.create({
        name: 'members',
        listRule: '',
        fields: [
          { name: 'user', type: 'relation', collectionId: users.id, maxSelect: 1 },
          { name: 'doc', type: 'relation', collectionId: docs.id, maxSelect: 1 },
          { name: 'roles', type: 'select', values: ['read', 'write'], maxSelect: 2 },
        ],
      })
      await fx.store.create({ name: 'nobody', listRule: '', fields: [{ name: 'x', type: 'text' }] })
      for (const [n, name] of ['d1', 'd2', 'pub'].entries()) await insert(docs, { id: id('doc', n + 1), name })
      await insert(members, { user: u1, doc: id('doc', 1), roles: ['read'] })
      await insert(members, { user: u2, doc: id('doc', 2), roles: ['read', 'write'] })
      await insert(tags, { item: i1, word: 'red', owner: u1 })
      await insert(tags, { item: i2, word: 'red', owner: u2 })
    })
    after(async () => fx?.close())

    describe('2. relations reach only what the caller may list', () => {
      test('a relation into a superuser-only collection is refused in a client filter and sort', () => {
        assert.throws(() => compileFilter("vault.code = 'hunter2'", scope()), isFilterError)
        assert.throws(() => compileFilter("vault.code = 'hunter2'", scope({ auth: u1 })), isFilterError)
        assert.throws(() => compileSort('vault.code', scope()), isFilterError)
        assert.throws(() => compileFilter("@collection.vault.code ?= 'hunter2'", scope()), isFilterError)
      })
      test('superusers and rules still reach it', async () => {
        assert.deepEqual(await rows("vault.code = 'hunter2'", { allowHidden: true }), [i1])
      })
      test("a single relation only matches the target's listable records", async () => {
        assert.deepEqual(await rows("box.label = 'lead'"), [])
        assert.deepEqual(await rows("box.label = 'lead'", { auth: u1 }), [])
        assert.deepEqual(await rows("box.label = 'lead'", { auth: u2 }), [i2])
        assert.deepEqual(await rows("box.label = 'lead'", { allowHidden: true }), [i2])
        // The relation's own id column is the item's, not the box's: still readable.
        assert.deepEqual(await rows(`box = '${B[1]}'`), [i2])
      })
      test('a multi relation only matches listable records', async () => {
        assert.deepEqual(await rows("boxes.label ?= 'lead'", { auth: u1 }), [])
        assert.deepEqual(await rows("boxes.label ?= 'gold'", { auth: u1 }), [i1])
        assert.deepEqual(await rows("boxes.label ?= 'lead'", { auth: u2 }), [i1, i2])
      })
      test('a back-relation only matches listable records', async () => {
        assert.deepEqual(await rows("tags_via_item.word ?= 'red'", { auth: u1 }), [i1])
        assert.deepEqual(await rows("tags_via_item.word ?= 'red'", { allowHidden: true }), [i1, i2])
        assert.deepEqual(await rows('tags_via_item:length = 1', { auth: u2 }), [i2])
      })
      test('sort through a relation: records the caller may not list do not order the rows', async () => {
        // u2 sees only the 'lead' box: the others ('gold', 'tin') tie, so they keep id order.
        const sorted = await order('-box.label', { auth: u2 })
        assert.deepEqual(sorted.filter((x) => x !== i2), [i1, i3, i4])
      })
    })

    describe('3. emails only where the caller may see them', () => {
      const users = { collection: 'users' }
      test('a hidden email is no oracle in a filter', async () => {
        assert.deepEqual(await rows("email = 'u0@example.com'", users), [])
        assert.deepEqual(await rows("email ~ 'u0@'", users), [])
        assert.deepEqual(await rows("email:lower = 'u0@example.com'", users), [])
        assert.deepEqual(await rows("email:length = 14 && email != ''", users), [])
        assert.deepEqual(await rows("user.email = 'u0@example.com'"), [])
        assert.deepEqual(await rows("email = 'u1@example.com'", { ...users, auth: u1 }), [])
      })
      test('nor in a sort', async () => {
        assert.deepEqual(await order('-email', users), [u1, u2, u3])
        assert.deepEqual(await order('-user.email'), [i1, i2, i3, i4])
      })
      test('the own record, superusers and rules see it', async () => {
        assert.deepEqual(await rows("email = 'u0@example.com'", { ...users, auth: u1 }), [u1])
        assert.deepEqual(await rows("user.email ~ 'u0@'", { auth: u1 }), [i1])
        assert.deepEqual(await rows("email ~ 'example'", { ...users, allowHidden: true }), [u1, u2, u3])
      })
      test('emailVisibility shows it', async () => {
        await fx.db.db.updateTable('users').set({ emailVisibility: fx.db.capabilities.nativeBoolean ? true : 1 }).where('id', '=', u2).execute()
        assert.deepEqual(await rows("email ~ 'example'", users), [u2])
        assert.deepEqual(await rows("user.email = 'u1@example.com'"), [i2])
      })
      test('a manager (manageRule) sees the emails it manages', async () => {
        await fx.store.update('users', { manageRule: "@request.auth.name = 'Ann'" })
        try {
          assert.deepEqual(await rows("email ~ 'example'", { ...users, auth: u1 }), [u1, u2, u3])
          assert.deepEqual(await rows("email ~ 'example'", { ...users, auth: U[2] }), [u2, u3])
        } finally {
          await fx.store.update('users', { manageRule: null })
        }
      })
    })

    describe('4. secrets are never readable', () => {
      const cases: [string, Opts][] = [
        ["password != ''", { collection: 'users', allowHidden: true }],
        ["tokenKey != ''", { collection: 'users', allowHidden: true }],
        ["tokenKey != '' && id = @request.auth.id", { collection: 'users', allowHidden: true, auth: u1 }],
        ["user.password ~ '$'", { allowHidden: true }],
        ["user.tokenKey ~ 'a'", { allowHidden: true }],
        ["@collection.users.tokenKey ?~ 'a'", { allowHidden: true }],
        ["@request.auth.tokenKey != ''", { allowHidden: true, auth: u1 }],
        ["@request.auth.password != ''", { allowHidden: true, auth: u1 }],
        ["@request.auth.tokenKey != ''", { allowHidden: true }],
      ]
      for (const [filter, opts] of cases) {
        test(`${filter} (${opts.auth ? 'user' : 'guest'})`, () => {
          assert.throws(() => compileFilter(filter, scope(opts)), isFilterError)
        })
      }
      test('nor sortable', () => {
        assert.throws(() => compileSort('tokenKey', scope({ collection: 'users', allowHidden: true })), isFilterError)
        assert.throws(() => compileSort('user.password', scope({ allowHidden: true })), isFilterError)
      })
      test('a body value named password is the client’s own input, not a secret', async () => {
        assert.equal((await rows('@request.body.password:isset = true', { body: { password: 'x' } })).length, 4)
      })
    })

    describe("5. a guest's @request.auth.* never matches an empty field", () => {
      test('the records of a deleted owner (empty) are not the guest’s', async () => {
        assert.deepEqual(await rows('user = @request.auth.id', { allowHidden: true }), [])
        assert.deepEqual(await rows('@request.auth.id = user', { allowHidden: true }), [])
        assert.deepEqual(await rows('boxes ?= @request.auth.id', { allowHidden: true }), [])
        assert.deepEqual(await rows('boxes = @request.auth.id', { allowHidden: true }), [])
        assert.deepEqual(await rows('user.name = @request.auth.name', { allowHidden: true }), [])
        assert.deepEqual(await rows('user ~ @request.auth.id', { allowHidden: true }), [])
      })
      test('a guest differs from every field', async () => {
        assert.deepEqual(await rows('user != @request.auth.id', { allowHidden: true }), [i1, i2, i3, i4])
        assert.deepEqual(await rows("user != @request.auth.id && name = 'd'", { allowHidden: true }), [i4])
      })
      test('an explicit empty literal still matches a guest', async () => {
        assert.deepEqual(await rows("@request.auth.id = ''", { allowHidden: true }), [i1, i2, i3, i4])
        assert.deepEqual(await rows("@request.auth.id != ''", { allowHidden: true }), [])
        assert.deepEqual(await rows("@request.auth.id = '' || user = @request.auth.id", { allowHidden: true }), [i1, i2, i3, i4])
      })
      test("a guest's rule still checks the other side's fields", () => {
        assert.throws(() => compileFilter('nosuch = @request.auth.id', scope({ allowHidden: true })), isFilterError)
        assert.throws(() => compileFilter('@request.auth.id != user.nosuch', scope({ allowHidden: true })), isFilterError)
      })
      test('a signed-in user still matches their own records', async () => {
        assert.deepEqual(await rows('user = @request.auth.id', { allowHidden: true, auth: u1 }), [i1])
        assert.deepEqual(await rows('boxes ?= @request.auth.id', { allowHidden: true, auth: u1 }), [])
      })
    })

    describe('6. one @collection alias is one row', () => {
      const D = [1, 2, 3].map((n) => id('doc', n))
      const [d1, d2, pub] = D as [string, string, string]
      const rule = (filter: string, auth?: string) => rows(filter, { collection: 'docs', allowHidden: true, auth })
      test("the ACL idiom gives a member only their documents", async () => {
        const acl = '@collection.members:m.user ?= @request.auth.id && @collection.members:m.doc ?= id'
        assert.deepEqual(await rule(acl, u1), [d1])
        assert.deepEqual(await rule(acl, u2), [d2])
        assert.deepEqual(await rule(acl, u3), [])
        assert.deepEqual(await rule(acl), [])
      })
      test('an unaliased @collection.name is one row too', async () => {
        assert.deepEqual(await rule('@collection.members.user ?= @request.auth.id && @collection.members.doc ?= id', u1), [d1])
      })
      test('two aliases are two rows', async () => {
        assert.deepEqual(await rule('@collection.members:a.user ?= @request.auth.id && @collection.members:b.doc ?= id', u1), [d1, d2])
      })
      test('conditions on the row hold together, also negated ones and multi fields', async () => {
        assert.deepEqual(await rule('@collection.members:m.user ?!= @request.auth.id && @collection.members:m.doc ?= id', u1), [d2])
        assert.deepEqual(await rule("@collection.members:m.roles ?= 'write' && @collection.members:m.doc ?= id", u1), [d2])
        assert.deepEqual(await rule("@collection.members:m.roles:length ?= 1 && @collection.members:m.doc ?= id", u1), [d1])
        // Plain operators need every row of the collection to match (PocketBase's multi-match).
        assert.deepEqual(await rule('@collection.members:m.doc = id', u1), [])
        assert.deepEqual(await rule('@collection.members:m.user.name ?= @request.auth.name && @collection.members:m.doc ?= id', u2), [d2])
      })
      test('|| lets either side match on its own rows; other conditions are not lost', async () => {
        const either = "(@collection.members:m.user ?= @request.auth.id && @collection.members:m.doc ?= id) || name = 'pub'"
        assert.deepEqual(await rule(either, u1), [d1, pub])
        assert.deepEqual(await rule(either), [pub])
        // A collection without rows still lets the other side of || match.
        assert.deepEqual(await rule("@collection.nobody.x ?= 'a' || name = 'pub'"), [pub])
        assert.deepEqual(await rule("@collection.nobody.x ?= 'a' && name = 'pub'"), [])
      })
      test('nested in a relation path, the same alias is still one row', async () => {
        assert.deepEqual(
          await rule("(@collection.members:m.doc ?= id && @collection.members:m.user.name ?= 'Ann') || (@collection.members:m.doc ?= id && @collection.members:m.user.name ?= 'nobody')", u1),
          [d1],
        )
      })
      test('an alias may not name two collections', () => {
        assert.throws(() => compileFilter("@collection.members:m.user ?= '' && @collection.docs:m.name ?= ''", scope({ collection: 'docs', allowHidden: true })), isFilterError)
      })
    })

    describe('7. rules read @request.body with modifiers and through relations', () => {
      const rule = (filter: string, body: Record<string, unknown>, auth?: string) => rows(filter, { allowHidden: true, body, auth })
      const all = () => [...I]
      test(':each is every submitted item, ?= any', async () => {
        const body = { boxes: [B[0], B[1]] }
        assert.deepEqual(await rule("@request.body.boxes:each != ''", body), all())
        assert.deepEqual(await rule(`@request.body.boxes:each = '${B[0]}'`, body), [])
        assert.deepEqual(await rule(`@request.body.boxes:each ?= '${B[0]}'`, body), all())
        assert.deepEqual(await rule("@request.body.boxes:each ~ 'box'", body), all())
      })
      test(':length and :isset', async () => {
        assert.deepEqual(await rule('@request.body.boxes:length = 2', { boxes: [B[0], B[1]] }), all())
        assert.deepEqual(await rule('@request.body.boxes:length = 0', {}), all())
        assert.deepEqual(await rule('@request.body.name:isset = true', { name: 'x' }), all())
        assert.deepEqual(await rule('@request.body.name:isset = true', {}), [])
      })
      test(':changed is a submitted value other than the current one', async () => {
        assert.deepEqual(await rule('@request.body.name:changed = true', { name: 'a' }), [i2, i3, i4])
        assert.deepEqual(await rule('@request.body.name:changed = false', { name: 'a' }), [i1])
        assert.deepEqual(await rule('@request.body.name:changed = true', {}), [])
        assert.deepEqual(await rule('@request.body.boxes:changed = true', { boxes: [B[1], B[0]] }), [i2, i3, i4])
        assert.deepEqual(await rule('@request.body.boxes:changed = false', { boxes: [] }), [i3, i4])
        assert.deepEqual(await rule('@request.body.user:changed = false', { user: u2 }), [i2])
      })
      test('a relation path reads the record the body points at', async () => {
        assert.deepEqual(await rule("@request.body.box.label = 'gold'", { box: B[0] }), all())
        assert.deepEqual(await rule("@request.body.box.label = 'gold'", { box: B[1] }), [])
        assert.deepEqual(await rule("@request.body.box.label = 'gold'", {}), [])
        assert.deepEqual(await rule('@request.body.box.owner = @request.auth.id', { box: B[0] }, u1), all())
        assert.deepEqual(await rule('@request.body.box.owner = @request.auth.id', { box: B[0] }, u2), [])
        assert.deepEqual(await rule("@request.body.boxes.label ?= 'lead'", { boxes: [B[0], B[1]] }), all())
        assert.deepEqual(await rule("@request.body.boxes.label = 'gold'", { boxes: [B[0], B[1]] }), [])
        assert.deepEqual(await rule("@request.body.user.name = 'Ann'", { user: u1 }), all())
      })
      test('secrets stay unreadable through the body', () => {
        assert.throws(() => compileFilter("@request.body.user.password != ''", scope({ allowHidden: true, body: { user: u1 } })), isFilterError)
      })
    })
  })
}
