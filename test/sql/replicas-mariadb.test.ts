/**
 * The SQL router over real MariaDB GTID replication: a primary of the test's own (binary log on)
 * and a replica applying with MASTER_DELAY. A client reads its own writes at once while a guest
 * reads the replica's older state; when the primary stops, reads go on from the replica, writes
 * get 503 `unavailable`, and once it is back writes resume and every acknowledged one is there.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mariadbReplicaSkip, startMariaPrimary, startMariaReplica, type MariaInstance } from '../helpers/mariadb-replica.ts'
import { clusterNode, makeNotes, outageLoop, waitFor, type Node } from './replica-nodes.ts'

const skip = mariadbReplicaSkip()
if (skip) console.warn(`\n*** SKIPPED MariaDB replica tests: ${skip}\n`)
if (skip && process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(skip)

/** MASTER_DELAY, seconds: far longer than a request takes on a loaded machine. */
const DELAY = 3

describe('SQL router: MariaDB GTID replica', { skip }, () => {
  let primary: MariaInstance
  let replica: MariaInstance
  let node: Node
  const cleanup: (() => Promise<unknown>)[] = []

  before(async () => {
    primary = await startMariaPrimary()
    cleanup.push(() => primary.destroy())
    replica = await startMariaReplica(primary, 2, DELAY)
    cleanup.push(() => replica.destroy())
    await primary.sql('create database plinth character set utf8mb4')
    await waitFor('the replica has the database', async () => (await replica.sql("show databases like 'plinth'")).trim() === 'plinth')
    node = await clusterNode({ db: primary.url('plinth'), dbReplicas: [replica.url('plinth')], dbMaxReplicaLag: 60_000 }, true)
    cleanup.push(() => node.close())
    await makeNotes(node)
    await waitFor('the replica serves the collection', async () => {
      const r = node.app.sql.instances().find((m) => m.role === 'replica')!
      return r.lagMs <= 60_000 && (await node.call('GET', '/api/collections/notes/records')).statusCode === 200
    })
  })
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => console.error(err))
  })

  test('the writer reads its write at once; a guest reads the delayed replica until it applies it', async () => {
    const created = await node.call('POST', '/api/collections/notes/records', { token: node.su, body: { title: 'mine' } })
    assert.equal(created.statusCode, 200, created.body)
    const id = created.json<{ id: string }>().id
    assert.equal((await node.call('GET', `/api/collections/notes/records/${id}`, { token: node.su })).statusCode, 200)
    assert.equal((await node.call('GET', `/api/collections/notes/records/${id}`)).statusCode, 404)
    await waitFor('the replica applies the write', async () => (await node.call('GET', `/api/collections/notes/records/${id}`)).statusCode === 200)
  })

  test('primary stopped: reads from the replica, writes 503; back: writes resume, acknowledged ones kept', async () => {
    await outageLoop(node, primary, { before: 10, stopping: 5, down: 15, after: 0 })
  })
})
