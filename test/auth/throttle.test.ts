/**
 * Brute-force limits on password checks, through app.inject() on every SQL engine: per identity,
 * per client address (request.ip, which honours trustProxy), PocketBase's 429 body with
 * Retry-After, no oracle while locked, and the window lifting on an injected clock.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { createPlinth } from '../../src/app.ts'
import { recordAuthRoutes } from '../../src/api/record-auth.ts'
import { installErrorHandling } from '../../src/api/error-handler.ts'
import { installJsonBodyParser } from '../../src/api/json-body.ts'
import { createAuthenticator } from '../../src/auth/index.ts'
import { AuthThrottle, DEFAULT_AUTH_THROTTLE, ipBucket, type AuthThrottleLimits } from '../../src/auth/throttle.ts'
import { signRecordToken } from '../../src/auth/tokens.ts'
import { rowString } from '../../src/auth/records.ts'
import { defaults } from '../../src/config/schema.ts'
import { MemoryCounters } from '../../src/counters/memory.ts'
import { createLogger } from '../../src/log.ts'
import { engines } from '../helpers/engines.ts'
import { insertAuthRecord, startHarness, type Harness } from './harness.ts'
import { decorateClientIp } from '../../src/api/client-ip.ts'

type Json = Record<string, unknown>
const TOO_MANY = { status: 429, message: 'Too Many Requests.', data: {} }

interface Throttled {
  http: FastifyInstance
  advance(ms: number): void
}

/** The auth routes over the harness's database, with their own counters on a movable clock. */
async function throttledApp(h: Harness, limits: AuthThrottleLimits): Promise<Throttled> {
  let now = 1_700_000_000_000
  const http = Fastify({ loggerInstance: createLogger({ logLevel: 'silent' }) as FastifyBaseLogger, trustProxy: true })
  decorateClientIp(http, { trustProxy: true, trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false } })
  installErrorHandling(http)
  installJsonBodyParser(http)
  const authenticate = createAuthenticator({ registry: h.registry, db: () => h.engine.db })
  http.decorateRequest('auth', null)
  http.addHook('onRequest', async (request) => {
    request.auth = await authenticate(request)
  })
  const counters = new MemoryCounters({ now: () => now })
  await http.register(recordAuthRoutes, {
    registry: h.registry, records: h.records, db: () => h.engine, mail: h.mail, authenticate, appUrl: 'https://app.example.com',
    counters, throttle: new AuthThrottle(counters, limits),
  })
  await http.ready()
  return { http, advance: (ms) => void (now += ms) }
}

