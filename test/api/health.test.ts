/**
 * `/api/health` (the process is up, PocketBase's shape) and `/api/ready` (every configured engine
 * answers), on every SQL engine, through app.http.inject().
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

/** An app on `db` with its data folder in a temp dir, logging nothing. */
async function makeApp(db: string, overrides: ConfigInput = {}): Promise<Plinth> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-health-'))
  return createPlinth({ config: { env: {}, cwd: dir, overrides: { dir, db, logLevel: 'silent', ...overrides } } })
}

for (const { engine, skip } of await engines()) {
  describe(`health and readiness: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let app: Plinth

    before(async () => {
      testDb = await createTestDb(engine)
      app = await makeApp(testDb.url)
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
    })

    const scenarios: { name: string; method: 'GET' | 'HEAD'; url: string; status: number; body?: unknown }[] = [
      { name: 'health answers in PocketBase shape', method: 'GET', url: '/api/health', status: 200, body: { code: 200, message: 'API is healthy.', data: {} } },
      { name: 'health answers HEAD', method: 'HEAD', url: '/api/health', status: 200 },
      { name: 'a trailing slash is the same route', method: 'GET', url: '/api/health/', status: 200, body: { code: 200, message: 'API is healthy.', data: {} } },
      { name: 'ready when the engine answers', method: 'GET', url: '/api/ready', status: 200, body: { code: 200, message: 'Ready.', data: { checks: { 'sql.primary': 'ok' } } } },
    ]
    for (const s of scenarios) {
      test(s.name, async () => {
        const res = await app.http.inject({ method: s.method, url: s.url })
        assert.equal(res.statusCode, s.status, res.body)
        if (s.body !== undefined) assert.deepEqual(res.json(), s.body)
        assert.ok(res.headers['x-request-id'], 'every response names its request id')
      })
    }

    test('a request id sent by a proxy is kept; a strange one is replaced', async () => {
      const kept = await app.http.inject({ url: '/api/health', headers: { 'x-request-id': 'lb-1234.abc' } })
      assert.equal(kept.headers['x-request-id'], 'lb-1234.abc')
      const replaced = await app.http.inject({ url: '/api/health', headers: { 'x-request-id': 'bad id\twith spaces' } })
      assert.notEqual(replaced.headers['x-request-id'], 'bad id\twith spaces')
      assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    })
  })
}

describe('readiness when an engine stops answering', () => {
  let testDb: TestDb
  let app: Plinth
  before(async () => {
    testDb = await createTestDb('sqlite')
    app = await makeApp(testDb.url)
  })
  after(async () => {
    await app?.stop()
    await testDb?.drop()
  })

  test('503 names the engine that failed; health still answers 200', async () => {
    assert.equal((await app.http.inject('/api/ready')).statusCode, 200)
    await app.sql.primary.close() // the engine is gone, as when its server goes down
    const res = await app.http.inject('/api/ready')
    assert.equal(res.statusCode, 503)
    const body = res.json() as { status: number; message: string; data: { checks: Record<string, string> } }
    assert.equal(body.status, 503)
    assert.equal(res.headers['x-plinth-error'], 'unavailable')
    assert.match(body.message, /sql\.primary/)
    assert.equal(body.data.checks['sql.primary'], 'sqlite: unreachable')
    assert.doesNotMatch(res.body, /engine is closed/, 'the driver message stays in the log')
    assert.equal((await app.http.inject('/api/health')).statusCode, 200)
  })
})
