/**
 * The counters port's contract: every engine runs the same suite through a factory.
 *
 * Time is the caller's: a factory returns the engine and an `advance(ms)` that moves its clock.
 * The memory engine takes an injected clock; a server engine without one (Redis) can implement
 * `advance` by shortening every key's expiry by `ms` (PTTL, then PEXPIRE or DEL), which is the
 * same thing seen from the client. No test sleeps.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { Counters } from '../../src/counters/counters.ts'
import { CountersUnavailableError } from '../../src/counters/errors.ts'
import { MemoryCounters } from '../../src/counters/memory.ts'
import { redisCounters } from '../../src/counters/redis.ts'
import { openRedis } from '../../src/redis/client.ts'
import { adminRedis, advanceKeys, captureLog, deleteKeys, partitionedRedis, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort } from '../helpers/redis.ts'

interface CountersUnderTest {
  counters: Counters
  /** Moves the engine's clock forward by `ms`. */
  advance(ms: number): Promise<void>
  close(): Promise<void>
}

interface CountersEngine {
  name: string
  make: () => Promise<CountersUnderTest>
  /** A reason to skip (a server that is not running), or false. */
  skip?: string | false
}

function memoryEngine(): CountersUnderTest {
  let now = 1_700_000_000_000
  const counters = new MemoryCounters({ now: () => now })
  return { counters, advance: async (ms) => void (now += ms), close: () => counters.close() }
}

/** The Redis engine under a prefix of its own, on the test server; `close` deletes its keys. */
async function redisEngine(): Promise<CountersUnderTest> {
  const prefix = testPrefix()
  const counters = await redisCounters({ url: REDIS_TEST_URL, log: captureLog(), prefix })
  const admin = await adminRedis()
  return {
    counters,
    advance: (ms) => advanceKeys(admin, prefix, ms),
    async close() {
      await deleteKeys(admin, prefix)
      await admin.quit()
      await counters.close()
    },
  }
}

const redisSkipReason = await redisSkip()

/** The engines to run. */
const engines: CountersEngine[] = [
  { name: 'memory', make: async () => memoryEngine() },
  { name: 'redis', make: redisEngine, skip: redisSkipReason },
]

