/**
 * `GET /api/metrics`: Prometheus text, never public. Who may read it (allow-listed IPs; a
 * superuser once auth wires `isSuperuser`), and which families appear after traffic, per engine.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { sql } from 'kysely'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { ipAllowList } from '../../src/api/metrics.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

async function makeApp(overrides: ConfigInput = {}): Promise<Plinth> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-metrics-'))
  return createPlinth({ config: { env: {}, cwd: dir, overrides: { dir, logLevel: 'silent', ...overrides } } })
}

/** The value of one sample line, `name{labels} value`, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

describe('metrics access', () => {
  let closed: Plinth
  let listed: Plinth
  before(async () => {
    closed = await makeApp()
    listed = await makeApp({ metrics: { allow: ['10.1.2.0/24', '2001:db8::/32', '192.0.2.7'] } })
  })
  after(async () => {
    await closed?.stop()
    await listed?.stop()
  })

  const cases: { name: string; app: () => Plinth; remoteAddress: string; headers?: Record<string, string>; status: number; code?: string }[] = [
    { name: 'not public by default, not even from localhost', app: () => closed, remoteAddress: '127.0.0.1', status: 401, code: 'unauthorized' },
    { name: 'credentials that are not a superuser are refused', app: () => closed, remoteAddress: '127.0.0.1', headers: { authorization: 'Bearer not-a-superuser' }, status: 403, code: 'forbidden' },
    { name: 'allow-listed subnet', app: () => listed, remoteAddress: '10.1.2.99', status: 200 },
    { name: 'allow-listed single address', app: () => listed, remoteAddress: '192.0.2.7', status: 200 },
    { name: 'allow-listed IPv4 seen as IPv4-mapped IPv6', app: () => listed, remoteAddress: '::ffff:10.1.2.3', status: 200 },
    { name: 'allow-listed IPv6 subnet', app: () => listed, remoteAddress: '2001:db8::5', status: 200 },
    { name: 'outside the allow-list', app: () => listed, remoteAddress: '10.1.3.1', status: 401, code: 'unauthorized' },
    { name: 'localhost is not implied by an allow-list', app: () => listed, remoteAddress: '127.0.0.1', status: 401, code: 'unauthorized' },
  ]
  for (const c of cases) {
    test(c.name, async () => {
      const res = await c.app().http.inject({ url: '/api/metrics', remoteAddress: c.remoteAddress, headers: c.headers })
      assert.equal(res.statusCode, c.status, res.body)
      if (c.code) {
        assert.equal(res.headers['x-plinth-error'], c.code)
        assert.doesNotMatch(res.body, /plinth_http_requests_total/)
      } else {
        assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
        assert.match(res.body, /# TYPE plinth_http_requests_total counter/)
      }
    })
  }

  test('a superuser token reads metrics from any address', async () => {
    await createSuperuser(closed.records, 'metrics@example.com', 'metrics-pass-123')
    const auth = await closed.http.inject({
      method: 'POST',
      url: '/api/collections/_superusers/auth-with-password',
      payload: { identity: 'metrics@example.com', password: 'metrics-pass-123' },
    })
    assert.equal(auth.statusCode, 200, auth.body)
    const { token } = auth.json() as { token: string }
    const res = await closed.http.inject({ url: '/api/metrics', remoteAddress: '203.0.113.9', headers: { authorization: token } })
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.body, /# TYPE plinth_http_requests_total counter/)
  })

  test('an allow-list entry that is not an IP or CIDR is refused', () => {
    assert.throws(() => ipAllowList(['example.com']), /metrics\.allow: "example\.com"/)
    assert.throws(() => ipAllowList(['10.0.0.0/x']), /metrics\.allow/)
  })
})

for (const { engine, skip } of await engines()) {
  describe(`metrics after traffic: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let app: Plinth
    let text: string

    before(async () => {
      testDb = await createTestDb(engine)
      app = await makeApp({ db: testDb.url, metrics: { allow: ['127.0.0.1'] } })
      app.http.get('/api/test/items/:id', async () => ({ ok: true }))
      app.http.get('/api/test/query', async () => {
        await sql`SELECT 1`.execute(app.sql.reader().db)
        return {}
      })
      app.http.get('/api/test/bad-query', async () => {
        await sql`SELECT * FROM no_such_table_metrics`.execute(app.sql.reader().db)
        return {}
      })
      for (const url of ['/api/health', '/api/health', '/api/test/items/a1', '/api/test/items/b2', '/api/nope/123', '/api/test/query', '/api/test/bad-query']) {
        await app.http.inject(url)
      }
      const res = await app.http.inject('/api/metrics')
      assert.equal(res.statusCode, 200)
      text = res.body
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
    })

    test('requests by method, route and status', () => {
      assert.equal(sample(text, 'plinth_http_requests_total', { method: 'GET', route: '/api/health', status: '200' }), 2)
      assert.equal(sample(text, 'plinth_http_requests_total', { method: 'GET', route: '/api/test/query', status: '200' }), 1)
      assert.equal(sample(text, 'plinth_http_requests_total', { method: 'GET', route: '/api/test/bad-query', status: '500' }), 1)
    })

    test('route labels are templates, never raw URLs', () => {
      assert.equal(sample(text, 'plinth_http_requests_total', { route: '/api/test/items/:id', status: '200' }), 2)
      assert.equal(sample(text, 'plinth_http_requests_total', { route: 'unmatched', status: '404' }), 1)
      assert.doesNotMatch(text, /a1|b2|nope\/123/)
    })

    test('latency histogram by route', () => {
      assert.equal(sample(text, 'plinth_http_request_duration_seconds_count', { method: 'GET', route: '/api/health' }), 2)
      assert.equal(sample(text, 'plinth_http_request_duration_seconds_bucket', { route: '/api/health', le: '+Inf' }), 2)
    })

    test('SQL query time by engine and role, failures apart', () => {
      const ok = sample(text, 'plinth_sql_query_duration_seconds_count', { engine, role: 'primary', outcome: 'ok' })
      assert.ok(ok !== undefined && ok >= 1, `ok queries counted: ${ok}`)
      assert.equal(sample(text, 'plinth_sql_query_duration_seconds_count', { engine, role: 'primary', outcome: 'error' }), 1)
    })

    test('SQL pool use by engine and role', () => {
      const total = sample(text, 'plinth_sql_pool_connections', { engine, role: 'primary', state: 'total' })
      assert.ok(total !== undefined && total >= 1, `open connections: ${total}`)
      assert.notEqual(sample(text, 'plinth_sql_pool_connections', { engine, role: 'primary', state: 'idle' }), undefined)
      assert.equal(sample(text, 'plinth_sql_pool_connections', { engine, role: 'primary', state: 'waiting' }), 0)
    })

    test('process memory and event-loop lag', () => {
      assert.ok((sample(text, 'plinth_process_resident_memory_bytes') ?? 0) > 0)
      assert.ok((sample(text, 'plinth_nodejs_heap_size_used_bytes') ?? 0) > 0)
      assert.notEqual(sample(text, 'plinth_nodejs_eventloop_lag_seconds'), undefined)
      assert.notEqual(sample(text, 'plinth_nodejs_eventloop_lag_p99_seconds'), undefined)
    })
  })
}
