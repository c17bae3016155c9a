/** IM limits: messages per second per user (counters port), members per group, conversations per user, a slow consumer. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startApp, type TestApp } from '../helpers/app.ts'
import { unusedPort } from '../helpers/redis.ts'
import { ImClient } from './client.ts'

let t: TestApp
let base: string
const users: { id: string; token: string }[] = []

before(async () => {
  const port = await unusedPort()
  t = await startApp('sqlite', { http: `127.0.0.1:${port}`, im: { userRate: 5, connectionRate: 0, maxGroupMembers: 3, maxConversations: 3, maxQueueBytes: 64 * 1024, maxMessageBytes: 32 * 1024 } })
  base = await t.app.start()
  for (let i = 0; i < 5; i++) {
    const email = `u${i}@example.com`
    const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'a-long-password', passwordConfirm: 'a-long-password' })) as { id: string }
    users.push({ id: rec.id, token: await t.login('users', email, 'a-long-password') })
  }
})
after(async () => {
  await t?.close()
})

const create = (token: string, body: unknown) => t.call('POST', '/api/plinth/im/conversations', { token, body })

test('members per group and conversations per user are bounded', async () => {
  const tooBig = await create(users[0]!.token, { kind: 'group', name: 'big', members: users.slice(1).map((u) => u.id) })
  assert.equal(tooBig.statusCode, 400)
  const g = await create(users[0]!.token, { kind: 'group', name: 'ok', members: [users[1]!.id, users[2]!.id] })
  assert.equal(g.statusCode, 200, g.body)
  const more = await t.call('POST', `/api/plinth/im/conversations/${g.json<{ id: string }>().id}/members`, { token: users[0]!.token, body: { users: [users[3]!.id] } })
  assert.equal(more.statusCode, 400)
  // users[4] may be in 3 conversations; the 4th is refused.
  for (const other of users.slice(0, 3)) assert.equal((await create(users[4]!.token, { kind: 'direct', user: other.id })).statusCode, 200)
  const fourth = await create(users[4]!.token, { kind: 'direct', user: users[3]!.id })
  assert.equal(fourth.statusCode, 403)
})

test('messages per second per user are counted over every connection', async () => {
  const conv = (await create(users[3]!.token, { kind: 'direct', user: users[2]!.id })).json<{ id: string }>().id
  const a = await ImClient.open(base, { token: users[3]!.token })
  const b = await ImClient.open(base, { token: users[3]!.token })
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).request({ type: 'send', conversation: conv, clientId: `r${i}`, kind: 'text', body: { text: 'x' } })))
  const refused = answers.filter((f) => f.type === 'error' && f.status === 429)
  assert.ok(refused.length >= 1, JSON.stringify(answers))
  assert.ok(answers.filter((f) => f.type === 'ack').length <= 10, 'at most 5 per second-window, two windows at most')
  await a.close()
  await b.close()
})

test('a consumer that stops reading is closed once its queue passes maxQueueBytes', async () => {
  const res = await create(users[1]!.token, { kind: 'direct', user: users[0]!.id })
  assert.equal(res.statusCode, 200, res.body)
  const conv = res.json<{ id: string }>().id
  const slow = await ImClient.open(base, { token: users[0]!.token })
  // The slow client stops reading its socket.
  ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
  const sender = await ImClient.open(base, { token: users[1]!.token })
  const big = 'y'.repeat(30 * 1024)
  let code: number | undefined
  void slow.closed.then((c) => (code = c.code))
  for (let i = 0; i < 2000 && code === undefined; i++) {
    // Under the user rate of 5/s: one sender, acks awaited, and a pause every 5.
    const ack = await sender.request({ type: 'send', conversation: conv, clientId: `s${i}`, kind: 'custom', body: { big } })
    if (ack.type === 'error' && ack.status === 429) await new Promise((r) => setTimeout(r, 1000))
    else assert.equal(ack.type, 'ack', JSON.stringify(ack))
    if (t.app.im.size < 2) break
  }
  // The server gave up on it: its close frame (4008) is stuck behind the unread data, so the
  // socket is cut 2 s later and the client, reading again, sees either.
  assert.equal(t.app.im.size, 1, 'only the sender is left on the server')
  ;(slow.ws as unknown as { _socket: { resume(): void } })._socket.resume()
  assert.ok([4008, 1006].includes((await slow.closed).code))
  await sender.close()
})
