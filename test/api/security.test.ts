/**
 * Rate limits, the client address behind proxies, security headers, the admin allow-list and the
 * audit log, through `app.http.inject()` on SQLite (their logic is the same on every engine; the
 * counters shared between nodes are tested in test/e2e/security.test.ts).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { clientIpResolver } from '../../src/api/client-ip.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { loadConfig } from '../../src/config/load.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createLogger } from '../../src/log.ts'

const apps: { app: Plinth; dir: string }[] = []
after(async () => {
  for (const { app, dir } of apps) {
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

async function start(overrides: Record<string, unknown> = {}): Promise<Plinth> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-sec-'))
  const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent', ...overrides } as ConfigInput }, logger: createLogger({ logLevel: 'silent' }) })
  apps.push({ app, dir })
  await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  return app
}

type Inject = { method?: string; url: string; token?: string; body?: unknown; ip?: string; headers?: Record<string, string> }
const call = (app: Plinth, o: Inject) =>
  app.http.inject({
    method: (o.method ?? 'GET') as 'GET',
    url: o.url,
    remoteAddress: o.ip,
    headers: { ...(o.token ? { authorization: o.token } : {}), ...o.headers },
    ...(o.body === undefined ? {} : { payload: o.body as object }),
  })

async function login(app: Plinth, collection: string, identity: string, password: string, ip?: string): Promise<string> {
  const res = await call(app, { method: 'POST', url: `/api/collections/${collection}/auth-with-password`, body: { identity, password }, ip })
  assert.equal(res.statusCode, 200, res.body)
  return res.json<{ token: string }>().token
}

async function withPosts(app: Plinth): Promise<string> {
  const su = await login(app, '_superusers', 'root@example.com', 'root-password-1')
  const res = await call(app, {
    method: 'POST', url: '/api/collections', token: su,
    body: { name: 'posts', type: 'base', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'title', type: 'text' }] },
  })
  assert.equal(res.statusCode, 200, res.body)
  return su
}

describe('rate limits', () => {
  test('default rules are on: the 11th sign-in from one address in 10 s gets 429 with Retry-After', async () => {
    const app = await start()
    const statuses: number[] = []
    let retry = ''
    for (let i = 0; i < 11; i++) {
      const res = await call(app, { method: 'POST', url: '/api/collections/users/auth-with-password', body: { identity: `nobody${i}@example.com`, password: 'wrong-password' }, ip: '198.51.100.7' })
      statuses.push(res.statusCode)
      retry = String(res.headers['retry-after'] ?? '')
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(400), 429])
    assert.ok(Number(retry) >= 1 && Number(retry) <= 10, `Retry-After ${retry}`)
    // Another address has its own budget.
    const other = await call(app, { method: 'POST', url: '/api/collections/users/auth-with-password', body: { identity: 'x@example.com', password: 'wrong-password' }, ip: '198.51.100.8' })
    assert.equal(other.statusCode, 400)
  })

  test('a path prefix rule, a METHOD rule and a collection:action rule each pick their requests', async () => {
    const app = await start({
      rateLimits: {
        rules: [
          { label: 'posts:view', maxRequests: 2, duration: 60 },
          { label: 'POST /api/collections/posts/records', maxRequests: 1, duration: 60 },
          { label: '/api/', maxRequests: 5, duration: 120 },
        ],
      },
    })
    await withPosts(app)
    const ip = '203.0.113.5'
    assert.equal((await call(app, { method: 'POST', url: '/api/collections/posts/records', body: { title: 'a' }, ip })).statusCode, 200)
    const second = await call(app, { method: 'POST', url: '/api/collections/posts/records', body: { title: 'b' }, ip })
    assert.equal(second.statusCode, 429)
    assert.equal(second.json<{ status: number }>().status, 429)
    const list = await call(app, { url: '/api/collections/posts/records', ip })
    const id = list.json<{ items: { id: string }[] }>().items[0]!.id
    const views = []
    for (let i = 0; i < 3; i++) views.push((await call(app, { url: `/api/collections/posts/records/${id}`, ip })).statusCode)
    assert.deepEqual(views, [200, 200, 429])
    const retry = Number((await call(app, { url: `/api/collections/posts/records/${id}`, ip })).headers['retry-after'])
    assert.ok(retry > 10 && retry <= 60, `Retry-After ${retry} is the posts:view window, not another`)
  })

  test('a forwarded header from an untrusted peer does not reset the limit', async () => {
    const app = await start({ rateLimits: { rules: [{ label: '/api/', maxRequests: 3, duration: 60 }] } })
    const codes = []
    for (let i = 0; i < 5; i++) codes.push((await call(app, { url: '/api/collections/users/auth-methods', ip: '192.0.2.1', headers: { 'x-forwarded-for': `10.1.1.${i}` } })).statusCode)
    assert.deepEqual(codes, [200, 200, 200, 429, 429])
  })

  test('signed-in users are counted each on their own; superusers not at all', async () => {
    const app = await start({ rateLimits: { rules: [{ label: '/api/', maxRequests: 2, duration: 60 }] } })
    const su = await login(app, '_superusers', 'root@example.com', 'root-password-1')
    for (const email of ['a@example.com', 'b@example.com']) {
      const res = await call(app, { method: 'POST', url: '/api/collections/users/records', token: su, body: { email, password: 'password-123', passwordConfirm: 'password-123' } })
      assert.equal(res.statusCode, 200, res.body)
    }
    const a = await login(app, 'users', 'a@example.com', 'password-123', '192.0.2.50')
    const b = await login(app, 'users', 'b@example.com', 'password-123', '192.0.2.50')
    const codes = async (token: string) => [0, 1, 2].map(async () => (await call(app, { url: '/api/collections/users/auth-methods', token, ip: '192.0.2.50' })).statusCode)
    const ca = await Promise.all(await codes(a))
    const cb = await Promise.all(await codes(b))
    assert.deepEqual([ca.sort(), cb.sort()], [[200, 200, 429], [200, 200, 429]])
    for (let i = 0; i < 5; i++) assert.equal((await call(app, { url: '/api/collections', token: su, ip: '192.0.2.50' })).statusCode, 200)
  })

  test('each request inside a batch counts, and a batch over the limit runs nothing', async () => {
    const app = await start({ rateLimits: { rules: [{ label: '*:create', maxRequests: 3, duration: 60 }, { label: '/api/', maxRequests: 1000, duration: 60 }] } })
    const su = await withPosts(app)
    await call(app, { method: 'PATCH', url: '/api/collections/posts', token: su, body: { createRule: '' } })
    const batch = (n: number) => call(app, { method: 'POST', url: '/api/batch', ip: '192.0.2.9', body: { requests: Array.from({ length: n }, (_, i) => ({ method: 'POST', url: '/api/collections/posts/records', body: { title: `t${i}` } })) } })
    assert.equal((await batch(2)).statusCode, 200)
    const over = await batch(2)
    assert.equal(over.statusCode, 429, over.body)
    assert.ok(Number(over.headers['retry-after']) >= 1)
    const list = await call(app, { url: '/api/collections/posts/records', token: su })
    assert.equal(list.json<{ totalItems: number }>().totalItems, 2)
  })

  test('off: nothing is counted', async () => {
    const app = await start({ rateLimits: { enabled: false } })
    for (let i = 0; i < 15; i++) assert.notEqual((await call(app, { method: 'POST', url: '/api/collections/users/auth-with-password', body: { identity: `n${i}@example.com`, password: 'wrong-password' }, ip: '198.51.100.70' })).statusCode, 429)
  })
})

describe('the client address', () => {
  const resolve = (trustProxy: boolean | string, headers: string[], useLeftmostIP: boolean) => clientIpResolver({ trustProxy, trustedProxy: { headers, useLeftmostIP } })
  const req = (peer: string, headers: Record<string, string>) => ({ socket: { remoteAddress: peer }, headers })

  test('from a trusted proxy: the rightmost address that is not a proxy, or the leftmost when asked', () => {
    const xff = { 'x-forwarded-for': '6.6.6.6, 1.2.3.4, 10.0.0.2' }
    assert.equal(resolve('10.0.0.0/8', ['X-Forwarded-For'], false)(req('10.0.0.1', xff)), '1.2.3.4')
    assert.equal(resolve('10.0.0.0/8', ['X-Forwarded-For'], true)(req('10.0.0.1', xff)), '6.6.6.6')
    assert.equal(resolve(true, ['X-Forwarded-For'], false)(req('10.0.0.1', xff)), '10.0.0.2')
    assert.equal(resolve('10.0.0.0/8', ['X-Real-IP', 'X-Forwarded-For'], false)(req('::ffff:10.0.0.1', { 'x-real-ip': '5.5.5.5', ...xff })), '5.5.5.5')
    assert.equal(resolve('10.0.0.0/8', ['X-Real-IP', 'X-Forwarded-For'], false)(req('10.0.0.1', { 'x-real-ip': 'garbage', ...xff })), '1.2.3.4')
  })

  test('from any other peer, or with no trusted proxy, the peer itself', () => {
    const xff = { 'x-forwarded-for': '6.6.6.6' }
    assert.equal(resolve('10.0.0.0/8', ['X-Forwarded-For'], true)(req('192.0.2.1', xff)), '192.0.2.1')
    assert.equal(resolve(false, ['X-Forwarded-For'], true)(req('::ffff:192.0.2.1', xff)), '192.0.2.1')
  })
})

describe('headers, the admin allow-list and the audit log', () => {
  let app: Plinth
  let su: string
  before(async () => {
    app = await start({ adminAllow: ['127.0.0.1', '10.0.0.0/8'], trustProxy: '127.0.0.1', rateLimits: { enabled: false } })
    su = await withPosts(app)
  })

  test('security headers are sent; HSTS only over TLS or an https publicUrl', async () => {
    const res = await call(app, { url: '/api/health' })
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
    assert.ok(res.headers['referrer-policy'])
    assert.equal(res.headers['strict-transport-security'], undefined)
    const behind = await start({ publicUrl: 'https://api.example.com' })
    assert.match(String((await call(behind, { url: '/api/health' })).headers['strict-transport-security']), /max-age=15552000/)
  })

  test('superuser routes refuse an address off the list with 403; public routes do not', async () => {
    const outside = { 'x-forwarded-for': '203.0.113.77' }
    assert.equal((await call(app, { url: '/api/collections', token: su })).statusCode, 200)
    assert.equal((await call(app, { url: '/api/collections', token: su, headers: outside })).statusCode, 403)
    assert.equal((await call(app, { url: '/api/collections/posts', token: su, headers: { 'x-forwarded-for': '10.2.3.4' } })).statusCode, 200)
    assert.equal((await call(app, { url: '/api/collections/posts/records', token: su, headers: outside })).statusCode, 403, 'a superuser token from outside')
    assert.equal((await call(app, { method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers: outside, body: { identity: 'root@example.com', password: 'root-password-1' } })).statusCode, 403)
    assert.equal((await call(app, { url: '/api/collections/posts/records', headers: outside })).statusCode, 200)
    assert.equal((await call(app, { url: '/api/health', headers: outside })).statusCode, 200)
  })

  test('the audit log holds superuser changes and failed superuser sign-ins, for superusers only', async () => {
    assert.equal((await call(app, { method: 'PATCH', url: '/api/collections/posts', token: su, body: { listRule: null } })).statusCode, 200)
    const bad = await call(app, { method: 'POST', url: '/api/collections/_superusers/auth-with-password', headers: { 'x-forwarded-for': '10.9.9.9' }, body: { identity: 'root@example.com', password: 'wrong' } })
    assert.equal(bad.statusCode, 400)
    type Entry = { action: string; actor: string; ip: string; method: string; path: string; status: number; created: number }
    let items: Entry[] = []
    for (let i = 0; i < 100 && !items.some((e) => e.action === 'superuser.login_failed'); i++) {
      await new Promise((r) => setTimeout(r, 20)) // entries are written after the answer
      items = (await call(app, { url: '/api/plinth/audit', token: su })).json<{ items: Entry[] }>().items
    }
    const change = items.find((e) => e.action === 'superuser.request' && e.method === 'PATCH')
    assert.ok(change, JSON.stringify(items))
    assert.equal(change.path, '/api/collections/posts')
    assert.match(change.actor, /^_superusers:/)
    assert.equal(change.ip, '127.0.0.1')
    assert.ok(Math.abs(change.created - Date.now()) < 60_000)
    const failed = items.find((e) => e.action === 'superuser.login_failed')!
    assert.deepEqual([failed.ip, failed.status, failed.actor], ['10.9.9.9', 400, ''])
    assert.equal((await call(app, { url: '/api/plinth/audit' })).statusCode, 401)
    assert.equal((await call(app, { url: '/api/plinth/audit?perPage=100000', token: su })).statusCode, 400)
  })

  test('entries older than audit.retentionDays are deleted by the __plinthAuditCleanup__ cron', async () => {
    const db = app.sql.writer().db
    const row = (id: string, daysAgo: number) => ({ id, created: Date.now() - daysAgo * 86_400_000, action: 'test.old', actor: '', ip: '127.0.0.1', method: 'GET', path: '/', status: 200, data: '{}' })
    await db.insertInto('_audit').values([row('old-entry', 91), row('kept-entry', 89)]).execute()
    assert.ok(await app.jobs.runCron('__plinthAuditCleanup__'))
    const left = (await db.selectFrom('_audit').select('id').where('action', '=', 'test.old').execute()) as { id: string }[]
    assert.deepEqual(left.map((r) => r.id), ['kept-entry'])
  })
})

describe('operator mistakes in the new settings', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a bad label', { rateLimits: { rules: [{ label: 'GET api', maxRequests: 1, duration: 1 }] } }, /rateLimits\.rules\.0\.label/],
    ['a duplicate rule', { rateLimits: { rules: [{ label: '/api/', maxRequests: 1, duration: 1 }, { label: '/api/', maxRequests: 2, duration: 1 }] } }, /rateLimits\.rules\.1: "\/api\/" is already a rule/],
    ['an unknown audience', { rateLimits: { rules: [{ label: '/api/', maxRequests: 1, duration: 1, audience: 'guest' as '@guest' }] } }, /rateLimits\.rules\.0\.audience/],
    ['an excluded IP that is not one', { rateLimits: { excludedIPs: ['10.0.0.0/99'] } }, /rateLimits\.excludedIPs: "10\.0\.0\.0\/99"/],
    ['an admin allow-list entry that is not an IP', { adminAllow: ['office'] }, /adminAllow: "office"/],
    ['a trusted proxy that is not an IP', { trustProxy: 'proxy.local' }, /trustProxy: "proxy\.local"/],
    ['https without a key', { https: 'cert.pem' }, /https: expected "dev" or CERT_FILE,KEY_FILE/],
    ['a bad header name', { trustedProxy: { headers: ['X Forwarded'] } }, /trustedProxy\.headers\.0/],
    ['a retention of 0 days', { audit: { retentionDays: 0 } }, /audit\.retentionDays/],
  ]
  for (const [what, overrides, message] of cases) {
    test(what, () => {
      assert.throws(() => loadConfig({ cwd: tmpdir(), env: {}, overrides: overrides as ConfigInput }), (err: Error) => err.name === 'ConfigError' && message.test(err.message) && !err.message.includes('\n'))
    })
  }
  test('environment variables', () => {
    assert.throws(() => loadConfig({ cwd: tmpdir(), env: { PLINTH_RATE_LIMITS_ENABLED: 'maybe' } }), /PLINTH_RATE_LIMITS_ENABLED: expected true or false/)
    assert.throws(() => loadConfig({ cwd: tmpdir(), env: { PLINTH_ADMIN_ALLOW: '1.2.3.4,nope' } }), /PLINTH_ADMIN_ALLOW: "nope" is not an IP or CIDR/)
    const c = loadConfig({ cwd: tmpdir(), env: { PLINTH_TRUSTED_PROXY_HEADERS: 'X-Real-IP, X-Forwarded-For', PLINTH_TRUSTED_PROXY_USE_LEFTMOST_IP: 'true', PLINTH_RATE_LIMITS_ENABLED: 'false' } })
    assert.deepEqual([c.trustedProxy, c.rateLimits.enabled], [{ headers: ['X-Real-IP', 'X-Forwarded-For'], useLeftmostIP: true }, false])
  })
})
