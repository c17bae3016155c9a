import { randomBytes } from 'node:crypto'
import { Value } from '@sinclair/typebox/value'
import { ApiError, validationError } from '../errors.ts'
import type { Jobs } from '../jobs/jobs.ts'
import type { Logger } from '../log.ts'
import { isAuthCollection, type AuthCollection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { PUSH_SENDS_TABLE, PUSHES_TABLE } from '../sql/migrations/0013-push.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { PushDevices } from './devices.ts'
import type { PushMessage, PushPort } from './push.ts'
import type { RongcloudEngine } from './rongcloud.ts'
import { PushSendSchema, type PushSendInput } from './schema.ts'
import { sendChunk, type ChunkJob } from './send-chunk.ts'

/**
 * `app.push`: sends a notification to users' registered devices, through the job queue.
 *
 * `send` checks its input, stores the push (`_pushes`) and enqueues one `plinth.push.plan` job;
 * it never reads a device, so a request that pushes to 100,000 devices answers at once. The plan
 * job walks the target users in id order, `CHUNK` at a time, and enqueues one `plinth.push.send`
 * job per page (job id `push.<id>.<n>`), committing the last user id of the page as its cursor
 * after each enqueue: a plan job rerun after a crash starts at the cursor, and a page enqueued
 * but not yet committed is enqueued again under the same job id, which the queue ignores. Each
 * send job delivers its page's devices with per-device state (send-chunk.ts), so no device gets a
 * push twice. Workers on any node run both jobs.
 */
export const PUSH_PLAN_JOB = 'plinth.push.plan'
export const PUSH_SEND_JOB = 'plinth.push.send'
/** Users per send job (their devices: typically one to three each). */
export const CHUNK = 500
/** How many days a push and its per-device states are kept (then an hourly cron deletes them). */
export const PUSH_RETENTION_DAYS = 7
const MAX_MESSAGE_BYTES = 8 * 1024

interface Target {
  collectionId: string
  users?: string[]
  filter?: string
}

interface PushRow {
  id: string
  message: string
  target: string
  cursor: string
  chunks: number | string
  planned: number | string
  created: number | string
}

export interface PushStatus {
  id: string
  /** True once every chunk is enqueued. */
  planned: boolean
  chunks: number
  /** Deliveries by state: sent, invalid (token deactivated), failed, retry, and unknown (a worker died mid-send). */
  counts: { sent: number; invalid: number; failed: number; retry: number; unknown: number }
  created: string
}

export interface PushServiceDeps {
  port: PushPort
  jobs: Jobs
  records: RecordsService
  registry: CollectionRegistry
  /** The primary. */
  sql: () => SqlEngine
  log: Pick<Logger, 'info' | 'warn' | 'error'>
}

export class PushService {
  readonly devices: PushDevices
  readonly #deps: PushServiceDeps

  constructor(deps: PushServiceDeps) {
    this.#deps = deps
    this.devices = new PushDevices(deps.sql)
    deps.jobs.define<{ pushId: string }>(PUSH_PLAN_JOB, (data) => this.#plan(data.pushId), { attempts: 10, backoff: 2000, timeout: 600_000, concurrency: 2 })
    deps.jobs.define<ChunkJob>(PUSH_SEND_JOB, (data) => this.#sendChunk(data), { attempts: 6, backoff: 5000, timeout: 300_000, concurrency: 4 })
    // A deleted account's devices go with it (after the delete commits), so no push reaches them.
    deps.records.onCommit(async (changes) => {
      for (const c of changes) {
        if (c.action !== 'delete' || !isAuthCollection(c.collection)) continue
        await this.devices.removeAllOf({ collectionId: c.collection.id, recordId: c.record.id }).catch((err: unknown) => deps.log.warn({ err }, 'push: removing a deleted record\'s devices failed'))
      }
    })
    deps.jobs.cron('__plinthPushCleanup__', '41 * * * *', async () => {
      const before = Date.now() - PUSH_RETENTION_DAYS * 86_400_000
      const db = deps.sql().db
      const old = (await db.selectFrom(PUSHES_TABLE).select('id').where('created', '<', before).limit(1000).execute()) as { id: string }[]
      if (!old.length) return
      await db.deleteFrom(PUSH_SENDS_TABLE).where('pushId', 'in', old.map((r) => r.id)).execute()
      await db.deleteFrom(PUSHES_TABLE).where('id', 'in', old.map((r) => r.id)).execute()
    })
  }

  /** The RongCloud engine when `push` lists it (user tokens, system messages). */
  get rongcloud(): RongcloudEngine | undefined {
    return this.#deps.port.userEngines.find((e) => e.name === 'rongcloud') as RongcloudEngine | undefined
  }

  /**
   * Queues a push to `users` (record ids of `collection`, default `users`) or to every record a
   * `query` matches; resolves with its id once it is stored (not once it is delivered). Throws an
   * ApiError (400) for bad input. Inside a records transaction it is part of it.
   */
  async send(input: PushSendInput): Promise<{ id: string }> {
    if (!Value.Check(PushSendSchema, input)) {
      const e = Value.Errors(PushSendSchema, input).First()
      throw validationError({ [e?.path.split('/')[1] || 'body']: { code: 'validation_invalid_value', message: e?.message ?? 'Invalid value.' } })
    }
    if (!input.users === !input.query) throw validationError({ users: { code: 'validation_required', message: 'Give either users or query.' } })
    const c = this.#authCollection(input.query?.collection ?? input.collection ?? 'users')
    const message: PushMessage = {}
    for (const k of ['notification', 'data', 'badge', 'sound', 'collapseId', 'ttl'] as const) if (input[k] !== undefined) (message as Record<string, unknown>)[k] = input[k]
    const messageJson = JSON.stringify(message)
    if (Buffer.byteLength(messageJson) > MAX_MESSAGE_BYTES) throw validationError({ data: { code: 'validation_invalid_value', message: `The message must be at most ${MAX_MESSAGE_BYTES} bytes.` } })
    const target: Target = { collectionId: c.id }
    if (input.users) target.users = [...new Set(input.users)].sort()
    else target.filter = input.query?.filter ?? ''
    if (target.filter) {
      // A filter that does not compile is refused now, not in the job.
      await this.#deps.records.list(c.name, { filter: target.filter, perPage: 1, skipTotal: true, fields: 'id' }, systemRequest())
    }
    const id = `push_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`
    const db = this.#deps.records.openTransaction()?.db ?? this.#deps.sql().db
    await db.insertInto(PUSHES_TABLE).values({ id, message: messageJson, target: JSON.stringify(target), cursor: '', chunks: 0, planned: 0, created: Date.now() }).execute()
    await this.#deps.jobs.enqueue(PUSH_PLAN_JOB, { pushId: id }, { jobId: `${id}.plan` })
    return { id }
  }

  /** Where a push is; undefined for an unknown id. */
  async status(id: string): Promise<PushStatus | undefined> {
    const db = this.#deps.sql().db
    const row = (await db.selectFrom(PUSHES_TABLE).selectAll().where('id', '=', id).executeTakeFirst()) as PushRow | undefined
    if (!row) return undefined
    const rows = (await db.selectFrom(PUSH_SENDS_TABLE).select(['state', db.fn.countAll().as('n')]).where('pushId', '=', id).groupBy('state').execute()) as { state: string; n: number | string }[]
    const counts = { sent: 0, invalid: 0, failed: 0, retry: 0, unknown: 0 }
    for (const r of rows) {
      const k = r.state === 'sending' ? 'unknown' : (r.state as keyof typeof counts)
      if (k in counts) counts[k] += Number(r.n)
    }
    return { id, planned: Number(row.planned) === 1, chunks: Number(row.chunks), counts, created: new Date(Number(row.created)).toISOString() }
  }

  #authCollection(name: string): AuthCollection {
    const c = this.#deps.registry.get(name)
    if (!c || !isAuthCollection(c)) throw validationError({ collection: { code: 'validation_invalid_value', message: `"${name}" is not an auth collection.` } })
    return c
  }

  async #row(pushId: string): Promise<PushRow | undefined> {
    return (await this.#deps.sql().db.selectFrom(PUSHES_TABLE).selectAll().where('id', '=', pushId).executeTakeFirst()) as PushRow | undefined
  }

  /** The plan job: one send job per page of target users, the cursor committed after each. */
  async #plan(pushId: string): Promise<void> {
    const row = await this.#row(pushId)
    if (!row || Number(row.planned) === 1) return
    const target = JSON.parse(row.target) as Target
    const c = this.#deps.registry.get(target.collectionId)
    let cursor = row.cursor
    let chunks = Number(row.chunks)
    const db = () => this.#deps.sql().db
    if (!c) {
      this.#deps.log.warn({ push: pushId }, 'push: its collection is gone; nothing sent')
      await db().updateTable(PUSHES_TABLE).set({ planned: 1 }).where('id', '=', pushId).execute()
      return
    }
    for (;;) {
      const page = await this.#page(c.name, target, cursor)
      if (!page.length) break
      chunks++
      const job: ChunkJob = { pushId, chunk: chunks, collectionId: c.id, userIds: page }
      await this.#deps.jobs.enqueue(PUSH_SEND_JOB, job, { jobId: `${pushId}.${chunks}` })
      cursor = page[page.length - 1]!
      await db().updateTable(PUSHES_TABLE).set({ cursor, chunks }).where('id', '=', pushId).execute()
    }
    await db().updateTable(PUSHES_TABLE).set({ planned: 1 }).where('id', '=', pushId).execute()
    this.#deps.log.info({ push: pushId, chunks }, 'push planned')
  }

  /** The next page of target user ids after `cursor`, in id order. */
  async #page(collection: string, target: Target, cursor: string): Promise<string[]> {
    if (target.users) {
      // The ids are sorted: the first one after the cursor by binary search.
      let lo = 0
      let hi = target.users.length
      while (cursor && lo < hi) {
        const mid = (lo + hi) >>> 1
        if (target.users[mid]! > cursor) hi = mid
        else lo = mid + 1
      }
      return target.users.slice(lo, lo + CHUNK)
    }
    if (/["\\]/.test(cursor)) throw new ApiError('internal')
    const parts = [target.filter ? `(${target.filter})` : '', cursor ? `id > "${cursor}"` : ''].filter(Boolean)
    const res = await this.#deps.records.list(collection, { filter: parts.join(' && '), sort: 'id', perPage: CHUNK, skipTotal: true, fields: 'id' }, systemRequest())
    return res.items.map((r) => String(r.id))
  }

  async #sendChunk(job: ChunkJob): Promise<void> {
    const row = await this.#row(job.pushId)
    if (!row) return
    const message = JSON.parse(row.message) as PushMessage
    const tally = await sendChunk({ sql: this.#deps.sql, port: this.#deps.port, devices: this.devices, log: this.#deps.log }, job, message)
    this.#deps.log.info({ push: job.pushId, chunk: job.chunk, ...tally }, 'push chunk sent')
  }
}