function countersContract({ name, make, skip }: CountersEngine): void {
  describe(`counters port: ${name}`, { skip }, () => {
    let t: CountersUnderTest
    let c: Counters
    let n = 0
    // Fresh keys per test, so a shared server engine needs no flush between tests.
    const key = (k: string) => `contract:${process.pid}:${++n}:${k}`

    beforeEach(async () => {
      t = await make()
      c = t.counters
    })
    afterEach(async () => t?.close())

    test('increment counts from 1 and reports the time left in the window', async () => {
      const k = key('a')
      assert.deepEqual(await c.increment(k, 60_000), { count: 1, ttlMs: 60_000 })
      await t.advance(10_000)
      const second = await c.increment(k, 60_000)
      assert.equal(second.count, 2)
      // Fixed window: a later increment does not move the expiry.
      assert.ok(second.ttlMs <= 50_000 && second.ttlMs > 49_000, String(second.ttlMs))
      // A server's clock runs between the two calls: the time left may have dropped a little.
      const read = await c.get(k)
      assert.equal(read?.count, 2)
      assert.ok(read.ttlMs <= second.ttlMs && read.ttlMs > second.ttlMs - 1_000, String(read.ttlMs))
    })

    test('raise keeps the biggest value given, whatever the order, and expires', async () => {
      const k = key('raise')
      assert.equal(await c.raise(k, 2 ** 40 + 7, 1_000), 2 ** 40 + 7)
      assert.equal(await c.raise(k, 5, 1_000), 2 ** 40 + 7)
      assert.equal((await c.get(k))?.count, 2 ** 40 + 7)
      assert.equal(await c.raise(k, 2 ** 41, 1_000), 2 ** 41)
      await t.advance(1_000)
      assert.equal(await c.get(k), null)
      assert.equal(await c.raise(k, 3, 1_000), 3)
    })

    test('increment by a negative amount gives a slot back; by more than 1 adds that many', async () => {
      const k = key('b')
      await c.increment(k, 60_000, 5)
      assert.equal((await c.increment(k, 60_000, -1)).count, 4)
    })

    test('a key expires after its window and then starts again from 0', async () => {
      const k = key('c')
      await c.increment(k, 1_000)
      await c.increment(k, 1_000)
      await t.advance(1_000)
      assert.equal(await c.get(k), null)
      assert.deepEqual(await c.increment(k, 5_000), { count: 1, ttlMs: 5_000 })
    })

    test('concurrent increments each see a distinct count', async () => {
      const k = key('d')
      const counts = await Promise.all(Array.from({ length: 50 }, () => c.increment(k, 60_000)))
      assert.deepEqual(counts.map((s) => s.count).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1))
    })

    test('setIfAbsent stores once until the key expires (a nonce)', async () => {
      const k = key('e')
      const first = await Promise.all([c.setIfAbsent(k, 'x', 2_000), c.setIfAbsent(k, 'y', 2_000)])
      assert.deepEqual(first.sort(), [false, true])
      assert.equal(await c.setIfAbsent(k, 'z', 2_000), false)
      const state = await c.get(k)
      assert.ok(state && state.ttlMs > 0 && state.ttlMs <= 2_000)
      await t.advance(2_000)
      assert.equal(await c.setIfAbsent(k, 'z', 2_000), true)
    })

    test('spendOnce spends a key once until it expires, across concurrent callers', async () => {
      const k = key('spend')
      const first = await Promise.all([c.spendOnce(k, 2_000), c.spendOnce(k, 2_000), c.spendOnce(k, 2_000)])
      assert.deepEqual(first.sort(), [false, false, true])
      await t.advance(1_500) // NB: a server's clock also runs between the calls
      assert.equal(await c.spendOnce(k, 2_000), false, 'still spent before it expires')
      await t.advance(500)
      assert.equal(await c.spendOnce(k, 2_000), true, 'spendable again once expired')
      assert.equal(await c.spendOnce(key('spend-other'), 2_000), true, 'another key is its own')
    })

    test('delete resets a key; deleting a missing key is no error', async () => {
      const k = key('f')
      await c.increment(k, 60_000, 3)
      await c.delete(k)
      assert.equal(await c.get(k), null)
      assert.equal((await c.increment(k, 60_000)).count, 1)
      await c.delete(key('never-set'))
    })

    test('get on a missing key is null', async () => {
      assert.equal(await c.get(key('missing')), null)
    })

    test('incrementing a key that holds a non-number is refused (a bug, not an outage)', async () => {
      const k = key('g')
      await c.setIfAbsent(k, 'abc', 60_000)
      await assert.rejects(c.increment(k, 60_000), (err) => !(err instanceof CountersUnavailableError))
    })
  })
}

for (const engine of engines) countersContract(engine)

describe('counters: redis engine', { skip: redisSkipReason }, () => {
  test('two engines on one server (two API nodes) share the same counts', async () => {
    const prefix = testPrefix()
    const [a, b] = await Promise.all([1, 2].map(() => redisCounters({ url: REDIS_TEST_URL, log: captureLog(), prefix })))
    const admin = await adminRedis()
    try {
      await a!.increment('shared', 60_000)
      assert.equal((await b!.increment('shared', 60_000)).count, 2)
      assert.equal(await b!.setIfAbsent('nonce', '1', 60_000), true)
      assert.equal(await a!.setIfAbsent('nonce', '1', 60_000), false)
    } finally {
      await deleteKeys(admin, prefix)
      await admin.quit()
      await Promise.all([a!.close(), b!.close()])
    }
  })

  test('Redis down: every operation fails closed with CountersUnavailableError, and the log says why', async () => {
    const log = captureLog()
    const port = await unusedPort()
    const c = await redisCounters({ url: `redis://:secret-pw@127.0.0.1:${port}/0`, log, prefix: testPrefix() })
    try {
      await assert.rejects(c.increment('k', 60_000), CountersUnavailableError)
      await assert.rejects(c.setIfAbsent('k', 'v', 60_000), CountersUnavailableError)
      await assert.rejects(c.get('k'), CountersUnavailableError)
      await assert.rejects(c.delete('k'), CountersUnavailableError)
      const warned = log.lines.filter((l) => l.level === 'warn')
      assert.deepEqual(warned.map((l) => l.msg), ['redis: cannot connect, retrying'])
      assert.ok(!JSON.stringify(log.lines).includes('secret-pw'), 'the password is never logged')
      assert.equal(warned[0]!.obj.redis, `redis://:****@127.0.0.1:${port}/0`)
    } finally {
      await c.close()
    }
  })
})

