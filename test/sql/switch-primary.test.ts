/**
 * Disaster recovery on real PostgreSQL: the primary (the test's own, never the shared 5432) is
 * lost, the operator promotes the DR instance (`pg_ctl promote`) and runs `plinth db
 * switch-primary URL`: both running nodes write there at once, without a restart (through the
 * bus, in Redis), a node started afterwards agrees (the switch is recorded in the data folder),
 * and `plinth db status` shows each instance's role, reachability and lag.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { runCli } from '../helpers/cli.ts'
import { pgReplicaSkip, startPgPrimary, startPgReplica, type PgInstance } from '../helpers/pg-replica.ts'
import { REDIS_TEST_URL, adminRedis, deleteKeys, testPrefix } from '../helpers/redis.ts'
import { clusterNode, makeNotes, waitFor, type Node } from './replica-nodes.ts'

const skip = await pgReplicaSkip()
if (skip) console.warn(`\n*** SKIPPED PostgreSQL DR tests: ${skip}\n`)
if (skip && process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(skip)

describe('plinth db switch-primary: the DR instance takes over', { skip }, () => {
  let primary: PgInstance
  let dr: PgInstance
  const prefix = testPrefix()
  const cleanup: (() => Promise<unknown>)[] = []

  before(async () => {
    primary = await startPgPrimary()
    cleanup.push(() => primary.destroy())
    await promisify(execFile)('psql', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-Atc', 'create database plinth'])
    dr = await startPgReplica({ host: '127.0.0.1', port: primary.port })
    cleanup.push(() => dr.destroy())
    cleanup.push(async () => {
      const admin = await adminRedis()
      await deleteKeys(admin, prefix)
      await admin.quit()
    })
  })
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => console.error(err))
  })

  test('promote, switch: every node writes to the new primary without a restart; a restarted node agrees', async () => {
    const redis = new URL(REDIS_TEST_URL)
    redis.searchParams.set('prefix', prefix)
    const overrides = { db: primary.url('plinth'), dbDr: dr.url('plinth'), redis: redis.toString() }
    const env = { PLINTH_DB: overrides.db, PLINTH_DB_DR: overrides.dbDr, PLINTH_REDIS: overrides.redis }
    const a: Node = await clusterNode(overrides, true)
    cleanup.push(() => a.close())
    const b: Node = await clusterNode(overrides, false)
    cleanup.push(() => b.close())
    await makeNotes(a)
    const before = await a.call('POST', '/api/collections/notes/records', { token: a.su, body: { title: 'before' } })
    assert.equal(before.statusCode, 200, before.body)
    const drState = () => a.app.sql.instances().find((m) => m.role === 'dr')!
    await waitFor('the DR instance has applied every write', () => drState().lagMs === 0)

    const cliDir = mkdtempSync(path.join(tmpdir(), 'plinth-cli-'))
    const status = await runCli(['db', 'status', '--dir', cliDir], env)
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /^ROLE\s+URL\s+REACHABLE\s+REPLICATING\s+POSITION\s+LAG$/m)
    assert.match(status.stdout, /^primary\s+postgres:\/\/\S+\s+yes\s+no\s+\d+\s+-$/m)
    assert.match(status.stdout, /^dr\s+postgres:\/\/\S+\s+yes\s+yes\s+\d+\s+0ms$/m)

    // Still a replica: the switch is refused rather than pointing writes at a read-only server.
    const early = await runCli(['db', 'switch-primary', overrides.dbDr, '--dir', cliDir], env)
    assert.equal(early.code, 2)
    assert.match(early.stderr, /still a replica; promote it first/)

    await primary.stop()
    assert.equal((await b.call('POST', '/api/collections/notes/records', { token: b.su, body: { title: 'lost' } })).statusCode, 503)
    await dr.promote()
    const switched = await runCli(['db', 'switch-primary', overrides.dbDr, '--dir', cliDir], env)
    assert.equal(switched.code, 0, switched.stderr)

    for (const n of [a, b]) {
      await waitFor('the node writes to the new primary', async () => (await n.call('POST', '/api/collections/notes/records', { token: n.su, body: { title: 'after' } })).statusCode === 200)
      assert.equal((await n.call('GET', `/api/collections/notes/records/${before.json<{ id: string }>().id}`, { token: n.su })).statusCode, 200)
    }
    // Restarted with the same settings while the old primary is still down: it follows the recorded switch.
    const c = await clusterNode(overrides, false, cliDir)
    cleanup.push(() => c.close())
    assert.equal((await c.call('POST', '/api/collections/notes/records', { token: c.su, body: { title: 'restarted' } })).statusCode, 200)
    const after = await runCli(['db', 'status', '--dir', cliDir], env)
    assert.match(after.stdout, /^primary\s+postgres:\/\/\S+\s+yes\s+no\s+/m)
    assert.match(after.stdout, /^retired\s+postgres:\/\/\S+\s+no /m)
  })
})
