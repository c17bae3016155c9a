/**
 * The cache port's contract: every engine runs the same suite through a factory.
 *
 * Time is the caller's, as in the counters suite: the memory engine takes an injected clock, and
 * the Redis engine's `advance(ms)` shortens every key's PTTL by `ms` (deleting those it ends), the
 * same thing seen from the client. Real TTLs on Redis are checked by reading PTTL, never by sleeping.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { Cache } from '../../src/cache/cache.ts'
import { MemoryCache } from '../../src/cache/memory.ts'
import { redisCache } from '../../src/cache/redis.ts'
import { adminRedis, advanceKeys, captureLog, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort } from '../helpers/redis.ts'

interface CacheUnderTest {
  cache: Cache
  advance(ms: number): Promise<void>
  close(): Promise<void>
}

interface CacheEngine {
  name: string
  make: () => Promise<CacheUnderTest>
  skip?: string | false
}

async function redisUnderTest(): Promise<CacheUnderTest> {
  const prefix = testPrefix()
  const cache = await redisCache({ url: REDIS_TEST_URL, log: captureLog(), prefix })
  const admin = await adminRedis()
  return {
    cache,
    advance: (ms) => advanceKeys(admin, prefix, ms),
    async close() {
      await deleteKeys(admin, prefix)
      await admin.quit()
      await cache.close()
    },
  }
}

const redisSkipReason = await redisSkip()

const engines: CacheEngine[] = [
  {
    name: 'memory',
    make: async () => {
      let now = 1_700_000_000_000
      const cache = new MemoryCache({ now: () => now })
      return { cache, advance: async (ms) => void (now += ms), close: () => cache.close() }
    },
  },
  { name: 'redis', make: redisUnderTest, skip: redisSkipReason },
]

function cacheContract({ name, make, skip }: CacheEngine): void {
  describe(`cache port: ${name}`, { skip }, () => {
    let t: CacheUnderTest
    let c: Cache

    beforeEach(async () => {
      t = await make()
      c = t.cache
    })
    afterEach(async () => t?.close())

    test('a missing key is undefined', async () => {
      assert.equal(await c.get('missing'), undefined)
    })

    test('a string comes back as its UTF-8 bytes; a Buffer comes back byte for byte', async () => {
      await c.set('s', 'héllo ✓', 60_000)
      assert.equal((await c.get('s'))?.toString(), 'héllo ✓')
      const bytes = Buffer.from([0, 255, 1, 254, 0, 10, 13])
      await c.set('b', bytes, 60_000)
      assert.deepEqual(await c.get('b'), bytes)
      await c.set('empty', '', 60_000)
      assert.deepEqual(await c.get('empty'), Buffer.alloc(0))
    })

    test('a value lives for its TTL and is gone after it', async () => {
      await c.set('k', 'v', 60_000)
      await t.advance(30_000)
      assert.equal((await c.get('k'))?.toString(), 'v')
      await t.advance(30_000)
      assert.equal(await c.get('k'), undefined)
    })

    test('set replaces the value and its TTL', async () => {
      await c.set('k', 'old', 1_000)
      await c.set('k', 'new', 60_000)
      await t.advance(30_000)
      assert.equal((await c.get('k'))?.toString(), 'new')
    })

    test('delete removes a key; deleting a missing key is no error', async () => {
      await c.set('k', 'v', 60_000)
      await c.delete('k')
      assert.equal(await c.get('k'), undefined)
      await c.delete('never-set')
    })

    test('values are copies: changing a buffer given or returned changes nothing in the cache', async () => {
      const given = Buffer.from('abc')
      await c.set('k', given, 60_000)
      given[0] = 0x7a
      const got = (await c.get('k'))!
      got[1] = 0x7a
      assert.equal((await c.get('k'))?.toString(), 'abc')
    })
  })
}

for (const engine of engines) cacheContract(engine)

describe('cache: redis engine', { skip: redisSkipReason }, () => {
  test('keys are prefixed and expire in Redis itself (PTTL), so every node shares them', async () => {
    const prefix = testPrefix()
    const [a, b] = await Promise.all([1, 2].map(() => redisCache({ url: REDIS_TEST_URL, log: captureLog(), prefix })))
    const admin = await adminRedis()
    try {
      await a!.set('k', 'v', 1_500)
      const pttl = await admin.pttl(`${prefix}k`)
      assert.ok(pttl > 0 && pttl <= 1_500, String(pttl))
      assert.equal((await b!.get('k'))?.toString(), 'v')
      await b!.delete('k') // an invalidation on one node is seen by the other
      assert.equal(await a!.get('k'), undefined)
    } finally {
      await deleteKeys(admin, prefix)
      await admin.quit()
      await Promise.all([a!.close(), b!.close()])
    }
  })

  test('Redis down: behaves as no cache, never throws, and warns once', async () => {
    const log = captureLog()
    const cache = await redisCache({ url: `redis://:pw-secret@127.0.0.1:${await unusedPort()}`, log, prefix: testPrefix() })
    try {
      await cache.set('k', 'v', 60_000)
      assert.equal(await cache.get('k'), undefined)
      await cache.delete('k')
      assert.equal(await cache.get('k'), undefined)
      assert.deepEqual(
        log.lines.filter((l) => l.level === 'warn').map((l) => l.msg),
        ['redis: cannot connect, retrying', 'cache: Redis unavailable, running without cache'],
      )
      assert.ok(!JSON.stringify(log.lines).includes('pw-secret'))
    } finally {
      await cache.close()
    }
  })

  test('a lost connection: no cache meanwhile, in use again once Redis is back', async () => {
    const log = captureLog()
    const prefix = testPrefix()
    const name = `cache-${prefix.split(':')[2]}`
    const cache = await redisCache({ url: REDIS_TEST_URL, log, prefix, name })
    const admin = await adminRedis()
    try {
      await cache.set('k', 'v', 60_000)
      const list = String(await admin.call('CLIENT', 'LIST'))
      const id = list.split('\n').find((l) => l.includes(` name=plinth:${name} `))?.match(/^id=(\d+)/)?.[1]
      assert.ok(id, 'the cache connection is listed')
      const lost = log.waitFor('redis: connection lost, reconnecting')
      const back = log.waitFor('redis: reconnected')
      await admin.call('CLIENT', 'KILL', 'ID', id)
      await lost
      assert.equal(await cache.get('k'), undefined) // down: a miss, not an error
      await back
      assert.equal((await cache.get('k'))?.toString(), 'v')
      assert.deepEqual(
        log.lines.map((l) => l.msg),
        ['redis: connection lost, reconnecting', 'cache: Redis unavailable, running without cache', 'redis: reconnected', 'cache: Redis back, cache in use again'],
      )
    } finally {
      await deleteKeys(admin, prefix)
      await admin.quit()
      await cache.close()
    }
  })
})

describe('cache: memory engine bounds', () => {
  const entry = (key: string, valueBytes: number) => valueBytes + Buffer.byteLength(key) + 64

  test('the byte bound evicts the least recently used entries first', async () => {
    const c = new MemoryCache({ maxBytes: 3 * entry('a', 100) })
    for (const k of ['a', 'b', 'c']) await c.set(k, Buffer.alloc(100), 60_000)
    await c.get('a') // a is now the most recently used; b the least
    await c.set('d', Buffer.alloc(100), 60_000)
    assert.equal(await c.get('b'), undefined)
    for (const k of ['a', 'c', 'd']) assert.ok(await c.get(k), k)
    assert.ok(c.bytes <= 3 * entry('a', 100))
  })

  test('a large value evicts as many entries as it needs; one larger than the cache is not stored', async () => {
    const c = new MemoryCache({ maxBytes: 10_000 })
    for (let i = 0; i < 50; i++) await c.set(`k${i}`, Buffer.alloc(100), 60_000)
    await c.set('big', Buffer.alloc(9_000), 60_000)
    assert.ok(await c.get('big'))
    assert.ok(c.bytes <= 10_000, String(c.bytes))
    await c.set('huge', Buffer.alloc(20_000), 60_000)
    assert.equal(await c.get('huge'), undefined)
    assert.ok(await c.get('big'), 'a refused value evicts nothing')
  })

  test('byte accounting follows replaces and deletes back to zero', async () => {
    const c = new MemoryCache()
    await c.set('k', Buffer.alloc(1000), 60_000)
    await c.set('k', Buffer.alloc(10), 60_000)
    assert.equal(c.bytes, entry('k', 10))
    await c.delete('k')
    assert.equal(c.bytes, 0)
  })

  test('filling with many short-lived entries stays within the byte bound', async () => {
    let now = 0
    const c = new MemoryCache({ maxBytes: 100_000, now: () => now })
    for (let i = 0; i < 20_000; i++) {
      await c.set(`key-${i}`, 'x'.repeat(50), 1_000)
      now += 1
    }
    assert.ok(c.bytes <= 100_000 && c.size < 1_000, `${c.bytes} bytes, ${c.size} entries`)
  })
})
