/**
 * The records cache on two nodes over one PostgreSQL database and one Redis (cache, counters and
 * counters on it), `cacheRecords` on both: a write acknowledged by node A is never followed by a stale
 * read on node B, whose previous read of the same record and list was served from the shared cache.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import type { RecordReadCache } from '../../src/records/read-cache.ts'
import { sharedDbAndRedis } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'
import { clusterNode, makeNotes, type Node } from './replica-nodes.ts'

const pg = (await engines(['postgres']))[0]!
const skip = pg.skip || (await redisSkip())

describe('records cache on two nodes: PostgreSQL + Redis', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => console.error(err))
  })

  test('write on A, read on B at once: never stale, many times over', async () => {
    const shared = await sharedDbAndRedis(cleanup)
    // The bus stays in each process: the drops it carries are only an optimisation, and with a lost
    // message (Redis pub/sub is at most once) B must still never read stale. The shared generations do it.
    const overrides = { db: shared.db, redis: shared.redis, bus: 'memory://', cacheRecords: true, rateLimits: { enabled: false } }
    const a: Node = await clusterNode(overrides, true)
    cleanup.push(() => a.close())
    const b: Node = await clusterNode(overrides, false)
    cleanup.push(() => b.close())
    await makeNotes(a)
    await b.app.collections.reload()
    const created = await a.call('POST', '/api/collections/notes/records', { token: a.su, body: { title: 'start' } })
    assert.equal(created.statusCode, 200, created.body)
    const id = created.json<{ id: string }>().id
    const stats = (b.app.records.readCache as RecordReadCache).stats
    const hits = stats.hits

    for (let i = 0; i < 100; i++) {
      // B reads twice (the second from the cache), A writes, B reads at once: as a guest (one
      // entry shared by every guest) and as the superuser.
      for (let k = 0; k < 2; k++) await b.call('GET', `/api/collections/notes/records/${id}`)
      await b.call('GET', '/api/collections/notes/records')
      const title = `title ${i}`
      const res = await a.call('PATCH', `/api/collections/notes/records/${id}`, { token: a.su, body: { title } })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal((await b.call('GET', `/api/collections/notes/records/${id}`)).json<{ title: string }>().title, title, `view on B after write ${i}`)
      assert.equal((await b.call('GET', `/api/collections/notes/records/${id}`, { token: b.su })).json<{ title: string }>().title, title)
      assert.equal((await b.call('GET', '/api/collections/notes/records')).json<{ items: { title: string }[] }>().items[0]?.title, title, `list on B after write ${i}`)
    }
    // Deletes too.
    assert.equal((await a.call('DELETE', `/api/collections/notes/records/${id}`, { token: a.su })).statusCode, 204)
    assert.equal((await b.call('GET', `/api/collections/notes/records/${id}`)).statusCode, 404)
    // A truncate (a store change, not a unit of work) too.
    assert.equal((await a.call('POST', '/api/collections/notes/records', { token: a.su, body: { title: 'again' } })).statusCode, 200)
    for (let k = 0; k < 2; k++) assert.equal((await b.call('GET', '/api/collections/notes/records')).json<{ items: unknown[] }>().items.length, 1)
    assert.equal((await a.call('DELETE', '/api/collections/notes/truncate', { token: a.su })).statusCode, 204)
    assert.deepEqual((await b.call('GET', '/api/collections/notes/records')).json<{ items: unknown[] }>().items, [])
    assert.ok(stats.hits - hits >= 100, `B served repeated reads from the cache (${stats.hits - hits} hits)`)
  })
})
