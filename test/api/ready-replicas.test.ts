/**
 * `/api/ready` with replicas: one replica (or the DR instance) down leaves the node ready and is
 * named in `degraded`; the primary down with a replica answering is still ready (reads are served,
 * writes get 503); nothing answering is 503. `/api/health` stays PocketBase's liveness answer.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { unusedPort } from '../helpers/redis.ts'

async function makeApp(overrides: ConfigInput): Promise<Plinth> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-ready-'))
  return createPlinth({ config: { env: {}, cwd: dir, overrides: { dir, logLevel: 'silent', ...overrides } } })
}

const pg = (await engines(['postgres']))[0]!

describe('readiness with replicas: postgres', { skip: pg.skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })
  const open = async (): Promise<{ db: TestDb; app: Plinth; deadUrl: string; sameDbUrl: string }> => {
    const db = await createTestDb('postgres')
    cleanup.push(() => db.drop())
    const u = new URL(db.url)
    const dead = new URL(db.url)
    dead.port = String(await unusedPort())
    // The same database under another host name: a "replica" that answers (not replicating, so it
    // has no measured lag and gets no reads while the primary is up; enough for readiness).
    const same = new URL(db.url)
    same.hostname = u.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1'
    const app = await makeApp({ db: db.url, dbReplicas: [same.toString(), dead.toString()], dbDr: dead.toString().replace(/\/([^/]*)$/, '/dr_$1') })
    cleanup.push(() => app.stop())
    return { db, app, deadUrl: dead.toString(), sameDbUrl: same.toString() }
  }

  test('a replica and the DR instance down: ready, named in degraded', async () => {
    const { app } = await open()
    const res = await app.http.inject('/api/ready')
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json<{ code: number; message: string; data: { checks: Record<string, string>; degraded: string[] } }>()
    assert.equal(body.message, 'Ready.')
    assert.equal(body.data.checks['sql.primary'], 'ok')
    assert.equal(body.data.checks['sql.replica'], 'ok')
    assert.equal(body.data.checks['sql.replica.2'], 'postgres: unreachable')
    assert.equal(body.data.checks['sql.dr'], 'postgres: unreachable')
    assert.deepEqual(body.data.degraded.sort(), ['sql.dr', 'sql.replica.2'])
    // Liveness is PocketBase's answer, unchanged.
    const health = await app.http.inject('/api/health')
    assert.equal(health.statusCode, 200)
    assert.deepEqual(health.json(), { code: 200, message: 'API is healthy.', data: {} })
  })

  test('the primary down, a replica answering: still ready (reads), primary named; all down: 503', async () => {
    const { app } = await open()
    await app.sql.primary.close()
    const res = await app.http.inject('/api/ready')
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json<{ data: { checks: Record<string, string>; degraded: string[] } }>()
    assert.ok(body.data.degraded.includes('sql.primary'))
    assert.equal(body.data.checks['sql.replica'], 'ok')
    // Every instance that serves requests gone: out of the load balancer.
    for (const m of app.sql.instances()) await m.engine.close()
    const down = await app.http.inject('/api/ready')
    assert.equal(down.statusCode, 503)
    assert.equal(down.headers['x-plinth-error'], 'unavailable')
    const err = down.json<{ status: number; message: string; data: { checks: Record<string, string> } }>()
    assert.equal(err.status, 503)
    assert.match(err.message, /sql\.primary/)
    assert.equal((await app.http.inject('/api/health')).statusCode, 200)
  })
})