describe('counters: redis engine behind a partition (the server stops answering)', () => {
  test('increment fails closed once the command times out, instead of hanging the request', async () => {
    const server = await partitionedRedis()
    const log = captureLog()
    const connection = await openRedis(server.url, { log, name: 'counters-partitioned', commandTimeoutMs: 200, socketTimeoutMs: 400 })
    const c = await redisCounters({ connection })
    try {
      server.goSilent()
      await assert.rejects(c.increment('k', 60_000), CountersUnavailableError)
    } finally {
      await c.close() // a shared connection stays open...
      assert.notEqual(connection.client.status, 'end')
      await connection.close() // ...until its owner closes it
      await server.close()
    }
  })
})

describe('counters: memory engine bounds', () => {
  test('expired keys are swept as new ones arrive, so the map does not grow with dead keys', async () => {
    let now = 0
    const c = new MemoryCounters({ now: () => now, maxKeys: 1_000_000 })
    for (let i = 0; i < 10_000; i++) {
      await c.increment(`k${i}`, 1_000)
      now += 1 // each key lives 1000 ms, so about 1000 are alive at any time
    }
    assert.ok(c.size <= 1_001, `held ${c.size} keys`)
  })

  test('at the cap the oldest key is evicted, live recent keys are kept', async () => {
    const now = 0
    const c = new MemoryCounters({ now: () => now, maxKeys: 3 })
    for (const k of ['a', 'b', 'c', 'd']) await c.increment(k, 60_000)
    assert.equal(c.size, 3)
    assert.equal(await c.get('a'), null)
    for (const k of ['b', 'c', 'd']) assert.equal((await c.get(k))?.count, 1)
  })

  test('at the cap expired keys go before any live one is evicted', async () => {
    let now = 0
    const c = new MemoryCounters({ now: () => now, maxKeys: 3 })
    await c.increment('live', 60_000)
    await c.increment('short1', 10)
    await c.increment('short2', 10)
    now = 100
    await c.increment('new', 60_000)
    assert.equal((await c.get('live'))?.count, 1)
    assert.equal((await c.get('new'))?.count, 1)
  })

  test('expired keys behind a long-lived one are swept too (keys of different windows interleaved)', async () => {
    let now = 0
    const c = new MemoryCounters({ now: () => now, maxKeys: 1_000_000 })
    await c.increment('a-day', 86_400_000)
    await c.setIfAbsent('sms-day', '1', 86_400_000)
    for (let i = 0; i < 20_000; i++) {
      await c.increment(`rate${i}`, 1_000)
      await c.setIfAbsent(`nonce${i}`, '1', 601_000 / 100)
      now += 1
    }
    // ~1000 live counters, ~6010 live nonces (each window's keys alive at once), the two day-long keys.
    assert.ok(c.size <= 2 * 1_024 + 2 * 6_010 + 2, `held ${c.size} keys`)
    assert.equal((await c.get('a-day'))?.count, 1)
  })

  test('at the cap, live one-time keys (nonces) are never evicted: setIfAbsent fails closed, then works again once they expire', async () => {
    let now = 0
    const c = new MemoryCounters({ now: () => now, maxKeys: 3 })
    for (const n of ['n1', 'n2', 'n3']) assert.equal(await c.setIfAbsent(n, '1', 60_000), true)
    await assert.rejects(c.setIfAbsent('n4', '1', 60_000), CountersUnavailableError)
    assert.equal(await c.setIfAbsent('n1', '1', 60_000), false, 'a replay is still refused')
    await c.increment('rate', 60_000) // counters have their own cap and do not push markers out
    now = 60_001
    assert.equal(await c.setIfAbsent('n4', '1', 60_000), true)
  })

  test('at the cap, live spent keys (nonces) are never evicted: spendOnce fails closed, then works again once they expire', async () => {
    let now = 0
    const c = new MemoryCounters({ now: () => now, maxKeys: 1, maxNonces: 3 })
    for (const n of ['n1', 'n2', 'n3']) assert.equal(await c.spendOnce(n, 60_000), true)
    await assert.rejects(c.spendOnce('n4', 60_000), CountersUnavailableError)
    assert.equal(await c.spendOnce('n1', 60_000), false, 'a replay is still refused')
    assert.equal(await c.setIfAbsent('marker', '1', 60_000), true, 'one-time markers have their own cap')
    now = 60_000
    assert.equal(await c.spendOnce('n4', 60_000), true)
    assert.equal(c.size, 2, 'the three expired nonces were swept; n4 and the marker are held')
  })

  test('incrementing a key that holds a non-number is refused, as Redis does', async () => {
    const c = new MemoryCounters()
    await c.setIfAbsent('nonce', 'abc', 60_000)
    await assert.rejects(c.increment('nonce', 60_000))
  })
})
