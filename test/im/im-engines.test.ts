/**
 * The IM store on every SQL engine, one in-process node: concurrent senders get consecutive seqs
 * (the row lock on PostgreSQL and MariaDB), a retried clientId is the same message, history and
 * resume read back in order.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startApp, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'
import { unusedPort } from '../helpers/redis.ts'
import { ImClient } from './client.ts'

for (const { engine, skip } of await engines()) {
  describe(`IM on ${engine}`, { skip }, () => {
    let t: TestApp
    let base: string
    const users: { id: string; token: string }[] = []
    let conv: string
    before(async () => {
      t = await startApp(engine, { http: `127.0.0.1:${await unusedPort()}`, im: { userRate: 0, connectionRate: 0 } })
      base = await t.app.start()
      for (const name of ['ann', 'ben']) {
        const email = `${name}@example.com`
        const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'a-long-password', passwordConfirm: 'a-long-password' })) as { id: string }
        users.push({ id: rec.id, token: await t.login('users', email, 'a-long-password') })
      }
      const res = await t.call('POST', '/api/plinth/im/conversations', { token: users[0]!.token, body: { kind: 'direct', user: users[1]!.id } })
      assert.equal(res.statusCode, 200, res.body)
      conv = res.json<{ id: string }>().id
    })
    after(async () => {
      await t?.close()
    })

    test('concurrent sends from four connections: consecutive seqs; a retry is the same message', async () => {
      const clients = await Promise.all([0, 1, 0, 1].map((i) => ImClient.open(base, { token: users[i]!.token })))
      const acks = await Promise.all(
        Array.from({ length: 40 }, (_, i) => clients[i % 4]!.request({ type: 'send', conversation: conv, clientId: `c${i}`, kind: 'text', body: { text: `m${i}` } })),
      )
      assert.ok(acks.every((a) => a.type === 'ack'), JSON.stringify(acks.find((a) => a.type !== 'ack')))
      assert.deepEqual(acks.map((a) => a.seq as number).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1))
      // The same clientId from two connections of the same user at once: one message.
      const [x, y] = await Promise.all([clients[0]!, clients[2]!].map((c) => c.request({ type: 'send', conversation: conv, clientId: 'twice', kind: 'text', body: { text: 'once' } })))
      assert.equal(x!.id, y!.id)
      assert.equal(x!.seq, 41)
      assert.deepEqual([x!.duplicate, y!.duplicate].sort(), [false, true])
      const page = await t.call('GET', `/api/plinth/im/conversations/${conv}/messages?limit=30`, { token: users[1]!.token })
      const body = page.json<{ items: { seq: number }[]; before: number }>()
      assert.deepEqual(body.items.map((m) => m.seq), Array.from({ length: 30 }, (_, i) => 41 - i))
      assert.equal(body.before, 12)
      const rest = await t.call('GET', `/api/plinth/im/conversations/${conv}/messages?before=12&limit=30`, { token: users[1]!.token })
      assert.deepEqual(rest.json<{ items: { seq: number }[]; before: null }>().items.map((m) => m.seq), Array.from({ length: 11 }, (_, i) => 11 - i))
      for (const c of clients) await c.close()
      const late = await ImClient.open(base, { token: users[1]!.token, hold: true })
      await late.request({ type: 'resume', conversations: { [conv]: 35 } })
      assert.deepEqual(late.takeMessages(conv).map((m) => m.seq), [36, 37, 38, 39, 40, 41])
      await late.close()
    })
  })
}
