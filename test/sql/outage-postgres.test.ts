/**
 * The primary goes away under load: a PostgreSQL primary of the test's own (initdb, another port;
 * never the shared 5432) with a streaming replica. While it is stopped every read is served from
 * the replica and every write is refused at once with 503 `unavailable`; once it is back writes
 * resume without a restart, and every write that was acknowledged is there.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { pgReplicaSkip, startPgPrimary, startPgReplica, type PgInstance } from '../helpers/pg-replica.ts'
import { clusterNode, makeNotes, waitFor, type Node } from './replica-nodes.ts'

const skip = await pgReplicaSkip()
if (skip) console.warn(`\n*** SKIPPED PostgreSQL outage tests: ${skip}\n`)
if (skip && process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(skip)

describe('SQL router: the PostgreSQL primary stops and comes back', { skip }, () => {
  let primary: PgInstance
  let replica: PgInstance
  const cleanup: (() => Promise<unknown>)[] = []

  before(async () => {
    primary = await startPgPrimary()
    cleanup.push(() => primary.destroy())
    await promisify(execFile)('psql', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-Atc', 'create database plinth'])
    replica = await startPgReplica({ host: '127.0.0.1', port: primary.port })
    cleanup.push(() => replica.destroy())
  })
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => console.error(err))
  })

  test('reads keep working from the replica, writes get 503 fast, acknowledged writes survive', async () => {
    const node: Node = await clusterNode({ db: primary.url('plinth'), dbReplicas: [replica.url('plinth')], dbMaxReplicaLag: 1000 }, true)
    cleanup.push(() => node.close())
    await makeNotes(node)
    await waitFor('the replica serves reads', async () => {
      const r = node.app.sql.instances().find((m) => m.role === 'replica')!
      return r.lagMs <= 1000 && (await node.call('GET', '/api/collections/notes/records')).statusCode === 200
    })

    const acknowledged: string[] = []
    let refused = 0
    const write = async (i: number) => {
      const res = await node.call('POST', '/api/collections/notes/records', { token: node.su, body: { title: `w${i}` } })
      if (res.statusCode === 200) acknowledged.push(res.json<{ id: string }>().id)
      else {
        assert.equal(res.statusCode, 503, res.body)
        assert.equal(res.headers['x-plinth-error'], 'unavailable')
        assert.deepEqual(Object.keys(res.json<object>()).sort(), ['data', 'message', 'status'])
        refused++
      }
      return res.statusCode
    }
    const read = async () => {
      const res = await node.call('GET', '/api/collections/notes/records?perPage=5')
      assert.equal(res.statusCode, 200, `a read failed during the outage: ${res.body}`)
    }

    for (let i = 0; i < 20; i++) {
      assert.equal(await write(i), 200)
      await read()
    }
    // Stopped while reads and writes keep coming: each write is acknowledged or refused, never a 500.
    let i = 20
    const stopping = primary.stop()
    for (let k = 0; k < 10; k++, i++) {
      await write(i)
      await read()
    }
    await stopping
    for (let k = 0; k < 20; k++, i++) {
      assert.equal(await write(i), 503)
      await read()
    }
    // Nothing waits on the dead server: the router refuses at once (no connect timeout per write).
    assert.equal(node.app.sql.instances().find((m) => m.role === 'primary')!.up, false)

    await primary.start()
    await waitFor('writes resume', async () => (await write(i++)) === 200)
    for (let k = 0; k < 10; k++, i++) {
      assert.equal(await write(i), 200)
      await read()
    }
    for (const id of acknowledged) {
      const res = await node.call('GET', `/api/collections/notes/records/${id}`, { token: node.su })
      assert.equal(res.statusCode, 200, `acknowledged write ${id} is missing`)
    }
    assert.ok(acknowledged.length >= 31 && refused >= 20)
  })
})
