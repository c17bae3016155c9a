/**
 * The primary goes away under load: a PostgreSQL primary of the test's own (initdb, another port;
 * never the shared 5432) with a streaming replica. While it is stopped every read is served from
 * the replica and every write is refused at once with 503 `unavailable`; once it is back writes
 * resume without a restart, and every write that was acknowledged is there.
 */
import { execFile } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { pgReplicaSkip, startPgPrimary, startPgReplica, type PgInstance } from '../helpers/pg-replica.ts'
import { clusterNode, makeNotes, outageLoop, waitFor, type Node } from './replica-nodes.ts'

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

    await outageLoop(node, primary, { before: 20, stopping: 10, down: 20, after: 10 })
  })
})