for (const { engine, skip } of await engines()) {
  describe(`auth throttle: ${engine}`, { skip }, () => {
    let h: Harness
    const apps: FastifyInstance[] = []

    const make = async (limits: AuthThrottleLimits) => {
      const t = await throttledApp(h, limits)
      apps.push(t.http)
      return t
    }
    const login = (t: Throttled, identity: string, password: string, ip = '203.0.113.1', collection = 'users') =>
      t.http.inject({
        method: 'POST', url: `/api/collections/${collection}/auth-with-password`,
        payload: { identity, password }, headers: { 'x-forwarded-for': ip },
      })
    const assertLocked = (res: Awaited<ReturnType<typeof login>>, retryAfter: number) => {
      assert.equal(res.statusCode, 429, res.body)
      assert.deepEqual(res.json(), TOO_MANY)
      assert.equal(res.headers['retry-after'], String(retryAfter))
      assert.equal(res.headers['x-plinth-error'], 'too_many_requests')
    }

    before(async () => {
      h = await startHarness(engine)
      for (const name of ['alice', 'bob', 'carol', 'dave']) {
        await insertAuthRecord(h, h.users, { email: `${name}@example.com`, password: `${name}-password-1` })
      }
      await insertAuthRecord(h, h.superusers, { email: 'root@example.com', password: 'root-password-1', verified: true })
    })
    after(async () => {
      for (const a of apps) await a.close()
      await h?.close()
    })

    test('the (N+1)th wrong password is 429 with Retry-After; the right one is refused too; the window lifts it', async () => {
      const t = await make({ perIdentity: 3, perIp: 100, windowSeconds: 60 })
      for (let i = 0; i < 3; i++) assert.equal((await login(t, 'alice@example.com', `wrong-${i}`)).statusCode, 400)
      assertLocked(await login(t, 'alice@example.com', 'wrong-4'), 60)
      // No oracle: the right password gets the same answer while locked, from anywhere, in any case.
      assertLocked(await login(t, 'alice@example.com', 'alice-password-1', '198.51.100.9'), 60)
      assertLocked(await login(t, 'ALICE@Example.com', 'alice-password-1'), 60)
      // Another identity from another address still works.
      assert.equal((await login(t, 'bob@example.com', 'bob-password-1', '198.51.100.7')).statusCode, 200)
      t.advance(20_000)
      assertLocked(await login(t, 'alice@example.com', 'alice-password-1'), 40)
      t.advance(40_000)
      const res = await login(t, 'alice@example.com', 'alice-password-1')
      assert.equal(res.statusCode, 200, res.body)
      assert.equal((res.json() as { record: Json }).record.email, 'alice@example.com')
    })

    test('per address: many identities from one address are stopped, other addresses are not', async () => {
      const t = await make({ perIdentity: 100, perIp: 3, windowSeconds: 900 })
      for (const who of ['alice', 'bob', 'dave']) assert.equal((await login(t, `${who}@example.com`, 'password123', '192.0.2.50')).statusCode, 400)
      assertLocked(await login(t, 'carol@example.com', 'carol-password-1', '192.0.2.50'), 900)
      assert.equal((await login(t, 'carol@example.com', 'carol-password-1', '192.0.2.51')).statusCode, 200)
    })

    test('IPv6 addresses are counted per /64', async () => {
      const t = await make({ perIdentity: 100, perIp: 2, windowSeconds: 900 })
      assert.equal((await login(t, 'alice@example.com', 'x-wrong-1', '2001:db8:1:2::1')).statusCode, 400)
      assert.equal((await login(t, 'bob@example.com', 'x-wrong-2', '2001:db8:1:2:ffff::9')).statusCode, 400)
      assertLocked(await login(t, 'carol@example.com', 'carol-password-1', '2001:db8:1:2::abcd'), 900)
      assert.equal((await login(t, 'carol@example.com', 'carol-password-1', '2001:db8:1:3::1')).statusCode, 200)
    })

    test('a success forgets the identity failures but not the address failures', async () => {
      const t = await make({ perIdentity: 3, perIp: 4, windowSeconds: 900 })
      const ip = '192.0.2.77'
      for (let i = 0; i < 2; i++) assert.equal((await login(t, 'dave@example.com', `no-${i}`, ip)).statusCode, 400)
      assert.equal((await login(t, 'dave@example.com', 'dave-password-1', ip)).statusCode, 200)
      // The identity starts afresh: two more failures are plain 400s (a third would have been 429 otherwise).
      for (let i = 0; i < 2; i++) assert.equal((await login(t, 'dave@example.com', `again-${i}`, ip)).statusCode, 400)
      // The address kept its 4 failures (the success gave back only its own slot): the next is refused.
      assertLocked(await login(t, 'bob@example.com', 'bob-password-1', ip), 900)
    })

    test('a burst of concurrent guesses cannot pass the limit before the first failure is counted', async () => {
      const t = await make({ perIdentity: 3, perIp: 100, windowSeconds: 900 })
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => login(t, 'bob@example.com', `burst-${i}`)))
      const codes = results.map((r) => r.statusCode).sort()
      assert.deepEqual(codes, [400, 400, 400, ...Array<number>(9).fill(429)])
    })

    test('_superusers are throttled the same way', async () => {
      const t = await make({ perIdentity: 2, perIp: 100, windowSeconds: 300 })
      for (let i = 0; i < 2; i++) assert.equal((await login(t, 'root@example.com', `bad-${i}`, undefined, '_superusers')).statusCode, 400)
      assertLocked(await login(t, 'root@example.com', 'root-password-1', undefined, '_superusers'), 300)
    })

    test('confirm-email-change: the password check is throttled per account', async () => {
      const t = await make({ perIdentity: 2, perIp: 100, windowSeconds: 120 })
      const row = await h.engine.db.selectFrom('users').selectAll().where('email', '=', 'carol@example.com').executeTakeFirstOrThrow()
      const token = await signRecordToken(
        h.users,
        { id: rowString(row, 'id'), tokenKey: rowString(row, 'tokenKey'), email: 'carol@example.com' },
        'emailChange',
        { newEmail: 'carol2@example.com' },
      )
      const confirm = (password: string) =>
        t.http.inject({ method: 'POST', url: '/api/collections/users/confirm-email-change', payload: { token, password }, headers: { 'x-forwarded-for': '203.0.113.90' } })
      for (let i = 0; i < 2; i++) {
        const res = await confirm(`guess-${i}`)
        assert.equal(res.statusCode, 400)
        assert.equal(((res.json() as { data: Record<string, { code: string }> }).data.password)?.code, 'validation_invalid_password')
      }
      assertLocked(await confirm('carol-password-1'), 120)
      // The same account's logins share the budget.
      assertLocked(await login(t, 'carol@example.com', 'carol-password-1', '198.51.100.200'), 120)
    })
  })
}

