/**
 * The verified-token cache (src/auth/auth-cache.ts): a token seen before is not checked against
 * its record again, so what matters is that nothing stale is ever served from it: a changed or
 * deleted record, a changed collection, an expired token, a lookup racing a change, and the same
 * on another node through the bus.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { AuthCache } from '../../src/auth/auth-cache.ts'
import { createLogger } from '../../src/log.ts'
import type { Collection } from '../../src/records/model.ts'
import type { AuthInfo } from '../../src/records/record.ts'
import type { CollectionRegistry } from '../../src/records/registry.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'
import { REDIS_TEST_URL, redisSkip, testPrefix } from '../helpers/redis.ts'

function registryOf(collections: Collection[]): CollectionRegistry & { swap(c: Collection): void } {
  const byId = new Map(collections.map((c) => [c.id, c]))
  return {
    get: (id) => byId.get(id),
    getOrThrow: (id) => byId.get(id)!,
    all: () => [...byId.values()],
    reload: async () => {},
    swap: (c) => void byId.set(c.id, c),
  }
}

describe('AuthCache', () => {
  const users = { id: 'u1', name: 'users', type: 'auth' } as unknown as Collection
  const info = (id: string, collection = users): AuthInfo => ({ collection, record: { id, collectionId: 'u1', collectionName: 'users' }, isSuperuser: false })
  const farExp = 4_000_000_000

  test('serves a stored token until its record is dropped, and only that record\'s tokens go', () => {
    const cache = new AuthCache(registryOf([users]), { ttl: 60_000, maxEntries: 100 })
    cache.put('t-ann-1', info('ann'), farExp, cache.epoch())
    cache.put('t-ann-2', info('ann'), farExp, cache.epoch())
    cache.put('t-bob', info('bob'), farExp, cache.epoch())
    assert.equal(cache.get('t-ann-1')?.record.id, 'ann')
    assert.equal(cache.get('unknown'), undefined)
    cache.drop('u1', 'ann')
    assert.equal(cache.get('t-ann-1'), undefined)
    assert.equal(cache.get('t-ann-2'), undefined)
    assert.equal(cache.get('t-bob')?.record.id, 'bob')
    assert.equal(cache.size, 1)
  })

  test('a lookup that read before a drop does not store what it read', () => {
    const cache = new AuthCache(registryOf([users]), { ttl: 60_000, maxEntries: 100 })
    const epoch = cache.epoch()
    cache.drop('u1', 'ann') // the password changed while the row was being read
    cache.put('t-ann', info('ann'), farExp, epoch)
    assert.equal(cache.get('t-ann'), undefined)
    cache.put('t-ann', info('ann'), farExp, cache.epoch())
    assert.ok(cache.get('t-ann'))
  })

  test('an entry ends with the token\'s exp, with the ttl, and when the collection is reloaded', () => {
    let now = 1_000_000
    const registry = registryOf([users])
    const cache = new AuthCache(registry, { ttl: 5_000, maxEntries: 100, now: () => now })
    cache.put('short', info('ann'), now / 1000 + 2, cache.epoch())
    cache.put('long', info('bob'), farExp, cache.epoch())
    now += 2_000
    assert.equal(cache.get('short'), undefined, 'past exp')
    assert.ok(cache.get('long'))
    now += 3_000
    assert.equal(cache.get('long'), undefined, 'past ttl')
    cache.put('long', info('bob'), farExp, cache.epoch())
    registry.swap({ ...users } as Collection) // a schema change: new objects for every collection
    assert.equal(cache.get('long'), undefined, 'after a reload')
    assert.equal(cache.size, 0)
  })

  test('holds at most maxEntries, dropping the oldest', () => {
    const cache = new AuthCache(registryOf([users]), { ttl: 60_000, maxEntries: 1000 })
    for (let i = 0; i < 50_000; i++) cache.put(`t${i}`, info(`r${i}`), farExp, cache.epoch())
    assert.equal(cache.size, 1000)
    assert.equal(cache.get('t0'), undefined)
    assert.ok(cache.get('t49999'))
  })
})

describe('auth cache in the app: a change is seen by the next request', () => {
  let t: TestApp
  let token: string
  let userId: string
  before(async () => {
    t = await startApp('sqlite')
    await t.must('PATCH', '/api/collections/users', { fields: [...(await usersFields(t)), { name: 'role', type: 'text' }] })
    await t.must('POST', '/api/collections', { name: 'notes', listRule: "@request.auth.role = 'editor'", fields: [{ name: 'text', type: 'text' }] })
    await t.must('POST', '/api/collections/notes/records', { text: 'hello' })
    userId = ((await t.must('POST', '/api/collections/users/records', { email: 'ann@example.com', password: 'ann-password-1', passwordConfirm: 'ann-password-1', role: 'editor' })) as { id: string }).id
    token = await t.login('users', 'ann@example.com', 'ann-password-1')
  })
  after(() => t?.close())

  const notes = () => t.call('GET', '/api/collections/notes/records', { token })

  test('a rule reading the auth record sees its new value', async () => {
    assert.equal((await notes()).json<{ items: unknown[] }>().items.length, 1)
    await t.must('PATCH', `/api/collections/users/records/${userId}`, { role: 'reader' })
    assert.equal((await notes()).json<{ items: unknown[] }>().items.length, 0)
    await t.must('PATCH', `/api/collections/users/records/${userId}`, { role: 'editor' })
    assert.equal((await notes()).json<{ items: unknown[] }>().items.length, 1)
  })

  test('a changed rule applies to the next request with the same token', async () => {
    assert.equal((await notes()).json<{ items: unknown[] }>().items.length, 1)
    await t.must('PATCH', '/api/collections/notes', { listRule: "@request.auth.role = 'reader'" })
    assert.equal((await notes()).json<{ items: unknown[] }>().items.length, 0)
    await t.must('PATCH', '/api/collections/notes', { listRule: "@request.auth.role = 'editor'" })
    assert.equal((await notes()).json<{ items: unknown[] }>().items.length, 1)
  })

  test('a rotated token secret refuses the tokens signed with the old one', async () => {
    assert.equal((await t.call('POST', '/api/collections/users/auth-refresh', { token })).statusCode, 200)
    await t.must('PATCH', '/api/collections/users', { authToken: { secret: 'a-brand-new-secret-that-is-long-enough-1234' } })
    assert.equal((await t.call('POST', '/api/collections/users/auth-refresh', { token })).statusCode, 401)
    token = await t.login('users', 'ann@example.com', 'ann-password-1')
  })

  test('a deleted record\'s token stops working', async () => {
    assert.equal((await t.call('POST', '/api/collections/users/auth-refresh', { token })).statusCode, 200)
    await t.must('DELETE', `/api/collections/users/records/${userId}`)
    assert.equal((await t.call('POST', '/api/collections/users/auth-refresh', { token })).statusCode, 401)
  })
})

async function usersFields(t: TestApp): Promise<unknown[]> {
  return ((await t.must('GET', '/api/collections/users')) as { fields: unknown[] }).fields
}

const pg = (await engines(['postgres']))[0]!
const noRedis = await redisSkip()

describe('auth cache across two nodes on PostgreSQL and Redis', { skip: pg.skip || noRedis }, () => {
  const nodes: Plinth[] = []
  const dirs: string[] = []
  let a: TestApp
  before(async () => {
    a = await startApp('postgres')
    const redis = `${REDIS_TEST_URL}?prefix=${encodeURIComponent(testPrefix())}`
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'plinth-authcache-'))
      dirs.push(dir)
      nodes.push(await createPlinth({ config: { cwd: dir, env: {}, overrides: { db: a.app.config.db, dir, redis, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) }))
    }
  })
  after(async () => {
    for (const n of nodes) await n.stop()
    await a?.close()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test('a password changed on one node ends the old token on the other', async () => {
    const [one, two] = nodes as [Plinth, Plinth]
    const call = (n: Plinth, method: 'GET' | 'POST' | 'PATCH', url: string, token: string, payload?: object) =>
      n.http.inject({ method, url, headers: { authorization: token }, ...(payload ? { payload } : {}) })
    const user = (await a.must('POST', '/api/collections/users/records', { email: 'bo@example.com', password: 'bo-password-1', passwordConfirm: 'bo-password-1' })) as { id: string }
    const login = await one.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'bo@example.com', password: 'bo-password-1' } })
    const token = login.json<{ token: string }>().token
    // Both nodes have now verified (and cached) the token.
    for (const n of nodes) assert.equal((await call(n, 'POST', '/api/collections/users/auth-refresh', token)).statusCode, 200)
    const change = await call(one, 'PATCH', `/api/collections/users/records/${user.id}`, token, { oldPassword: 'bo-password-1', password: 'bo-password-2', passwordConfirm: 'bo-password-2' })
    assert.equal(change.statusCode, 200, change.body)
    assert.equal((await call(one, 'POST', '/api/collections/users/auth-refresh', token)).statusCode, 401)
    // The other node hears of it through the bus: at most once, asynchronously, so poll (bounded).
    const end = Date.now() + 10_000
    let status = 200
    while (status === 200 && Date.now() < end) {
      status = (await call(two, 'POST', '/api/collections/users/auth-refresh', token)).statusCode
      if (status === 200) await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal(status, 401, 'node two still accepts the token signed with the old tokenKey')
  })
})
