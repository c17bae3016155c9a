/**
 * Background jobs (#13), measured by the scenarios themselves, in the bench's own process: jobs/s
 * end to end (the first enqueue to the last handler's return) for a no-op job, on each queue
 * engine through Plinth's `app.jobs` (a real core, as app code uses it), each divided by BullMQ
 * used directly (a bare Queue and Worker on the same Redis) measured in the same scenario.
 * Both sides run the same job count with the same worker concurrency, and enqueue from the same
 * number of concurrent producers (as several requests enqueueing at once would).
 * Redis keys live under a prefix of their own per run (db 14), deleted afterwards.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/load.ts'
import { openCore } from '../../src/core.ts'
import { createLogger } from '../../src/log.ts'
import { deleteKeys } from '../../test/helpers/redis.ts'
import { redisUnavailable } from '../lib/realtime.ts'
import { dropDatabases, ENGINE_NAME, freshDb, unavailable, type Engine } from '../lib/seed.ts'
import type { Figure, MeasuredScenario } from '../lib/types.ts'

const JOBS = 2_000
const CONCURRENCY = 10
const PRODUCERS = 10
const REDIS = 'redis://127.0.0.1:6379/14'

/** A key prefix no test or other bench run uses. */
const benchPrefix = () => `plinth-bench-jobs:${process.pid}:${randomBytes(4).toString('hex')}:`

/** Runs `enqueue(i)` for i < JOBS from PRODUCERS concurrent loops, and resolves once `done` has seen every job; jobs/s. */
async function run(enqueue: (i: number) => Promise<unknown>, done: (resolve: () => void) => void): Promise<number> {
  const finished = new Promise<void>((resolve) => done(resolve))
  const start = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < JOBS) await enqueue(next++)
    }),
  )
  await finished
  return JOBS / ((performance.now() - start) / 1000)
}

/** Counts handler returns and resolves `run`'s wait at JOBS. */
function counter(): { handler: () => void; done: (resolve: () => void) => void } {
  let n = 0
  let resolveAll: (() => void) | undefined
  return {
    handler: () => {
      if (++n === JOBS) resolveAll?.()
    },
    done: (resolve) => (resolveAll = resolve),
  }
}

/** BullMQ used directly: a bare Queue and Worker, the reference. */
async function bareBullMq(): Promise<number> {
  const { Queue, Worker } = await import('bullmq')
  const { Redis } = await import('ioredis')
  const prefix = benchPrefix()
  const u = new URL(REDIS)
  const connection = { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1)), maxRetriesPerRequest: null }
  const queue = new Queue('noop', { connection, prefix })
  const c = counter()
  const worker = new Worker('noop', async () => c.handler(), { connection, prefix, concurrency: CONCURRENCY })
  try {
    await worker.waitUntilReady()
    return await run((i) => queue.add('noop', { i }), c.done)
  } finally {
    await worker.close()
    await queue.close()
    const admin = new Redis(connection)
    await deleteKeys(admin, prefix)
    await admin.quit()
  }
}

/** Plinth's `app.jobs` on the queue `queueUrl` over the database `dbUrl`. */
async function plinth(dbUrl: string, queueUrl: string): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-jobs-'))
  const config = loadConfig({ cwd: dir, env: {}, overrides: { db: dbUrl, dir, queue: queueUrl, logLevel: 'warn' } })
  const core = await openCore(config, { logger: createLogger({ logLevel: 'warn' }), syncSchema: false })
  try {
    const c = counter()
    core.jobs.define('noop', c.handler, { concurrency: CONCURRENCY })
    core.jobs.startWorker()
    return await run((i) => core.jobs.enqueue('noop', { i }), c.done)
  } finally {
    await core.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const figures = (name: string, value: number, reference: number, notes: string): Figure[] => [
  { name: 'BullMQ directly', value: reference, unit: 'jobs/s', notes: `bare Queue + Worker, ${JOBS} jobs, concurrency ${CONCURRENCY}, ${PRODUCERS} producers` },
  { name, value, unit: 'jobs/s', reference: 'BullMQ directly', notes },
]

function sqlScenario(engine: Engine): MeasuredScenario {
  return {
    name: `jobs-sql-${engine === 'mysql' ? 'mariadb' : engine}`,
    group: 'jobs',
    description: `no-op jobs end to end, SQL queue on ${ENGINE_NAME[engine]}, against BullMQ directly`,
    skip: async () => (await unavailable(engine)) ?? (await redisUnavailable()),
    async measure() {
      try {
        const reference = await bareBullMq()
        const value = await plinth(await freshDb(engine), 'sql://')
        return figures(`Plinth, SQL queue on ${ENGINE_NAME[engine]}`, value, reference, '`sql://` (default lease and poll), app.jobs')
      } finally {
        await dropDatabases()
      }
    },
  }
}

const bull: MeasuredScenario = {
  name: 'jobs-bullmq',
  group: 'jobs',
  description: 'no-op jobs end to end, BullMQ through Plinth, against BullMQ directly',
  skip: () => redisUnavailable(),
  async measure() {
    const prefix = benchPrefix()
    try {
      const reference = await bareBullMq()
      const value = await plinth(await freshDb('sqlite'), `${REDIS}?prefix=${prefix}`)
      return figures('Plinth, BullMQ', value, reference, '`redis://` queue, app.jobs')
    } finally {
      await dropDatabases()
      const { Redis } = await import('ioredis')
      const admin = new Redis(REDIS)
      await deleteKeys(admin, prefix)
      await admin.quit()
    }
  },
}

export default [sqlScenario('sqlite'), sqlScenario('postgres'), sqlScenario('mysql'), bull]
