/**
 * Several nodes on one database learn each other's collection changes without a restart: two
 * CollectionStores on one PostgreSQL database, each with its own Redis bus (as two `plinth serve`
 * processes have), and two on one SQLite file whose in-process buses do not reach each other, so
 * only the stored-version timer carries the change. Waits poll the other store with a generous
 * bound; nothing asserts how fast a change arrives.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { BusUnavailableError, type Bus } from '../../src/bus/bus.ts'
import { memoryBus } from '../../src/bus/memory.ts'
import { redisBus } from '../../src/bus/redis.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { syncCollections } from '../../src/records/collections/sync.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, engines, type EngineName, type TestDb } from '../helpers/engines.ts'
import { captureLog, REDIS_TEST_URL, redisSkip, testPrefix, type CapturedLog } from '../helpers/redis.ts'

/** Resolves once `cond()` holds; fails after `ms` (generous: this is a bound, not a timing claim). */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A bus that drops the messages published while `lose` is on (as Redis drops them for a node that is cut off). */
function lossy(bus: Bus): Bus & { lose: boolean; lost: number } {
  const out = {
    name: bus.name,
    reachesOtherNodes: bus.reachesOtherNodes,
    lose: false,
    lost: 0,
    publish: async (topic: string, message: string) => {
      if (out.lose) {
        out.lost++
        return
      }
      await bus.publish(topic, message)
    },
    subscribe: bus.subscribe.bind(bus),
    close: bus.close.bind(bus),
  }
  return out
}

interface Node {
  db: SqlEngine
  store: CollectionStore
  bus: Bus & { lose: boolean; lost: number }
  log: CapturedLog
  stop: () => Promise<void>
}

async function twoNodes(engine: EngineName, makeBus: () => Promise<Bus>, intervalMs: number): Promise<{ testDb: TestDb; topic: string; a: Node; b: Node; close(): Promise<void> }> {
  const testDb = await createTestDb(engine)
  const topic = `collections-test-${randomBytes(4).toString('hex')}`
  const node = async (): Promise<Node> => {
    const db = await openSql(parseDbUrl(testDb.url, 'db'))
    await migrate(db, systemMigrations(db.dialect))
    const store = await CollectionStore.open(db)
    const bus = lossy(await makeBus())
    const log = captureLog()
    const stop = await syncCollections(store, bus, log, { intervalMs, topic })
    return { db, store, bus, log, stop }
  }
  const a = await node()
  const b = await node()
  return {
    testDb,
    topic,
    a,
    b,
    async close() {
      for (const n of [a, b]) {
        await n.stop()
        await n.bus.close()
        await n.db.close()
      }
      await testDb.drop()
    },
  }
}

const pgSkip = (await engines(['postgres']))[0]!.skip
const redisSkipped = await redisSkip()

describe('collections sync: PostgreSQL, a Redis bus per node', { skip: pgSkip || redisSkipped }, () => {
  let nodes: Awaited<ReturnType<typeof twoNodes>>
  const prefix = testPrefix()
  before(async () => {
    // No timer at first: what arrives, arrives over the bus.
    nodes = await twoNodes('postgres', () => redisBus({ url: REDIS_TEST_URL, log: captureLog(), prefix }), 0)
  })
  after(async () => nodes?.close())

  test('a create, an update and a delete on one node reach the other without a reload by hand', async () => {
    const { a, b } = nodes
    assert.equal(b.store.get('memos'), undefined)
    const created = await a.store.create({ name: 'memos', fields: [{ name: 'body', type: 'text' }] })
    await until(() => b.store.get('memos') !== undefined, 'the create on B')
    assert.equal(b.store.get('memos')?.id, created.id)
    assert.equal(b.store.version, a.store.version)

    await b.store.update('memos', { listRule: '', fields: [...created.fields, { name: 'pinned', type: 'bool' }] })
    await until(() => a.store.get('memos')?.fields.some((f) => f.name === 'pinned') === true, 'the update on A')
    assert.equal(a.store.get('memos')?.listRule, '')
    assert.equal(a.store.version, b.store.version)

    await a.store.delete('memos')
    await until(() => b.store.get('memos') === undefined, 'the delete on B')
    assert.equal(b.store.version, a.store.version)
    assert.ok(b.log.lines.some((l) => l.msg.startsWith('collections: reloaded') && l.obj.why === 'bus'))
  })

  test('a lost message is made up for by the stored-version check', async () => {
    const { a, b } = nodes
    // B also checks on a timer from now on; A's next message is lost on the way.
    await b.stop()
    b.stop = await syncCollections(b.store, b.bus, b.log, { intervalMs: 100, topic: nodes.topic })
    a.bus.lose = true
    await a.store.create({ name: 'late' })
    assert.equal(a.bus.lost, 1)
    await until(() => b.store.get('late') !== undefined, 'the timer on B')
    assert.equal(b.store.version, a.store.version)
    assert.ok(b.log.lines.some((l) => l.msg.startsWith('collections: reloaded') && l.obj.why === 'timer'))
    a.bus.lose = false
  })
})

describe('collections sync: one SQLite file, in-process buses that do not reach each other', () => {
  let nodes: Awaited<ReturnType<typeof twoNodes>>
  before(async () => {
    nodes = await twoNodes('sqlite', async () => memoryBus(), 100)
  })
  after(async () => nodes?.close())

  test('each node converges on the other\'s changes through the stored version', async () => {
    const { a, b } = nodes
    const created = await a.store.create({ name: 'tasks', fields: [{ name: 'title', type: 'text' }] })
    await until(() => b.store.get('tasks') !== undefined, 'the create on B')
    assert.equal(b.store.get('tasks')?.id, created.id)

    await b.store.update('tasks', { viewRule: '' })
    await until(() => a.store.get('tasks')?.viewRule === '', 'the update on A')

    await b.store.delete('tasks')
    await until(() => a.store.get('tasks') === undefined, 'the delete on A')
    assert.equal(a.store.version, b.store.version)
    assert.equal(a.store.version, await a.store.storedVersion())
  })

  test('a node that is already current does not reload', async () => {
    const { a } = nodes
    const snapshot = a.store.snapshot
    // Several timer periods with no change: the snapshot object stays the same one.
    await new Promise((resolve) => setTimeout(resolve, 400))
    assert.equal(a.store.snapshot, snapshot)
  })
})

describe('collections sync: a bus that cannot publish', () => {
  let nodes: Awaited<ReturnType<typeof twoNodes>>
  before(async () => {
    nodes = await twoNodes('sqlite', async () => memoryBus(), 0)
  })
  after(async () => nodes?.close())

  test('the change still succeeds; the lost message is logged, not thrown', async () => {
    const { a } = nodes
    const broken: Bus = {
      name: 'redis',
      reachesOtherNodes: true,
      publish: async () => {
        throw new BusUnavailableError()
      },
      subscribe: async () => async () => {},
      close: async () => {},
    }
    const stop = await syncCollections(a.store, broken, a.log, { intervalMs: 0 })
    const logged = a.log.waitFor('collections: schema change not published; other nodes catch up on their next check')
    const created = await a.store.create({ name: 'unsent' })
    await logged
    assert.equal(a.store.get('unsent')?.id, created.id)
    await stop()
  })
})
