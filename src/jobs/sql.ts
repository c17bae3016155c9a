import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Logger } from '../log.ts'
import type { SqlRouter } from '../sql/router.ts'
import { JOBS_TABLE } from '../sql/migrations/0006-jobs.ts'
import { backoffDelay, jobStates, LOST_LEASE_ERROR, LOST_LEASE_GRACE, type ClaimedJob, type JobInfo, type JobState, type NewJob, type Processor, type Queue, type QueueTx } from './queue.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

export interface SqlQueueOptions {
  sql: SqlRouter
  log: Logger
  /** How long a claim lasts unless renewed (renewed every third of it while the handler runs). */
  leaseMs: number
  /** How often an idle worker looks for due jobs (jobs added in this process wake it at once). */
  pollMs: number
  /** How long completed jobs are kept (their ids stay idempotent meanwhile); default a day. */
  keepCompletedMs?: number
}

interface Row {
  id: string
  name: string
  data: string
  state: string
  attempts: number | string
  maxAttempts: number | string
  error: string | null
  runAt: number | string
  created: number | string
}

/** One job name this process works on. */
interface Lane {
  name: string
  concurrency: number
  processor: Processor
  running: Map<string, Promise<void>>
  wake?: () => void
  loop?: Promise<void>
}

/**
 * The embedded queue: the `_jobs` table in the `db` database (migration 0006).
 *
 * Claiming a job moves it to `active`, counts the attempt, and sets `runAt` to the end of this
 * worker's lease, in one atomic step: on SQLite (one connection, capability
 * `concurrentConnections` false) a single `UPDATE ... WHERE id IN (SELECT ... LIMIT n)
 * RETURNING`; on PostgreSQL and MariaDB a transaction that selects `FOR UPDATE SKIP LOCKED`, so
 * workers on several nodes never wait on each other's rows, then updates those rows. A job whose
 * lease has ended (`active`, `runAt` passed) is claimable again: that is how a killed worker's
 * jobs come back. Every later write of a claimed job checks `lockedBy`, so a worker that lost its
 * lease cannot overwrite the new owner's result.
 * A lost lease is not a failed attempt, but each claim counts one in `attempts` (a graceful
 * hand-back gives it back), so `attempts` also counts runs whose worker died: a job whose lease ran
 * out with `maxAttempts + LOST_LEASE_GRACE` runs started is not claimed again but dead-lettered by
 * the heartbeat of any working process (no extra column: the count is the one `attempts` holds).
 */
export class SqlQueue implements Queue {
  readonly name = 'sql' as const
  readonly transactional = true
  readonly #sql: SqlRouter
  readonly #log: Logger
  readonly #leaseMs: number
  readonly #pollMs: number
  readonly #keepCompletedMs: number
  /** This process's worker id, written into `lockedBy`. */
  readonly #owner = randomUUID()
  readonly #lanes = new Map<string, Lane>()
  #working = false
  #heartbeat: NodeJS.Timeout | undefined
  #lastPrune = 0

  constructor(opts: SqlQueueOptions) {
    this.#sql = opts.sql
    this.#log = opts.log
    this.#leaseMs = opts.leaseMs
    this.#pollMs = opts.pollMs
    this.#keepCompletedMs = opts.keepCompletedMs ?? 86_400_000
  }

