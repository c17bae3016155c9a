/**
 * What a client's `filter` and `sort`, and the API rules, may read, over HTTP on every engine:
 * `@collection`/`@request` are superuser-only in client queries, relations into hidden collections
 * are refused and others only reach records the caller may list, emails are no oracle, secrets are
 * never readable, guests never match an empty owner, one `@collection` alias is one row, and rules
 * may use `@request.body` modifiers and relation paths.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { NO_RATE_LIMITS } from '../helpers/app.ts'

type Who = 'guest' | 'su' | 'alice' | 'bob' | 'carol'

interface Scenario {
  name: string
  as: Who
  method?: 'GET' | 'POST' | 'PATCH'
  /** Under /api/collections/. `{label}` is replaced by that record's id. */
  url: string
  body?: Record<string, unknown>
  status: number
  /** The labels of the records a list returns, in any order. */
  items?: string[]
  /** The exact message of an error. */
  message?: string
  check?: (json: Record<string, unknown>) => void
}

for (const { engine, skip } of await engines()) {
  describe(`records read access: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let dir: string
    let app: Plinth
    const tokens: Partial<Record<Who, string>> = {}
    const ids = new Map<string, string>()
    const labels = new Map<string, string>()

    async function call(who: Who, method: string, url: string, body?: Record<string, unknown>) {
      const res = await app.http.inject({
        method: method as 'GET',
        url: `/api/collections/${url.replace(/\{(\w+)\}/g, (_, l: string) => ids.get(l) ?? l)}`,
        headers: tokens[who] ? { authorization: tokens[who] } : {},
        payload: body && Object.fromEntries(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/^\{(\w+)\}$/, (_, l: string) => ids.get(l) ?? l) : v])),
      })
      return { status: res.statusCode, json: res.json() as Record<string, unknown> }
    }
    async function create(label: string, collection: string, body: Record<string, unknown>): Promise<string> {
      const withRefs = Object.fromEntries(
        Object.entries(body).map(([k, v]) => [k, typeof v === 'string' && v.startsWith('{') ? ids.get(v.slice(1, -1)) : Array.isArray(v) ? v.map((x) => ids.get(String(x).slice(1, -1))) : v]),
      )
      const { status, json } = await call('su', 'POST', `${collection}/records`, withRefs)
      assert.equal(status, 200, JSON.stringify(json))
      ids.set(label, String(json.id))
      labels.set(String(json.id), label)
      return String(json.id)
    }
    async function collection(body: Record<string, unknown>): Promise<string> {
      const { status, json } = await call('su', 'POST', '', body)
      assert.equal(status, 200, JSON.stringify(json))
      return String(json.id)
    }

    before(async () => {
      testDb = await createTestDb(engine)
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-read-access-'))
      app = await createPlinth({
        config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent', rateLimits: NO_RATE_LIMITS } },
        logger: createLogger({ logLevel: 'silent' }),
      })
      const superusers = app.collections.getOrThrow('_superusers')
      assert.ok(isAuthCollection(superusers))
      await createSuperuser(app.records, 'root@example.com', 'root-password-1')
      const login = async (c: string, email: string, password: string) => {
        const res = await app.http.inject({ method: 'POST', url: `/api/collections/${c}/auth-with-password`, payload: { identity: email, password } })
        assert.equal(res.statusCode, 200, res.body)
        return String((res.json() as { token: string }).token)
      }
      tokens.su = await login('_superusers', 'root@example.com', 'root-password-1')

      const usersId = app.collections.getOrThrow('users').id
      // Users list each other (so emails and relations into users are reachable), manage by role.
      const users = await call('su', 'GET', 'users', undefined)
      assert.equal(users.status, 200)
      const current = app.collections.getOrThrow('users')
      const patched = await call('su', 'PATCH', 'users', {
        listRule: '',
        viewRule: '',
        manageRule: "@request.auth.role = 'admin'",
        fields: [...current.fields, { name: 'role', type: 'text' }, { name: 'nick', type: 'text' }],
      })
      assert.equal(patched.status, 200, JSON.stringify(patched.json))
      for (const [label, email, visible, role] of [
        ['alice', 'alice@example.com', false, 'admin'],
        ['bob', 'bob@example.com', true, ''],
        ['carol', 'carol@example.com', false, ''],
      ] as const) {
        await create(label, 'users', { email, password: 'password-123', passwordConfirm: 'password-123', emailVisibility: visible, role, nick: label })
        tokens[label] = await login('users', email, 'password-123')
      }
      const secretsId = await collection({ name: 'secrets', type: 'base', listRule: null, viewRule: null, fields: [{ name: 'code', type: 'text' }] })
      const privId = await collection({
        name: 'privs',
        type: 'base',
        listRule: 'owner = @request.auth.id',
        viewRule: 'owner = @request.auth.id',
        fields: [
          { name: 'label', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
        ],
      })
      await collection({
        name: 'posts',
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
          { name: 'secret', type: 'relation', collectionId: secretsId, maxSelect: 1 },
          { name: 'priv', type: 'relation', collectionId: privId, maxSelect: 1 },
          { name: 'note', type: 'text', hidden: true },
        ],
      })
      await collection({
        name: 'notes',
        type: 'base',
        listRule: 'owner = @request.auth.id',
        viewRule: 'owner = @request.auth.id',
        fields: [
          { name: 'text', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
        ],
      })
      const acl = '@collection.members:m.user ?= @request.auth.id && @collection.members:m.doc ?= id'
      const docsId = await collection({ name: 'docs', type: 'base', listRule: null, viewRule: null, fields: [{ name: 'name', type: 'text' }] })
      await collection({
        name: 'members',
        type: 'base',
        listRule: null,
        viewRule: null,
        fields: [
          { name: 'user', type: 'relation', collectionId: usersId, maxSelect: 1 },
          { name: 'doc', type: 'relation', collectionId: docsId, maxSelect: 1 },
        ],
      })
      assert.equal((await call('su', 'PATCH', 'docs', { listRule: acl, viewRule: acl })).status, 200)
      await create('dA', 'docs', { name: 'A' })
      await create('dB', 'docs', { name: 'B' })
      await create('mA', 'members', { user: '{alice}', doc: '{dA}' })
      await create('mB', 'members', { user: '{bob}', doc: '{dB}' })
      await collection({
        name: 'tasks',
        type: 'base',
        listRule: 'owner = @request.auth.id',
        viewRule: 'owner = @request.auth.id',
        createRule: "@request.body.owner = @request.auth.id && @request.body.tags:each != 'banned' && @request.body.tags:length <= 2",
        updateRule: "owner = @request.auth.id && (@request.body.status:changed = false || @request.auth.role = 'admin')",
        fields: [
          { name: 'title', type: 'text' },
          { name: 'status', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
          { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'banned'], maxSelect: 4 },
        ],
      })
      await collection({
        name: 'grants',
        type: 'base',
        createRule: "@request.body.grantor.role = 'admin'",
        fields: [{ name: 'grantor', type: 'relation', collectionId: usersId, maxSelect: 1 }],
      })
      await create('tBob', 'tasks', { title: 'bob task', status: 'open', owner: '{bob}' })
      await create('tAlice', 'tasks', { title: 'alice task', status: 'open', owner: '{alice}' })
      await create('s1', 'secrets', { code: 'hunter2' })
      await create('pa', 'privs', { label: 'alice-only', owner: '{alice}' })
      await create('p1', 'posts', { title: 'one', owner: '{alice}', secret: '{s1}', priv: '{pa}', note: 'n1' })
      await create('p2', 'posts', { title: 'two', owner: '{bob}' })
      await create('n1', 'notes', { text: 'alice note', owner: '{alice}' })
      await create('n2', 'notes', { text: 'orphan note' })
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const enc = encodeURIComponent
    const scenarios: Scenario[] = [
      // 1. @collection and @request are superuser-only in a client's filter and sort.
      { name: 'guest filter @collection', as: 'guest', url: `posts/records?filter=${enc("@collection.secrets.code ?= 'hunter2'")}`, status: 403, message: 'Only superusers can filter by @collection.' },
      { name: 'user filter @collection', as: 'bob', url: `posts/records?filter=${enc("@collection.secrets.code ?= 'hunter2'")}`, status: 403, message: 'Only superusers can filter by @collection.' },
      { name: 'user filter @request', as: 'bob', url: `posts/records?filter=${enc('owner = @request.auth.id')}`, status: 403, message: 'Only superusers can filter by @request.' },
      { name: 'user sort @request', as: 'bob', url: `posts/records?sort=${enc('@request.auth.id')}`, status: 403, message: 'Only superusers can filter by @request.' },
      { name: 'superuser filter @collection', as: 'su', url: `posts/records?filter=${enc("@collection.secrets.code ?= 'hunter2' && title = 'one'")}`, status: 200, items: ['p1'] },

      // 2. Relations into superuser-only collections are refused; others reach what the caller may list.
      { name: 'guest filter through a relation into a superuser-only collection', as: 'guest', url: `posts/records?filter=${enc("secret.code = 'hunter2'")}`, status: 400 },
      { name: 'user sort through a relation into a superuser-only collection', as: 'bob', url: `posts/records?sort=${enc('secret.code')}`, status: 400 },
      { name: 'superuser filter through it', as: 'su', url: `posts/records?filter=${enc("secret.code = 'hunter2'")}`, status: 200, items: ['p1'] },
      { name: "bob cannot match alice's private record through a relation", as: 'bob', url: `posts/records?filter=${enc("priv.label = 'alice-only'")}`, status: 200, items: [] },
      { name: 'alice matches her own', as: 'alice', url: `posts/records?filter=${enc("priv.label = 'alice-only'")}`, status: 200, items: ['p1'] },
      { name: 'guest back-relation into an owner-only collection', as: 'guest', url: `users/records?filter=${enc("notes_via_owner.text ?~ 'alice'")}`, status: 200, items: [] },
      { name: 'owner back-relation', as: 'alice', url: `users/records?filter=${enc("notes_via_owner.text ?~ 'alice'")}`, status: 200, items: ['alice'] },
      { name: 'hidden field: users get 400', as: 'bob', url: `posts/records?filter=${enc("note = 'n1'")}`, status: 400 },
      { name: 'hidden field: superusers filter by it', as: 'su', url: `posts/records?filter=${enc("note = 'n1'")}`, status: 200, items: ['p1'] },

      // 3. Emails: no oracle in filters or sorts; managers (manageRule) see them, in responses too.
      { name: 'guest cannot find a hidden email', as: 'guest', url: `users/records?filter=${enc("email = 'alice@example.com'")}`, status: 200, items: [] },
      { name: 'guest cannot probe a hidden email by prefix', as: 'guest', url: `users/records?filter=${enc("email ~ 'ali%'")}`, status: 200, items: [] },
      { name: 'guest cannot probe it through a relation', as: 'guest', url: `posts/records?filter=${enc("owner.email ~ 'alice'")}`, status: 200, items: [] },
      { name: 'a visible email is searchable', as: 'guest', url: `users/records?filter=${enc("email ~ 'example.com'")}`, status: 200, items: ['bob'] },
      { name: 'the own email is searchable', as: 'carol', url: `users/records?filter=${enc("email ~ 'example.com'")}`, status: 200, items: ['bob', 'carol'] },
      { name: 'a manager searches the emails it manages', as: 'alice', url: `users/records?filter=${enc("email ~ 'example.com'")}`, status: 200, items: ['alice', 'bob', 'carol'] },
      {
        name: 'a manager sees managed emails in responses, others do not',
        as: 'alice',
        url: `users/records?filter=${enc("nick = 'carol'")}`,
        status: 200,
        check: (json) => assert.equal((json.items as { email?: string }[])[0]?.email, 'carol@example.com'),
      },
      {
        name: 'a non-manager does not see them',
        as: 'bob',
        url: `users/records?filter=${enc("nick = 'carol'")}`,
        status: 200,
        check: (json) => assert.equal((json.items as { email?: string }[])[0]?.email, undefined),
      },
      {
        name: 'a manager sees the email on view too',
        as: 'alice',
        url: 'users/records/{carol}',
        status: 200,
        check: (json) => assert.equal(json.email, 'carol@example.com'),
      },

      // 4. Secrets are never readable, not even by superusers or rules.
      { name: 'superuser filter by tokenKey', as: 'su', url: `users/records?filter=${enc("tokenKey != ''")}`, status: 400 },
      { name: 'superuser filter by a password through a relation', as: 'su', url: `posts/records?filter=${enc("owner.password != ''")}`, status: 400 },
      { name: 'user sort by tokenKey', as: 'bob', url: `users/records?sort=tokenKey`, status: 400 },
      { name: 'a rule reading @request.auth.tokenKey is refused', as: 'su', method: 'POST', url: '', body: { name: 'leaky', type: 'base', listRule: "@request.auth.tokenKey ~ 'a'", fields: [{ name: 'x', type: 'text' }] }, status: 400 },
      { name: 'a rule reading a password is refused', as: 'su', method: 'POST', url: '', body: { name: 'leaky2', type: 'base', listRule: "@collection.users.password ?~ '$'", fields: [{ name: 'x', type: 'text' }] }, status: 400 },

      // 5. A guest is not the owner of records whose owner is empty (a deleted user's).
      { name: 'guest lists owner-only notes', as: 'guest', url: 'notes/records', status: 200, items: [] },
      { name: 'guest views an orphan note', as: 'guest', url: 'notes/records/{n2}', status: 404 },
      { name: 'the owner lists theirs', as: 'alice', url: 'notes/records', status: 200, items: ['n1'] },

      // 6. One @collection alias is one row: a member of one document reads only that one.
      { name: 'alice lists her documents', as: 'alice', url: 'docs/records', status: 200, items: ['dA'] },
      { name: 'bob lists his', as: 'bob', url: 'docs/records', status: 200, items: ['dB'] },
      { name: "alice cannot view bob's", as: 'alice', url: 'docs/records/{dB}', status: 404 },
      { name: 'a non-member lists none', as: 'carol', url: 'docs/records', status: 200, items: [] },

      // 7. Rules read @request.body with :each, :length, :changed and through relations.
      { name: ':each and :length let a clean create in', as: 'bob', method: 'POST', url: 'tasks/records', body: { title: 't', owner: '{bob}', tags: ['a', 'b'] }, status: 200 },
      { name: ':each refuses a banned item', as: 'bob', method: 'POST', url: 'tasks/records', body: { title: 't', owner: '{bob}', tags: ['a', 'banned'] }, status: 400 },
      { name: ':length refuses too many', as: 'bob', method: 'POST', url: 'tasks/records', body: { title: 't', owner: '{bob}', tags: ['a', 'b', 'c'] }, status: 400 },
      { name: 'an update that keeps the status passes', as: 'bob', method: 'PATCH', url: 'tasks/records/{tBob}', body: { title: 'renamed', status: 'open' }, status: 200 },
      { name: 'an update without the status passes', as: 'bob', method: 'PATCH', url: 'tasks/records/{tBob}', body: { title: 'renamed again' }, status: 200 },
      { name: ':changed refuses a status change', as: 'bob', method: 'PATCH', url: 'tasks/records/{tBob}', body: { status: 'done' }, status: 404 },
      { name: 'an admin may change it', as: 'alice', method: 'PATCH', url: 'tasks/records/{tAlice}', body: { status: 'done' }, status: 200 },
      { name: 'a body relation path: admin grantor', as: 'bob', method: 'POST', url: 'grants/records', body: { grantor: '{alice}' }, status: 200 },
      { name: 'a body relation path: non-admin grantor', as: 'bob', method: 'POST', url: 'grants/records', body: { grantor: '{bob}' }, status: 400 },
    ]

    for (const s of scenarios) {
      test(s.name, async () => {
        const { status, json } = await call(s.as, s.method ?? 'GET', s.url, s.body)
        assert.equal(status, s.status, JSON.stringify(json))
        if (s.message !== undefined) assert.equal(json.message, s.message)
        if (s.items) assert.deepEqual(((json.items as { id: string }[]) ?? []).map((r) => labels.get(r.id) ?? r.id).sort(), [...s.items].sort())
        s.check?.(json)
      })
    }
  })
}
