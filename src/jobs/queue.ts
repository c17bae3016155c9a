/**
 * The queue port: durable jobs, run at least once by workers on any node.
 *
 * Two engines, chosen by `queue` (`PLINTH_QUEUE`): `sql://`, a table in the SQL database
 * (`sql.ts`; jobs survive a restart and several workers share it), and `redis://`, BullMQ
 * (`bullmq.ts`). Both give the same behaviour, which `test/contract/queue.test.ts` checks on each:
 * - at least once: a job is claimed under a lease the worker renews while the handler runs; a
 *   worker that dies stops renewing, and once the lease ends another worker runs the job again;
 * - a failed attempt is retried after `backoff * 2^(attempt-1)` ms until `maxAttempts`, then the
 *   job is kept as `failed` with its last error (the dead letters);
 * - a job whose worker dies is not charged a failed attempt for it, but the runs it may start
 *   are bounded: after `maxAttempts + LOST_LEASE_GRACE` started runs, a lost lease ends it as
 *   `failed` with `LOST_LEASE_ERROR` (a job that kills its worker every time would else run forever);
 * - `delay` holds a job back; among ready jobs of one name the one due first runs first;
 * - `concurrency` bounds the jobs of one name running at once in one process;
 * - an id given by the caller makes the add idempotent: a second add with it is ignored while
 *   the first job is kept (completed jobs are kept for a day).
 * Handlers' timeouts and the scheduling of cron are above the port (`jobs.ts`).
 */

/** Where a job is; `delayed` is a waiting job whose time has not come. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed'
export const jobStates: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed']

/** A job to add. */
export interface NewJob {
  /** The caller's id or a fresh one; unique per job name. */
  id: string
  name: string
  data: unknown
  /** Milliseconds before it may run (0: now). */
  delay: number
  maxAttempts: number
  /** The first retry's delay in ms; it doubles for each later one. */
  backoff: number
}

/** A job handed to a processor. */
export interface ClaimedJob {
  id: string
  name: string
  data: unknown
  /** 1 for the first attempt. */
  attempt: number
}

/** A job as the superuser API and tests see it. */
export interface JobInfo {
  id: string
  name: string
  data: unknown
  state: JobState
  /** Attempts started so far. */
  attempts: number
  maxAttempts: number
  /** The last failed attempt's error message, if any. */
  error: string | null
  /** Epoch ms. */
  created: number
}

/** Runs one attempt; a rejection fails it (and may schedule a retry). */
export type Processor = (job: ClaimedJob) => Promise<void>

/**
 * A SQL transaction (Kysely) the engine may add a job in, so the job exists only if it commits.
 * Engines that cannot (`transactional` false) are never given one.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type QueueTx = import('kysely').Kysely<any>

export interface Queue {
  /** For logs only: never branch on it. */
  readonly name: 'sql' | 'bullmq'
  /** True when `add` may be given the open SQL transaction and then commits or rolls back with it. */
  readonly transactional: boolean
  /** Adds a job, or nothing when a job with its id and name is kept; resolves with the id. */
  add(job: NewJob, tx?: QueueTx): Promise<string>
  /** Tells this process's worker that `name` may have a job now (saves a poll). */
  nudge(name: string): void
  /**
   * Starts running jobs of `name` in this process, at most `concurrency` at once; `maxAttempts`
   * is the name's attempts, which with `LOST_LEASE_GRACE` bounds the leases its jobs may lose.
   */
  work(name: string, concurrency: number, maxAttempts: number, processor: Processor): void
  /**
   * Stops taking jobs; waits up to `graceMs` for running ones, then hands back what still runs
   * (it runs again elsewhere, as after a lost lease). Resolves once this process holds no job.
   */
  stopWorking(graceMs: number): Promise<void>
  /** How many jobs of each name are in each state (names with none may be absent). */
  counts(names: readonly string[]): Promise<Record<string, Record<JobState, number>>>
  /** Jobs of `name` in `state`, newest first, at most `limit`. */
  list(name: string, state: JobState, limit: number): Promise<JobInfo[]>
  get(name: string, id: string): Promise<JobInfo | undefined>
  /** Puts a failed job back to waiting with its attempts reset; false when it is not failed. */
  retry(name: string, id: string): Promise<boolean>
  /**
   * Stops (`true`) or restarts (`false`) the running of `name`'s jobs on every worker; jobs may
   * still be added, and an attempt already running finishes.
   */
  setPaused(name: string, paused: boolean): Promise<void>
  /** Which of `names` are paused. */
  paused(names: readonly string[]): Promise<string[]>
  /** Deletes a job that is not active; false when there is none (or it runs). */
  remove(name: string, id: string): Promise<boolean>
  close(): Promise<void>
}

/**
 * How many lost leases a job may have beyond its attempts. A lost lease is most often a deploy or
 * a crash that has nothing to do with the job, so it is not charged as a failed attempt (a job
 * with one attempt survives a restarted worker); but two more than its attempts is enough for
 * that, and past it the job itself is the likely cause (it kills or hangs the process).
 */
export const LOST_LEASE_GRACE = 2

/** The error a job ends with once it lost too many leases. */
export const LOST_LEASE_ERROR = 'the job stopped its worker (its lease ran out) too many times; failed without another run'

/** The delay before the retry after failed attempt `attempt` (1, 2, ...). */
export function backoffDelay(backoff: number, attempt: number): number {
  return Math.min(backoff * 2 ** Math.min(attempt - 1, 30), 2 ** 31 - 1)
}
