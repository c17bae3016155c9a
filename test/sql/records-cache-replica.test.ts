/**
 * The records cache on two nodes over one PostgreSQL primary with a real streaming replica 4 s
 * behind (`recovery_min_apply_delay`), and one Redis: a guest on node B reads node A's write at
 * once, because a miss is read from the primary, never from a replica that has not applied the
 * write (which would then keep the old row under the new generation).
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { sharedDbAndRedis } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { pgReplicaSkip, sharedPgPrimary, startPgReplica } from '../helpers/pg-replica.ts'
import { redisSkip } from '../helpers/redis.ts'
import { clusterNode, makeNotes, waitFor, type Node } from './replica-nodes.ts'

const pg = (await engines(['postgres']))[0]!
const skip = pg.skip || (await redisSkip()) || (await pgReplicaSkip()) || false

describe('records cache on two nodes with a lagging replica: PostgreSQL + Redis', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => console.error(err))
  })

  test('with a lagging streaming replica: a guest on B reads A\'s write at once through the cache (misses read the primary)', async () => {
    // 4 s behind: without the cache a guest on B would read the replica's old row.
    const replica = await startPgReplica(sharedPgPrimary(), { applyDelayMs: 4000 })
    cleanup.push(() => replica.destroy())
    const shared = await sharedDbAndRedis(cleanup)
    const overrides = { db: shared.db, dbReplicas: [replica.url(new URL(shared.db).pathname.slice(1))], dbMaxReplicaLag: 60_000, redis: shared.redis, cacheRecords: true, rateLimits: { enabled: false } }
    const a: Node = await clusterNode(overrides, true)
    cleanup.push(() => a.close())
    const b: Node = await clusterNode(overrides, false)
    cleanup.push(() => b.close())
    await makeNotes(a)
    // A node only trusts a replica once it has applied what the primary held when the node began measuring.
    for (const n of [a, b]) await waitFor('the replica is measured', () => n.app.sql.instances().find((m) => m.role === 'replica')!.lagMs <= 60_000)
    await waitFor('the replica has the collection', async () => (await b.call('GET', '/api/collections/notes/records')).statusCode === 200)
    const created = await a.call('POST', '/api/collections/notes/records', { token: a.su, body: { title: 'start' } })
    const id = created.json<{ id: string }>().id
    await waitFor('the replica has the record', async () => (await b.call('GET', `/api/collections/notes/records/${id}`)).statusCode === 200)
    for (let i = 0; i < 20; i++) {
      for (let k = 0; k < 2; k++) await b.call('GET', `/api/collections/notes/records/${id}`)
      const title = `title ${i}`
      assert.equal((await a.call('PATCH', `/api/collections/notes/records/${id}`, { token: a.su, body: { title } })).statusCode, 200)
      assert.equal((await b.call('GET', `/api/collections/notes/records/${id}`)).json<{ title: string }>().title, title, `round ${i}`)
    }
  })
})
