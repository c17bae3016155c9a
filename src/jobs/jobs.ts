import { randomUUID } from 'node:crypto'
import type { Counters } from '../counters/counters.ts'
import type { Logger } from '../log.ts'
import { checkCron, nextTick } from './cron.ts'
import type { ClaimedJob, JobInfo, JobState, Queue, QueueTx } from './queue.ts'

/** How a job of one name runs. */
export interface JobDefinitionOptions {
  /** Attempts in all, the first included; default 3. */
  attempts?: number
  /** The first retry's delay in ms, doubling for each later one; default 1000. */
  backoff?: number
  /** An attempt still running after this many ms fails (its `signal` aborts); default 60 000. */
  timeout?: number
  /** Jobs of this name running at once in one worker process; default 1. */
  concurrency?: number
}

/** What a handler learns about the attempt it runs. */
export interface JobRun {
  id: string
  name: string
  /** 1 for the first attempt. */
  attempt: number
  /** Aborted when the attempt times out: long handlers should stop then. */
  signal: AbortSignal
}

export type JobHandler<T = unknown> = (data: T, job: JobRun) => unknown

export interface EnqueueOptions {
  /** Milliseconds before the job may run. */
  delay?: number
  /**
   * Makes the enqueue idempotent: while a job of this name with this id is kept (until deleted;
   * completed jobs for a day), enqueueing it again does nothing. Letters, digits, `_`, `-`, `.`;
   * not only digits (BullMQ keeps those for its own ids).
   */
  jobId?: string
}

/** A cron schedule's handler: `tick` is the scheduled time (for a manual run, now). */
export type CronHandler = (run: { tick: Date; signal: AbortSignal }) => unknown

/** What `jobs.ts` needs from the records service: the open transaction, if any. */
export interface TransactionSource {
  openTransaction(): { db: QueueTx; afterCommit(fn: () => Promise<void>): void } | undefined
}

interface Definition {
  name: string
  handler: JobHandler
  attempts: number
  backoff: number
  timeout: number
  concurrency: number
}

interface CronEntry {
  id: string
  expression: string
  handler: CronHandler
  timer?: NodeJS.Timeout
  /** The last tick this node handled (never the same tick twice). */
  last: number
}

const JOB_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/
const CRON_ID = /^[A-Za-z0-9_-]{1,100}$/
const JOB_ID = /^[A-Za-z0-9_.-]{1,200}$/
/** How long a cron tick's lock is kept in the counters port: far longer than clocks drift apart. */
const CRON_LOCK_MS = 3_600_000

function positiveInt(name: string, key: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`jobs: ${name}: ${key} must be a whole number of at least ${min}, got ${String(value)}`)
  return value
}

/**
 * Background jobs and cron for app code (`app.jobs`, `app.cron`), over the queue port.
 *
 * - `define` says how a job name runs; `enqueue` adds one. Inside a records transaction (a hook,
 *   a batch, `records.transaction`) the job is part of it: on the SQL queue it is inserted in the
 *   same transaction, on BullMQ it is added once the transaction commits; either way a rollback
 *   leaves no job behind.
 * - The worker (`startWorker`, run by `plinth serve` unless `--no-worker`, and by `plinth worker`)
 *   runs the defined names and fires the cron schedules. Each attempt is raced against the
 *   definition's `timeout`; losing fails the attempt (retried like any failure).
 * - A cron tick is a job named `cron.<id>` with the id `cron.<id>.<tick>`. Every worker node
 *   wakes at each tick; the first to take the tick's lock in the counters port enqueues it, and the
 *   job id makes a second enqueue (counters in-process on several nodes, or an outage) a no-op:
 *   one run per tick across the cluster.
 */
export class Jobs {
  readonly #queue: Queue
  readonly #records: TransactionSource
  readonly #counters: Counters
  readonly #log: Logger
  readonly #defs = new Map<string, Definition>()
  readonly #crons = new Map<string, CronEntry>()
  readonly #node = randomUUID()
  #working = false

  constructor(deps: { queue: Queue; records: TransactionSource; counters: Counters; log: Logger }) {
    this.#queue = deps.queue
    this.#records = deps.records
    this.#counters = deps.counters
    this.#log = deps.log
  }

  /** The queue engine in use (for logs). */
  get engine(): string {
    return this.#queue.name
  }

