/**
 * Realtime over SSE with PocketBase's own JS SDK (and the `eventsource` package as Node's
 * EventSource) against a listening Plinth, on every engine: the stream's wire form, subscribe
 * errors, `*` and one-record topics with options, rules per client (two users, hidden fields,
 * headers, an auth record's change), unsubscribe, the 403 on an auth change, sessions ended by a
 * deleted user or a new password, a failed batch that sends nothing, custom topics and hooks.
 *
 * "Nothing was sent" is shown with a sentinel: events reach a client in commit order, so once a
 * later write's event has arrived, an earlier one that was not there was never sent.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { EventSource } from 'eventsource'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { NO_RATE_LIMITS } from '../helpers/app.ts'

// The SDK opens its stream with the global EventSource, which Node 20 does not have.
;(globalThis as { EventSource?: unknown }).EventSource = EventSource

interface Ev {
  action: string
  record: Record<string, unknown> & { id: string }
}

/** Polls `check` until it holds; the bound only turns a lost event into a readable failure. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, boundMs = 30_000): Promise<void> {
  const end = Date.now() + boundMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not seen within ${boundMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 200
  } catch (err) {
    if (err instanceof ClientResponseError) return err.status
    throw err
  }
}

/**
 * Ends an SDK's realtime for good: unsubscribing alone leaves a reconnect that is under way (after
 * the server ended the stream) retrying forever, which would keep the test process alive.
 */
async function hangUp(pb: PocketBase): Promise<void> {
  await pb.realtime.unsubscribe().catch(() => undefined)
  ;(pb.realtime as unknown as { disconnect(): void }).disconnect()
}

/** What a subscription received, by record title (or id). */
const titles = (events: Ev[]) => events.map((e) => `${e.action}:${String(e.record.title ?? e.record.id)}`)