describe('auth throttle: on by default in the app, configured by authThrottle', () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const app = async (overrides: Json = {}) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-throttle-'))
    dirs.push(dir)
    const a = await createPlinth({ config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent', ...overrides } }, logger: createLogger({ logLevel: 'silent' }) })
    await a.collections.create({ name: 'members', type: 'auth', createRule: '', updateRule: 'id = @request.auth.id' })
    const created = await a.http.inject({
      method: 'POST', url: '/api/collections/members/records',
      payload: { email: 'm@example.com', password: 'member-pass-1', passwordConfirm: 'member-pass-1' },
    })
    assert.equal(created.statusCode, 200, created.body)
    return a
  }
  const login = (a: Awaited<ReturnType<typeof app>>, password: string) =>
    a.http.inject({ method: 'POST', url: '/api/collections/members/auth-with-password', payload: { identity: 'm@example.com', password } })

  test('defaults: 5 failures per identity per 15 minutes', async () => {
    assert.deepEqual(defaults('/x').authThrottle, DEFAULT_AUTH_THROTTLE)
    const a = await app()
    try {
      for (let i = 0; i < 5; i++) assert.equal((await login(a, `wrong-${i}`)).statusCode, 400)
      const res = await login(a, 'member-pass-1')
      assert.equal(res.statusCode, 429)
      // The app runs on the real clock: the window began a moment ago.
      const retryAfter = Number(res.headers['retry-after'])
      assert.ok(retryAfter > 800 && retryAfter <= 900, String(retryAfter))
    } finally {
      await a.stop()
    }
  })

  test('a password change checks oldPassword under the same limits; a caller the rule refuses gets no check at all', async () => {
    const a = await app({ authThrottle: { perIdentity: 2, perIp: 50, windowSeconds: 60 } })
    try {
      const auth = (await login(a, 'member-pass-1')).json() as { token: string; record: { id: string } }
      const change = (oldPassword: string, token?: string) =>
        a.http.inject({
          method: 'PATCH', url: `/api/collections/members/records/${auth.record.id}`,
          headers: token ? { authorization: token } : {},
          payload: { oldPassword, password: 'member-pass-2', passwordConfirm: 'member-pass-2' },
        })
      // A guest cannot pass the update rule: 404, and no attempt is counted against the account.
      for (let i = 0; i < 3; i++) assert.equal((await change(`guest-guess-${i}`)).statusCode, 404)
      for (let i = 0; i < 2; i++) {
        const res = await change(`wrong-${i}`, auth.token)
        assert.equal(res.statusCode, 400, res.body)
        assert.match(res.body, /validation_invalid_old_password/)
      }
      // Over the limit: 429 with Retry-After, even with the right old password, and sign-in is locked too.
      const locked = await change('member-pass-1', auth.token)
      assert.equal(locked.statusCode, 429, locked.body)
      assert.ok(Number(locked.headers['retry-after']) > 0)
      assert.equal((await login(a, 'member-pass-1')).statusCode, 429)
    } finally {
      await a.stop()
    }
  })

  test('authThrottle in the config sets the limits', async () => {
    const a = await app({ authThrottle: { perIdentity: 1, perIp: 50, windowSeconds: 30 } })
    try {
      assert.equal((await login(a, 'wrong')).statusCode, 400)
      const res = await login(a, 'member-pass-1')
      assert.equal(res.statusCode, 429)
      const retryAfter = Number(res.headers['retry-after'])
      assert.ok(retryAfter > 0 && retryAfter <= 30, String(retryAfter))
    } finally {
      await a.stop()
    }
  })
})

describe('auth throttle: address buckets', () => {
  test('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    assert.equal(ipBucket('192.0.2.1'), '192.0.2.1')
    assert.equal(ipBucket('::ffff:192.0.2.1'), '192.0.2.1')
    assert.equal(ipBucket('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
    assert.equal(ipBucket('2001:DB8:0001:0002::9'), '2001:db8:1:2::/64')
    assert.equal(ipBucket('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(ipBucket('::1'), '0:0:0:0::/64')
    assert.equal(ipBucket('fe80::1%eth0'), 'fe80:0:0:0::/64')
    assert.equal(ipBucket('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64')
  })
})
