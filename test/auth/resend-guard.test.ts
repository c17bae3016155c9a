/**
 * The resend window of auth mails lives in the counters port: two API nodes on one Redis send one
 * verification or reset mail per window between them, not one each; a clear (a failed send) lets
 * the next request through; an unreachable counters engine sends nothing and says so.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ResendGuard } from '../../src/api/record-auth-context.ts'
import { redisCounters } from '../../src/counters/redis.ts'
import type { Counters } from '../../src/counters/counters.ts'
import { adminRedis, captureLog, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort } from '../helpers/redis.ts'

const quiet = { warn: () => {} }

describe('auth mail resend window on Redis counters', { skip: await redisSkip() }, () => {
  const prefix = testPrefix()
  const opened: Counters[] = []
  after(async () => {
    for (const c of opened) await c.close()
    const admin = await adminRedis()
    await deleteKeys(admin, prefix)
    await admin.quit()
  })
  const node = async () => {
    // Each node has its own connection, as separate processes would.
    const counters = await redisCounters({ url: REDIS_TEST_URL, log: captureLog(), prefix })
    opened.push(counters)
    return new ResendGuard(counters, 60_000, quiet)
  }

  test('two nodes share one window; a clear reopens it for both', async () => {
    const [a, b] = [await node(), await node()]
    assert.equal(await a.take('passwordReset:users:u1'), true)
    assert.equal(await b.take('passwordReset:users:u1'), false, 'the other node sees the window')
    assert.equal(await a.take('passwordReset:users:u1'), false)
    assert.equal(await b.take('verification:users:u1'), true, 'another mail kind has its own window')
    await b.clear('passwordReset:users:u1')
    assert.equal(await a.take('passwordReset:users:u1'), true)
  })

  test('with the counters engine unreachable nothing is sent, a warning says why, nothing throws', async () => {
    const counters = await redisCounters({ url: `redis://127.0.0.1:${await unusedPort()}/0`, log: captureLog(), prefix })
    opened.push(counters)
    const warnings: string[] = []
    const guard = new ResendGuard(counters, 60_000, { warn: (...args: unknown[]) => void warnings.push(String(args.at(-1))) })
    assert.equal(await guard.take('passwordReset:users:u2'), false)
    await guard.clear('passwordReset:users:u2')
    assert.deepEqual(warnings, ['auth mail not sent: the counters engine is unavailable'])
  })
})
