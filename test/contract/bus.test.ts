/**
 * The bus port's contract: every engine runs the same suite through a factory. Engines that
 * connect nodes (Redis) also run the multi-node cases: a second instance stands for a second API
 * node, and `killSubscriber` cuts the subscriber connection as a network blip would.
 * Every wait is for an event (a message arriving, a log line), never a sleep.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { BusUnavailableError, type Bus } from '../../src/bus/bus.ts'
import { MemoryBus } from '../../src/bus/memory.ts'
import { redisBus } from '../../src/bus/redis.ts'
import { adminRedis, captureLog, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort, type CapturedLog } from '../helpers/redis.ts'

interface BusUnderTest {
  bus: Bus
  log: CapturedLog
  /** Another node on the same bus (engines that span nodes). */
  peer?: () => Promise<Bus>
  /** Kills the bus's subscriber connection from the server side. */
  killSubscriber?: () => Promise<void>
  close(): Promise<void>
}

interface BusEngine {
  name: string
  make: () => Promise<BusUnderTest>
  skip?: string | false
}

/** Collects what a handler receives; `next(n)` resolves once `n` messages have arrived in all. */
function inbox() {
  const got: string[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  return {
    got,
    handler: (message: string) => {
      got.push(message)
      for (const w of [...waiters]) {
        if (got.length < w.n) continue
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    },
    next: (n: number) => (got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  }
}

async function redisUnderTest(): Promise<BusUnderTest> {
  const prefix = testPrefix()
  const tag = randomBytes(4).toString('hex')
  const log = captureLog()
  const open = (node: string) =>
    redisBus({ url: REDIS_TEST_URL, log, prefix, names: { pub: `bus-pub-${tag}-${node}`, sub: `bus-sub-${tag}-${node}` } })
  const bus = await open('a')
  const peers: Bus[] = []
  return {
    bus,
    log,
    peer: async () => {
      const p = await open(`p${peers.length}`)
      peers.push(p)
      return p
    },
    async killSubscriber() {
      const admin = await adminRedis()
      try {
        const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
        const line = list.split('\n').find((l) => l.includes(` name=plinth:bus-sub-${tag}-a `))
        const id = line?.match(/^id=(\d+)/)?.[1]
        assert.ok(id, 'the subscriber connection is listed')
        // TYPE and ID together: only this test's subscriber, whatever else runs on the server.
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID', id)
      } finally {
        await admin.quit()
      }
    },
    close: async () => void (await Promise.all([bus.close(), ...peers.map((p) => p.close())])),
  }
}

const redisSkipReason = await redisSkip()

const engines: BusEngine[] = [
  {
    name: 'memory',
    make: async () => {
      const log = captureLog()
      const bus = new MemoryBus({ log })
      return { bus, log, close: () => bus.close() }
    },
  },
  { name: 'redis', make: redisUnderTest, skip: redisSkipReason },
]

function busContract({ name, make, skip }: BusEngine): void {
  describe(`bus port: ${name}`, { skip }, () => {
    let t: BusUnderTest
    let bus: Bus

    beforeEach(async () => {
      t = await make()
      bus = t.bus
    })
    afterEach(async () => t?.close())

    test('a message reaches every subscriber of its topic, and no other topic', async () => {
      const [a1, a2, b] = [inbox(), inbox(), inbox()]
      await bus.subscribe('a', a1.handler)
      await bus.subscribe('a', a2.handler)
      await bus.subscribe('b', b.handler)
      await bus.publish('a', 'hello')
      await bus.publish('b', 'sentinel') // b sees its own message; had 'hello' leaked, it would come first
      await Promise.all([a1.next(1), a2.next(1), b.next(1)])
      assert.deepEqual([a1.got, a2.got, b.got], [['hello'], ['hello'], ['sentinel']])
    })

    test('delivery is asynchronous: no handler runs inside publish', async () => {
      const a = inbox()
      await bus.subscribe('a', a.handler)
      const sent = bus.publish('a', 'x')
      assert.equal(a.got.length, 0)
      await sent
      await a.next(1)
    })

    test('messages on a topic arrive in publish order', async () => {
      const a = inbox()
      await bus.subscribe('order', a.handler)
      const messages = Array.from({ length: 200 }, (_, i) => `m${i}`)
      await Promise.all(messages.map((m) => bus.publish('order', m)))
      await a.next(messages.length)
      assert.deepEqual(a.got, messages)
    })

    test('an unsubscribed handler gets nothing more; the others keep receiving', async () => {
      const [gone, stays] = [inbox(), inbox()]
      const unsubscribe = await bus.subscribe('u', gone.handler)
      await bus.subscribe('u', stays.handler)
      await bus.publish('u', 'one')
      await Promise.all([gone.next(1), stays.next(1)])
      await unsubscribe()
      await unsubscribe() // twice is harmless
      await bus.publish('u', 'two')
      await stays.next(2)
      assert.deepEqual(gone.got, ['one'])
      assert.deepEqual(stays.got, ['one', 'two'])
    })

    test('the last handler leaving a topic ends it; subscribing again works', async () => {
      const first = inbox()
      await (await bus.subscribe('again', first.handler))()
      const second = inbox()
      await bus.subscribe('again', second.handler)
      await bus.publish('again', 'x')
      await second.next(1)
      assert.deepEqual([first.got, second.got], [[], ['x']])
    })

    test('a handler that throws is logged and does not stop delivery to the others', async () => {
      const ok = inbox()
      await bus.subscribe('t', () => {
        throw new Error('boom')
      })
      await bus.subscribe('t', async () => {
        throw new Error('async boom')
      })
      await bus.subscribe('t', ok.handler)
      const logged = t.log.waitFor('bus: a handler failed', 2)
      await bus.publish('t', 'x')
      await Promise.all([ok.next(1), logged])
    })

    test('reachesOtherNodes: true exactly for an engine whose messages reach another node', async () => {
      assert.equal(bus.reachesOtherNodes, t.peer !== undefined)
      if (!t.peer) return
      const other = await t.peer()
      const there = inbox()
      await other.subscribe('reach', there.handler)
      await bus.publish('reach', 'x')
      await there.next(1)
    })

    if (name === 'redis') {
      test('two nodes: each sees the messages the other publishes, and its own', async () => {
        const other = await t.peer!()
        const [here, there] = [inbox(), inbox()]
        await bus.subscribe('n', here.handler)
        await other.subscribe('n', there.handler)
        await bus.publish('n', 'from-a')
        await Promise.all([here.next(1), there.next(1)])
        await other.publish('n', 'from-b')
        await Promise.all([here.next(2), there.next(2)])
        assert.deepEqual([here.got, there.got], [['from-a', 'from-b'], ['from-a', 'from-b']])
      })

      test('delivery resumes after the subscriber connection is killed (resubscribed on reconnect)', async () => {
        const a = inbox()
        await bus.subscribe('k', a.handler)
        await bus.subscribe('k2', () => {})
        await bus.publish('k', 'before')
        await a.next(1)
        const resubscribed = t.log.waitFor('bus: resubscribed')
        await t.killSubscriber!()
        await resubscribed
        await bus.publish('k', 'after')
        await a.next(2)
        assert.deepEqual(a.got, ['before', 'after'])
        assert.equal(t.log.lines.filter((l) => l.msg === 'redis: connection lost, reconnecting').length, 1)
        assert.deepEqual(t.log.lines.find((l) => l.msg === 'bus: resubscribed')?.obj, { topics: 2 })
      })
    }
  })
}

for (const engine of engines) busContract(engine)

describe('bus: redis engine when Redis is down', { skip: redisSkipReason }, () => {
  test('publish rejects with BusUnavailableError; subscribe is kept for later and resolves', async () => {
    const log = captureLog()
    const bus = await redisBus({ url: `redis://127.0.0.1:${await unusedPort()}`, log, prefix: testPrefix() })
    try {
      await assert.rejects(bus.publish('x', 'lost'), BusUnavailableError)
      const unsubscribe = await bus.subscribe('x', () => {})
      await unsubscribe()
    } finally {
      await bus.close()
    }
  })
})