for (const { engine, skip } of await engines()) {
  describe(`realtime with the PocketBase SDK: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let dir: string
    let app: Plinth
    let url: string
    const clients: PocketBase[] = []
    const sdk = () => {
      const pb = new PocketBase(url)
      pb.autoCancellation(false)
      clients.push(pb)
      return pb
    }
    let su: PocketBase
    const password = 'user-password-1'
    const users: Record<string, string> = {}

    /** A user of the default `users` collection, and an SDK signed in as them. */
    async function user(name: string): Promise<PocketBase> {
      if (!users[name]) {
        const r = await su.collection('users').create({ email: `${name}@example.com`, password, passwordConfirm: password, name })
        users[name] = r.id
      }
      const pb = sdk()
      await pb.collection('users').authWithPassword(`${name}@example.com`, password)
      return pb
    }

    before(async () => {
      testDb = await createTestDb(engine)
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-rt-'))
      app = await createPlinth({
        config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent', rateLimits: NO_RATE_LIMITS } },
        logger: createLogger({ logLevel: 'silent' }),
      })
      url = await app.start()
      await createSuperuser(app.records, 'root@example.com', 'root-password-1')
      su = sdk()
      await su.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
      // Owner, public tag, or a tag equal to the caller's name (so a changed auth record matters).
      const rule = 'tag = "public" || (owner != "" && owner = @request.auth.id) || (tag != "" && tag = @request.auth.name)'
      await su.collections.create({
        name: 'rt_notes',
        type: 'base',
        listRule: rule,
        viewRule: rule,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'tag', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'secret', type: 'text', hidden: true },
        ],
      })
      await su.collections.create({ name: 'rt_other', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'title', type: 'text' }] })
      await su.collections.create({ name: 'rt_keyed', type: 'base', listRule: '@request.headers.x_key = "open"', viewRule: '', fields: [{ name: 'title', type: 'text' }] })
    })
    after(async () => {
      for (const pb of clients) await hangUp(pb)
      await app?.stop()
      await testDb?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('the stream: headers, PB_CONNECT with the client id, subscribe errors in PocketBase form', async () => {
      const ac = new AbortController()
      const res = await fetch(`${url}/api/realtime`, { signal: ac.signal })
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=UTF-8')
      assert.equal(res.headers.get('cache-control'), 'no-store')
      assert.equal(res.headers.get('x-accel-buffering'), 'no')
      const reader = res.body!.getReader()
      let text = ''
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value)
      const m = /^id:([a-zA-Z0-9]{40})\nevent:PB_CONNECT\ndata:\{"clientId":"([a-zA-Z0-9]{40})"\}\n\n$/.exec(text)
      assert.ok(m, text)
      assert.equal(m[1], m[2])
      const clientId = m[1]!
      assert.ok(app.realtime.client(clientId))

      const post = (body: unknown, token?: string) =>
        fetch(`${url}/api/realtime`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) }, body: JSON.stringify(body) })
      assert.equal((await post({ clientId, subscriptions: ['rt_other/*'] })).status, 204)
      const unknown = await post({ clientId: 'x'.repeat(40), subscriptions: [] })
      assert.equal(unknown.status, 404)
      assert.deepEqual(await unknown.json(), { status: 404, message: 'Missing or invalid client id.', data: {} })
      const bad = await post({ clientId: '', subscriptions: [] })
      assert.equal(bad.status, 400)
      assert.equal(((await bad.json()) as { status: number }).status, 400)
      assert.equal((await post({ clientId, subscriptions: ['x'.repeat(2501)] })).status, 400)
      assert.equal((await post({ clientId, subscriptions: Array.from({ length: 1001 }, (_, i) => `t${i}`) })).status, 400)

      ac.abort()
      await waitFor('the closed stream forgotten', () => !app.realtime.client(clientId))
    })

    test('`*`: create, update and delete of what the rule lets a guest see, in commit order; nothing else', async () => {
      const guest = sdk()
      const events: Ev[] = []
      const filtered: Ev[] = []
      await guest.collection('rt_notes').subscribe('*', (e) => events.push(e as Ev))
      // A filter is always asked in SQL, on the event's row: the delete too, after the row is gone.
      await guest.collection('rt_notes').subscribe('*', (e) => filtered.push(e as Ev), { filter: 'title ~ "g-public"' })
      await su.collection('rt_notes').create({ title: 'g-private', tag: 'x' })
      const pub = await su.collection('rt_notes').create({ title: 'g-public', tag: 'public', secret: 's' })
      await su.collection('rt_notes').update(pub.id, { title: 'g-public2' })
      await su.collection('rt_notes').delete(pub.id)
      await waitFor('the delete', () => events.some((e) => e.action === 'delete'))
      assert.deepEqual(titles(events), ['create:g-public', 'update:g-public2', 'delete:g-public2'])
      await waitFor('the filtered delete', () => filtered.some((e) => e.action === 'delete'))
      assert.deepEqual(titles(filtered), ['create:g-public', 'update:g-public2', 'delete:g-public2'])
      assert.equal(events[0]!.record.collectionName, 'rt_notes')
      assert.ok(!('secret' in events[0]!.record), 'a hidden field reaches no guest')
      await hangUp(guest)
    })

    test('two users see only their own records; a superuser sees all, hidden fields included', async () => {
      const alice = await user('alice')
      const bob = await user('bob')
      const a: Ev[] = []
      const b: Ev[] = []
      const s: Ev[] = []
      await alice.collection('rt_notes').subscribe('*', (e) => a.push(e as Ev))
      await bob.collection('rt_notes').subscribe('*', (e) => b.push(e as Ev))
      await su.collection('rt_notes').subscribe('*', (e) => s.push(e as Ev))
      await su.collection('rt_notes').create({ title: 'for-alice', owner: users.alice, secret: 'x' })
      await su.collection('rt_notes').create({ title: 'for-bob', owner: users.bob })
      await su.collection('rt_notes').create({ title: 'two-sentinel', tag: 'public' })
      await waitFor('the sentinels', () => [a, b, s].every((l) => l.some((e) => e.record.title === 'two-sentinel')))
      assert.deepEqual(titles(a), ['create:for-alice', 'create:two-sentinel'])
      assert.deepEqual(titles(b), ['create:for-bob', 'create:two-sentinel'])
      assert.deepEqual(titles(s), ['create:for-alice', 'create:for-bob', 'create:two-sentinel'])
      assert.ok(!('secret' in a[0]!.record))
      assert.equal(s[0]!.record.secret, 'x')
      await Promise.all([alice, bob, su].map(hangUp))
    })

    test('one record, and options: filter, expand, fields, headers seen by the rule', async () => {
      const alice = await user('alice')
      const mine = await su.collection('rt_notes').create({ title: 'one', owner: users.alice })
      const other = await su.collection('rt_notes').create({ title: 'other', owner: users.alice })
      const one: Ev[] = []
      const filtered: Ev[] = []
      const keyed: Ev[] = []
      const unkeyed: Ev[] = []
      const sentinel: Ev[] = []
      await alice.collection('rt_notes').subscribe(mine.id, (e) => one.push(e as Ev), { fields: 'id,title' })
      await alice.collection('rt_notes').subscribe('*', (e) => filtered.push(e as Ev), { filter: 'title ~ "keep"', expand: 'owner' })
      await alice.collection('rt_keyed').subscribe('*', (e) => keyed.push(e as Ev), { headers: { 'X-Key': 'open' } })
      await alice.collection('rt_keyed').subscribe('*', (e) => unkeyed.push(e as Ev))
      await alice.collection('rt_other').subscribe('*', (e) => sentinel.push(e as Ev))
      await su.collection('rt_notes').update(other.id, { title: 'other2' })
      await su.collection('rt_notes').update(mine.id, { title: 'one-keep' })
      await su.collection('rt_keyed').create({ title: 'k' })
      await su.collection('rt_other').create({ title: 'options-sentinel' })
      await waitFor('the sentinel', () => sentinel.length > 0)
      assert.deepEqual(one, [{ action: 'update', record: { id: mine.id, title: 'one-keep' } }])
      assert.deepEqual(titles(filtered), ['update:one-keep'])
      const owner = (filtered[0]!.record.expand as { owner?: { id: string; name: string } }).owner
      assert.equal(owner?.id, users.alice)
      assert.deepEqual(titles(keyed), ['create:k'])
      assert.deepEqual(unkeyed, [])
      await hangUp(alice)
    })

    test('one record by id is checked against the viewRule, `*` against the listRule', async () => {
      const guest = sdk()
      const rec = await su.collection('rt_keyed').create({ title: 'v1' })
      const byId: Ev[] = []
      const all: Ev[] = []
      const sentinel: Ev[] = []
      await guest.collection('rt_keyed').subscribe(rec.id, (e) => byId.push(e as Ev))
      await guest.collection('rt_keyed').subscribe('*', (e) => all.push(e as Ev))
      await guest.collection('rt_other').subscribe('*', (e) => sentinel.push(e as Ev))
      await su.collection('rt_keyed').update(rec.id, { title: 'v2' })
      await su.collection('rt_other').create({ title: 'view-sentinel' })
      await waitFor('the sentinel', () => sentinel.length > 0)
      assert.deepEqual(titles(byId), ['update:v2'])
      assert.deepEqual(all, [], 'the listRule wants a header this guest did not send')
      await hangUp(guest)
    })

    test("auth records: one's own email is shown, another's (emailVisibility off) only to a superuser", async () => {
      const erin = await user('erin')
      const mine: Ev[] = []
      const seenBySu: Ev[] = []
      await erin.collection('users').subscribe(users.erin!, (e) => mine.push(e as Ev))
      await su.collection('users').subscribe('*', (e) => seenBySu.push(e as Ev))
      await su.collection('users').update(users.erin!, { name: 'erin2' })
      await waitFor('both events', () => mine.length > 0 && seenBySu.some((e) => e.record.id === users.erin))
      assert.equal(mine[0]!.record.email, 'erin@example.com')
      assert.equal(seenBySu.find((e) => e.record.id === users.erin)!.record.email, 'erin@example.com')
      assert.ok(!('password' in mine[0]!.record) && !('tokenKey' in mine[0]!.record))
      const guest = sdk()
      const other: Ev[] = []
      await guest.realtime.subscribe(`users/${users.erin}`, (e) => other.push(e as Ev))
      const guestSentinel: Ev[] = []
      await guest.collection('rt_other').subscribe('*', (e) => guestSentinel.push(e as Ev))
      await su.collection('users').update(users.erin!, { name: 'erin3' })
      await su.collection('rt_other').create({ title: 'users-sentinel' })
      await waitFor("the guest's sentinel", () => guestSentinel.length > 0)
      assert.deepEqual(other, [], 'the users viewRule lets no guest see erin')
      await Promise.all([erin, su, guest].map(hangUp))
    })

    test('unsubscribe stops one topic and keeps the others', async () => {
      const pb = sdk()
      const notes: Ev[] = []
      const others: Ev[] = []
      const stop = await pb.collection('rt_notes').subscribe('*', (e) => notes.push(e as Ev))
      await pb.collection('rt_other').subscribe('*', (e) => others.push(e as Ev))
      await stop()
      await su.collection('rt_notes').create({ title: 'after-unsubscribe', tag: 'public' })
      await su.collection('rt_other').create({ title: 'unsub-sentinel' })
      await waitFor('the sentinel', () => others.length > 0)
      assert.deepEqual(notes, [])
      await hangUp(pb)
    })

    test('a subscribe request with another auth than the client has is 403; a guest may sign in', async () => {
      const alice = await user('alice')
      const bob = await user('bob')
      const guest = sdk()
      await guest.collection('rt_other').subscribe('*', () => undefined)
      const clientId = guest.realtime.clientId
      const post = (token?: string) =>
        fetch(`${url}/api/realtime`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) }, body: JSON.stringify({ clientId, subscriptions: ['rt_other/*'] }) })
      assert.equal((await post(alice.authStore.token)).status, 204, 'guest to alice')
      const refused = await post(bob.authStore.token)
      assert.equal(refused.status, 403)
      assert.deepEqual(await refused.json(), { status: 403, message: "The current and the previous request authorization don't match.", data: {} })
      assert.equal((await post()).status, 403, 'alice to guest')
      assert.equal((await post(alice.authStore.token)).status, 204)
      await hangUp(guest)
    })

    test("an auth record's change refreshes its clients' auth; a delete or a new password ends their streams", async () => {
      const carol = await user('carol')
      const events: Ev[] = []
      await carol.collection('rt_notes').subscribe('*', (e) => events.push(e as Ev))
      // The rule lets in a tag equal to the caller's name: after the rename, carol sees `vip`.
      await su.collection('users').update(users.carol!, { name: 'vip' })
      await su.collection('rt_notes').create({ title: 'for-vip', tag: 'vip' })
      await waitFor('the event seen through the new name', () => events.length > 0)
      assert.deepEqual(titles(events), ['create:for-vip'])

      const clientId = carol.realtime.clientId
      assert.ok(app.realtime.client(clientId))
      await su.collection('users').update(users.carol!, { password: 'a-new-password', passwordConfirm: 'a-new-password' })
      await waitFor('the stream of a user whose password changed ended', () => !app.realtime.client(clientId))
      await hangUp(carol)

      const dave = await user('dave')
      await dave.collection('rt_other').subscribe('*', () => undefined)
      const daveId = dave.realtime.clientId
      let disconnected = false
      dave.realtime.onDisconnect = () => (disconnected = true)
      await su.collection('users').delete(users.dave!)
      await waitFor('the stream of a deleted user ended', () => !app.realtime.client(daveId) && disconnected)
      await hangUp(dave)
    })

    test('a failed batch sends nothing; a committed one sends its events in order', async () => {
      const pb = sdk()
      const events: Ev[] = []
      await pb.collection('rt_other').subscribe('*', (e) => events.push(e as Ev))
      // PocketBase's deprecated topic form: the collection name alone, as `NAME/*`.
      const bare: Ev[] = []
      await pb.realtime.subscribe('rt_other', (e) => bare.push(e as Ev))
      const failed = su.createBatch()
      failed.collection('rt_other').create({ title: 'rolled-back' })
      failed.collection('rt_other').update('missing-id-0001', { title: 'x' })
      assert.equal(await status(failed.send()), 400)
      const ok = su.createBatch()
      for (const t of ['b1', 'b2', 'b3']) ok.collection('rt_other').create({ title: t })
      await ok.send()
      await waitFor('the batch', () => events.length >= 3 && bare.length >= 3)
      assert.deepEqual(titles(events), ['create:b1', 'create:b2', 'create:b3'])
      assert.deepEqual(titles(bare), ['create:b1', 'create:b2', 'create:b3'])
      await hangUp(pb)
    })

    test('checks asked together: 150 subscriptions past one query of checks each get only what their filter and the rule allow', async () => {
      const alice = await user('alice')
      const res = await fetch(`${url}/api/realtime`)
      const reader = res.body!.getReader()
      let text = ''
      const decoder = new TextDecoder()
      while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value)
      const clientId = /^id:(\w+)/.exec(text)![1]!
      const option = (i: number) => `rt_notes/*?options=${encodeURIComponent(JSON.stringify({ query: { filter: `title = "n${i}" || title = "all"` } }))}`
      const subscriptions = [...Array.from({ length: 150 }, (_, i) => option(i)), 'rt_other/*']
      const post = await fetch(`${url}/api/realtime`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: alice.authStore.token }, body: JSON.stringify({ clientId, subscriptions }) })
      assert.equal(post.status, 204)
      await su.collection('rt_notes').create({ title: 'n137', owner: users.alice })
      await su.collection('rt_notes').create({ title: 'n3', owner: users.bob })
      await su.collection('rt_notes').create({ title: 'all', tag: 'public' })
      await su.collection('rt_other').create({ title: 'batched-sentinel' })
      while (!text.includes('batched-sentinel')) text += decoder.decode((await reader.read()).value)
      await reader.cancel()
      const names = [...text.matchAll(/^event:(.*)$/gm)].map((m) => m[1]!).slice(1)
      const titlesSeen = [...text.matchAll(/"title":"([^"]*)"/g)].map((m) => m[1])
      // n137 to its one subscription; n3 (bob's) to none; `all` to every one of the 150, in order.
      assert.equal(names[0], option(137))
      assert.equal(titlesSeen[0], 'n137')
      assert.deepEqual(names.slice(1, 151), subscriptions.slice(0, 150))
      assert.ok(titlesSeen.slice(1, 151).every((t) => t === 'all'))
      assert.equal(names.length, 152)
    })

    test('custom topics: app.realtime.publish, with a filter; connect, subscribe and message hooks', async () => {
      const seen: string[] = []
      app.realtime.hooks.onRealtimeConnect(async (e, next) => {
        seen.push(`connect:${e.client.id.length}`)
        await next()
      })
      app.realtime.hooks.onRealtimeSubscribe(async (e, next) => {
        seen.push(`subscribe:${e.subscriptions.join(',')}`)
        await next()
      })
      app.realtime.hooks.onRealtimeMessage(async (e, next) => {
        if (e.message.name === 'chat/room1') e.message = { ...e.message, data: e.message.data.replace('hi', 'hello') }
        await next()
      })
      const pb = sdk()
      const got: unknown[] = []
      await pb.realtime.subscribe('chat/room1', (e) => got.push(e))
      await app.realtime.publish('chat/room1', { text: 'skipped' }, (c) => c.id !== pb.realtime.clientId)
      await app.realtime.publish('chat/room1', { text: 'hi' })
      await waitFor('the custom message', () => got.length > 0)
      assert.deepEqual(got, [{ text: 'hello' }])
      assert.ok(seen.includes('connect:40'))
      assert.ok(seen.includes('subscribe:chat/room1'))
      await hangUp(pb)
    })
  })
}
