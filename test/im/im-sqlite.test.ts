/** IM on one SQLite node: auth, send/ack/dedupe, fan-out, resume, receipts, recall, hooks, limits, refusals. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ApiError } from '../../src/errors.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { unusedPort } from '../helpers/redis.ts'
import { ImClient, type Frame } from './client.ts'

let t: TestApp
let base: string
const users: Record<string, { id: string; token: string }> = {}
let direct: string
const delivered: { seq: number; offline: string[] }[] = []

async function user(name: string): Promise<{ id: string; token: string }> {
  const email = `${name}@example.com`
  const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'a-long-password', passwordConfirm: 'a-long-password' })) as { id: string }
  return { id: rec.id, token: await t.login('users', email, 'a-long-password') }
}

async function rest(method: string, url: string, token: string, body?: unknown) {
  return t.call(method, url, { token, body })
}

before(async () => {
  const port = await unusedPort()
  t = await startApp('sqlite', { http: `127.0.0.1:${port}`, im: { connectionRate: 50, userRate: 1000, recallSeconds: 60, origins: ['https://app.example.com'] } })
  base = await t.app.start()
  for (const n of ['alice', 'bob', 'carol', 'dave']) users[n] = await user(n)
  t.app.im.hooks.onMessageBeforeStore(async (e, next) => {
    const text = e.message.body.text
    if (text === 'forbidden words') throw new ApiError('bad_request', 'That is not allowed here.')
    if (text === 'silently dropped') return
    if (typeof text === 'string') e.message.body = { ...e.message.body, text: text.replaceAll('darn', '****') }
    await next()
  })
  t.app.im.hooks.onMessageDelivered((e) => void delivered.push({ seq: e.message.seq, offline: e.offline }))
  const res = await rest('POST', '/api/plinth/im/conversations', users.alice!.token, { kind: 'direct', user: users.bob!.id })
  assert.equal(res.statusCode, 200, res.body)
  direct = res.json<{ id: string }>().id
})
after(async () => {
  await t?.close()
})

const send = (c: ImClient, conversation: string, clientId: string, text: string) => c.request({ type: 'send', conversation, clientId, kind: 'text', body: { text } })

test('a direct conversation is one per pair, whoever opens it', async () => {
  const res = await rest('POST', '/api/plinth/im/conversations', users.bob!.token, { kind: 'direct', user: users.alice!.id })
  assert.deepEqual(res.json(), { id: direct, created: false })
  const unknown = await rest('POST', '/api/plinth/im/conversations', users.bob!.token, { kind: 'direct', user: 'nosuchuser0000' })
  assert.equal(unknown.statusCode, 400)
})

test('a message is stored, acked with its seq, and delivered to the other member; a retry gets the same ack', async () => {
  const a = await ImClient.open(base, { token: users.alice!.token })
  const b = await ImClient.open(base, { protocolToken: users.bob!.token })
  const ack = await send(a, direct, 'c-1', 'hello darn world')
  assert.equal(ack.type, 'ack', JSON.stringify(ack))
  assert.equal(ack.seq, 1)
  assert.equal(ack.duplicate, false)
  const got = await b.next((f) => f.type === 'message')
  assert.equal(got.seq, 1)
  assert.deepEqual(got.body, { text: 'hello **** world' }, 'the before-store hook rewrote it')
  assert.equal(got.sender, users.alice!.id)
  const again = await send(a, direct, 'c-1', 'hello darn world')
  assert.equal(again.duplicate, true)
  assert.equal(again.id, ack.id)
  assert.equal(again.seq, 1)
  const history = await rest('GET', `/api/plinth/im/conversations/${direct}/messages`, users.bob!.token)
  assert.equal(history.json<{ items: unknown[] }>().items.length, 1)
  // A refused message: the hook's error, as a frame; nothing stored.
  const refused = await send(a, direct, 'c-2', 'forbidden words')
  assert.equal(refused.type, 'error')
  assert.equal(refused.status, 400)
  assert.equal(refused.message, 'That is not allowed here.')
  const dropped = await send(a, direct, 'c-3', 'silently dropped')
  assert.equal(dropped.status, 403)
  const ok = await send(a, direct, 'c-4', 'second')
  assert.equal(ok.seq, 2, 'refused messages take no seq')
  // Bob was online: the delivered hook saw no offline member.
  assert.deepEqual(delivered.at(-1), { seq: 2, offline: [] })
  await a.close()
  await b.close()
})

test('receipts, unread counts, typing, presence and recall', async () => {
  const a = await ImClient.open(base, { token: users.alice!.token })
  const b = await ImClient.open(base, { token: users.bob!.token })
  const list = await rest('GET', '/api/plinth/im/conversations', users.bob!.token)
  const conv = list.json<{ items: { id: string; unread: number; lastSeq: number }[] }>().items.find((c) => c.id === direct)!
  assert.equal(conv.unread, conv.lastSeq)
  assert.equal((await b.request({ type: 'read', conversation: direct, seq: conv.lastSeq })).type, 'ok')
  const receipt = await a.next((f) => f.type === 'receipt')
  assert.deepEqual({ user: receipt.user, kind: receipt.kind, seq: receipt.seq }, { user: users.bob!.id, kind: 'read', seq: conv.lastSeq })
  const after = await rest('GET', '/api/plinth/im/conversations', users.bob!.token)
  assert.equal(after.json<{ items: { id: string; unread: number }[] }>().items.find((c) => c.id === direct)!.unread, 0)
  b.send({ type: 'typing', conversation: direct })
  assert.equal((await a.next((f) => f.type === 'typing')).user, users.bob!.id)
  // Carol shares no conversation with Alice (yet): her presence is not Alice's business.
  assert.equal((await a.request({ type: 'presence', users: [users.bob!.id, users.carol!.id] })).status, 403)
  const presence = await a.request({ type: 'presence', users: [users.bob!.id] })
  assert.deepEqual(presence.users, { [users.bob!.id]: true })
  await b.close()
  const gone = await a.next((f) => f.type === 'presence' && !f.ref)
  assert.deepEqual(gone.users, { [users.bob!.id]: false })
  // Bob offline now: the delivered hook names him (the push hook point).
  const ack = await send(a, direct, 'c-recall', 'oops')
  assert.deepEqual(delivered.at(-1), { seq: ack.seq, offline: [users.bob!.id] })
  const recalled = await a.request({ type: 'recall', conversation: direct, seq: ack.seq })
  assert.equal(recalled.type, 'ok', JSON.stringify(recalled))
  assert.equal((await a.next((f) => f.type === 'recalled')).seq, ack.seq)
  const history = await rest('GET', `/api/plinth/im/conversations/${direct}/messages?limit=1`, users.alice!.token)
  const [last] = history.json<{ items: Frame[] }>().items
  assert.equal(last!.recalled, true)
  assert.deepEqual(last!.body, {})
  // Bob cannot recall Alice's message.
  const b2 = await ImClient.open(base, { token: users.bob!.token })
  const ack2 = await send(a, direct, 'c-not-yours', 'mine')
  assert.equal((await b2.request({ type: 'recall', conversation: direct, seq: ack2.seq })).status, 403)
  await a.close()
  await b2.close()
})

test('resume sends exactly what was missed, in order, then live messages, with no duplicates', async () => {
  const a = await ImClient.open(base, { token: users.alice!.token })
  const start = (await send(a, direct, 'r-0', 'before')).seq as number
  for (let i = 1; i <= 5; i++) await send(a, direct, `r-${i}`, `missed ${i}`)
  const b = await ImClient.open(base, { token: users.bob!.token, hold: true })
  // Messages sent while the resume runs reach Bob once, after what he missed.
  const sending = (async () => {
    for (let i = 6; i <= 10; i++) await send(a, direct, `r-${i}`, `live ${i}`)
  })()
  const resumed = await b.request({ type: 'resume', conversations: { [direct]: start } })
  await sending
  assert.ok((resumed.conversations as Record<string, number>)[direct]! >= start + 5)
  const want = Array.from({ length: 10 }, (_, i) => start + 1 + i)
  await b.next((f) => f.type === 'message' && f.seq === want.at(-1))
  const seqs = b.takeMessages(direct).map((f) => f.seq)
  assert.deepEqual([...seqs, want.at(-1)], want)
  // A conversation one is not in: -1. A seq past the last one counts as the last one.
  const other = await b.request({ type: 'resume', conversations: { nosuchconversation: 0, [direct]: 1_000_000 } })
  assert.deepEqual(other.conversations, { nosuchconversation: -1, [direct]: want.at(-1) })
  await a.close()
  await b.close()
})

test('image and file messages name a stored file (checked in the files port) or an https URL', async () => {
  const a = await ImClient.open(base, { token: users.alice!.token })
  const users_ = t.app.collections.getOrThrow('users')
  await t.app.files.put(`${users_.id}/${users.alice!.id}/photo_x1.png`, Buffer.from('png'))
  const image = (file: string, clientId: string) => a.request({ type: 'send', conversation: direct, clientId, kind: 'image', body: { file, width: 10, height: 10 } })
  assert.equal((await image(`users/${users.alice!.id}/photo_x1.png`, 'img-1')).type, 'ack')
  assert.equal((await image(`${base}/api/files/users/${users.alice!.id}/photo_x1.png?thumb=100x100`, 'img-2')).type, 'ack')
  assert.equal((await image('https://cdn.example.com/a/b.png', 'img-3')).type, 'ack')
  assert.equal((await image(`users/${users.alice!.id}/missing.png`, 'img-4')).status, 400)
  assert.equal((await image('javascript:alert(1)', 'img-5')).status, 400)
  const file = await a.request({ type: 'send', conversation: direct, clientId: 'f-1', kind: 'file', body: { name: 'a.pdf' } })
  assert.equal(file.status, 400)
  const custom = await a.request({ type: 'send', conversation: direct, clientId: 'cu-1', kind: 'custom', body: { card: { title: 't' } } })
  assert.equal(custom.type, 'ack')
  await a.close()
})

test('seqs stay consecutive under concurrent senders', async () => {
  const a = await ImClient.open(base, { token: users.alice!.token })
  const b = await ImClient.open(base, { token: users.bob!.token })
  const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 ? a : b, direct, `par-${i}`, `p${i}`)))
  const seqs = acks.map((x) => x.seq as number).sort((x, y) => x - y)
  assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => seqs[0]! + i))
  await a.close()
  await b.close()
})

test('groups: members, records API under rules, limits on members', async () => {
  const res = await rest('POST', '/api/plinth/im/conversations', users.alice!.token, { kind: 'group', name: 'team', members: [users.bob!.id] })
  assert.equal(res.statusCode, 200, res.body)
  const group = res.json<{ id: string }>().id
  const a = await ImClient.open(base, { token: users.alice!.token })
  const c = await ImClient.open(base, { token: users.carol!.token })
  assert.equal((await send(c, group, 'g-1', 'let me in')).status, 404)
  assert.equal((await rest('POST', `/api/plinth/im/conversations/${group}/members`, users.bob!.token, { users: [users.carol!.id] })).statusCode, 403)
  assert.equal((await rest('POST', `/api/plinth/im/conversations/${group}/members`, users.alice!.token, { users: [users.carol!.id] })).statusCode, 200)
  const joined = await c.next((f) => f.type === 'members')
  assert.deepEqual([joined.conversation, joined.added, joined.by], [group, [users.carol!.id], users.alice!.id])
  await send(a, group, 'g-2', 'welcome')
  assert.equal((await c.next((f) => f.type === 'message' && f.conversation === group)).seq, 1)
  // The records API shows a member its messages, and nobody else.
  const mine = await rest('GET', `/api/collections/_imMessages/records?filter=${encodeURIComponent(`conversation="${group}"`)}`, users.carol!.token)
  assert.equal(mine.json<{ totalItems: number }>().totalItems, 1)
  const theirs = await rest('GET', `/api/collections/_imMessages/records?filter=${encodeURIComponent(`conversation="${group}"`)}`, users.dave!.token)
  assert.equal(theirs.json<{ totalItems: number }>().totalItems, 0)
  const write = await rest('POST', '/api/collections/_imMessages/records', users.carol!.token, { conversation: group, seq: 99, sender: users.carol!.id, kind: 'text', clientId: 'x' })
  assert.equal(write.statusCode, 403)
  await a.close()
  await c.close()
})

test('blocks: a blocked user cannot send direct messages', async () => {
  const dm = (await rest('POST', '/api/plinth/im/conversations', users.dave!.token, { kind: 'direct', user: users.carol!.id })).json<{ id: string }>().id
  const block = await rest('POST', '/api/collections/_imBlocks/records', users.carol!.token, { user: users.carol!.id, blocked: users.dave!.id })
  assert.equal(block.statusCode, 200, block.body)
  const d = await ImClient.open(base, { token: users.dave!.token })
  assert.equal((await send(d, dm, 'b-1', 'hi')).status, 403)
  await d.close()
})

test('refused: a bad Origin, no auth, a bad frame, a revoked token, a flood', async () => {
  await assert.rejects(ImClient.open(base, { origin: 'https://evil.example.com' }), /HTTP 403/)
  const ok = await ImClient.open(base, { origin: 'https://app.example.com', token: users.carol!.token })
  const bad = await ok.request({ type: 'send', conversation: direct, clientId: 'x', kind: 'video', body: {} })
  assert.equal(bad.status, 400)
  assert.ok((bad.data as Record<string, unknown>).kind)
  const big = await ok.request({ type: 'send', conversation: direct, clientId: 'x', kind: 'custom', body: { x: 'y'.repeat(17_000) } })
  assert.equal(big.status, 413)
  await ok.close()
  const anon = await ImClient.open(base)
  anon.send({ type: 'ping' })
  assert.equal((await anon.closed).code, 4001)
  const badToken = await ImClient.open(base)
  badToken.send({ type: 'auth', token: 'not-a-token' })
  assert.equal((await badToken.closed).code, 4001)
  // Revoked: Dave's password changes (a new tokenKey); his socket closes.
  const d = await ImClient.open(base, { token: users.dave!.token })
  const upd = await t.call('PATCH', `/api/collections/users/records/${users.dave!.id}`, { token: t.su, body: { password: 'another-long-password', passwordConfirm: 'another-long-password' } })
  assert.equal(upd.statusCode, 200, upd.body)
  assert.equal((await d.closed).code, 4003)
  // A flood of frames closes the connection.
  const f = await ImClient.open(base, { token: users.carol!.token })
  for (let i = 0; i < 200; i++) f.send({ type: 'ping' })
  assert.equal((await f.closed).code, 4029)
  // Deleted: Carol's record goes; her socket closes.
  const c = await ImClient.open(base, { token: users.carol!.token })
  const del = await t.call('DELETE', `/api/collections/users/records/${users.carol!.id}`, { token: t.su })
  assert.equal(del.statusCode, 204, del.body)
  assert.equal((await c.closed).code, 4003)
})
