/**
 * A config reload (what SIGHUP does) moves a running node's SQL instances: a new `db` URL becomes
 * the primary through the switch-primary machinery (recorded in the data folder), replicas are
 * added and removed, and an instance that still replicates is refused as the primary. On
 * PostgreSQL, with one database reached under two host names (the "other instance": not
 * replicating, so it qualifies as a promoted one).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { createPlinth } from '../../src/app.ts'
import { loadConfig } from '../../src/config/load.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDb, engines } from '../helpers/engines.ts'
import { unusedPort } from '../helpers/redis.ts'

const pg = (await engines(['postgres']))[0]!

describe('config reload of SQL instances: postgres', { skip: pg.skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('db switches the primary; dbReplicas adds and removes replicas; other settings need a restart', async () => {
    const db = await createTestDb('postgres')
    cleanup.push(() => db.drop())
    const alias = new URL(db.url)
    alias.hostname = alias.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1'
    const dead = new URL(db.url)
    dead.port = String(await unusedPort())
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-reload-'))
    const base: ConfigInput = { dir, db: db.url, logLevel: 'silent', dbDr: dead.toString() }
    const config = (o: ConfigInput) => loadConfig({ cwd: dir, env: {}, overrides: { ...base, ...o } })
    const app = await createPlinth({ config: config({}), logger: createLogger({ logLevel: 'silent' }) })
    cleanup.push(() => app.stop())
    const roles = () => app.sql.instances().map((m) => `${m.role}:${m.url}`)

    // A replica added.
    let r = await app.reload(config({ dbReplicas: [alias.toString()] }))
    assert.deepEqual(r.applied, ['dbReplicas'])
    assert.ok(roles().includes(`replica:${alias.toString()}`), roles().join(' '))

    // The primary moved to it (it does not replicate: as after a promotion), recorded in the folder.
    r = await app.reload(config({ db: alias.toString(), dbReplicas: [] }))
    assert.deepEqual(r.applied.sort(), ['db', 'dbReplicas'])
    assert.equal(app.sql.instances().find((m) => m.role === 'primary')!.url, alias.toString())
    assert.equal(readFileSync(path.join(dir, 'db-primary'), 'utf8').trim(), alias.toString())
    await app.sql.writer().ping()

    // Pools are sized at start: a change is named, not applied.
    r = await app.reload(config({ db: alias.toString(), dbReplicas: [], poolSize: 3 }))
    assert.deepEqual(r.applied, [])
    assert.deepEqual(r.restart, ['poolSize'])
  })

  test('a node started without replicas does not start reading replicas live', async () => {
    const db = await createTestDb('postgres')
    cleanup.push(() => db.drop())
    const alias = new URL(db.url)
    alias.hostname = alias.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1'
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-reload-'))
    const config = (o: ConfigInput) => loadConfig({ cwd: dir, env: {}, overrides: { dir, db: db.url, logLevel: 'silent', ...o } })
    const app = await createPlinth({ config: config({}), logger: createLogger({ logLevel: 'silent' }) })
    cleanup.push(() => app.stop())
    const r = await app.reload(config({ dbReplicas: [alias.toString()] }))
    assert.deepEqual(r.applied, [])
    assert.equal(app.sql.instances().length, 1)
  })
})
