import type { Job, Queue as BullQueue, Worker, ConnectionOptions, JobType } from 'bullmq'
import type { RedisTarget } from '../config/urls.ts'
import type { Logger } from '../log.ts'
import { jobStates, LOST_LEASE_ERROR, LOST_LEASE_GRACE, type JobInfo, type JobState, type NewJob, type Processor, type Queue } from './queue.ts'

export interface BullQueueOptions {
  redis: RedisTarget
  log: Logger
  /** BullMQ's `lockDuration`: a job's lock, renewed while it runs; a dead worker's jobs come back after it. */
  leaseMs: number
  /** How long completed jobs are kept (their ids stay idempotent meanwhile); default a day. */
  keepCompletedMs?: number
}

/**
 * The queue port on Redis through BullMQ: one BullMQ queue per job name (so `concurrency` is
 * BullMQ's own per-worker concurrency), under `<redis prefix>jobs`. Retries use BullMQ's
 * exponential backoff (`delay * 2^(attempt-1)`, as the SQL engine); failed jobs are kept
 * (`removeOnFail: false`), completed ones for `keepCompletedMs`. A worker that dies leaves its jobs
 * locked; BullMQ's stalled-job check moves them back to waiting once the lock ends.
 * NB: BullMQ needs connections that retry commands forever (`maxRetriesPerRequest: null`),
 * unlike Plinth's shared Redis connection (redis/client.ts), so this engine opens its own.
 */
export class BullMqQueue implements Queue {
  readonly name = 'bullmq' as const
  /** Adds happen on Redis, outside any SQL transaction: the caller adds after commit instead. */
  readonly transactional = false
  readonly #bull: typeof import('bullmq')
  readonly #connection: ConnectionOptions
  readonly #prefix: string
  readonly #log: Logger
  readonly #leaseMs: number
  readonly #keepCompletedMs: number
  readonly #queues = new Map<string, BullQueue>()
  readonly #workers: { worker: Worker; running: Set<Promise<void>> }[] = []