  get #db(): Db {
    return this.#sql.writer().db
  }

  async add(job: NewJob, tx?: QueueTx): Promise<string> {
    const now = Date.now()
    const row = {
      id: job.id, name: job.name, data: JSON.stringify(job.data ?? null), state: 'waiting',
      attempts: 0, maxAttempts: job.maxAttempts, backoff: job.backoff, runAt: now + job.delay,
      lockedBy: null, error: null, created: now, updated: now,
    }
    const insert = (tx ?? this.#db).insertInto(JOBS_TABLE).values(row)
    // An existing id is kept as it is: that is what makes a caller's jobId idempotent. (A failed
    // INSERT would abort a PostgreSQL transaction, so the engine is told to ignore the conflict.)
    const capabilities = this.#sql.writer().capabilities
    await (capabilities.upsert === 'on-conflict' ? insert.onConflict((oc) => oc.column('id').doNothing()) : insert.ignore()).execute()
    if (!tx) this.nudge(job.name)
    return job.id
  }

  nudge(name: string): void {
    this.#lanes.get(name)?.wake?.()
  }

  work(name: string, concurrency: number, _maxAttempts: number, processor: Processor): void {
    if (this.#lanes.has(name)) throw new Error(`queue: ${name} is already worked on`)
    const lane: Lane = { name, concurrency, processor, running: new Map() }
    this.#lanes.set(name, lane)
    if (!this.#working) {
      this.#working = true
      this.#heartbeat = setInterval(() => void this.#renew(), Math.max(50, Math.floor(this.#leaseMs / 3)))
    }
    lane.loop = this.#run(lane)
  }

  /** Claims and runs jobs of one name until the worker stops. */
  async #run(lane: Lane): Promise<void> {
    while (this.#working) {
      const free = lane.concurrency - lane.running.size
      let claimed: ClaimedJob[] = []
      if (free > 0) {
        try {
          claimed = await this.#claim(lane.name, free)
        } catch (err) {
          this.#log.error({ err, job: lane.name }, 'queue: claiming jobs failed')
        }
      }
      for (const job of claimed) {
        const p = this.#attempt(lane, job).finally(() => {
          lane.running.delete(job.id)
          lane.wake?.()
        })
        lane.running.set(job.id, p)
      }
      // Full, or nothing due: wait for a job to finish, a nudge, or the next poll.
      if (!this.#working) break
      if (claimed.length === free && free > 0) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#pollMs)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        lane.wake = done
      })
      lane.wake = undefined
    }
  }

  async #claim(name: string, limit: number): Promise<ClaimedJob[]> {
    const now = Date.now()
    const until = now + this.#leaseMs
    const set = (db: Db) =>
      db.updateTable(JOBS_TABLE).set((eb) => ({ state: 'active', lockedBy: this.#owner, runAt: until, updated: now, attempts: eb('attempts', '+', 1) }))
    // A paused name has its marker row in `_params`; the check rides along in the claim.
    const due = (db: Db) =>
      db
        .selectFrom(JOBS_TABLE)
        .where('name', '=', name)
        .where('state', 'in', ['waiting', 'active'])
        .where('runAt', '<=', now)
        .where((eb) => eb.or([eb('state', '=', 'waiting'), eb('attempts', '<', eb('maxAttempts', '+', LOST_LEASE_GRACE))]))
        .where((eb) => eb.not(eb.exists(eb.selectFrom('_params').select('id').where('id', '=', pausedKey(name)))))
        .orderBy('runAt')
        .orderBy('created')
        .limit(limit)
    const toJob = (r: Row, attempts: number): ClaimedJob => ({ id: r.id, name: r.name, data: JSON.parse(r.data) as unknown, attempt: attempts })
    const writer = this.#sql.writer()
    if (!writer.capabilities.concurrentConnections) {
      // NB: one connection, so this one statement is the whole claim; no other writer interleaves.
      const rows = (await set(writer.db).where('id', 'in', due(writer.db).select('id')).returning(['id', 'name', 'data', 'attempts']).execute()) as Row[]
      return rows.map((r) => toJob(r, Number(r.attempts)))
    }
    return writer.db.transaction().execute(async (trx) => {
      const rows = (await due(trx).select(['id', 'name', 'data', 'attempts']).forUpdate().skipLocked().execute()) as Row[]
      if (!rows.length) return []
      await set(trx).where('id', 'in', rows.map((r) => r.id)).execute()
      return rows.map((r) => toJob(r, Number(r.attempts) + 1))
    })
  }

  async #attempt(lane: Lane, job: ClaimedJob): Promise<void> {
    const mine = (db: Db) => db.updateTable(JOBS_TABLE).where('id', '=', job.id).where('lockedBy', '=', this.#owner).where('state', '=', 'active')
    try {
      await lane.processor(job)
      await mine(this.#db).set({ state: 'completed', lockedBy: null, updated: Date.now() }).execute()
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err)
      const now = Date.now()
      try {
        const row = (await this.#db.selectFrom(JOBS_TABLE).select(['maxAttempts', 'backoff']).where('id', '=', job.id).executeTakeFirst()) as
          | { maxAttempts: number | string; backoff: number | string }
          | undefined
        if (!row) return
        const last = job.attempt >= Number(row.maxAttempts)
        await mine(this.#db)
          .set(last ? { state: 'failed', lockedBy: null, error, updated: now } : { state: 'waiting', lockedBy: null, error, updated: now, runAt: now + backoffDelay(Number(row.backoff), job.attempt) })
          .execute()
      } catch (dbErr) {
        // The lease runs out and the job runs again: at least once.
        this.#log.error({ err: dbErr, job: job.name, id: job.id }, 'queue: recording a failed attempt failed')
      }
    }
  }

  /**
   * Extends the leases of the jobs this process runs; dead-letters jobs of the names it works on
   * that lost too many leases (on any node: the claim skips them); now and then drops old completed jobs.
   */
  async #renew(): Promise<void> {
    const now = Date.now()
    try {
      await this.#db.updateTable(JOBS_TABLE).set({ runAt: now + this.#leaseMs }).where('lockedBy', '=', this.#owner).where('state', '=', 'active').execute()
      await this.#db
        .updateTable(JOBS_TABLE)
        .set({ state: 'failed', lockedBy: null, error: LOST_LEASE_ERROR, updated: now })
        .where('name', 'in', [...this.#lanes.keys()])
        .where('state', '=', 'active')
        .where('runAt', '<', now)
        .where((eb) => eb('attempts', '>=', eb('maxAttempts', '+', LOST_LEASE_GRACE)))
        .execute()
      if (now - this.#lastPrune > 60_000) {
        this.#lastPrune = now
        await this.#db.deleteFrom(JOBS_TABLE).where('state', '=', 'completed').where('updated', '<', now - this.#keepCompletedMs).execute()
      }
    } catch (err) {
      this.#log.error({ err }, 'queue: renewing leases failed')
    }
  }

  async stopWorking(graceMs: number): Promise<void> {
    if (!this.#working) return
    this.#working = false
    for (const lane of this.#lanes.values()) lane.wake?.()
    await Promise.all([...this.#lanes.values()].map((l) => l.loop))
    const running = [...this.#lanes.values()].flatMap((l) => [...l.running.values()])
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled(running), new Promise((r) => (timer = setTimeout(r, graceMs)))])
    clearTimeout(timer)
    clearInterval(this.#heartbeat)
    // Whatever still runs is handed back: due now, its attempt not counted.
    const handedBack = await this.#db
      .updateTable(JOBS_TABLE)
      .set((eb) => ({ state: 'waiting', lockedBy: null, runAt: Date.now(), attempts: eb('attempts', '-', 1), updated: Date.now() }))
      .where('lockedBy', '=', this.#owner)
      .where('state', '=', 'active')
      .executeTakeFirst()
      .catch((err: unknown) => this.#log.error({ err }, 'queue: handing back jobs failed'))
    const n = handedBack ? Number(handedBack.numUpdatedRows) : 0
    if (n) this.#log.warn({ jobs: n }, 'queue: handed back jobs still running at stop')
    this.#lanes.clear()
  }

  async counts(names: readonly string[]): Promise<Record<string, Record<JobState, number>>> {
    const out: Record<string, Record<JobState, number>> = {}
    for (const n of names) out[n] = Object.fromEntries(jobStates.map((s) => [s, 0])) as Record<JobState, number>
    if (!names.length) return out
    const now = Date.now()
    const rows = (await this.#db
      .selectFrom(JOBS_TABLE)
      .select((eb) => ['name', 'state', eb.fn.countAll().as('n'), eb.fn.sum(eb.case().when('runAt', '>', now).then(1).else(0).end()).as('later')])
      .where('name', 'in', names)
      .groupBy(['name', 'state'])
      .execute()) as { name: string; state: JobState; n: number | string; later: number | string | null }[]
    for (const r of rows) {
      const c = out[r.name]!
      if (r.state === 'waiting') {
        c.delayed += Number(r.later ?? 0)
        c.waiting += Number(r.n) - Number(r.later ?? 0)
      } else c[r.state] += Number(r.n)
    }
    return out
  }

  async list(name: string, state: JobState, limit: number): Promise<JobInfo[]> {
    const now = Date.now()
    let q = this.#db.selectFrom(JOBS_TABLE).selectAll().where('name', '=', name)
    if (state === 'waiting') q = q.where('state', '=', 'waiting').where('runAt', '<=', now)
    else if (state === 'delayed') q = q.where('state', '=', 'waiting').where('runAt', '>', now)
    else q = q.where('state', '=', state)
    const rows = (await q.orderBy('created', 'desc').limit(limit).execute()) as Row[]
    return rows.map(info)
  }

  async get(name: string, id: string): Promise<JobInfo | undefined> {
    const row = (await this.#db.selectFrom(JOBS_TABLE).selectAll().where('id', '=', id).where('name', '=', name).executeTakeFirst()) as Row | undefined
    return row ? info(row) : undefined
  }

  async retry(name: string, id: string): Promise<boolean> {
    const r = await this.#db
      .updateTable(JOBS_TABLE)
      .set({ state: 'waiting', attempts: 0, runAt: Date.now(), updated: Date.now() })
      .where('id', '=', id)
      .where('name', '=', name)
      .where('state', '=', 'failed')
      .executeTakeFirst()
    if (Number(r.numUpdatedRows) > 0) this.nudge(name)
    return Number(r.numUpdatedRows) > 0
  }

  async setPaused(name: string, paused: boolean): Promise<void> {
    const id = pausedKey(name)
    if (!paused) {
      await this.#db.deleteFrom('_params').where('id', '=', id).execute()
      this.nudge(name)
      return
    }
    const now = new Date().toISOString().replace('T', ' ')
    const insert = this.#db.insertInto('_params').values({ id, value: 'true', created: now, updated: now })
    await (this.#sql.writer().capabilities.upsert === 'on-conflict' ? insert.onConflict((oc) => oc.column('id').doNothing()) : insert.ignore()).execute()
  }

  async paused(names: readonly string[]): Promise<string[]> {
    if (!names.length) return []
    const rows = (await this.#db.selectFrom('_params').select('id').where('id', 'in', names.map(pausedKey)).execute()) as { id: string }[]
    const ids = new Set(rows.map((r) => r.id))
    return names.filter((n) => ids.has(pausedKey(n)))
  }

  async remove(name: string, id: string): Promise<boolean> {
    const r = await this.#db.deleteFrom(JOBS_TABLE).where('id', '=', id).where('name', '=', name).where('state', '!=', 'active').executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  async close(): Promise<void> {
    await this.stopWorking(0)
  }
}

/** The `_params` row whose presence pauses `name`. */
function pausedKey(name: string): string {
  return `queue.paused.${name}`
}

function info(r: Row): JobInfo {
  const state = r.state === 'waiting' && Number(r.runAt) > Date.now() ? 'delayed' : (r.state as JobState)
  return {
    id: r.id, name: r.name, data: JSON.parse(r.data) as unknown, state, attempts: Number(r.attempts),
    maxAttempts: Number(r.maxAttempts), error: r.error, created: Number(r.created),
  }
}

/** Opens the embedded queue on the `db` port. */
export function sqlQueue(opts: SqlQueueOptions): SqlQueue {
  return new SqlQueue(opts)
}
