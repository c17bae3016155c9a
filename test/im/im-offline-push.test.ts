/**
 * IM and push together (im.pushOffline, src/im/offline-push.ts): a message to a member who is
 * offline on every node queues one push to exactly that member, with a preview and the
 * conversation in its data; an online member gets none; with the switch off nothing is queued.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { PUSHES_TABLE } from '../../src/sql/migrations/0013-push.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { unusedPort } from '../helpers/redis.ts'
import { ImClient } from './client.ts'

interface PushRow {
  target: string
  message: string
}

async function setup(pushOffline: boolean) {
  const t = await startApp('sqlite', { http: `127.0.0.1:${await unusedPort()}`, im: { pushOffline } })
  const base = await t.app.start()
  const users: Record<string, { id: string; token: string }> = {}
  for (const name of ['alice', 'bob', 'carol']) {
    const email = `${name}@example.com`
    const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'a-long-password', passwordConfirm: 'a-long-password' })) as { id: string }
    users[name] = { id: rec.id, token: await t.login('users', email, 'a-long-password') }
  }
  const res = await t.call('POST', '/api/plinth/im/conversations', { token: users.alice!.token, body: { kind: 'group', members: [users.bob!.id, users.carol!.id], name: 'trio' } })
  assert.equal(res.statusCode, 200, res.body)
  const conversation = res.json<{ id: string }>().id
  const pushes = async () => (await t.app.sql.writer().db.selectFrom(PUSHES_TABLE).select(['target', 'message']).execute()) as PushRow[]
  return { t, base, users, conversation, pushes }
}

describe('pushes to offline IM members', () => {
  const open: TestApp[] = []
  after(async () => {
    for (const t of open) await t.close()
  })

  test('the offline member gets one push with a preview; the online one none', async () => {
    const { t, base, users, conversation, pushes } = await setup(true)
    open.push(t)
    const alice = await ImClient.open(base, { token: users.alice!.token })
    const carol = await ImClient.open(base, { token: users.carol!.token })
    const ack = await alice.request({ type: 'send', conversation, clientId: 'p-1', kind: 'text', body: { text: 'dinner at eight?' } })
    assert.equal(ack.type, 'ack', JSON.stringify(ack))
    // The delivered hook runs after the ack; poll the queue's table (the bound only turns a miss into a failure).
    let rows: PushRow[] = []
    for (let i = 0; i < 200 && rows.length === 0; i++) {
      rows = await pushes()
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 25))
    }
    assert.equal(rows.length, 1)
    const target = JSON.parse(rows[0]!.target) as { users: string[] }
    assert.deepEqual(target.users, [users.bob!.id])
    const message = JSON.parse(rows[0]!.message) as { notification: { body: string }; data: Record<string, unknown>; collapseId: string }
    assert.equal(message.notification.body, 'dinner at eight?')
    assert.deepEqual(message.data, { type: 'im', conversation, seq: ack.seq, kind: 'text' })
    assert.equal(message.collapseId, conversation)
    await alice.close()
    await carol.close()
  })

  test('with im.pushOffline off, nothing is queued', async () => {
    const { t, base, users, conversation, pushes } = await setup(false)
    open.push(t)
    const alice = await ImClient.open(base, { token: users.alice!.token })
    const ack = await alice.request({ type: 'send', conversation, clientId: 'p-2', kind: 'text', body: { text: 'anyone?' } })
    assert.equal(ack.type, 'ack')
    await new Promise((r) => setTimeout(r, 500))
    assert.deepEqual(await pushes(), [])
    await alice.close()
  })
})
