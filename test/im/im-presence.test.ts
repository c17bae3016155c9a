/** Presence that ends without a word (a dead node's key expiring) still reaches watchers, at the next heartbeat. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { presenceKey } from '../../src/im/hub.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { unusedPort } from '../helpers/redis.ts'
import { ImClient } from './client.ts'

let t: TestApp
let base: string
const users: { id: string; token: string }[] = []

before(async () => {
  t = await startApp('sqlite', { http: `127.0.0.1:${await unusedPort()}`, im: { heartbeatSeconds: 1 } })
  base = await t.app.start()
  for (const name of ['watcher', 'ghost']) {
    const email = `${name}@example.com`
    const rec = (await t.must('POST', '/api/collections/users/records', { email, password: 'a-long-password', passwordConfirm: 'a-long-password' })) as { id: string }
    users.push({ id: rec.id, token: await t.login('users', email, 'a-long-password') })
  }
  const res = await t.call('POST', '/api/plinth/im/conversations', { token: users[0]!.token, body: { kind: 'direct', user: users[1]!.id } })
  assert.equal(res.statusCode, 200, res.body)
})
after(async () => {
  await t?.close()
})

test('a presence key that expires is reported offline to watchers', async () => {
  const ghost = users[1]!.id
  // The ghost is online through "another node": its key exists, no connection here.
  await t.app.counters.raise(presenceKey(ghost), Date.now(), 60_000)
  const w = await ImClient.open(base, { token: users[0]!.token })
  assert.deepEqual((await w.request({ type: 'presence', users: [ghost] })).users, { [ghost]: true })
  // That node dies: nobody says so; the key just goes.
  await t.app.counters.delete(presenceKey(ghost))
  const change = await w.next((f) => f.type === 'presence' && !f.ref)
  assert.deepEqual(change.users, { [ghost]: false })
  await w.close()
})

test('stopping the node closes its sockets with 1001 (going away: reconnect elsewhere)', async () => {
  const c = await ImClient.open(base, { token: users[0]!.token })
  await t.app.stop()
  assert.equal((await c.closed).code, 1001)
})