  constructor(bull: typeof import('bullmq'), opts: BullQueueOptions) {
    this.#bull = bull
    const r = opts.redis
    this.#connection = {
      host: r.host, port: r.port, db: r.db, username: r.username, password: r.password,
      ...(r.tls ? { tls: {} } : {}),
      maxRetriesPerRequest: null,
    }
    this.#prefix = `${r.prefix}jobs`
    this.#log = opts.log
    this.#leaseMs = opts.leaseMs
    this.#keepCompletedMs = opts.keepCompletedMs ?? 86_400_000
  }

  #queue(name: string): BullQueue {
    let q = this.#queues.get(name)
    if (!q) {
      q = new this.#bull.Queue(name, { connection: this.#connection, prefix: this.#prefix })
      q.on('error', (err) => this.#log.error({ err, job: name }, 'queue: redis error'))
      this.#queues.set(name, q)
    }
    return q
  }

  async add(job: NewJob): Promise<string> {
    await this.#queue(job.name).add(job.name, job.data, {
      jobId: job.id,
      delay: job.delay,
      attempts: job.maxAttempts,
      backoff: { type: 'exponential', delay: job.backoff },
      removeOnComplete: { age: Math.ceil(this.#keepCompletedMs / 1000) },
      removeOnFail: false,
    })
    return job.id
  }

  nudge(): void {
    // BullMQ workers block on Redis and wake by themselves.
  }

  work(name: string, concurrency: number, maxAttempts: number, processor: Processor): void {
    const running = new Set<Promise<void>>()
    const worker = new this.#bull.Worker(
      name,
      async (job: Job) => {
        const p = processor({ id: job.id!, name, data: job.data as unknown, attempt: job.attemptsMade + 1 })
        running.add(p)
        try {
          await p
        } finally {
          running.delete(p)
        }
      },
      {
        connection: this.#connection,
        prefix: this.#prefix,
        concurrency,
        lockDuration: this.#leaseMs,
        stalledInterval: this.#leaseMs,
        // A job whose worker died comes back; as on the SQL engine, dying is not a failed attempt,
        // but a job stalled more than this is failed (BULL_STALLED_ERROR): started runs are bounded
        // by attempts + LOST_LEASE_GRACE for a job that always kills its worker. NB: BullMQ counts
        // stalls apart from failed attempts, so a job that does both may run a little more here.
        maxStalledCount: maxAttempts - 1 + LOST_LEASE_GRACE,
      },
    )
    worker.on('error', (err) => this.#log.error({ err, job: name }, 'queue: worker error'))
    this.#workers.push({ worker, running })
  }

  async stopWorking(graceMs: number): Promise<void> {
    const workers = this.#workers.splice(0)
    // No new jobs; then the running ones get the grace. NB: `close()` cannot be forced once an
    // unforced one is under way, so the grace is waited out here and the close is forced after it.
    await Promise.all(workers.map((w) => w.worker.pause(true)))
    let timer: NodeJS.Timeout | undefined
    const all = workers.flatMap((w) => [...w.running])
    await Promise.race([Promise.allSettled(all), new Promise((r) => (timer = setTimeout(r, graceMs)))])
    clearTimeout(timer)
    // A job still running keeps its lock only until the lease ends; then it is stalled and runs again.
    await Promise.all(workers.map((w) => w.worker.close(w.running.size > 0)))
  }

  async counts(names: readonly string[]): Promise<Record<string, Record<JobState, number>>> {
    const out: Record<string, Record<JobState, number>> = {}
    for (const n of names) {
      const c = await this.#queue(n).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed')
      out[n] = Object.fromEntries(jobStates.map((s) => [s, 0])) as Record<JobState, number>
      out[n].waiting = (c.waiting ?? 0) + (c.prioritized ?? 0)
      out[n].delayed = c.delayed ?? 0
      out[n].active = c.active ?? 0
      out[n].completed = c.completed ?? 0
      out[n].failed = c.failed ?? 0
    }
    return out
  }

  async list(name: string, state: JobState, limit: number): Promise<JobInfo[]> {
    const types: JobType[] = state === 'waiting' ? ['waiting', 'prioritized'] : [state]
    const jobs = await this.#queue(name).getJobs(types, 0, limit - 1, false)
    return Promise.all(jobs.filter(Boolean).map((j) => this.#info(j, state)))
  }

  async get(name: string, id: string): Promise<JobInfo | undefined> {
    const job = await this.#queue(name).getJob(id)
    return job ? this.#info(job) : undefined
  }

  async #info(job: Job, known?: JobState): Promise<JobInfo> {
    const raw = known ?? (await job.getState())
    const state: JobState = raw === 'prioritized' || raw === 'waiting-children' || raw === 'unknown' ? 'waiting' : (raw as JobState)
    return {
      id: job.id!, name: job.name, data: job.data as unknown, state,
      attempts: job.attemptsStarted, maxAttempts: job.opts.attempts ?? 1,
      error: job.failedReason === BULL_STALLED_ERROR ? LOST_LEASE_ERROR : job.failedReason || null, created: job.timestamp,
    }
  }

  async retry(name: string, id: string): Promise<boolean> {
    const job = await this.#queue(name).getJob(id)
    if (!job || (await job.getState()) !== 'failed') return false
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
    return true
  }

  async setPaused(name: string, paused: boolean): Promise<void> {
    // BullMQ's pause is the queue's, seen by every worker.
    await (paused ? this.#queue(name).pause() : this.#queue(name).resume())
  }

  async paused(names: readonly string[]): Promise<string[]> {
    const out: string[] = []
    for (const n of names) if (await this.#queue(n).isPaused()) out.push(n)
    return out
  }

  async remove(name: string, id: string): Promise<boolean> {
    const job = await this.#queue(name).getJob(id)
    if (!job || (await job.getState()) === 'active') return false
    await job.remove()
    return true
  }

  async close(): Promise<void> {
    await this.stopWorking(0)
    await Promise.all([...this.#queues.values()].map((q) => q.close()))
    this.#queues.clear()
  }
}

/** BullMQ's `failedReason` for a job past `maxStalledCount`, shown as the SQL engine's error. */
const BULL_STALLED_ERROR = 'job stalled more than allowable limit'

/** Opens the BullMQ engine, importing BullMQ only now. */
export async function bullQueue(opts: BullQueueOptions): Promise<BullMqQueue> {
  return new BullMqQueue(await import('bullmq'), opts)
}
