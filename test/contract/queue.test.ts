/**
 * The queue port's contract, through `Jobs` (what app code uses) over a real core: the SQL queue
 * on SQLite, PostgreSQL and MariaDB, and BullMQ on the test Redis. Every wait is for an event
 * (with a generous bound that only turns a hang into a failure); times are asserted only as lower
 * bounds the engine promises (a delayed job never runs early), never as durations.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { openCore, type Core } from '../../src/core.ts'
import { createLogger } from '../../src/log.ts'
import { systemRequest } from '../../src/records/record.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { adminRedis, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix } from '../helpers/redis.ts'

interface QueueCase {
  name: string
  skip: string | false
  /** The database (SQL engines) and queue URL; `cleanup` after the core closes. */
  make(): Promise<{ db: TestDb; queue: string; cleanup(): Promise<void> }>
}

const cases: QueueCase[] = []
for (const { engine, skip } of await engines()) {
  cases.push({
    name: `sql on ${engine}`,
    skip,
    async make() {
      const db = await createTestDb(engine)
      return { db, queue: 'sql://?pollMs=50&leaseMs=2000', cleanup: async () => {} }
    },
  })
}
cases.push({
  name: 'bullmq on redis',
  skip: await redisSkip(),
  async make() {
    const db = await createTestDb('sqlite')
    const prefix = testPrefix()
    const url = new URL(REDIS_TEST_URL)
    url.searchParams.set('prefix', prefix)
    url.searchParams.set('leaseMs', '2000')
    return {
      db,
      queue: url.toString(),
      async cleanup() {
        const admin = await adminRedis()
        await deleteKeys(admin, prefix)
        await admin.quit()
      },
    }
  },
})

