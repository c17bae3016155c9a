/**
 * The SQL router over a real PostgreSQL streaming replica of the shared primary (5432), whose
 * lag is made real with `recovery_min_apply_delay`: reads spread to the replica, a client reads
 * its own writes at once (also on another node, through the counters port in Redis), others read
 * the replica's older state, and a replica past `dbMaxReplicaLag` gets no reads.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestDb, type TestDb } from '../helpers/engines.ts'
import { pgReplicaSkip, sharedPgPrimary, startPgReplica, type PgInstance } from '../helpers/pg-replica.ts'
import { REDIS_TEST_URL, adminRedis, deleteKeys, testPrefix } from '../helpers/redis.ts'
import { clusterNode, makeNotes, waitFor, type Node } from './replica-nodes.ts'

const replicaOf = (n: Node) => n.app.sql.instances().find((m) => m.role === 'replica')!

const skip = await pgReplicaSkip()
if (skip) console.warn(`\n*** SKIPPED PostgreSQL replica tests: ${skip}\n`)
if (skip && process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(skip)

/** How far behind the delayed replica applies: far longer than a request takes on a loaded machine. */
const DELAY = 4000

describe('SQL router: PostgreSQL streaming replica', { skip }, () => {
  let replica: PgInstance
  let db: TestDb
  const prefix = testPrefix()
  const cleanup: (() => Promise<unknown>)[] = []

  before(async () => {
    replica = await startPgReplica(sharedPgPrimary(), { applyDelayMs: DELAY })
    cleanup.push(() => replica.destroy())
    db = await createTestDb('postgres')
    cleanup.push(() => db.drop())
    cleanup.push(async () => {
      const admin = await adminRedis()
      await deleteKeys(admin, prefix)
      await admin.quit()
    })
  })
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => console.error(err))
  })

  const redis = () => {
    const u = new URL(REDIS_TEST_URL)
    u.searchParams.set('prefix', prefix)
    return u.toString()
  }
  const replicaUrl = () => replica.url(new URL(db.url).pathname.slice(1))

  test('a client reads its own write at once, on this node and on another; others read the lagging replica', async () => {
    // A lag bound far above the delay: the replica stays eligible, so only read-your-writes keeps the writer off it.
    const overrides = { db: db.url, dbReplicas: [replicaUrl()], dbMaxReplicaLag: 60_000, redis: redis() }
    const a: Node = await clusterNode(overrides, true)
    cleanup.push(() => a.close())
    const b: Node = await clusterNode(overrides, false)
    cleanup.push(() => b.close())
    await makeNotes(a)
    // A node only trusts a replica once it has applied what the primary held when the node began measuring.
    for (const n of [a, b]) await waitFor('the replica is measured', () => replicaOf(n).lagMs <= 60_000)
    // The collection reaches the replica after the delay; until then a guest's list there fails.
    await waitFor('the replica has the collection', async () => (await b.call('GET', '/api/collections/notes/records')).statusCode === 200)

    for (let i = 0; i < 3; i++) {
      const created = await a.call('POST', '/api/collections/notes/records', { token: a.su, body: { title: `n${i}` } })
      assert.equal(created.statusCode, 200, created.body)
      const id = created.json<{ id: string }>().id
      // The writer, on its node and on the other: at once, although the replica is seconds behind.
      assert.equal((await a.call('GET', `/api/collections/notes/records/${id}`, { token: a.su })).statusCode, 200)
      assert.equal((await b.call('GET', `/api/collections/notes/records/${id}`, { token: b.su })).statusCode, 200)
      // A guest reads the replica, which has not applied the write yet: proof reads go there.
      assert.equal((await b.call('GET', `/api/collections/notes/records/${id}`)).statusCode, 404)
      assert.equal((await a.call('GET', `/api/collections/notes/records/${id}`)).statusCode, 404)
      // Once applied, the guest sees it too.
      await waitFor('the replica applies the write', async () => (await b.call('GET', `/api/collections/notes/records/${id}`)).statusCode === 200)
    }
  })

  test('a replica lagging past dbMaxReplicaLag gets no reads until it catches up', async () => {
    const a = await clusterNode({ db: db.url, dbReplicas: [replicaUrl()], dbMaxReplicaLag: 500 }, false)
    cleanup.push(() => a.close())
    await waitFor('the replica has the collection', async () => (await a.call('GET', '/api/collections/notes/records')).statusCode === 200)
    const created = await a.call('POST', '/api/collections/notes/records', { token: a.su, body: { title: 'late' } })
    assert.equal(created.statusCode, 200, created.body)
    const id = created.json<{ id: string }>().id
    const replicaState = () => replicaOf(a)
    await waitFor('the router measures the lag', async () => replicaState().lagMs > 500)
    // A guest finds the record while the replica still lacks it (its delay runs): the read went to the primary.
    assert.equal((await a.call('GET', `/api/collections/notes/records/${id}`)).statusCode, 200)
    const { default: pg } = await import('pg')
    const direct = new pg.Client({ connectionString: replicaUrl() })
    await direct.connect()
    try {
      assert.equal((await direct.query('select id from notes where id = $1', [id])).rowCount, 0)
    } finally {
      await direct.end()
    }
    await waitFor('the replica catches up', async () => replicaState().lagMs === 0)
  })
})
