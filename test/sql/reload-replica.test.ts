/**
 * A config reload (SIGHUP) never makes a replica that still replicates the primary: `db` pointed
 * at a real PostgreSQL streaming replica is refused, writes stay on the old primary, and the
 * same reload is tried again on the next SIGHUP. A replica added by a reload serves reads once
 * measured.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { createPlinth } from '../../src/app.ts'
import { loadConfig } from '../../src/config/load.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDb } from '../helpers/engines.ts'
import { pgReplicaSkip, sharedPgPrimary, startPgReplica } from '../helpers/pg-replica.ts'
import { unusedPort } from '../helpers/redis.ts'
import { waitFor } from './replica-nodes.ts'

const skip = (await pgReplicaSkip()) ?? false

describe('config reload with a real PostgreSQL replica', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('db pointed at a replica that still replicates is refused; the replica added by reload gets reads', async () => {
    const replica = await startPgReplica(sharedPgPrimary())
    cleanup.push(() => replica.destroy())
    const db = await createTestDb('postgres')
    cleanup.push(() => db.drop())
    const replicaUrl = replica.url(new URL(db.url).pathname.slice(1))
    const dead = new URL(db.url)
    dead.port = String(await unusedPort())
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-reload-'))
    // A DR instance (down) makes this a routing node, so replicas may be added live.
    const config = (o: ConfigInput) => loadConfig({ cwd: dir, env: {}, overrides: { dir, db: db.url, dbDr: dead.toString(), logLevel: 'silent', ...o } })
    const app = await createPlinth({ config: config({}), logger: createLogger({ logLevel: 'silent' }) })
    cleanup.push(() => app.stop())

    let r = await app.reload(config({ dbReplicas: [replicaUrl] }))
    assert.deepEqual(r.applied, ['dbReplicas'])
    await waitFor('the added replica is measured and gets reads', () => app.sql.reader() !== app.sql.primary)

    r = await app.reload(config({ db: replicaUrl, dbReplicas: [replicaUrl] }))
    assert.deepEqual(r.applied, [])
    assert.equal(app.sql.instances().find((m) => m.role === 'primary')!.url, db.url)
    await app.sql.writer().ping()
    // Not applied, so the next reload with the same file tries again (and is refused again).
    r = await app.reload(config({ db: replicaUrl, dbReplicas: [replicaUrl] }))
    assert.deepEqual(r.applied, [])
  })
})