/** Resolves once `check` returns true (checked every 20 ms); the 60 s bound only turns a hang into a failure. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 60_000
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

for (const c of cases) {
  describe(`queue contract: ${c.name}`, { skip: c.skip }, () => {
    let core: Core
    let made: Awaited<ReturnType<QueueCase['make']>>
    let dir: string

    before(async () => {
      made = await c.make()
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-queue-'))
      const config = loadConfig({ cwd: dir, env: {}, overrides: { db: made.db.url, dir, queue: made.queue, logLevel: 'silent' } })
      core = await openCore(config, { logger: createLogger({ logLevel: 'silent' }), syncSchema: false })
      core.jobs.startWorker()
    })
    after(async () => {
      await core?.close()
      await made?.cleanup()
      await made?.db.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('a delayed job waits; ready jobs run in the order they are due', async () => {
      const runs: { label: string; at: number }[] = []
      core.jobs.define<{ label: string }>('order', (d) => void runs.push({ label: d.label, at: Date.now() }))
      const added = new Map<string, number>()
      for (const [label, delay] of [['late', 3000], ['soon', 1500], ['now', 0]] as const) {
        added.set(label, Date.now())
        await core.jobs.enqueue('order', { label }, { delay })
      }
      await until('three runs', () => runs.length === 3)
      assert.deepEqual(runs.map((r) => r.label), ['now', 'soon', 'late'])
      // Never early (10 ms for clock granularity between processes).
      assert.ok(runs[1]!.at - added.get('soon')! >= 1500 - 10)
      assert.ok(runs[2]!.at - added.get('late')! >= 3000 - 10)
    })

    test('a failing job is retried with exponential backoff, then completes', async () => {
      const attempts: { attempt: number; at: number }[] = []
      core.jobs.define(
        'flaky',
        (_d, job) => {
          attempts.push({ attempt: job.attempt, at: Date.now() })
          if (job.attempt < 3) throw new Error(`fail ${job.attempt}`)
        },
        { attempts: 3, backoff: 100 },
      )
      const id = await core.jobs.enqueue('flaky', {})
      await until('completed', async () => (await core.jobs.get('flaky', id))?.state === 'completed')
      assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3])
      assert.ok(attempts[1]!.at - attempts[0]!.at >= 100 - 10, 'first retry after the backoff')
      assert.ok(attempts[2]!.at - attempts[1]!.at >= 200 - 10, 'second retry after twice the backoff')
      assert.equal((await core.jobs.get('flaky', id))?.attempts, 3)
    })

    test('an attempt over its timeout fails, and its signal aborts', async () => {
      let aborted = false
      core.jobs.define(
        'slow',
        (_d, job) =>
          new Promise<void>((resolve) =>
            job.signal.addEventListener('abort', () => {
              aborted = true
              resolve()
            }),
          ),
        { timeout: 200, attempts: 1 },
      )
      const id = await core.jobs.enqueue('slow', {})
      await until('failed', async () => (await core.jobs.get('slow', id))?.state === 'failed')
      const job = await core.jobs.get('slow', id)
      assert.match(job?.error ?? '', /timed out after 200 ms/)
      assert.equal(aborted, true)
    })

    test('a job out of attempts is kept as failed with its error, and can be retried', async () => {
      let calls = 0
      core.jobs.define(
        'broken',
        () => {
          calls++
          if (calls <= 2) throw new Error(`boom ${calls}`)
        },
        { attempts: 2, backoff: 10 },
      )
      const id = await core.jobs.enqueue('broken', { keep: 'me' })
      await until('failed', async () => (await core.jobs.get('broken', id))?.state === 'failed')
      const dead = await core.jobs.get('broken', id)
      assert.equal(dead?.error, 'boom 2')
      assert.equal(dead?.attempts, 2)
      assert.deepEqual(dead?.data, { keep: 'me' })
      assert.deepEqual((await core.jobs.list('broken', 'failed')).map((j) => j.id), [id])
      assert.equal((await core.jobs.counts()).broken?.failed, 1)
      assert.equal(await core.jobs.retry('broken', id), true)
      await until('completed after retry', async () => (await core.jobs.get('broken', id))?.state === 'completed')
      assert.equal(calls, 3)
      assert.equal(await core.jobs.retry('broken', id), false, 'only a failed job is retried')
      assert.equal(await core.jobs.remove('broken', id), true)
      assert.equal(await core.jobs.get('broken', id), undefined)
    })

    test('a jobId makes enqueue idempotent', async () => {
      const seen: string[] = []
      core.jobs.define<{ v: string }>('once', (d) => void seen.push(d.v))
      assert.equal(await core.jobs.enqueue('once', { v: 'first' }, { jobId: 'order-42' }), 'order-42')
      await until('first run', () => seen.length === 1)
      await core.jobs.enqueue('once', { v: 'second' }, { jobId: 'order-42' })
      // A later job of the same name (concurrency 1, due after it) runs only after a duplicate would have.
      await core.jobs.enqueue('once', { v: 'sentinel' }, { delay: 50 })
      await until('sentinel', () => seen.includes('sentinel'))
      assert.deepEqual(seen, ['first', 'sentinel'])
      await assert.rejects(core.jobs.enqueue('once', {}, { jobId: 'a:b' }), /invalid jobId/)
      await assert.rejects(core.jobs.enqueue('nope', {}), /no job named "nope"/)
    })

    test('an enqueue inside a records transaction takes effect only if it commits', async () => {
      const seen: number[] = []
      core.jobs.define<{ n: number }>('tx', (d) => void seen.push(d.n))
      await assert.rejects(
        core.records.transaction(async () => {
          await core.jobs.enqueue('tx', { n: 1 })
          throw new Error('roll back')
        }),
        /roll back/,
      )
      // A hook that enqueues, then fails the write: nothing is enqueued.
      let hooked = 0
      core.hooks.onRecordCreate(async (e, next) => {
        if (e.data.email === 'fails@example.com') {
          hooked++
          await core.jobs.enqueue('tx', { n: 2 })
          throw new Error('hook says no')
        }
        return next()
      }, 'users')
      await assert.rejects(
        core.records.create('users', { email: 'fails@example.com', password: 'password-123', passwordConfirm: 'password-123' }, systemRequest()),
        /hook says no/,
      )
      assert.equal(hooked, 1)
      await core.records.transaction(async () => {
        await core.jobs.enqueue('tx', { n: 3 })
      })
      await core.jobs.enqueue('tx', { n: 4 }, { delay: 50 })
      await until('the committed jobs', () => seen.includes(4))
      assert.deepEqual(seen, [3, 4])
    })

    test('a paused name runs nothing until resumed; jobs can still be added', async () => {
      const seen: number[] = []
      let other = false
      core.jobs.define<{ n: number }>('held', (d) => void seen.push(d.n))
      core.jobs.define('free', () => void (other = true))
      await core.jobs.setPaused('held', true)
      assert.deepEqual(await core.jobs.paused(), ['held'])
      await core.jobs.enqueue('held', { n: 1 })
      await core.jobs.enqueue('free', {})
      await until('the other name to run', () => other)
      assert.equal((await core.jobs.counts()).held?.waiting, 1)
      assert.deepEqual(seen, [])
      await core.jobs.setPaused('held', false)
      await until('the resumed job', () => seen.length === 1)
      assert.deepEqual(await core.jobs.paused(), [])
    })

    test('concurrency bounds the jobs of one name running at once', async () => {
      let running = 0
      let most = 0
      let done = 0
      const gates: (() => void)[] = []
      core.jobs.define(
        'par',
        async () => {
          running++
          most = Math.max(most, running)
          await new Promise<void>((r) => gates.push(r))
          running--
          done++
        },
        { concurrency: 2 },
      )
      for (let i = 0; i < 4; i++) await core.jobs.enqueue('par', { i })
      while (done < 4) {
        await until('a running job', () => gates.length > 0 || done === 4)
        if (running === 1 && done < 3) await until('a second running job', () => running === 2)
        gates.shift()?.()
      }
      assert.equal(most, 2)
    })

    // Last: these stop and restart the worker.
    test('a stopping worker lets a running job finish', async () => {
      let release!: () => void
      let started = false
      core.jobs.define('finishing', async () => {
        started = true
        await new Promise<void>((r) => (release = r))
      })
      const id = await core.jobs.enqueue('finishing', {})
      await until('the job to start', () => started)
      const stopped = core.jobs.stopWorker(60_000)
      release()
      await stopped
      assert.equal((await core.jobs.get('finishing', id))?.state, 'completed')
      core.jobs.startWorker()
    })

    test('a job still running when the grace ends is handed back and runs again', async () => {
      const attempts: number[] = []
      let releaseFirst: (() => void) | undefined
      core.jobs.define(
        'handed',
        async (_d, job) => {
          attempts.push(job.attempt)
          if (attempts.length === 1) await new Promise<void>((r) => (releaseFirst = r))
        },
        { timeout: 600_000 },
      )
      const id = await core.jobs.enqueue('handed', {})
      await until('the first run', () => attempts.length === 1)
      await core.jobs.stopWorker(50)
      core.jobs.startWorker()
      await until('the second run to complete', async () => (await core.jobs.get('handed', id))?.state === 'completed')
      assert.equal(attempts.length, 2)
      releaseFirst?.()
    })
  })
}