  /** True while this process runs a worker. */
  get working(): boolean {
    return this.#working
  }

  /** Says how jobs named `name` run; define every name before enqueueing it, on every node. */
  define<T = unknown>(name: string, handler: JobHandler<T>, opts: JobDefinitionOptions = {}): void {
    if (!JOB_NAME.test(name) || name.startsWith('cron.')) throw new TypeError(`jobs: invalid job name "${name}" (letters, digits, _ - .; up to 100; not starting with "cron.")`)
    this.#define(name, handler as JobHandler, opts)
  }

  #define(name: string, handler: JobHandler, opts: JobDefinitionOptions): void {
    if (this.#defs.has(name)) throw new Error(`jobs: ${name} is already defined`)
    if (typeof handler !== 'function') throw new TypeError(`jobs: ${name}: the handler must be a function`)
    const def: Definition = {
      name,
      handler,
      attempts: positiveInt(name, 'attempts', opts.attempts, 3, 1),
      backoff: positiveInt(name, 'backoff', opts.backoff, 1000, 0),
      timeout: positiveInt(name, 'timeout', opts.timeout, 60_000, 1),
      concurrency: positiveInt(name, 'concurrency', opts.concurrency, 1, 1),
    }
    this.#defs.set(name, def)
    if (this.#working) this.#work(def)
  }

  /** The defined job names (cron jobs included), for counts and the superuser API. */
  names(): string[] {
    return [...this.#defs.keys()]
  }

  /**
   * Adds a job of a defined name; resolves with its id. Inside a records transaction it takes
   * effect only if that commits. `data` must survive JSON.
   */
  async enqueue(name: string, data: unknown = null, opts: EnqueueOptions = {}): Promise<string> {
    const def = this.#defs.get(name)
    if (!def) throw new Error(`jobs: no job named "${name}" is defined (app.jobs.define)`)
    if (opts.jobId !== undefined && (!JOB_ID.test(opts.jobId) || /^\d+$/.test(opts.jobId))) {
      throw new TypeError(`jobs: ${name}: invalid jobId "${opts.jobId}" (letters, digits, _ - .; up to 200; not only digits)`)
    }
    const delay = positiveInt(name, 'delay', opts.delay, 0, 0)
    const job = { id: opts.jobId ?? randomUUID(), name, data: JSON.parse(JSON.stringify(data ?? null)) as unknown, delay, maxAttempts: def.attempts, backoff: def.backoff }
    const tx = this.#records.openTransaction()
    if (!tx) return this.#queue.add(job)
    if (this.#queue.transactional) {
      await this.#queue.add(job, tx.db)
      tx.afterCommit(async () => this.#queue.nudge(name))
    } else {
      tx.afterCommit(async () => void (await this.#queue.add(job)))
    }
    return job.id
  }

  /**
   * Runs `handler` on `expression` (five fields, or six with seconds first; the process's time
   * zone), once per tick across every worker node. `id` names it in `GET /api/crons`.
   */
  cron(id: string, expression: string, handler: CronHandler, opts: Pick<JobDefinitionOptions, 'timeout' | 'attempts'> = {}): void {
    if (!CRON_ID.test(id)) throw new TypeError(`cron: invalid id "${id}" (letters, digits, _ -; up to 100)`)
    if (this.#crons.has(id)) throw new Error(`cron: ${id} is already registered`)
    if (typeof handler !== 'function') throw new TypeError(`cron ${id}: the handler must be a function`)
    checkCron(id, expression)
    const entry: CronEntry = { id, expression, handler, last: Date.now() }
    this.#crons.set(id, entry)
    this.#define(`cron.${id}`, (data, job) => handler({ tick: new Date((data as { tick: number }).tick), signal: job.signal }), { attempts: opts.attempts ?? 1, timeout: opts.timeout })
    if (this.#working) this.#schedule(entry)
  }

  /** The registered cron schedules, as PocketBase's `GET /api/crons` lists them. */
  crons(): { id: string; expression: string }[] {
    return [...this.#crons.values()].map((c) => ({ id: c.id, expression: c.expression }))
  }

  /** Runs a cron's handler now, in this process, outside its schedule; false when there is none. */
  async runCron(id: string): Promise<boolean> {
    const c = this.#crons.get(id)
    if (!c) return false
    await c.handler({ tick: new Date(), signal: new AbortController().signal })
    return true
  }

  /** Starts running jobs and cron schedules in this process. */
  startWorker(): void {
    if (this.#working) return
    this.#working = true
    for (const def of this.#defs.values()) this.#work(def)
    for (const c of this.#crons.values()) {
      c.last = Math.max(c.last, Date.now())
      this.#schedule(c)
    }
    this.#log.info({ queue: this.#queue.name, jobs: this.names(), crons: [...this.#crons.keys()] }, 'worker started')
  }

  /** Stops the worker: no new jobs or ticks; running jobs get `graceMs` to finish, then are handed back. */
  async stopWorker(graceMs: number): Promise<void> {
    if (!this.#working) return
    this.#working = false
    for (const c of this.#crons.values()) clearTimeout(c.timer)
    await this.#queue.stopWorking(graceMs)
    this.#log.info('worker stopped')
  }

  counts(): Promise<Record<string, Record<JobState, number>>> {
    return this.#queue.counts(this.names())
  }
  list(name: string, state: JobState, limit = 100): Promise<JobInfo[]> {
    return this.#queue.list(name, state, limit)
  }
  get(name: string, id: string): Promise<JobInfo | undefined> {
    return this.#queue.get(name, id)
  }
  retry(name: string, id: string): Promise<boolean> {
    return this.#queue.retry(name, id)
  }
  remove(name: string, id: string): Promise<boolean> {
    return this.#queue.remove(name, id)
  }
  /** Pauses or resumes a job name on every worker (jobs can still be enqueued). */
  setPaused(name: string, paused: boolean): Promise<void> {
    if (!this.#defs.has(name)) return Promise.reject(new Error(`jobs: no job named "${name}" is defined`))
    return this.#queue.setPaused(name, paused)
  }
  /** The defined job names that are paused now. */
  paused(): Promise<string[]> {
    return this.#queue.paused(this.names())
  }

  #work(def: Definition): void {
    this.#queue.work(def.name, def.concurrency, def.attempts, (job) => this.#attempt(def, job))
  }

  /** One attempt, raced against the definition's timeout. */
  async #attempt(def: Definition, job: ClaimedJob): Promise<void> {
    const abort = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`job ${def.name} timed out after ${def.timeout} ms`)
        abort.abort(err)
        reject(err)
      }, def.timeout)
      // Only a bound: the handler's own work keeps the process alive, not its deadline.
      timer.unref()
    })
    try {
      const run = Promise.resolve().then(() => def.handler(job.data, { id: job.id, name: job.name, attempt: job.attempt, signal: abort.signal }))
      run.catch(() => undefined) // a handler that fails after its timeout is not an unhandled rejection
      await Promise.race([run, timedOut])
    } catch (err) {
      this.#log.warn({ err, job: def.name, id: job.id, attempt: job.attempt, of: def.attempts }, 'job attempt failed')
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** Waits for the cron's next tick. */
  #schedule(c: CronEntry): void {
    const tick = nextTick(c.expression, c.last)
    // setTimeout holds at most ~24.8 days; a longer wait is re-armed on the way.
    const wait = Math.min(Math.max(0, tick - Date.now()), 2 ** 31 - 1)
    c.timer = setTimeout(() => void this.#fire(c, tick), wait)
  }

  async #fire(c: CronEntry, tick: number): Promise<void> {
    if (!this.#working) return
    if (Date.now() < tick) return this.#schedule(c)
    c.last = tick
    this.#schedule(c)
    let won = true
    try {
      won = await this.#counters.setIfAbsent(`cron:${c.id}:${tick}`, this.#node, CRON_LOCK_MS)
    } catch (err) {
      // The job id still keeps the tick to one run; the lock only saves the other nodes a write.
      this.#log.warn({ err, cron: c.id }, 'cron: the tick lock is unavailable; relying on the job id')
    }
    if (!won) return
    await this.enqueue(`cron.${c.id}`, { tick }, { jobId: `cron.${c.id}.${tick}` }).catch((err: unknown) =>
      this.#log.error({ err, cron: c.id, tick: new Date(tick).toISOString() }, 'cron: enqueueing a tick failed'),
    )
  }
}
