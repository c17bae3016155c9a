/**
 * The SMS send limits over the counters port, on the memory engine (a clock the test moves) and
 * on Redis (time moved by shortening every key's expiry). Redis unreachable: every check throws,
 * so nothing is sent unchecked.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { SmsLimiter, type SmsLimits } from '../../src/auth/sms-limits.ts'
import type { Counters } from '../../src/counters/counters.ts'
import { CountersUnavailableError } from '../../src/counters/errors.ts'
import { MemoryCounters } from '../../src/counters/memory.ts'
import { redisCounters } from '../../src/counters/redis.ts'
import { adminRedis, advanceKeys, captureLog, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort } from '../helpers/redis.ts'

const limits: SmsLimits = { perPhoneMinute: 1, perPhoneHour: 5, perPhoneDay: 10, perIpHour: 20, perDeviceHour: 20, dailyBudget: 1000 }
const START = Date.UTC(2026, 2, 1, 0, 0, 30)

interface Engine {
  counters: Counters
  /** The limiter's clock is moved with the engine's. */
  now(): number
  advance(ms: number): Promise<void>
  close(): Promise<void>
}

const engines: { name: string; skip: string | false; make(): Promise<Engine> }[] = [
  {
    name: 'memory',
    skip: false,
    async make() {
      let now = START
      const counters = new MemoryCounters({ now: () => now })
      return { counters, now: () => now, advance: async (ms) => void (now += ms), close: () => counters.close() }
    },
  },
  {
    name: 'redis',
    skip: await redisSkip(),
    async make() {
      let now = START
      const prefix = testPrefix()
      const counters = await redisCounters({ url: REDIS_TEST_URL, log: captureLog(), prefix })
      const admin = await adminRedis()
      return {
        counters,
        now: () => now,
        advance: async (ms) => {
          now += ms
          await advanceKeys(admin, prefix, ms)
        },
        async close() {
          await deleteKeys(admin, prefix)
          await admin.quit()
          await counters.close()
        },
      }
    },
  },
]

for (const engine of engines) {
  describe(`sms limits on ${engine.name} counters`, { skip: engine.skip }, () => {
    const open: Engine[] = []
    after(() => Promise.all(open.map((e) => e.close())))
    const setup = async (over: Partial<SmsLimits> = {}) => {
      const e = await engine.make()
      open.push(e)
      const alerts: string[] = []
      return { e, alerts, limiter: new SmsLimiter(e.counters, { ...limits, ...over }, (day) => alerts.push(day), e.now) }
    }

    test('per number: 1 a minute, 5 an hour, 10 a day', async () => {
      const { e, limiter } = await setup()
      const phone = '+8613800138000'
      assert.equal(await limiter.admitSend(phone), undefined)
      assert.equal(await limiter.admitSend(phone), 'phone-minute')
      assert.equal(await limiter.admitSend('+8613800138001'), undefined, 'another number is counted apart')
      for (let i = 0; i < 4; i++) {
        await e.advance(61_000)
        assert.equal(await limiter.admitSend(phone), undefined, `send ${i + 2}`)
      }
      await e.advance(61_000)
      assert.equal(await limiter.admitSend(phone), 'phone-hour')
      let sent = 5
      for (let i = 0; i < 40 && sent < 12; i++) {
        await e.advance(10 * 60_000)
        if ((await limiter.admitSend(phone)) === undefined) sent++
      }
      assert.equal(sent, 10, 'the day window stops it at 10')
      assert.equal(await limiter.admitSend(phone), 'phone-minute')
      await e.advance(2 * 3_600_000)
      assert.equal(await limiter.admitSend(phone), 'phone-day', 'fresh minute and hour windows, but the day is spent')
      await e.advance(86_400_000)
      assert.equal(await limiter.admitSend(phone), undefined, 'a new day')
    })

    test('per client address (IPv6 by /64) and per device id', async () => {
      const { e, limiter } = await setup({ perIpHour: 3, perDeviceHour: 2 })
      for (let i = 0; i < 3; i++) assert.equal(await limiter.admitClient(`2001:db8::${i + 1}`, undefined), 0)
      const wait = await limiter.admitClient('2001:db8::ffff', undefined)
      assert.ok(wait > 3000 && wait <= 3600, `retry after the hour's rest (${wait})`)
      assert.equal(await limiter.admitClient('2001:db8:1::1', undefined), 0, 'another /64')
      assert.equal(await limiter.admitClient('10.0.0.1', 'dev-1'), 0)
      assert.equal(await limiter.admitClient('10.0.0.2', 'dev-1'), 0)
      assert.ok((await limiter.admitClient('10.0.0.3', 'dev-1')) > 0, 'the device over its limit from a fresh address')
      assert.equal(await limiter.admitClient('10.0.0.4', 'x'.repeat(500)), 0, 'an implausible device id is not a key')
      await e.advance(3_600_000)
      assert.equal(await limiter.admitClient('2001:db8::9', 'dev-1'), 0, 'the hour ended')
    })

    test('the daily budget stops every send and alerts once', async () => {
      const { e, limiter, alerts } = await setup({ dailyBudget: 25 })
      let sent = 0
      for (let i = 0; i < 60; i++) if ((await limiter.admitSend(`+86138001380${String(i).padStart(2, '0')}`)) === undefined) sent++
      assert.equal(sent, 25)
      assert.deepEqual(alerts, ['2026-03-01'])
      assert.equal(await limiter.spend(), false, 'a retry finds it spent too')
      await e.advance(86_400_000)
      assert.equal(await limiter.admitSend('+8613900139000'), undefined, 'the next day')
    })
  })
}

describe('sms limits when Redis is down', { skip: await redisSkip() }, () => {
  test('every check throws CountersUnavailableError: nothing is admitted', async () => {
    const counters = await redisCounters({ url: `redis://127.0.0.1:${await unusedPort()}/15`, log: captureLog(), prefix: testPrefix() })
    try {
      const limiter = new SmsLimiter(counters, limits, () => {})
      await assert.rejects(limiter.admitClient('10.0.0.1', 'd'), CountersUnavailableError)
      await assert.rejects(limiter.admitSend('+8613800138000'), CountersUnavailableError)
      await assert.rejects(limiter.spend(), CountersUnavailableError)
    } finally {
      await counters.close()
    }
  })
})
